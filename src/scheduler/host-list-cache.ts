import type { Host, ResourceClaim } from '../core/hosts.js';

interface CachedHosts {
  hosts: Host[];
  loadedAt: number;
  generation: number;
}

/**
 * The host list, read from the store at most once per `ttlMs` and shared by every placement in between. The
 * scheduler runs on every create (about a thousand a second under load); the hosts table changes with each claim,
 * but a slightly stale copy only costs a lost claim and a retry, never an oversubscribed host, because the claim
 * itself is the store's atomic UPDATE.
 *
 * `invalidate()` makes the next read load again. Loads are single-flight: concurrent reads after one invalidation
 * share one query, and a load that started before an invalidation is not trusted after it.
 */
export class HostListCache {
  private cached: CachedHosts | null = null;
  private loading: { promise: Promise<Host[]>; generation: number } | null = null;
  private generation = 0;

  constructor(
    private readonly load: () => Promise<Host[]>,
    private readonly ttlMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  async hosts(): Promise<Host[]> {
    const cached = this.cached;
    if (cached && cached.generation === this.generation && this.now() - cached.loadedAt < this.ttlMs) return cached.hosts;
    if (this.loading && this.loading.generation === this.generation) return this.loading.promise;
    const generation = this.generation;
    const loadedAt = this.now();
    const promise = this.load().then((hosts) => {
      // Copies, because consume() adjusts them in place and the store may hand out shared objects.
      const copies = hosts.map((host) => ({ ...host }));
      if (generation === this.generation) this.cached = { hosts: copies, loadedAt, generation };
      return copies;
    });
    const loading = { promise, generation };
    this.loading = loading;
    // A failed load is not cached: the next read tries again.
    promise
      .finally(() => {
        if (this.loading === loading) this.loading = null;
      })
      .catch(() => undefined);
    return promise;
  }

  /**
   * Counts a claim against the cached copy of a host, as Nova's scheduler consumes from its HostState: placements that
   * share this snapshot then spread over hosts instead of all racing for the same row.
   */
  consume(hostId: string, claim: ResourceClaim): void {
    const host = this.cached?.hosts.find((candidate) => candidate.id === hostId);
    if (!host) return;
    host.usedVcpus += claim.vcpus;
    host.usedRamMb += claim.ramMb;
    host.usedDiskGb += claim.diskGb;
    host.usedGpus += claim.gpus;
    host.instanceCount += 1;
  }

  invalidate(): void {
    this.generation += 1;
    this.cached = null;
  }
}
