import type { HostFilter } from '../host-filter.js';

/** Drops hosts the caller ruled out (a host a create already failed on). */
export const excludedHostsFilter: HostFilter = {
  name: 'excluded',
  passes: (host, request) => !request.excludeHostIds.includes(host.id),
};
