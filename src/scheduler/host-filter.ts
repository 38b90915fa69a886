import type { Host } from '../core/hosts.js';
import type { PlacementRequest } from '../core/ports.js';

/**
 * What the filters and weighers of one placement share besides the request: facts that cost a query, looked up once
 * per request instead of once per host.
 */
export interface PlacementContext {
  /**
   * Hosts of the request's server group members, one entry per member (a host with two members appears twice).
   * Empty when the request has no server group.
   */
  serverGroupHostIds: readonly string[];
  /** When the placement runs; filters that judge freshness (heartbeats) compare against it. */
  now: Date;
}

/**
 * One yes/no rule a host must pass to be a candidate. Filters run in order and a host is counted against the first
 * filter that rejects it, so `excludedBy` in the result says why capacity is short (as Nova's filter scheduler logs).
 */
export interface HostFilter {
  /** Stable name reported in `excludedBy` (and so in capacity errors). */
  readonly name: string;
  passes(host: Host, request: PlacementRequest, context: PlacementContext): boolean;
}
