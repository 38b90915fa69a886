import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Host } from '../../src/core/hosts.js';
import type { PlacementRequest } from '../../src/core/ports.js';
import { capacityFilter } from '../../src/scheduler/filters/capacity-filter.js';
import { gpuFilter } from '../../src/scheduler/filters/gpu-filter.js';
import { hostStateFilter } from '../../src/scheduler/filters/host-state-filter.js';
import { serverGroupFilter } from '../../src/scheduler/filters/server-group-filter.js';
import { zoneFilter } from '../../src/scheduler/filters/zone-filter.js';
import type { PlacementContext } from '../../src/scheduler/host-filter.js';
import { HostScheduler } from '../../src/scheduler/host-scheduler.js';

function host(id: string, overrides: Partial<Host> = {}): Host {
  return {
    id,
    name: id,
    regionId: 'r1',
    zoneId: 'z1',
    driver: 'simulated',
    state: 'up',
    arch: 'x86_64',
    vcpus: 16,
    ramMb: 65_536,
    diskGb: 1_000,
    gpus: [],
    cpuAllocationRatio: 1,
    ramAllocationRatio: 1,
    diskAllocationRatio: 1,
    usedVcpus: 0,
    usedRamMb: 0,
    usedDiskGb: 0,
    usedGpus: 0,
    instanceCount: 0,
    heartbeatAt: new Date(),
    createdAt: new Date(0),
    ...overrides,
  };
}

function request(overrides: Partial<PlacementRequest> = {}): PlacementRequest {
  return {
    regionId: 'r1',
    zoneId: null,
    claim: { vcpus: 2, ramMb: 4_096, diskGb: 20, gpus: 0 },
    arch: 'x86_64',
    gpuType: null,
    serverGroup: null,
    excludeHostIds: [],
    ...overrides,
  };
}

const context: PlacementContext = { serverGroupHostIds: [], now: new Date() };

/** A store with a fixed host list that counts how often it is read. */
function fakeStore(hosts: Host[], members: Record<string, string[]> = {}) {
  const store = {
    reads: 0,
    hosts,
    async listHosts() {
      store.reads += 1;
      return store.hosts.map((h) => ({ ...h }));
    },
    async listServerGroupHosts(uid: string) {
      return members[uid] ?? [];
    },
  };
  return store;
}

describe('filters', () => {
  it('zone: region always, zone only when asked', () => {
    assert.equal(zoneFilter.passes(host('a', { zoneId: 'z2' }), request(), context), true);
    assert.equal(zoneFilter.passes(host('a', { zoneId: 'z2' }), request({ zoneId: 'z1' }), context), false);
    assert.equal(zoneFilter.passes(host('a', { regionId: 'r2' }), request(), context), false);
  });

  it('capacity applies the overcommit ratios', () => {
    const full = host('a', { vcpus: 4, usedVcpus: 4, cpuAllocationRatio: 1 });
    assert.equal(capacityFilter.passes(full, request(), context), false);
    assert.equal(capacityFilter.passes({ ...full, cpuAllocationRatio: 2 }, request(), context), true);
    assert.equal(capacityFilter.passes(host('b', { ramMb: 8_192, usedRamMb: 6_000 }), request(), context), false);
  });

  it('host state: up only, and a stale heartbeat when a maximum age is set', () => {
    assert.equal(hostStateFilter().passes(host('a', { state: 'disabled' }), request(), context), false);
    const stale = host('a', { heartbeatAt: new Date(Date.now() - 60_000) });
    assert.equal(hostStateFilter().passes(stale, request(), context), true);
    assert.equal(hostStateFilter(30_000).passes(stale, request(), context), false);
  });

  it('gpu: type and free count', () => {
    const gpuHost = host('g', { gpus: [{ type: 'a100', count: 2 }], usedGpus: 1 });
    const wants = (count: number, type: string) => request({ claim: { vcpus: 1, ramMb: 1, diskGb: 1, gpus: count }, gpuType: type });
    assert.equal(gpuFilter.passes(gpuHost, wants(1, 'a100'), context), true);
    assert.equal(gpuFilter.passes(gpuHost, wants(2, 'a100'), context), false);
    assert.equal(gpuFilter.passes(gpuHost, wants(1, 'h100'), context), false);
    assert.equal(gpuFilter.passes(host('plain'), wants(1, 'a100'), context), false);
    assert.equal(gpuFilter.passes(gpuHost, request(), context), true);
  });

  it('server group: hard affinity and anti-affinity', () => {
    const members: PlacementContext = { serverGroupHostIds: ['a'], now: new Date() };
    const affinity = request({ serverGroup: { uid: 'g', policy: 'affinity' } });
    const anti = request({ serverGroup: { uid: 'g', policy: 'anti-affinity' } });
    assert.equal(serverGroupFilter.passes(host('a'), affinity, members), true);
    assert.equal(serverGroupFilter.passes(host('b'), affinity, members), false);
    assert.equal(serverGroupFilter.passes(host('b'), affinity, context), true, 'an empty group allows any host');
    assert.equal(serverGroupFilter.passes(host('a'), anti, members), false);
    assert.equal(serverGroupFilter.passes(host('b'), anti, members), true);
  });
});

