import { hostHeadroom } from '../../core/hosts.js';
import type { HostFilter } from '../host-filter.js';

/**
 * For a GPU request: keeps hosts that have enough GPUs of the requested type installed and enough GPUs unclaimed.
 * Claims count GPUs per host, not per type, so a host mixing types is judged on its total free count; Kumo's hosts
 * carry one GPU type each, where the two checks together are exact.
 */
export const gpuFilter: HostFilter = {
  name: 'gpu',
  passes: (host, request) => {
    if (request.claim.gpus <= 0) return true;
    const installed = host.gpus
      .filter((gpu) => request.gpuType === null || gpu.type === request.gpuType)
      .reduce((sum, gpu) => sum + gpu.count, 0);
    return installed >= request.claim.gpus && hostHeadroom(host).gpus >= request.claim.gpus;
  },
};
