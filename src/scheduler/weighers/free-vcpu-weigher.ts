import { hostHeadroom } from '../../core/hosts.js';
import type { HostWeigher } from '../host-weigher.js';

/** Prefers hosts with the most schedulable vCPUs left (spread); a negative multiplier prefers the least (pack). */
export function freeVcpuWeigher(multiplier = 1): HostWeigher {
  return { name: 'free-vcpu', multiplier, weigh: (host) => hostHeadroom(host).vcpus };
}
