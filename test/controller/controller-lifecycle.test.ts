import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { driverOf, startHarness, type ControllerHarness } from './controller-harness.js';

const settled = (phase: string) => (instance: { phase: string; currentOperationId: string | null }) =>
  instance.phase === phase && instance.currentOperationId === null;

describe('controller: lifecycle on simulated hosts', () => {
  let harness: ControllerHarness;
  before(async () => {
    harness = await startHarness({ hosts: 2, driver: { bootDelayMs: 5, stopDelayMs: 2 } });
  });
  after(() => harness.close());

  it('takes a new instance from provisioning to running and completes the create operation', async () => {
    const { instance, operation } = await harness.create();
    assert.equal(instance.phase, 'provisioning');
    const running = await harness.waitFor(instance.uid, settled('running'));
    assert.equal(running.powerState, 'running');
    assert.ok(running.launchedAt);
    assert.equal(running.observedGeneration, running.generation);
    assert.deepEqual(
      running.conditions.find((c) => c.type === 'Ready'),
      { type: 'Ready', status: 'True', reason: 'GuestReady', message: '', lastTransitionTime: running.conditions.find((c) => c.type === 'Ready')?.lastTransitionTime },
    );
    const done = await harness.operation(operation.id);
    assert.equal(done.status, 'succeeded');
    assert.ok(done.completedAt);
    assert.deepEqual(done.steps.map((s) => s.name), ['accepted', 'guest-boot', 'guest-ready', 'running']);
    const guest = await driverOf(harness, running).status(running.uid);
    assert.equal(guest.power, 'running');
    assert.equal(guest.ready, true);
  });

  it('creates an instance stopped when asked to', async () => {
    const { instance, operation } = await harness.create({ desiredPower: 'stopped' });
    const stopped = await harness.waitFor(instance.uid, settled('stopped'));
    assert.equal(stopped.powerState, 'shutdown');
    assert.ok(stopped.launchedAt);
    assert.equal((await harness.operation(operation.id)).status, 'succeeded');
    assert.equal((await driverOf(harness, stopped).status(stopped.uid)).power, 'shutdown');
  });

  it('stops, starts, reboots, pauses and unpauses, completing each operation', async () => {
    const { instance } = await harness.create();
    await harness.waitFor(instance.uid, settled('running'));
    const driver = driverOf(harness, await harness.waitFor(instance.uid, () => true));
    const steps: Array<[Parameters<ControllerHarness['act']>[1], string, string]> = [
      [{ action: 'stop' }, 'stopped', 'shutdown'],
      [{ action: 'start' }, 'running', 'running'],
      [{ action: 'reboot', hard: true }, 'running', 'running'],
      [{ action: 'pause' }, 'paused', 'paused'],
      [{ action: 'unpause' }, 'running', 'running'],
    ];
    for (const [request, phase, power] of steps) {
      const operation = await harness.act(instance.uid, request);
      const after = await harness.waitFor(instance.uid, settled(phase));
      assert.equal(after.powerState, power, request.action);
      const done = await harness.operation(operation.id);
      assert.equal(done.status, 'succeeded', request.action);
      assert.equal(done.steps.at(-1)?.status, 'succeeded');
      assert.equal((await driver.status(instance.uid)).power, power, `${request.action}: the guest agrees`);
    }
    const reboot = (await harness.store.listOperations(instance.uid)).find((op) => op.kind === 'reboot');
    assert.equal(reboot?.params.kind, 'hard');
  });

  it('resizes with auto-confirm, and to verify-resize without it', async () => {
    const { instance } = await harness.create();
    await harness.waitFor(instance.uid, settled('running'));
    const resize = await harness.act(instance.uid, { action: 'resize', instanceTypeId: 'large' });
    const resized = await harness.waitFor(instance.uid, settled('running'));
    assert.equal(resized.instanceTypeId, 'large');
    assert.equal(resized.vcpus, 2);
    assert.equal(resized.ramMb, 2_048);
    assert.equal(resized.diskGb, 20);
    assert.equal(resized.pendingInstanceTypeId, null);
    assert.equal(resized.previousInstanceTypeId, null);
    assert.equal((await harness.operation(resize.id)).status, 'succeeded');
    const guest = await driverOf(harness, resized).status(instance.uid);
    assert.equal(guest.vcpus, 2, 'the guest was power-cycled to apply the new size');
    const hosts = await harness.store.listHosts();
    assert.ok(hosts.some((host) => host.id === resized.hostId && host.usedVcpus >= 2));

    await harness.act(instance.uid, { action: 'resize', instanceTypeId: 'small', autoConfirm: false });
    const verifying = await harness.waitFor(instance.uid, settled('verify-resize'));
    assert.equal(verifying.instanceTypeId, 'small');
    assert.equal(verifying.previousInstanceTypeId, 'large');
    assert.equal(verifying.diskGb, 20, 'disks never shrink');
    await harness.act(instance.uid, { action: 'revert-resize' });
    const reverted = await harness.waitFor(instance.uid, settled('running'));
    assert.equal(reverted.instanceTypeId, 'large');
    assert.equal(reverted.previousInstanceTypeId, null);
  });

  it('fails a resize the host has no room for, leaving the instance running', async () => {
    const { instance } = await harness.create();
    await harness.waitFor(instance.uid, settled('running'));
    const resize = await harness.act(instance.uid, { action: 'resize', instanceTypeId: 'huge' });
    const back = await harness.waitFor(instance.uid, settled('running'));
    assert.equal(back.instanceTypeId, 'small');
    assert.equal(back.pendingInstanceTypeId, null);
    const failed = await harness.operation(resize.id);
    assert.equal(failed.status, 'failed');
    assert.equal(failed.error?.code, 'capacity');
  });

  it('snapshots into an active image and returns to the prior phase', async () => {
    const { instance } = await harness.create({ desiredPower: 'stopped' });
    await harness.waitFor(instance.uid, settled('stopped'));
    const snapshot = await harness.act(instance.uid, { action: 'snapshot', imageId: 'snap-one' });
    await harness.waitFor(instance.uid, settled('stopped'));
    assert.equal((await harness.operation(snapshot.id)).status, 'succeeded');
    const image = await harness.store.getImage('snap-one');
    assert.equal(image?.status, 'active');
    assert.ok((image?.sizeBytes ?? 0) > 0);
    assert.deepEqual(image?.boot, { kind: 'none' });
  });

  it('deletes: destroys the guest, releases the claim and completes the operation', async () => {
    const { instance } = await harness.create();
    const running = await harness.waitFor(instance.uid, settled('running'));
    const driver = driverOf(harness, running);
    const usedBefore = (await harness.store.listHosts()).find((h) => h.id === running.hostId)?.usedVcpus ?? 0;
    const remove = await harness.remove(instance.uid);
    await harness.waitFor(instance.uid, (i) => i.phase === 'deleted');
    assert.equal((await harness.operation(remove.id)).status, 'succeeded');
    await assert.rejects(driver.status(instance.uid), /does not exist/);
    const usedAfter = (await harness.store.listHosts()).find((h) => h.id === running.hostId)?.usedVcpus ?? 0;
    assert.equal(usedAfter, usedBefore - 1);
  });

  it('records a guest that crashes on its own as stopped, with the reason', async () => {
    const { instance } = await harness.create();
    const running = await harness.waitFor(instance.uid, settled('running'));
    driverOf(harness, running).crashGuest(instance.uid);
    const stopped = await harness.waitFor(instance.uid, (i) => i.phase === 'stopped');
    assert.equal(stopped.powerState, 'crashed');
    assert.equal(stopped.desiredPower, 'stopped');
    assert.equal(stopped.conditions.find((c) => c.type === 'Ready')?.reason, 'GuestCrashed');
    await harness.act(instance.uid, { action: 'start' });
    await harness.waitFor(instance.uid, settled('running'));
  });

  it('finds a guest that powered off between sweeps and recreates a vanished one on reboot', async () => {
    const { instance } = await harness.create();
    const running = await harness.waitFor(instance.uid, settled('running'));
    const driver = driverOf(harness, running);
    await driver.destroy(instance.uid);
    const agent = harness.hostAgents.find((a) => a.hostId === running.hostId);
    await agent?.sweep();
    const lost = await harness.waitFor(instance.uid, (i) => i.phase === 'error');
    assert.equal(lost.conditions.find((c) => c.type === 'Ready')?.reason, 'GuestNotFound');
    const reboot = await harness.act(instance.uid, { action: 'reboot' });
    await harness.waitFor(instance.uid, settled('running'));
    assert.equal((await harness.operation(reboot.id)).status, 'succeeded');
    assert.equal((await driver.status(instance.uid)).power, 'running');
  });
});

