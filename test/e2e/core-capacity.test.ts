/**
 * Capacity, quota, billing and addresses over the native API on a real port: the database's claims decide, however
 * many requests race, and what a project holds is released for reuse.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { createTestDatabase } from '../support/test-database.js';
import { startTestKumo, type TestKumo } from '../support/test-kumo.js';
import {
  assertError,
  DEFAULT_PROJECT,
  GATEWAY_OWNER,
  hostUse,
  instanceBody,
  KumoApi,
  projectKey,
  provisionProject,
  queryDatabase,
  sleep,
  storeInvariantViolations,
  type HostUse,
} from './core-fixtures.js';

/**
 * One simulated host sized so that exactly ten g1-medium instances (2 vCPUs, 4 GiB, 40 GB boot disk) fit after the
 * server's overcommit ratios (CPU 4, RAM 1.5, disk 1): 5 × 4 = 20 vCPUs, ⌊27307 × 1.5⌋ = 40960 MiB, 400 GB. Every
 * resource binds at once, so the eleventh fails whichever is checked first.
 */
const TEN_MEDIUMS = {
  KUMO_SIMULATED_HOSTS: 'us1-a=1',
  KUMO_SIM_HOST_VCPUS: '5',
  KUMO_SIM_HOST_RAM_MB: '27307',
  KUMO_SIM_HOST_DISK_GB: '400',
};
const HOST = 'sim-us1-a-1';

function medium(name: string): Record<string, unknown> {
  return instanceBody({ name, type: 'g1-medium', sizeGb: 40 });
}

describe('core e2e: capacity', () => {
  let kumo: TestKumo;
  let api: KumoApi;

  before(async () => {
    kumo = await startTestKumo({ env: TEN_MEDIUMS });
    api = await projectKey(new KumoApi(kumo.url, kumo.adminToken), DEFAULT_PROJECT);
  });
  after(async () => {
    await kumo?.close();
  });

  it('64 concurrent creates on a host that fits 10: exactly 10 accepted, 54 refused, never oversubscribed', async () => {
    const [host] = (await queryDatabase<{ vcpu_capacity: number; ram_capacity: string; disk_capacity: string }>(
      kumo.databaseUrl,
      'SELECT vcpu_capacity, ram_capacity, disk_capacity FROM hosts WHERE id = $1',
      [HOST],
    ));
    assert.deepEqual({ vcpus: host?.vcpu_capacity, ramMb: Number(host?.ram_capacity), diskGb: Number(host?.disk_capacity) }, { vcpus: 20, ramMb: 40_960, diskGb: 400 });

    // Sample the host row while the burst runs: its use must never pass its capacity, not even for a moment.
    const sampler = new pg.Client({ connectionString: kumo.databaseUrl });
    await sampler.connect();
    const samples: HostUse[] = [];
    let sampling = true;
    const sampling$ = (async () => {
      while (sampling) {
        samples.push(...(await hostUse(sampler)).filter((h) => h.id === HOST));
        await sleep(2);
      }
    })();

    const responses = await Promise.all(Array.from({ length: 64 }, (_, i) => api.create(DEFAULT_PROJECT, medium(`cap-${String(i).padStart(2, '0')}`))));
    sampling = false;
    await sampling$;
    await sampler.end();

    const accepted = responses.filter((r) => r.status === 202);
    const refused = responses.filter((r) => r.status !== 202);
    assert.equal(accepted.length, 10, `statuses: ${responses.map((r) => r.status).join(',')}`);
    assert.equal(refused.length, 54);
    for (const response of refused) {
      const error = assertError(response, 503, 'INSUFFICIENT_CAPACITY');
      assert.equal(typeof error.info?.excludedBy, 'object', JSON.stringify(error));
      assert.ok(Object.keys(error.info!.excludedBy as object).length > 0, JSON.stringify(error));
    }
    assert.ok(samples.length > 0);
    for (const sample of samples) {
      assert.ok(sample.usedVcpus <= sample.vcpuCapacity && sample.usedRamMb <= sample.ramCapacity && sample.usedDiskGb <= sample.diskCapacity, JSON.stringify(sample));
    }

    const use = await hostUseAt(kumo.databaseUrl, HOST);
    assert.deepEqual(
      { vcpus: use?.usedVcpus, ramMb: use?.usedRamMb, diskGb: use?.usedDiskGb, count: use?.instanceCount },
      { vcpus: 20, ramMb: 40_960, diskGb: 400, count: 10 },
    );
    const [claims] = await queryDatabase<{ n: number }>(kumo.databaseUrl, 'SELECT count(*)::int AS n FROM instances WHERE host_id = $1 AND claim_vcpus IS NOT NULL', [HOST]);
    assert.equal(claims?.n, 10);
    assert.deepEqual(await storeInvariantViolations(kumo.databaseUrl), []);

    for (const response of accepted) await api.waitForStatus(DEFAULT_PROJECT, response.body.id, 'RUNNING');
  });

  it('after 3 deletions finish, exactly 3 more fit at once', async () => {
    const live = (await api.list(DEFAULT_PROJECT)).map((i) => i.id).sort();
    assert.equal(live.length, 10);
    // Still full. (This refusal also has the scheduler read the hosts just before the deletions: capacity they free
    // must be usable as soon as they are finished, not only once the scheduler's host list expires.)
    assertError(await api.create(DEFAULT_PROJECT, medium('still-full')), 503, 'INSUFFICIENT_CAPACITY');
    const doomed = live.slice(0, 3);
    for (const name of doomed) assert.equal((await api.delete(DEFAULT_PROJECT, name)).status, 202);
    // Until a deletion finishes, its claim still holds the host.
    for (const name of doomed) await api.waitForStatus(DEFAULT_PROJECT, name, 'GONE');

    const responses = await Promise.all(Array.from({ length: 8 }, (_, i) => api.create(DEFAULT_PROJECT, medium(`again-${i}`))));
    assert.equal(responses.filter((r) => r.status === 202).length, 3, `statuses: ${responses.map((r) => r.status).join(',')}`);
    for (const response of responses.filter((r) => r.status !== 202)) assertError(response, 503, 'INSUFFICIENT_CAPACITY');
    const use = await hostUseAt(kumo.databaseUrl, HOST);
    assert.equal(use?.instanceCount, 10);
    assert.equal(use?.usedVcpus, 20);
    assert.deepEqual(await storeInvariantViolations(kumo.databaseUrl), []);
  });
});

