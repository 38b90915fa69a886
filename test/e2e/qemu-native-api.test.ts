/**
 * Real QEMU guests driven end to end through the native HTTP API (KUMO_DRIVER=qemu): create with a key and user data,
 * SSH in, power actions on the real guest, the serial console, snapshot → clone, delete leaving nothing behind,
 * adoption of running guests by a Kumo process restarted after `kill -9`, and a boot that never becomes ready.
 *
 * Network safety: guests sit on the bridge the QEMU driver makes (kumobr0, the seed's 10.0.0.0/20 with the /16
 * around it blackholed by the driver); the tests only ever talk to addresses Kumo assigned there and to 127.0.0.1.
 * The three suites run one after another and never have more than two guests at once.
 */
import assert from 'node:assert/strict';
import { freePort } from '../support/free-port.js';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';

import { guestPids, qemuSkipReason, ssh, sshKeyPair, sshUntil } from '../drivers/qemu-fixtures.js';
import { createTestDatabase } from '../support/test-database.js';
import { startTestKumo, type TestKumo } from '../support/test-kumo.js';
import {
  assertGuestGone,
  createBody,
  destroyLeftovers,
  GUEST_SUBNET,
  INSTANCES,
  NativeClient,
  PROJECT,
  poll,
  qemuStateDir,
  spawnKumoServer,
  stopChild,
  type InstanceView,
  type KumoProcess,
} from './qemu-native-fixtures.js';

const skip = qemuSkipReason();
const suffix = randomBytes(3).toString('hex');

type Keys = { dir: string; privateKey: string; publicKey: string };

async function bootCount(keys: Keys, address: string): Promise<number> {
  return Number((await ssh(keys.privateKey, address, 'cat /data/.kumo/boot-count')).trim());
}

/** Waits until the guest answers SSH with the expected boot count (a reboot or start has really happened). */
async function waitForBootCount(keys: Keys, address: string, expected: number): Promise<void> {
  await sshUntil(keys.privateKey, address, 'cat /data/.kumo/boot-count', (out) => Number(out.trim()) === expected, 60_000);
}

