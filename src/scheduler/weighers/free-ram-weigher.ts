import { hostHeadroom } from '../../core/hosts.js';
import type { HostWeigher } from '../host-weigher.js';

/** Prefers hosts with the most schedulable RAM left (spread); a negative multiplier prefers the least (pack). */
export function freeRamWeigher(multiplier = 1): HostWeigher {
  return { name: 'free-ram', multiplier, weigh: (host) => hostHeadroom(host).ramMb };
}
