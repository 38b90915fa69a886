import type { HostFilter } from '../host-filter.js';

/**
 * Hard server-group policies: `affinity` keeps only the hosts the group's members already run on (any host while the
 * group is empty); `anti-affinity` keeps only hosts none of them run on. Soft policies never filter; a weigher
 * prefers or avoids the members' hosts instead.
 *
 * Two creates into one anti-affinity group that rank at the same moment can both pick the same host: the claim is
 * atomic per host, not per group. Nova has the same window and closes it with a late check on the compute host;
 * here it is accepted and documented.
 */
export const serverGroupFilter: HostFilter = {
  name: 'server-group',
  passes: (host, request, context) => {
    const policy = request.serverGroup?.policy;
    if (policy === 'affinity') {
      return context.serverGroupHostIds.length === 0 || context.serverGroupHostIds.includes(host.id);
    }
    if (policy === 'anti-affinity') return !context.serverGroupHostIds.includes(host.id);
    return true;
  },
};