describe('HostScheduler', () => {
  it('spreads: most free RAM first, and counts exclusions by the first filter that rejects', async () => {
    const store = fakeStore([
      host('busy', { usedRamMb: 40_000, usedVcpus: 8 }),
      host('idle'),
      host('half', { usedRamMb: 20_000, usedVcpus: 4 }),
      host('down', { state: 'down' }),
      host('elsewhere', { regionId: 'r2', state: 'down' }),
      host('arm', { arch: 'aarch64' }),
      host('full', { usedVcpus: 16 }),
    ]);
    const result = await new HostScheduler(store).rank(request());
    assert.deepEqual(result.candidates.map((c) => c.hostId), ['idle', 'half', 'busy']);
    assert.deepEqual(result.excludedBy, { 'host-state': 1, zone: 1, arch: 1, capacity: 1 });
    assert.equal(result.hostsConsidered, 7);
    assert.deepEqual(result.candidates[0]?.claim, request().claim);
  });

  it('packs when configured: fullest host that fits first', async () => {
    const store = fakeStore([host('idle'), host('busy', { usedRamMb: 40_000, usedVcpus: 8 })]);
    const result = await new HostScheduler(store, { strategy: 'pack' }).rank(request());
    assert.deepEqual(result.candidates.map((c) => c.hostId), ['busy', 'idle']);
  });

  it('excludes hosts the caller ruled out', async () => {
    const result = await new HostScheduler(fakeStore([host('a'), host('b')])).rank(request({ excludeHostIds: ['a'] }));
    assert.deepEqual(result.candidates.map((c) => c.hostId), ['b']);
    assert.deepEqual(result.excludedBy, { excluded: 1 });
  });

  it('soft affinity prefers the members\' hosts over free capacity; soft anti-affinity avoids them', async () => {
    const store = fakeStore([host('member', { usedRamMb: 30_000 }), host('other')], { g: ['member'] });
    const scheduler = new HostScheduler(store, { cacheTtlMs: 0 });
    const soft = await scheduler.rank(request({ serverGroup: { uid: 'g', policy: 'soft-affinity' } }));
    assert.equal(soft.candidates[0]?.hostId, 'member');
    const softAnti = await scheduler.rank(request({ serverGroup: { uid: 'g', policy: 'soft-anti-affinity' } }));
    assert.equal(softAnti.candidates[0]?.hostId, 'other');
    const hard = await scheduler.rank(request({ serverGroup: { uid: 'g', policy: 'anti-affinity' } }));
    assert.deepEqual(hard.candidates.map((c) => c.hostId), ['other']);
    assert.deepEqual(hard.excludedBy, { 'server-group': 1 });
  });

  it('keeps GPU hosts for GPU work', async () => {
    const store = fakeStore([host('gpu', { gpus: [{ type: 'a100', count: 4 }] }), host('plain', { usedRamMb: 30_000 })]);
    const scheduler = new HostScheduler(store);
    assert.equal((await scheduler.rank(request())).candidates[0]?.hostId, 'plain');
    const gpuRequest = request({ claim: { vcpus: 2, ramMb: 4_096, diskGb: 20, gpus: 1 }, gpuType: 'a100' });
    assert.deepEqual((await scheduler.rank(gpuRequest)).candidates.map((c) => c.hostId), ['gpu']);
  });

  it('reads the host list once per TTL, again after invalidate, and shares one read between concurrent ranks', async () => {
    const store = fakeStore([host('a'), host('b')]);
    const scheduler = new HostScheduler(store, { cacheTtlMs: 60_000 });
    await Promise.all([scheduler.rank(request()), scheduler.rank(request()), scheduler.rank(request())]);
    assert.equal(store.reads, 1);
    await scheduler.rank(request());
    assert.equal(store.reads, 1);
    scheduler.invalidate();
    await scheduler.rank(request());
    assert.equal(store.reads, 2);
  });

  it('counts each placement against its cached snapshot, so placements between reads spread out', async () => {
    const store = fakeStore([host('a'), host('b'), host('c')]);
    const scheduler = new HostScheduler(store, { cacheTtlMs: 60_000 });
    const firsts: string[] = [];
    for (let i = 0; i < 6; i++) firsts.push((await scheduler.rank(request())).candidates[0]?.hostId ?? '');
    assert.deepEqual(firsts, ['a', 'b', 'c', 'a', 'b', 'c']);
    assert.equal(store.reads, 1);
  });

  it('does not trust a load that started before an invalidate', async () => {
    let release: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    let reads = 0;
    const store = {
      async listHosts() {
        reads += 1;
        const snapshot = reads === 1 ? [host('old')] : [host('new')];
        if (reads === 1) await gate;
        return snapshot;
      },
      async listServerGroupHosts() {
        return [];
      },
    };
    const scheduler = new HostScheduler(store, { cacheTtlMs: 60_000 });
    const stale = scheduler.rank(request());
    scheduler.invalidate();
    const fresh = await scheduler.rank(request());
    release();
    await stale;
    assert.deepEqual(fresh.candidates.map((c) => c.hostId), ['new']);
    assert.deepEqual((await scheduler.rank(request())).candidates.map((c) => c.hostId), ['new']);
  });
});