describe('QEMU guests through the native API', { skip: skip ?? false, timeout: 15 * 60_000 }, () => {
  let keys: Keys;
  let dataDir: string;
  let kumo: TestKumo | undefined;
  let client: NativeClient;
  const name = `e2e-${suffix}`;
  const cloneName = `e2e-clone-${suffix}`;
  const imageId = `snap-${suffix}`;
  let instance: InstanceView;
  let address: string;
  let pid: number | undefined;

  before(async () => {
    keys = await sshKeyPair();
    dataDir = await mkdtemp(join(tmpdir(), 'kumo-e2e-qemu-'));
    kumo = await startTestKumo({ env: { KUMO_DRIVER: 'qemu' }, dataDir });
    client = new NativeClient(kumo.url, await kumo.createProjectKey(PROJECT));
  });

  after(async () => {
    await kumo?.close();
    if (dataDir) {
      await destroyLeftovers(dataDir);
      await rm(dataDir, { recursive: true, force: true });
    }
    if (keys) await rm(keys.dir, { recursive: true, force: true });
  });

  it('creates an instance that is RUNNING once the guest is ready, with its key, hostname and user data', async () => {
    const userData = '#!/bin/sh\necho "user data ran on $(hostname)" > /root/user-data.txt\n';
    const created = await client.create(createBody({ id: name, publicKey: keys.publicKey, userData }));
    assert.equal(created.instance.lifecycle.status, 'PROVISIONING');
    instance = await client.waitForStatus(name, 'RUNNING');
    address = instance.nics[0]?.ipv4Address ?? '';
    assert.match(address, GUEST_SUBNET, 'an address on the seed subnet');

    // RUNNING means the guest said it is ready, not merely that QEMU started.
    const consoleText = await client.console(name);
    assert.match(consoleText, new RegExp(`KUMO-GUEST-READY instance-id=${instance.uid} hostname=${instance.hostname} boot-count=1`));
    const operation = await client.operationDone(created.operationId);
    assert.ok(operation.steps.some((step) => step.name === 'guest-ready'), JSON.stringify(operation.steps));

    assert.equal((await ssh(keys.privateKey, address, 'hostname')).trim(), instance.hostname);
    assert.equal((await ssh(keys.privateKey, address, 'cat /root/.ssh/authorized_keys')).trim(), keys.publicKey);
    const ran = await sshUntil(keys.privateKey, address, 'cat /root/user-data.txt 2>/dev/null || true', (out) => out.includes('user data ran'), 30_000);
    assert.equal(ran.trim(), `user data ran on ${instance.hostname}`);
    assert.match(await client.console(name), /KUMO-GUEST-USERDATA exit=0/, 'the console shows the user data finished');
    [pid] = await guestPids(instance.uid);
    assert.ok(pid, 'one QEMU process runs the guest');
  });

  it('reboots the guest in place: a new boot of the same QEMU process', async () => {
    const before = await bootCount(keys, address);
    const operation = await client.action(name, 'reboot');
    await client.operationDone(operation.id);
    await client.waitForStatus(name, 'RUNNING');
    await waitForBootCount(keys, address, before + 1);
    assert.deepEqual(await guestPids(instance.uid), [pid], 'the same QEMU process');
    assert.match(await client.console(name), new RegExp(`KUMO-GUEST-READY .*boot-count=${before + 1}`));
  });

  it('pauses and unpauses the guest: frozen while PAUSED, the same boot afterwards', async () => {
    const count = await bootCount(keys, address);
    const uptime = Number((await ssh(keys.privateKey, address, 'cut -d" " -f1 /proc/uptime')).trim());
    await client.operationDone((await client.action(name, 'pause')).id);
    await client.waitForStatus(name, 'PAUSED');
    await assert.rejects(ssh(keys.privateKey, address, 'true', 3), 'a paused guest does not answer');

    await client.operationDone((await client.action(name, 'unpause')).id);
    await client.waitForStatus(name, 'RUNNING');
    const after = Number((await sshUntil(keys.privateKey, address, 'cut -d" " -f1 /proc/uptime')).trim());
    assert.ok(after >= uptime, `guest uptime went on (${uptime} → ${after}), it did not boot again`);
    assert.equal(await bootCount(keys, address), count);
    assert.deepEqual(await guestPids(instance.uid), [pid]);
  });

  it('stops the guest (its QEMU process ends) and starts it again (a new boot)', async () => {
    const count = await bootCount(keys, address);
    await client.operationDone((await client.action(name, 'stop')).id);
    await client.waitForStatus(name, 'STOPPED');
    assert.deepEqual(await guestPids(instance.uid), [], 'no QEMU process while STOPPED');
    assert.match(await client.console(name), /KUMO-GUEST-SHUTDOWN|KUMO-GUEST-POWERDOWN/, 'the guest shut down cleanly');

    await client.operationDone((await client.action(name, 'start')).id);
    await client.waitForStatus(name, 'RUNNING');
    await waitForBootCount(keys, address, count + 1);
    assert.equal((await ssh(keys.privateKey, address, 'hostname')).trim(), instance.hostname);
    const pids = await guestPids(instance.uid);
    assert.equal(pids.length, 1);
    assert.notEqual(pids[0], pid, 'a new QEMU process');
    pid = pids[0];
  });

  it('snapshots the guest into an image that boots a new instance with the data intact', async () => {
    const marker = `marker-${randomBytes(4).toString('hex')}`;
    await ssh(keys.privateKey, address, `echo ${marker} > /data/marker && sync`);
    const count = await bootCount(keys, address);
    await client.operationDone((await client.action(name, 'snapshot', { imageId })).id, 180_000);
    assert.equal((await client.get(name)).body.lifecycle.status, 'RUNNING', 'a snapshot leaves the instance running');
    assert.equal((await ssh(keys.privateKey, address, 'cat /data/marker')).trim(), marker, 'and its disk writable and intact');

    await client.create(createBody({ id: cloneName, publicKey: keys.publicKey, image: imageId }));
    const clone = await client.waitForStatus(cloneName, 'RUNNING');
    const cloneAddress = clone.nics[0]?.ipv4Address ?? '';
    assert.match(cloneAddress, GUEST_SUBNET);
    assert.notEqual(cloneAddress, address);
    assert.equal((await ssh(keys.privateKey, cloneAddress, 'cat /data/marker')).trim(), marker);
    assert.equal((await ssh(keys.privateKey, cloneAddress, 'hostname')).trim(), clone.hostname);
    assert.equal(await bootCount(keys, cloneAddress), count + 1, "the clone's disk carries on from the snapshot");
  });

  it('deletes both instances and leaves no QEMU process, tap or guest directory', async () => {
    const uids = [instance.uid, (await client.get(cloneName)).body.uid];
    await Promise.all([client.deleteAndWait(name), client.deleteAndWait(cloneName)]);
    for (const uid of uids) await assertGuestGone(dataDir, uid);
    const listed = await client.request<{ items: InstanceView[] }>('GET', INSTANCES);
    assert.deepEqual(listed.body.items.filter((item) => item.id === name || item.id === cloneName), []);
  });
});

