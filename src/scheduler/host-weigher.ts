import type { Host } from '../core/hosts.js';
import type { PlacementRequest } from '../core/ports.js';
import type { PlacementContext } from './host-filter.js';

/**
 * Scores hosts that passed every filter; higher is better. Raw scores are normalised to 0..1 across the candidates
 * before `multiplier` applies (as in Nova), so weighers with different units (MB of RAM, vCPUs, member counts) can
 * be combined and a negative multiplier turns "most free first" (spread) into "least free first" (pack).
 */
export interface HostWeigher {
  readonly name: string;
  readonly multiplier: number;
  weigh(host: Host, request: PlacementRequest, context: PlacementContext): number;
}

/** Total weight per host: the sum over weighers of `multiplier × normalised score`. */
export function weighHosts(
  hosts: readonly Host[],
  weighers: readonly HostWeigher[],
  request: PlacementRequest,
  context: PlacementContext,
): Map<string, number> {
  const totals = new Map<string, number>(hosts.map((host) => [host.id, 0]));
  for (const weigher of weighers) {
    if (weigher.multiplier === 0) continue;
    const raw = hosts.map((host) => weigher.weigh(host, request, context));
    const min = Math.min(...raw);
    const max = Math.max(...raw);
    // All equal: this weigher has no opinion, and dividing by zero would make one up.
    if (max === min) continue;
    hosts.forEach((host, index) => {
      const normalised = ((raw[index] ?? min) - min) / (max - min);
      totals.set(host.id, (totals.get(host.id) ?? 0) + weigher.multiplier * normalised);
    });
  }
  return totals;
}