describe('core e2e: quota, billing and addresses', () => {
  let kumo: TestKumo;
  let admin: KumoApi;

  before(async () => {
    kumo = await startTestKumo({ env: { KUMO_SIMULATED_HOSTS: 'us1-a=2' } });
    admin = new KumoApi(kumo.url, kumo.adminToken);
  });
  after(async () => {
    await kumo?.close();
  });

  it('a project with an instance quota of 2 gets QUOTA_EXCEEDED on the third create, with the numbers', async () => {
    const { api, network } = await provisionProject(admin, { projectId: 'quota-two', quota: { instances: 2 }, network: { id: 'quota-net', cidr: '10.20.0.0/24' } });
    const project = 'quota-two';
    const body = (name: string) => instanceBody({ name, network: network! });
    assert.equal((await api.create(project, body('q-1'))).status, 202);
    assert.equal((await api.create(project, body('q-2'))).status, 202);
    const error = assertError(await api.create(project, body('q-3')), 403, 'QUOTA_EXCEEDED');
    assert.deepEqual(error.info, { resource: 'instances', limit: 2, used: 2, requested: 1 });
    // Concurrent attempts at the limit change nothing either.
    const burst = await Promise.all(Array.from({ length: 10 }, (_, i) => api.create(project, body(`burst-${i}`))));
    assert.deepEqual([...new Set(burst.map((r) => r.status))], [403]);

    const quota = await admin.request<{ usage: { instances: number } }>('GET', `/v1/admin/projects/${project}/quota`);
    assert.equal(quota.body.usage.instances, 2);
    // Raising the quota lets exactly one more in.
    assert.equal((await admin.request('PATCH', `/v1/admin/projects/${project}/quota`, { instances: 3 })).status, 200);
    assert.equal((await api.create(project, body('q-3'))).status, 202);
    assertError(await api.create(project, body('q-4')), 403, 'QUOTA_EXCEEDED');
    // Deleting frees quota once the deletion finishes.
    assert.equal((await api.delete(project, 'q-1')).status, 202);
    await api.waitForStatus(project, 'q-1', 'GONE');
    assert.equal((await api.create(project, body('q-4'))).status, 202);
    assert.deepEqual(await storeInvariantViolations(kumo.databaseUrl), []);
  });

  for (const billingStatus of ['suspended', 'past-due'] as const) {
    it(`a ${billingStatus} team cannot create or start, but can read, stop and delete; active again, it can create`, async () => {
      const project = `billing-${billingStatus}`;
      const { api, teamId, network } = await provisionProject(admin, { projectId: project, network: { id: `${project}-net`, cidr: '10.21.0.0/24' } });
      const body = (name: string) => instanceBody({ name, network: network! });
      for (const name of ['b-keep', 'b-stop', 'b-delete']) assert.equal((await api.create(project, body(name))).status, 202);
      for (const name of ['b-keep', 'b-stop', 'b-delete']) await api.waitForStatus(project, name, 'RUNNING');

      const patched = await admin.request<{ billingStatus: string }>('PATCH', `/v1/admin/teams/${teamId}`, { billingStatus });
      assert.equal(patched.status, 200, JSON.stringify(patched.body));
      assert.equal(patched.body.billingStatus, billingStatus);

      const blocked = assertError(await api.create(project, body('b-new')), 402, 'BILLING_BLOCKED');
      assert.match(blocked.message, new RegExp(billingStatus));
      assert.equal((await api.get(project, 'b-keep')).status, 200);
      assert.equal((await api.list(project)).length, 3);
      assert.equal((await api.operations(project, 'b-keep')).length >= 1, true);
      assert.equal((await api.action(project, 'b-stop', 'stop')).status, 202);
      await api.waitForStatus(project, 'b-stop', 'STOPPED');
      assertError(await api.action(project, 'b-stop', 'start'), 402, 'BILLING_BLOCKED');
      assert.equal((await api.delete(project, 'b-delete')).status, 202);
      await api.waitForStatus(project, 'b-delete', 'GONE');

      assert.equal((await admin.request('PATCH', `/v1/admin/teams/${teamId}`, { billingStatus: 'active' })).status, 200);
      assert.equal((await api.create(project, body('b-new'))).status, 202);
      assert.equal((await api.action(project, 'b-stop', 'start')).status, 202);
      await api.waitForStatus(project, 'b-new', 'RUNNING');
      await api.waitForStatus(project, 'b-stop', 'RUNNING');
    });
  }

  it('every live instance has its own address in its subnet; a deleted instance\'s address is reused', async () => {
    // A /29: .0 network, .1 gateway, .7 broadcast, so five addresses (.2–.6) for instances.
    const project = 'addresses';
    const { api, network } = await provisionProject(admin, { projectId: project, network: { id: 'tiny-net', cidr: '10.30.0.0/29' } });
    const body = (name: string) => instanceBody({ name, network: network! });
    const created = await Promise.all(Array.from({ length: 5 }, (_, i) => api.create(project, body(`addr-${i}`))));
    assert.deepEqual(created.map((r) => r.status), [202, 202, 202, 202, 202], JSON.stringify(created.map((r) => r.body)));
    const addressOf = new Map(created.map((r) => [r.body.id, r.body.nics[0]?.ipv4Address ?? '']));
    assert.deepEqual([...addressOf.values()].sort(), ['10.30.0.2', '10.30.0.3', '10.30.0.4', '10.30.0.5', '10.30.0.6']);
    const full = assertError(await api.create(project, body('addr-5')), 409, 'CONFLICT');
    assert.match(full.message, /no free address/);

    for (const name of ['addr-1', 'addr-3']) assert.equal((await api.delete(project, name)).status, 202);
    // Not reusable while the deletion is under way; reusable once it finished.
    for (const name of ['addr-1', 'addr-3']) await api.waitForStatus(project, name, 'GONE');
    const again = await Promise.all(['addr-5', 'addr-6'].map((name) => api.create(project, body(name))));
    assert.deepEqual(again.map((r) => r.status), [202, 202], JSON.stringify(again.map((r) => r.body)));
    assert.deepEqual(
      again.map((r) => r.body.nics[0]?.ipv4Address).sort(),
      [addressOf.get('addr-1'), addressOf.get('addr-3')].sort(),
    );

    const live = await api.list(project);
    const addresses = live.map((i) => i.nics[0]?.ipv4Address);
    assert.equal(new Set(addresses).size, live.length, JSON.stringify(addresses));
    const [gateway] = await queryDatabase<{ n: number }>(
      kumo.databaseUrl,
      `SELECT count(*)::int AS n FROM ip_addresses WHERE address = '10.30.0.1' AND instance_uid = '${GATEWAY_OWNER}'`,
    );
    assert.equal(gateway?.n, 1, 'the gateway row stays reserved');
    assert.deepEqual(await storeInvariantViolations(kumo.databaseUrl), []);
  });
});