describe('a Kumo process killed with SIGKILL adopts its running guests on restart', { skip: skip ?? false, timeout: 10 * 60_000 }, () => {
  let keys: Keys;
  let dataDir: string;
  let database: { databaseUrl: string; drop(): Promise<void> } | undefined;
  let env: Record<string, string>;
  const token = `e2e-admin-${randomBytes(12).toString('hex')}`;
  const running: KumoProcess[] = [];
  const name = `e2e-adopt-${suffix}`;

  before(async () => {
    keys = await sshKeyPair();
    dataDir = await mkdtemp(join(tmpdir(), 'kumo-e2e-qemu-adopt-'));
    database = await createTestDatabase();
    env = {
      KUMO_DRIVER: 'qemu',
      KUMO_DATA_DIR: dataDir,
      DATABASE_URL: database.databaseUrl,
      KUMO_HOST: '127.0.0.1',
      KUMO_PORT: String(await freePort()),
      KUMO_ADMIN_TOKEN: token,
    };
  });

  after(async () => {
    for (const kumo of running) await stopChild(kumo.child);
    if (dataDir) {
      await destroyLeftovers(dataDir);
      await rm(dataDir, { recursive: true, force: true });
    }
    await database?.drop();
    if (keys) await rm(keys.dir, { recursive: true, force: true });
  });

  it('keeps the same QEMU process, the instance RUNNING and SSH working, with nothing duplicated', async () => {
    const first = await spawnKumoServer(env);
    running.push(first);
    let client = new NativeClient(first.url, token);
    await client.create(createBody({ id: name, publicKey: keys.publicKey }));
    const instance = await client.waitForStatus(name, 'RUNNING');
    const address = instance.nics[0]?.ipv4Address ?? '';
    assert.match(address, GUEST_SUBNET);
    assert.equal((await ssh(keys.privateKey, address, 'hostname')).trim(), instance.hostname);
    const pids = await guestPids(instance.uid);
    assert.equal(pids.length, 1);

    await stopChild(first.child, 'SIGKILL');
    assert.deepEqual(await guestPids(instance.uid), pids, 'the guest outlives Kumo');
    assert.equal((await ssh(keys.privateKey, address, 'hostname')).trim(), instance.hostname, 'and keeps serving');

    const second = await spawnKumoServer(env);
    running.push(second);
    client = new NativeClient(second.url, token);
    const adopted = (await client.get(name)).body;
    assert.equal(adopted.lifecycle.status, 'RUNNING', adopted.lifecycle.statusMessage);
    assert.equal(adopted.uid, instance.uid);
    assert.deepEqual(await guestPids(instance.uid), pids, 'adopted, not started again');
    const listed = await client.request<{ items: InstanceView[] }>('GET', INSTANCES);
    assert.deepEqual(listed.body.items.map((item) => item.id), [name], 'one instance');
    assert.deepEqual(await readdir(join(qemuStateDir(dataDir), 'guests')), [instance.uid], 'one guest');

    // The adopted guest is under control again: QMP was reconnected, so a reboot acts on the same process.
    const count = await bootCount(keys, address);
    await client.operationDone((await client.action(name, 'reboot')).id);
    await client.waitForStatus(name, 'RUNNING');
    await waitForBootCount(keys, address, count + 1);
    assert.deepEqual(await guestPids(instance.uid), pids);
    assert.match(await client.console(name), new RegExp(`KUMO-GUEST-READY .*boot-count=${count + 1}`));

    await client.deleteAndWait(name);
    await assertGuestGone(dataDir, instance.uid);
  });
});

