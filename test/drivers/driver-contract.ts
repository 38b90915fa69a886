import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import {
  GuestNotFoundError,
  type GuestEvent,
  type GuestPowerState,
  type GuestSpec,
  type GuestStatus,
  type HypervisorDriver,
} from '../../src/drivers/hypervisor-driver.js';

/** What a driver under test provides to the contract suite. */
export interface DriverContractFixture {
  driver: HypervisorDriver;
  /** A bootable spec for a new guest with this id; its hostname must appear on the guest's console. */
  spec: (id: string) => GuestSpec;
  /** Releases what the fixture made (the driver, temporary directories); runs after the suite. */
  cleanup: () => Promise<void>;
  /**
   * Makes the guest die behind the driver's back (simulated: `crashGuest`; QEMU: kill its process). When present, the
   * suite checks that the driver notices and tells `onGuestEvent` listeners.
   */
  crashGuest?: (id: string) => Promise<void>;
}

export interface DriverContractOptions {
  /** Real guests under emulation: few boots, one shared guest, generous timeouts. */
  slow?: boolean;
}

/**
 * The contract every {@link HypervisorDriver} keeps, tested through the interface only. One guest is created and
 * carried through ordered steps (each step depends on the ones before), so a slow driver boots as few times as it
 * can: create, soft reboot, hard reboot, start after stop, and start after a crash when the fixture can crash one.
 */