describe('controller: failures', () => {
  it('ends a failed create in error with its resources released', async () => {
    const harness = await startHarness({ hosts: 1, driver: { faults: { failCreate: true } } });
    try {
      const { instance, operation } = await harness.create();
      const failed = await harness.waitFor(instance.uid, settled('error'));
      assert.equal(failed.hostId, null, 'the claim was released');
      assert.equal(failed.conditions.find((c) => c.type === 'Ready')?.reason, 'CreateFailed');
      const op = await harness.operation(operation.id);
      assert.equal(op.status, 'failed');
      assert.match(op.error?.message ?? '', /injected failCreate/);
      const [host] = await harness.store.listHosts();
      assert.equal(host?.usedVcpus, 0);
    } finally {
      await harness.close();
    }
  });

  it('ends a create that hangs past its deadline in error with the boot-timeout reason', async () => {
    const harness = await startHarness({ hosts: 1, driver: { faults: { hangCreate: true } }, controller: { deadlines: { create: 300 } } });
    try {
      const { instance, operation } = await harness.create();
      const failed = await harness.waitFor(instance.uid, settled('error'));
      assert.equal(failed.conditions.find((c) => c.type === 'Ready')?.reason, 'BootTimeout');
      const op = await harness.operation(operation.id);
      assert.equal(op.error?.code, 'boot-timeout');
      assert.match(failed.statusMessage, /did not become ready/);
    } finally {
      await harness.close();
    }
  });

  it('retries while a host is unreachable, then reports it lost', async () => {
    const harness = await startHarness({ hosts: 1, controller: { hostLostAfterMs: 600 } });
    try {
      const { instance } = await harness.create();
      await harness.waitFor(instance.uid, settled('running'));
      harness.drivers[0]?.setFaults({ hostLost: true });
      const stop = await harness.act(instance.uid, { action: 'stop' });
      const retrying = await harness.waitFor(instance.uid, (i) => i.conditions.some((c) => c.type === 'HostReachable' && c.status === 'False'));
      assert.equal(retrying.phase, 'stopping');
      assert.match(retrying.statusMessage, /unreachable; retrying/);
      const lost = await harness.waitFor(instance.uid, settled('error'));
      assert.equal(lost.conditions.find((c) => c.type === 'Ready')?.reason, 'HostLost');
      assert.equal((await harness.operation(stop.id)).error?.code, 'host-lost');
    } finally {
      await harness.close();
    }
  });

  it('recovers when an unreachable host comes back before the limit', async () => {
    const harness = await startHarness({ hosts: 1, controller: { hostLostAfterMs: 30_000 } });
    try {
      const { instance } = await harness.create();
      await harness.waitFor(instance.uid, settled('running'));
      harness.drivers[0]?.setFaults({ hostLost: true });
      await harness.act(instance.uid, { action: 'stop' });
      await harness.waitFor(instance.uid, (i) => i.conditions.some((c) => c.type === 'HostReachable' && c.status === 'False'));
      harness.drivers[0]?.setFaults({ hostLost: false });
      const stopped = await harness.waitFor(instance.uid, settled('stopped'));
      assert.equal(stopped.conditions.find((c) => c.type === 'HostReachable')?.status, 'True');
    } finally {
      await harness.close();
    }
  });
});

