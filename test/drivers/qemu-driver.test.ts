import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';

import type { GuestSpec } from '../../src/drivers/hypervisor-driver.js';
import type { GuestImage } from '../../src/drivers/qemu/image-builder.js';
import { QemuDriver } from '../../src/drivers/qemu/qemu-driver.js';
import {
  guestPids,
  qemuSkipReason,
  run,
  ssh,
  sshKeyPair,
  sshUntil,
  tempStateDir,
  testGuestImage,
  testNetwork,
  testSpec,
} from './qemu-fixtures.js';

const skip = qemuSkipReason();
const network = testNetwork(12);
const USER_DATA = '#!/bin/sh\necho "written-by-user-data $(hostname)" > /data/user-data.txt\nsync\n';
const BOOT_COUNT = 'cat /data/.kumo/boot-count';

describe('QemuDriver with real guests', { skip: skip ?? false, timeout: 15 * 60_000 }, () => {
  let driver: QemuDriver;
  let image: GuestImage;
  let state: { dir: string; remove: () => Promise<void> };
  let keys: { dir: string; privateKey: string; publicKey: string };
  let first: GuestSpec;
  let second: GuestSpec;
  const address = (spec: GuestSpec): string => spec.nics[0]!.ipv4Address;
  const inGuest = (spec: GuestSpec, command: string): Promise<string> => ssh(keys.privateKey, address(spec), command);
  const bootCount = async (spec: GuestSpec): Promise<number> => Number((await inGuest(spec, BOOT_COUNT)).trim());

  before(async () => {
    image = await testGuestImage();
    state = await tempStateDir();
    keys = await sshKeyPair();
    driver = new QemuDriver({ stateDir: state.dir, network, readyTimeoutMs: 120_000 });
    first = testSpec({ id: `a-${randomUUID()}`, image, network, host: 10, publicKey: keys.publicKey, userData: USER_DATA });
  });

  after(async () => {
    if (!driver) return;
    for (const spec of [first, second]) if (spec) await driver.destroy(spec.id);
    await driver.close();
    await driver.network.teardown();
    await state.remove();
    await rm(keys.dir, { recursive: true, force: true });
  });

  it('boots to ready; root logs in by key; hostname, address, keys and user data are the seed', async () => {
    const status = await driver.create(first);
    assert.equal(status.power, 'running');
    assert.equal(status.ready, true);
    assert.ok(status.timeline?.some((mark) => mark.step === 'ready'));
    assert.equal((await inGuest(first, 'hostname')).trim(), first.hostname);
    assert.equal((await inGuest(first, 'id -u')).trim(), '0');
    assert.equal((await inGuest(first, 'cat /root/.ssh/authorized_keys')).trim(), keys.publicKey);
    assert.match(await inGuest(first, 'ip -4 addr show dev eth0'), new RegExp(`inet ${address(first).replace(/\./g, '\\.')}/24`));
    const written = await sshUntil(keys.privateKey, address(first), 'cat /data/user-data.txt 2>/dev/null', (out) => out.length > 0);
    assert.equal(written.trim(), `written-by-user-data ${first.hostname}`);
    const stranger = await sshKeyPair();
    try {
      await assert.rejects(ssh(stranger.privateKey, address(first), 'true', 5), 'a key that was not seeded is refused');
    } finally {
      await rm(stranger.dir, { recursive: true, force: true });
    }
  });

  it('pause freezes the guest and unpause resumes it', async () => {
    assert.equal((await driver.pause(first.id)).power, 'paused');
    await assert.rejects(ssh(keys.privateKey, address(first), 'true', 3), 'a paused guest does not answer');
    assert.equal((await driver.unpause(first.id)).power, 'running');
    assert.equal((await inGuest(first, 'echo alive')).trim(), 'alive');
  });

  it('soft and hard reboots boot the guest again in the same process', async () => {
    const [pid] = await guestPids(first.id);
    const before = await bootCount(first);
    const soft = await driver.reboot(first.id, 'soft');
    assert.equal(soft.ready, true);
    assert.equal(await bootCount(first), before + 1);
    assert.ok((await driver.consoleOutput(first.id, 400)).includes('KUMO-GUEST-SHUTDOWN'), 'the soft reboot went through the guest');
    const hard = await driver.reboot(first.id, 'hard');
    assert.equal(hard.ready, true);
    assert.equal(await bootCount(first), before + 2);
    assert.deepEqual(await guestPids(first.id), [pid]);
  });

  it('stop powers the guest off; a resize applies on the next start', async () => {
    const before = await bootCount(first);
    await driver.resize(first.id, { vcpus: 2, ramMb: 384, diskGb: 2 });
    assert.equal((await driver.status(first.id)).ramMb, 256, 'a running guest keeps its size');
    const stopped = await driver.stop(first.id, { gracefulTimeoutMs: 60_000 });
    assert.equal(stopped.power, 'shutdown');
    assert.deepEqual(await guestPids(first.id), []);
    assert.ok((await driver.consoleOutput(first.id, 50)).includes('KUMO-GUEST-POWERDOWN'), 'the guest shut down gracefully');
    const started = await driver.start(first.id);
    assert.equal(started.ready, true);
    assert.equal(started.vcpus, 2);
    assert.equal(started.ramMb, 384);
    assert.equal(await bootCount(first), before + 1);
    assert.equal((await inGuest(first, 'nproc')).trim(), '2');
    const memKb = Number(/MemTotal:\s+(\d+)/.exec(await inGuest(first, 'cat /proc/meminfo'))?.[1]);
    assert.ok(memKb > 300_000 && memKb <= 384 * 1024, `MemTotal ${memKb} kB`);
    const sectors = await inGuest(first, 'for b in /sys/block/vd*; do [ "$(cat $b/serial)" = kumo-data ] && cat $b/size; done; true');
    assert.equal(Number(sectors.trim()) * 512, 2 * 1024 ** 3);
  });

  it('a snapshot of the running guest boots as a new guest with the data; the guests ping each other', async () => {
    const marker = randomUUID();
    await inGuest(first, `echo ${marker} > /data/marker && sync`);
    const snapshot = await driver.snapshot(first.id, `snap-${randomUUID()}`);
    assert.equal(snapshot.boot.kind, 'kernel');
    assert.ok(snapshot.sizeBytes > 0);
    assert.equal((await driver.status(first.id)).power, 'running', 'the snapshot left the guest running');
    assert.equal((await inGuest(first, 'cat /data/marker')).trim(), marker, 'the disk is intact after the commit');
    await inGuest(first, 'echo after > /data/after-snapshot && sync');

    second = testSpec({ id: `b-${randomUUID()}`, image, network, host: 11, publicKey: keys.publicKey });
    second.image = { id: 'snapshot', boot: snapshot.boot };
    assert.equal((await driver.create(second)).ready, true);
    assert.equal((await inGuest(second, 'cat /data/marker')).trim(), marker);
    assert.equal((await inGuest(second, 'hostname')).trim(), second.hostname);
    assert.equal((await inGuest(second, 'test -e /data/after-snapshot && echo yes || echo no')).trim(), 'no');

    assert.match(await inGuest(first, `ping -c 2 -W 5 ${address(second)}`), / 0% packet loss/);
    assert.match(await inGuest(second, `ping -c 2 -W 5 ${address(first)}`), / 0% packet loss/);
  });

  it('destroy leaves no process, tap, file or zombie', async () => {
    for (const spec of [first, second]) {
      await driver.destroy(spec.id);
      assert.deepEqual(await guestPids(spec.id), []);
      assert.equal(await driver.network.hasTap(spec.id), false);
      assert.equal(existsSync(join(state.dir, 'guests', spec.id)), false);
      const ps = await run('ps', ['-eo', 'stat=,args=']);
      assert.ok(!ps.includes(`guest=${spec.id}`), 'no process at all, zombie or not');
    }
    assert.deepEqual(await driver.list(), []);
  });
});
