import type { HostWeigher } from '../host-weigher.js';

/**
 * Keeps GPU hosts for GPU work: an instance that asks for no GPU prefers hosts that have none, so it does not take the
 * vCPUs and RAM a GPU instance will need there later.
 */
export function gpuHostWeigher(multiplier = 5): HostWeigher {
  return {
    name: 'gpu-host',
    multiplier,
    weigh: (host, request) => (request.claim.gpus > 0 || host.gpus.length === 0 ? 0 : -1),
  };
}
