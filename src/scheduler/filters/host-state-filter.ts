import type { HostFilter } from '../host-filter.js';

/**
 * Keeps hosts that are `up` and, when `maxHeartbeatAgeMs` is set, heard from recently enough. A disabled host keeps
 * its guests but takes no new ones; a down one is not trusted to boot anything.
 */
export function hostStateFilter(maxHeartbeatAgeMs: number | null = null): HostFilter {
  return {
    name: 'host-state',
    passes: (host, _request, context) => {
      if (host.state !== 'up') return false;
      if (maxHeartbeatAgeMs === null) return true;
      return host.heartbeatAt !== null && context.now.getTime() - host.heartbeatAt.getTime() <= maxHeartbeatAgeMs;
    },
  };
}
