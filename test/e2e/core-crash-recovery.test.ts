/**
 * Crash recovery of a real `kumo server`: kill -9 in the middle of a burst of creates, start it again on the same data
 * directory (it adopts the embedded PostgreSQL the killed process left running), and everything acknowledged converges;
 * nothing is half made and the bookkeeping adds up.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import {
  DEFAULT_PROJECT,
  embeddedDatabaseUrl,
  instanceBody,
  KumoApi,
  KumoChild,
  livePostmaster,
  projectKey,
  queryDatabase,
  runLimited,
  sleep,
  storeInvariantViolations,
  type InstanceView,
  type OperationView,
} from './core-fixtures.js';

const TOTAL = 200;
const KILL_AFTER_ACKS = 80;

describe('core e2e: crash recovery', () => {
  const started: KumoChild[] = [];
  let dataDir = '';

  after(async () => {
    for (const child of started) await child.stop().catch(() => undefined);
    if (dataDir) {
      // A clean stop takes its PostgreSQL down; if one is still running on this directory, stop that PID only.
      const pid = livePostmaster(dataDir);
      if (pid !== null) {
        process.kill(pid, 'SIGTERM');
        for (let i = 0; i < 100 && livePostmaster(dataDir) === pid; i++) await sleep(100);
        if (livePostmaster(dataDir) === pid) process.kill(pid, 'SIGKILL');
      }
      await rm(dataDir, { recursive: true, force: true });
    }
  });

  it('kill -9 during 200 creates: after a restart every acknowledged create converges and nothing leaks', { timeout: 120_000 }, async (t) => {
    dataDir = await mkdtemp(join(tmpdir(), 'kumo-crash-'));
    const adminToken = `crash-admin-${randomBytes(12).toString('hex')}`;
    const env = {
      KUMO_DATA_DIR: dataDir,
      KUMO_ADMIN_TOKEN: adminToken,
      KUMO_SIMULATED_HOSTS: 'us1-a=2',
      KUMO_SIM_HOST_VCPUS: '64',
      KUMO_SIM_HOST_RAM_MB: '262144',
      KUMO_SIM_HOST_DISK_GB: '4000',
      KUMO_SIM_BOOT_DELAY_MS: '200',
    };
    const first = await KumoChild.start(env);
    started.push(first);
    const admin = new KumoApi(first.url, adminToken);
    const quota = await admin.request('PATCH', `/v1/admin/projects/${DEFAULT_PROJECT}/quota`, { instances: 1000, vcpus: 1000, ramMb: 10_000_000 });
    assert.equal(quota.status, 200, JSON.stringify(quota.body));
    const api = await projectKey(admin, DEFAULT_PROJECT);

    const acknowledged = new Map<string, { uid: string; operationId: string }>();
    const names = Array.from({ length: TOTAL }, (_, i) => `crash-${String(i).padStart(3, '0')}`);
    let killing: Promise<void> | null = null;
    const results = await runLimited(
      names.map((name) => async () => {
        if (killing) throw new Error('not sent: the server is gone');
        const response = await api.create(DEFAULT_PROJECT, instanceBody({ name, sizeGb: 10 }));
        assert.equal(response.status, 202, JSON.stringify(response.body));
        acknowledged.set(name, { uid: response.body.uid, operationId: response.headers.get('operation-id') ?? '' });
        if (acknowledged.size >= KILL_AFTER_ACKS) killing ??= first.kill9();
      }),
      16,
    );
    await killing;
    assert.ok(!first.running, 'the first server was killed');
    assert.ok(acknowledged.size >= KILL_AFTER_ACKS && acknowledged.size < TOTAL, `acknowledged ${acknowledged.size}`);
    // Anything but an acknowledgement failed at the connection (the process died), never with an HTTP error.
    for (const result of results) if (result.status === 'rejected') assert.doesNotMatch(String(result.reason), /AssertionError/);
    assert.ok(livePostmaster(dataDir) !== null, 'kill -9 left the embedded PostgreSQL running');
    const orphan = livePostmaster(dataDir);
    // The crash caught work in flight: instances whose guests were still being created.
    const atCrash = await queryDatabase<{ phase: string; n: number }>(
      embeddedDatabaseUrl(dataDir),
      'SELECT phase, count(*)::int AS n FROM instances WHERE deleted_at IS NULL GROUP BY phase ORDER BY phase',
    );
    t.diagnostic(`acknowledged ${acknowledged.size} of ${TOTAL}; phases at the crash: ${JSON.stringify(atCrash)}`);
    assert.ok(atCrash.some((row) => row.phase === 'provisioning' && row.n > 0), JSON.stringify(atCrash));

    const second = await KumoChild.start(env);
    started.push(second);
    assert.equal(livePostmaster(dataDir), orphan, 'the restart adopted the PostgreSQL left running');
    assert.match(second.output.join(''), /adopted the embedded PostgreSQL/);
    const client = new KumoApi(second.url, api.token);

    // Converge: every live instance running, no operation in progress.
    let live: InstanceView[] = [];
    const deadline = Date.now() + 60_000;
    for (;;) {
      live = await client.list(DEFAULT_PROJECT);
      const pending = live.filter((i) => i.lifecycle.status !== 'RUNNING' || i.operationId);
      if (pending.length === 0) break;
      if (Date.now() > deadline) {
        assert.fail(`not converged: ${JSON.stringify(pending.map((i) => [i.id, i.lifecycle.status, i.lifecycle.statusMessage]))}\n${second.output.join('')}`);
      }
      await sleep(250);
    }

    t.diagnostic(`converged after the restart: ${live.length} instances, ${live.length - acknowledged.size} of them unacknowledged`);
    const byName = new Map(live.map((i) => [i.id, i]));
    for (const [name, { uid, operationId }] of acknowledged) {
      const instance = byName.get(name);
      assert.ok(instance, `acknowledged ${name} was lost`);
      assert.equal(instance.uid, uid);
      const operation = await client.request<OperationView>('GET', `/v1/regions/us-texas-1/projects/${DEFAULT_PROJECT}/operations/${operationId}`);
      assert.equal(operation.status, 200, JSON.stringify(operation.body));
      assert.equal(operation.body.status, 'DONE', `${name}: ${JSON.stringify(operation.body)}`);
    }
    // The unacknowledged ones exist fully (running, their create done) or not at all.
    for (const instance of live) {
      if (acknowledged.has(instance.id)) continue;
      assert.ok(names.includes(instance.id));
      const operations = await client.operations(DEFAULT_PROJECT, instance.id);
      const create = operations.find((op) => op.kind === 'create');
      assert.equal(create?.status, 'DONE', `${instance.id}: ${JSON.stringify(operations)}`);
    }
    const databaseUrl = embeddedDatabaseUrl(dataDir);
    const stuck = await queryDatabase(databaseUrl, "SELECT name, phase FROM instances WHERE deleted_at IS NULL AND phase <> 'running'");
    assert.deepEqual(stuck, []);
    const openOperations = await queryDatabase(databaseUrl, "SELECT id, status FROM operations WHERE status NOT IN ('succeeded')");
    assert.deepEqual(openOperations, []);
    assert.deepEqual(await storeInvariantViolations(databaseUrl), []);

    // A clean stop takes the adopted PostgreSQL down with it.
    await second.stop();
    assert.equal(livePostmaster(dataDir), null, 'the stopped server left its PostgreSQL running');
  });
});
