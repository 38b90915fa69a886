import type { Host } from '../core/hosts.js';
import type { HostStore, InstanceStore, Placement, PlacementRequest, PlacementResult } from '../core/ports.js';
import { archFilter } from './filters/arch-filter.js';
import { capacityFilter } from './filters/capacity-filter.js';
import { excludedHostsFilter } from './filters/excluded-hosts-filter.js';
import { gpuFilter } from './filters/gpu-filter.js';
import { hostStateFilter } from './filters/host-state-filter.js';
import { serverGroupFilter } from './filters/server-group-filter.js';
import { zoneFilter } from './filters/zone-filter.js';
import type { HostFilter, PlacementContext } from './host-filter.js';
import { HostListCache } from './host-list-cache.js';
import { weighHosts, type HostWeigher } from './host-weigher.js';
import { freeRamWeigher } from './weighers/free-ram-weigher.js';
import { freeVcpuWeigher } from './weighers/free-vcpu-weigher.js';
import { gpuHostWeigher } from './weighers/gpu-host-weigher.js';
import { serverGroupWeigher } from './weighers/server-group-weigher.js';

/** `spread`: most free RAM and vCPUs first (the default, as Nova's); `pack`: fill the fullest host first. */
export type PlacementStrategy = 'spread' | 'pack';

export interface HostSchedulerOptions {
  strategy?: PlacementStrategy;
  /** How long a host list read from the store is reused; default 500 ms. */
  cacheTtlMs?: number;
  /** When set, hosts whose last heartbeat is older than this are treated as down. Default: not checked. */
  maxHeartbeatAgeMs?: number | null;
  /** Replace the default filter chain (order matters: a host counts against the first filter that rejects it). */
  filters?: HostFilter[];
  /** Replace the default weighers. */
  weighers?: HostWeigher[];
  now?: () => Date;
}

/** The filter chain: cheap and decisive checks first, so `excludedBy` names the most basic reason a host was out. */
export function defaultFilters(maxHeartbeatAgeMs: number | null = null): HostFilter[] {
  return [excludedHostsFilter, zoneFilter, hostStateFilter(maxHeartbeatAgeMs), archFilter, gpuFilter, serverGroupFilter, capacityFilter];
}

export function defaultWeighers(strategy: PlacementStrategy = 'spread'): HostWeigher[] {
  const direction = strategy === 'spread' ? 1 : -1;
  return [freeRamWeigher(direction), freeVcpuWeigher(direction * 0.5), gpuHostWeigher(), serverGroupWeigher()];
}

/**
 * Ranks hosts for a placement: filters, then weighers, best first; ties go to the host id so ranking is
 * deterministic. It never claims anything: the store claims atomically in the create transaction, trying the
 * candidates in this order.
 *
 * After ranking, the best candidate's claim is counted against the cached host list, so concurrent creates that
 * share one cached snapshot fan out over hosts rather than all contending for one host row.
 */
export class HostScheduler implements Placement {
  private readonly cache: HostListCache;
  private readonly filters: HostFilter[];
  private readonly weighers: HostWeigher[];
  private readonly now: () => Date;

  constructor(
    private readonly store: Pick<HostStore, 'listHosts'> & Pick<InstanceStore, 'listServerGroupHosts'>,
    options: HostSchedulerOptions = {},
  ) {
    this.cache = new HostListCache(() => this.store.listHosts(), options.cacheTtlMs ?? 500);
    this.filters = options.filters ?? defaultFilters(options.maxHeartbeatAgeMs ?? null);
    this.weighers = options.weighers ?? defaultWeighers(options.strategy ?? 'spread');
    this.now = options.now ?? (() => new Date());
  }

  async rank(request: PlacementRequest): Promise<PlacementResult> {
    const [hosts, serverGroupHostIds] = await Promise.all([
      this.cache.hosts(),
      request.serverGroup ? this.store.listServerGroupHosts(request.serverGroup.uid) : Promise.resolve([]),
    ]);
    const context: PlacementContext = { serverGroupHostIds, now: this.now() };
    const excludedBy: Record<string, number> = {};
    const passed: Host[] = [];
    for (const host of hosts) {
      const rejectedBy = this.filters.find((filter) => !filter.passes(host, request, context));
      if (rejectedBy) excludedBy[rejectedBy.name] = (excludedBy[rejectedBy.name] ?? 0) + 1;
      else passed.push(host);
    }
    const weights = weighHosts(passed, this.weighers, request, context);
    passed.sort((a, b) => (weights.get(b.id) ?? 0) - (weights.get(a.id) ?? 0) || a.id.localeCompare(b.id));
    const best = passed[0];
    if (best) this.cache.consume(best.id, request.claim);
    return {
      candidates: passed.map((host) => ({ hostId: host.id, claim: { ...request.claim } })),
      excludedBy,
      hostsConsidered: hosts.length,
    };
  }

  invalidate(): void {
    this.cache.invalidate();
  }
}