describe('controller: user actions during a step', () => {
  let harness: ControllerHarness;
  before(async () => {
    // A boot long enough for a delete to land while the create's step still runs.
    harness = await startHarness({ hosts: 1, driver: { bootDelayMs: 400, stopDelayMs: 2 } });
  });
  after(() => harness.close());

  it('a delete accepted during the create is not undone by the create finishing', async () => {
    const { instance } = await harness.create();
    // The step is under way (the guest is booting) when the delete is accepted; the delete's wake-up leases the
    // instance to the same controller again before the boot ends. The create's outcome must not apply.
    await new Promise((resolve) => setTimeout(resolve, 100));
    const remove = await harness.remove(instance.uid);
    const gone = await harness.waitFor(instance.uid, (i) => i.phase === 'deleted', 8_000);
    assert.equal(gone.phase, 'deleted');
    assert.equal((await harness.operation(remove.id)).status, 'succeeded');
    const hosts = await harness.store.listHosts();
    assert.equal(hosts.reduce((sum, host) => sum + host.instanceCount, 0), 0, 'the claim is released');
  });
});

describe('controller: a status sweep compared in the database', () => {
  // Compared in slices of the uid space: one guest a slice puts every instance whose guest is gone between two
  // slices' guests, where a gap in the tiling would lose it.
  for (const guestSliceSize of [undefined, 1, 2]) {
    it(`finds every instance of the host whose guest is gone or stopped, and reaps the guest no instance owns (${guestSliceSize ?? 'default'} guests a statement)`, async () => {
      const harness = await startHarness({ hosts: 1, ...(guestSliceSize === undefined ? {} : { guestSliceSize }) });
      try {
        const created = await Promise.all(Array.from({ length: 5 }, () => harness.create()));
        const running = await Promise.all(created.map(({ instance }) => harness.waitFor(instance.uid, settled('running'))));
        const driver = driverOf(harness, running[0]!);
        const vanished = running.filter((_, index) => index % 2 === 0);
        for (const instance of vanished) await driver.destroy(instance.uid);
        // Two guests no instance owns: one named like an instance, one not a UUID at all (a guest someone made by hand).
        for (const orphan of [randomUUID(), 'hand-made-guest']) {
          await driver.create({
            id: orphan,
            hostname: 'orphan',
            vcpus: 1,
            ramMb: 512,
            diskGb: 1,
            image: { id: 'none', boot: { kind: 'none' } },
            nics: [],
            sshPublicKeys: [],
            userData: null,
            metadata: {},
          });
        }
        // Stopped behind the control plane's back (the driver tells no one): only the sweep can notice.
        const stoppedQuietly = running[1]!;
        await driver.stop(stoppedQuietly.uid, { gracefulTimeoutMs: 0 });
        await harness.hostAgents[0]?.sweep();
        const stopped = await harness.waitFor(stoppedQuietly.uid, (i) => i.phase === 'stopped');
        assert.equal(stopped.conditions.find((c) => c.type === 'Ready')?.reason, 'GuestPoweredOff');
        for (const instance of vanished) {
          const lost = await harness.waitFor(instance.uid, (i) => i.phase === 'error');
          assert.equal(lost.conditions.find((c) => c.type === 'Ready')?.reason, 'GuestNotFound');
        }
        for (const instance of running.filter((_, index) => index % 2 === 1 && index !== 1)) {
          assert.equal((await harness.store.getInstanceByUid(instance.uid))?.phase, 'running');
        }
        assert.deepEqual(
          (await driver.list()).map((guest) => guest.id).sort(),
          running.filter((_, index) => index % 2 === 1).map((instance) => instance.uid).sort(),
          'the orphans were destroyed, the owned guests kept',
        );
      } finally {
        await harness.close();
      }
    });
  }
});
