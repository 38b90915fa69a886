import { hostHeadroom } from '../../core/hosts.js';
import type { HostFilter } from '../host-filter.js';

/**
 * Keeps hosts whose headroom after overcommit ({@link hostHeadroom}) fits the claim's vCPUs, RAM and disk. GPUs are
 * the GPU filter's business. The store repeats the same comparison in its atomic claim, so this only has to be right
 * about the snapshot it was given.
 */
export const capacityFilter: HostFilter = {
  name: 'capacity',
  passes: (host, request) => {
    const headroom = hostHeadroom(host);
    return (
      headroom.vcpus >= request.claim.vcpus && headroom.ramMb >= request.claim.ramMb && headroom.diskGb >= request.claim.diskGb
    );
  },
};