export function describeDriverContract(
  name: string,
  makeDriver: () => Promise<DriverContractFixture>,
  options: DriverContractOptions = {},
): void {
  const slow = options.slow ?? false;
  const readyTimeoutMs = slow ? 10 * 60_000 : 10_000;
  const gracefulTimeoutMs = slow ? 120_000 : 5_000;
  const eventTimeoutMs = slow ? 60_000 : 5_000;
  const timeout = slow ? 15 * 60_000 : 30_000;

  describe(`${name}: hypervisor driver contract`, { timeout: slow ? 60 * 60_000 : 120_000 }, () => {
    let fixture: DriverContractFixture;
    let driver: HypervisorDriver;
    let spec: GuestSpec;
    const created: string[] = [];

    const newSpec = (): GuestSpec => {
      const made = fixture.spec(randomUUID());
      created.push(made.id);
      return made;
    };
    const assertReady = (status: GuestStatus, id: string): void => {
      assert.equal(status.id, id);
      assert.equal(status.power, 'running');
      assert.equal(status.ready, true);
    };

    before(async () => {
      fixture = await makeDriver();
      driver = fixture.driver;
    });

    after(async () => {
      if (!fixture) return;
      try {
        for (const id of created) await driver.destroy(id);
      } finally {
        await fixture.cleanup();
      }
    });

    it('names itself and reports sane capacity', { timeout }, async () => {
      assert.ok(driver.name.length > 0);
      for (const flag of ['pause', 'snapshot', 'consoleOutput', 'resizeOnNextBoot'] as const) {
        assert.equal(typeof driver.capabilities[flag], 'boolean', flag);
      }
      const capacity = await driver.capacity();
      assert.ok(Number.isInteger(capacity.vcpus) && capacity.vcpus > 0, 'vcpus');
      assert.ok(Number.isInteger(capacity.ramMb) && capacity.ramMb > 0, 'ramMb');
      assert.ok(capacity.diskGb > 0, 'diskGb');
      assert.ok(['x86_64', 'aarch64'].includes(capacity.arch), 'arch');
      for (const gpu of capacity.gpus) assert.ok(gpu.type.length > 0 && gpu.count > 0, 'gpus');
    });

    it('status of a missing guest throws GuestNotFoundError', { timeout }, async () => {
      const id = randomUUID();
      await assert.rejects(driver.status(id), (error: unknown) => {
        assert.ok(error instanceof GuestNotFoundError);
        assert.equal(error.guestId, id);
        return true;
      });
    });

    it('destroying a guest that never existed succeeds', { timeout }, async () => {
      await driver.destroy(randomUUID());
    });

    it('create resolves with the guest running and ready at its size', { timeout }, async () => {
      spec = newSpec();
      const status = await driver.create(spec, { readyTimeoutMs });
      assertReady(status, spec.id);
      assert.equal(status.vcpus, spec.vcpus);
      assert.equal(status.ramMb, spec.ramMb);
      assertReady(await driver.status(spec.id), spec.id);
    });

    it('creating it again adopts the same guest', { timeout }, async () => {
      const status = await driver.create(spec, { readyTimeoutMs });
      assertReady(status, spec.id);
      const listed = (await driver.list()).filter((guest) => guest.id === spec.id);
      assert.equal(listed.length, 1);
      assertReady(listed[0]!, spec.id);
      await assertPowersMatchList(driver, spec.id, 'running');
    });

    it('console output shows the hostname and honours maxLines', { timeout }, async (t) => {
      if (!driver.capabilities.consoleOutput) return t.skip('no consoleOutput capability');
      const full = await driver.consoleOutput(spec.id);
      assert.ok(full.includes(spec.hostname), `console lacks hostname ${spec.hostname}:\n${full}`);
      for (const maxLines of [1, 2, 5]) {
        const tail = await driver.consoleOutput(spec.id, maxLines);
        assert.ok(tail.split('\n').length <= maxLines, `maxLines ${maxLines}`);
        // Read the whole log after the tail: a live guest may print more in between, but the tail is inside it.
        assert.ok((await driver.consoleOutput(spec.id)).includes(tail), 'the tail is part of the output');
      }
      return undefined;
    });

    it('pause and unpause switch power and are idempotent', { timeout }, async (t) => {
      if (!driver.capabilities.pause) return t.skip('no pause capability');
      assert.equal((await driver.pause(spec.id)).power, 'paused');
      assert.equal((await driver.pause(spec.id)).power, 'paused');
      assert.equal((await driver.status(spec.id)).power, 'paused');
      assertReady(await driver.unpause(spec.id), spec.id);
      assertReady(await driver.unpause(spec.id), spec.id);
      return undefined;
    });

    it('start of a running guest succeeds', { timeout }, async () => {
      assertReady(await driver.start(spec.id, { readyTimeoutMs }), spec.id);
    });

    it('soft reboot resolves with the guest ready again', { timeout }, async () => {
      assertReady(await driver.reboot(spec.id, 'soft', { readyTimeoutMs }), spec.id);
    });

    it('hard reboot resolves with the guest ready again', { timeout }, async () => {
      assertReady(await driver.reboot(spec.id, 'hard', { readyTimeoutMs }), spec.id);
    });

    it('snapshot of a running guest returns a boot source', { timeout }, async (t) => {
      if (!driver.capabilities.snapshot) return t.skip('no snapshot capability');
      assertSnapshot(await driver.snapshot(spec.id, `contract-${randomUUID()}`));
      return undefined;
    });

    it('resize records the new size', { timeout }, async () => {
      const size = { vcpus: spec.vcpus + 1, ramMb: spec.ramMb + 256, diskGb: spec.diskGb + 1 };
      const status = await driver.resize(spec.id, size);
      assert.equal(status.id, spec.id);
      if (!driver.capabilities.resizeOnNextBoot) {
        assert.equal(status.vcpus, size.vcpus);
        assert.equal(status.ramMb, size.ramMb);
      }
    });

    it('stop shuts the guest down and is idempotent', { timeout }, async () => {
      assert.equal((await driver.stop(spec.id, { gracefulTimeoutMs })).power, 'shutdown');
      assert.equal((await driver.stop(spec.id, { gracefulTimeoutMs })).power, 'shutdown');
      const status = await driver.status(spec.id);
      assert.equal(status.power, 'shutdown');
      assert.equal(status.ready, false);
      await assertPowersMatchList(driver, spec.id, 'shutdown');
    });

    it('snapshot of a stopped guest returns a boot source', { timeout }, async (t) => {
      if (!driver.capabilities.snapshot) return t.skip('no snapshot capability');
      assertSnapshot(await driver.snapshot(spec.id, `contract-${randomUUID()}`));
      return undefined;
    });

    it('start boots the stopped guest at its new size and is idempotent', { timeout }, async () => {
      const status = await driver.start(spec.id, { readyTimeoutMs });
      assertReady(status, spec.id);
      assert.equal(status.vcpus, spec.vcpus + 1);
      assert.equal(status.ramMb, spec.ramMb + 256);
      assertReady(await driver.start(spec.id, { readyTimeoutMs }), spec.id);
    });

    it('onGuestEvent tells subscribers, not unsubscribed ones, what the guest did', { timeout }, async (t) => {
      const kept: GuestEvent[] = [];
      const dropped: GuestEvent[] = [];
      const unsubscribeKept = driver.onGuestEvent((event) => kept.push(event));
      const unsubscribeDropped = driver.onGuestEvent((event) => dropped.push(event));
      unsubscribeDropped();
      unsubscribeDropped();
      try {
        if (!fixture.crashGuest) return t.skip('the fixture cannot crash a guest');
        await fixture.crashGuest(spec.id);
        const deadline = Date.now() + eventTimeoutMs;
        while (!kept.some((event) => event.id === spec.id) && Date.now() < deadline) await delay(slow ? 200 : 5);
        const event = kept.find((candidate) => candidate.id === spec.id);
        assert.ok(event, 'no event for the crashed guest');
        assert.ok(event.power === 'crashed' || event.power === 'shutdown', event.power);
        assert.ok(event.reason.length > 0, 'the event gives a reason');
        assert.deepEqual(dropped, []);
        const status = await driver.status(spec.id);
        assert.equal(status.power, event.power);
        assert.equal(status.ready, false);
        assertReady(await driver.start(spec.id, { readyTimeoutMs }), spec.id);
        return undefined;
      } finally {
        unsubscribeKept();
      }
    });

    it('destroy removes the guest and is idempotent', { timeout }, async () => {
      await driver.destroy(spec.id);
      assert.ok(!(await driver.list()).some((guest) => guest.id === spec.id), 'still listed');
      await assert.rejects(driver.status(spec.id), GuestNotFoundError);
      await driver.destroy(spec.id);
    });

    it('keeps several guests apart', { timeout, skip: slow && 'boots extra guests' }, async () => {
      const specs = [newSpec(), newSpec(), newSpec()];
      await Promise.all(specs.map((guest) => driver.create(guest, { readyTimeoutMs })));
      const listed = new Set((await driver.list()).map((guest) => guest.id));
      for (const guest of specs) assert.ok(listed.has(guest.id), guest.id);
      await driver.stop(specs[0]!.id, { gracefulTimeoutMs });
      assert.equal((await driver.status(specs[0]!.id)).power, 'shutdown');
      assertReady(await driver.status(specs[1]!.id), specs[1]!.id);
      await Promise.all(specs.map((guest) => driver.destroy(guest.id)));
      const remaining = new Set((await driver.list()).map((guest) => guest.id));
      for (const guest of specs) assert.ok(!remaining.has(guest.id), guest.id);
    });
  });
}

/** `powers` is `list` in two flat arrays: the same guests, each once, with the same power, index for index. */
async function assertPowersMatchList(driver: HypervisorDriver, id: string, power: GuestPowerState): Promise<void> {
  const [powers, listed] = await Promise.all([driver.powers(), driver.list()]);
  assert.equal(powers.ids.length, powers.powers.length);
  assert.deepEqual(
    powers.ids.map((guestId, index) => [guestId, powers.powers[index]]).sort(),
    listed.map((guest) => [guest.id, guest.power]).sort(),
  );
  assert.equal(powers.powers[powers.ids.indexOf(id)], power);
}

function assertSnapshot(result: { boot: { kind: string }; sizeBytes: number }): void {
  assert.ok(['kernel', 'disk', 'none'].includes(result.boot.kind), result.boot.kind);
  assert.ok(Number.isFinite(result.sizeBytes) && result.sizeBytes >= 0, 'sizeBytes');
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
