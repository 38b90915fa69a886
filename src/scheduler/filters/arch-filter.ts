import type { HostFilter } from '../host-filter.js';

/** Keeps hosts whose CPU architecture can run the image. */
export const archFilter: HostFilter = {
  name: 'arch',
  passes: (host, request) => host.arch === request.arch,
};
