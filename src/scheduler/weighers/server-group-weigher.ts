import type { HostWeigher } from '../host-weigher.js';

/**
 * Soft server-group policies: `soft-affinity` prefers hosts running more of the group's members, `soft-anti-affinity`
 * prefers hosts running fewer. Hard policies are filtered, so this weigher has no opinion on them.
 *
 * The default multiplier outweighs the capacity weighers together, so the policy decides whenever it can.
 */
export function serverGroupWeigher(multiplier = 10): HostWeigher {
  return {
    name: 'server-group',
    multiplier,
    weigh: (host, request, context) => {
      const policy = request.serverGroup?.policy;
      if (policy !== 'soft-affinity' && policy !== 'soft-anti-affinity') return 0;
      const members = context.serverGroupHostIds.filter((id) => id === host.id).length;
      return policy === 'soft-affinity' ? members : -members;
    },
  };
}
