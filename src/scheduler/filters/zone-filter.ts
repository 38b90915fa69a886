import type { HostFilter } from '../host-filter.js';

/** Keeps hosts in the requested region and, when one was named, the requested zone. */
export const zoneFilter: HostFilter = {
  name: 'zone',
  passes: (host, request) => host.regionId === request.regionId && (request.zoneId === null || host.zoneId === request.zoneId),
};