describe('core e2e: a host whose size changes', () => {
  it('gets the capacity of its new size when it comes back after a restart, and keeps what it holds', async () => {
    const database = await createTestDatabase();
    const dataDir = await mkdtemp(join(tmpdir(), 'kumo-test-'));
    try {
      let kumo = await startTestKumo({ env: TEN_MEDIUMS, databaseUrl: database.databaseUrl, dataDir });
      let api = await projectKey(new KumoApi(kumo.url, kumo.adminToken), DEFAULT_PROJECT);
      const first = await Promise.all(Array.from({ length: 10 }, (_, i) => api.create(DEFAULT_PROJECT, medium(`grow-${i}`))));
      assert.deepEqual(first.map((r) => r.status), Array(10).fill(202));
      assertError(await api.create(DEFAULT_PROJECT, medium('grow-10')), 503, 'INSUFFICIENT_CAPACITY');
      await kumo.close();

      // Twice the size: 10 × 4 = 40 vCPUs, ⌊54614 × 1.5⌋ = 81921 MiB, 800 GB.
      const twice = { ...TEN_MEDIUMS, KUMO_SIM_HOST_VCPUS: '10', KUMO_SIM_HOST_RAM_MB: '54614', KUMO_SIM_HOST_DISK_GB: '800' };
      kumo = await startTestKumo({ env: twice, databaseUrl: database.databaseUrl, dataDir });
      try {
        api = await projectKey(new KumoApi(kumo.url, kumo.adminToken), DEFAULT_PROJECT);
        const use = await hostUseAt(kumo.databaseUrl, HOST);
        assert.deepEqual(
          { vcpus: use?.vcpuCapacity, ramMb: use?.ramCapacity, diskGb: use?.diskCapacity, used: use?.usedVcpus },
          { vcpus: 40, ramMb: 81_921, diskGb: 800, used: 20 },
        );
        const more = await Promise.all(Array.from({ length: 10 }, (_, i) => api.create(DEFAULT_PROJECT, medium(`grow-${10 + i}`))));
        assert.deepEqual(more.map((r) => r.status), Array(10).fill(202), JSON.stringify(more.map((r) => r.body)));
        assertError(await api.create(DEFAULT_PROJECT, medium('grow-20')), 503, 'INSUFFICIENT_CAPACITY');
        assert.deepEqual(await storeInvariantViolations(kumo.databaseUrl), []);
      } finally {
        await kumo.close();
      }
    } finally {
      await database.drop();
      await rm(dataDir, { recursive: true, force: true });
    }
  });
});

async function hostUseAt(databaseUrl: string, hostId: string): Promise<HostUse | undefined> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    return (await hostUse(client)).find((h) => h.id === hostId);
  } finally {
    await client.end();
  }
}