describe('a guest that never becomes ready', { skip: skip ?? false, timeout: 5 * 60_000 }, () => {
  let dataDir: string;
  let kumo: TestKumo | undefined;

  before(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'kumo-e2e-qemu-broken-'));
    kumo = await startTestKumo({ env: { KUMO_DRIVER: 'qemu' }, dataDir, controller: { deadlines: { create: 15_000 } } });
  });

  after(async () => {
    await kumo?.close();
    if (dataDir) {
      await destroyLeftovers(dataDir);
      await rm(dataDir, { recursive: true, force: true });
    }
  });

  it('ends in ERROR at its deadline with the serial console tail as the reason, and is cleaned up', async (t) => {
    assert.ok(kumo);
    const admin = new NativeClient(kumo.url, kumo.adminToken);
    const client = new NativeClient(kumo.url, await kumo.createProjectKey(PROJECT));
    // The guest image with an init that does not exist: the kernel panics and (panic=-1) reboots, over and over.
    const base = await kumo.store.getImage('debian-12');
    assert.ok(base && base.boot.kind === 'kernel', 'the QEMU host gave the seed image a kernel boot');
    const boot = { ...base.boot, cmdline: `${base.boot.cmdline ?? ''} rdinit=/kumo-no-such-init`.trim() };
    const loaded = await admin.request('PUT', '/v1/admin/catalog', {
      images: [{ id: 'broken-init', name: 'Broken init', os: 'debian', osVersion: '12', minDiskGb: 1, boot }],
    });
    assert.equal(loaded.status, 204, JSON.stringify(loaded.body));

    const name = `e2e-broken-${suffix}`;
    const started = Date.now();
    const created = await client.create(createBody({ id: name, publicKey: 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJeaD1heScpzmiypsUSb0T3lkmg2d/onGkPviaZ2Rtgc e2e', image: 'broken-init' }));
    const failed = await client.waitForStatus(name, 'ERROR', 90_000);
    const elapsed = Date.now() - started;
    t.diagnostic(`ERROR after ${elapsed} ms: ${failed.lifecycle.statusMessage.slice(0, 400)}`);
    assert.ok(elapsed >= 14_000, `not before the deadline (${elapsed} ms)`);
    assert.match(failed.lifecycle.statusMessage, /did not become ready/);
    assert.match(failed.lifecycle.statusMessage, /Kernel panic|Failed to execute \/kumo-no-such-init/, 'the serial tail is the reason');
    const operation = await client.operation(created.operationId);
    assert.equal(operation.status, 'FAILED');
    assert.equal(operation.error?.code, 'boot-timeout');

    await poll(
      () => guestPids(failed.uid),
      (pids) => pids.length === 0,
      20_000,
      'the QEMU process of the failed create to end',
    );
    await assertGuestGone(dataDir, failed.uid);
    await client.deleteAndWait(name);
  });
});
