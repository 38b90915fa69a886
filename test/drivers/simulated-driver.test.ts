import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { describe, it } from 'node:test';
import {
  GuestBootTimeoutError,
  GuestNotFoundError,
  type GuestEvent,
  type GuestSpec,
} from '../../src/drivers/hypervisor-driver.js';
import { SimulatedDriver, type SimulatedDriverOptions } from '../../src/drivers/simulated/simulated-driver.js';
import { describeDriverContract } from './driver-contract.js';

const ED25519_KEY = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGnhYl4Xg3cFmUZ0n6WJ8eXyoRpjNQ0dMdsc3zJYKuZ2 alice@laptop';

function guestSpec(id: string = randomUUID(), hostname = `vm-${id.slice(0, 8)}`): GuestSpec {
  return {
    id,
    hostname,
    vcpus: 2,
    ramMb: 2048,
    diskGb: 20,
    image: {
      id: 'ubuntu-24.04',
      boot: { kind: 'disk', disk: '/var/lib/kumo/images/ubuntu-24.04.qcow2', format: 'qcow2' },
    },
    nics: [{ macAddress: '52:54:00:12:34:56', ipv4Address: '10.0.0.5', prefixLength: 24, gatewayIp: '10.0.0.1' }],
    sshPublicKeys: [ED25519_KEY],
    userData: null,
    metadata: {},
  };
}

function contractFixture(options: SimulatedDriverOptions) {
  return async () => {
    const driver = new SimulatedDriver(options);
    return {
      driver,
      spec: (id: string) => guestSpec(id),
      cleanup: () => driver.close(),
      crashGuest: async (id: string) => driver.crashGuest(id),
    };
  };
}

describeDriverContract('simulated', contractFixture({}));
describeDriverContract(
  'simulated with delays, resize at once',
  contractFixture({ bootDelayMs: 5, stopDelayMs: 3, rebootDelayMs: 4, resizeOnNextBoot: false }),
);

describe('SimulatedDriver', () => {
  it('reports the default capacity', async () => {
    assert.deepEqual(await new SimulatedDriver().capacity(), {
      vcpus: 32,
      ramMb: 131072,
      diskGb: 2000,
      gpus: [],
      arch: 'x86_64',
    });
  });

  it('failCreate rejects and leaves nothing behind; a predicate picks specs; it clears at runtime', async () => {
    const driver = new SimulatedDriver({ faults: { failCreate: true } });
    const spec = guestSpec();
    await assert.rejects(driver.create(spec), /failCreate/);
    assert.deepEqual(await driver.list(), []);
    await assert.rejects(driver.status(spec.id), GuestNotFoundError);

    driver.setFaults({ failCreate: (candidate) => candidate.hostname === 'doomed' });
    await assert.rejects(driver.create(guestSpec(randomUUID(), 'doomed')), /failCreate/);
    assert.equal((await driver.create(spec)).ready, true);
    assert.deepEqual((await driver.list()).map((guest) => guest.id), [spec.id]);

    driver.setFaults({ failCreate: true });
    assert.equal((await driver.create(spec)).ready, true, 'adopting an existing guest is not a create');
    driver.setFaults({ failCreate: false });
    assert.equal((await driver.create(guestSpec())).ready, true);
  });

  it('hangCreate with readyTimeoutMs rejects with GuestBootTimeoutError and removes the guest', async () => {
    const driver = new SimulatedDriver({ faults: { hangCreate: true } });
    const spec = guestSpec();
    const started = Date.now();
    await assert.rejects(driver.create(spec, { readyTimeoutMs: 30 }), (error: unknown) => {
      assert.ok(error instanceof GuestBootTimeoutError);
      assert.equal(error.guestId, spec.id);
      assert.match(error.detail, new RegExp(spec.hostname), 'the detail carries the serial tail');
      return true;
    });
    assert.ok(Date.now() - started >= 25);
    await assert.rejects(driver.status(spec.id), GuestNotFoundError);
  });

  it('hangCreate without a timeout waits until aborted, then removes the guest', async () => {
    const driver = new SimulatedDriver({ faults: { hangCreate: true } });
    const spec = guestSpec();
    const controller = new AbortController();
    const creating = driver.create(spec, { signal: controller.signal });
    await new Promise((resolve) => setTimeout(resolve, 10));
    const hung = await driver.status(spec.id);
    assert.equal(hung.power, 'running');
    assert.equal(hung.ready, false);
    controller.abort();
    await assert.rejects(creating, { name: 'AbortError' });
    assert.deepEqual(await driver.list(), []);
    await assert.rejects(driver.create(spec, { signal: AbortSignal.abort() }), { name: 'AbortError' });
    assert.deepEqual(await driver.list(), []);
  });

  it('hostLost makes every call reject as unreachable; guests survive the outage', async () => {
    const driver = new SimulatedDriver();
    const spec = guestSpec();
    await driver.create(spec);
    driver.setFaults({ hostLost: true });
    const calls: Array<() => Promise<unknown>> = [
      () => driver.capacity(),
      () => driver.create(guestSpec()),
      () => driver.start(spec.id),
      () => driver.stop(spec.id),
      () => driver.reboot(spec.id, 'hard'),
      () => driver.pause(spec.id),
      () => driver.unpause(spec.id),
      () => driver.resize(spec.id, { vcpus: 4, ramMb: 4096, diskGb: 40 }),
      () => driver.destroy(spec.id),
      () => driver.status(spec.id),
      () => driver.list(),
      () => driver.consoleOutput(spec.id),
      () => driver.snapshot(spec.id, 'img'),
    ];
    for (const call of calls) await assert.rejects(call(), { code: 'EHOSTUNREACH', message: /unreachable/ });
    driver.setFaults({ hostLost: false });
    assert.equal((await driver.status(spec.id)).ready, true);
    assert.equal((await driver.list()).length, 1);
  });

  it('crashGuest and powerOffFromGuest emit events to subscribers only', async () => {
    const driver = new SimulatedDriver();
    const spec = guestSpec();
    await driver.create(spec);
    const events: GuestEvent[] = [];
    const unsubscribe = driver.onGuestEvent((event) => events.push(event));
    const ignored: GuestEvent[] = [];
    driver.onGuestEvent((event) => ignored.push(event))();

    driver.crashGuest(spec.id, 'Kernel panic - not syncing: test');
    assert.deepEqual(events, [{ id: spec.id, power: 'crashed', reason: 'Kernel panic - not syncing: test' }]);
    const crashed = await driver.status(spec.id);
    assert.equal(crashed.power, 'crashed');
    assert.equal(crashed.message, 'Kernel panic - not syncing: test');
    assert.match(await driver.consoleOutput(spec.id, 1), /Kernel panic/);

    await driver.start(spec.id);
    driver.powerOffFromGuest(spec.id);
    assert.equal(events.length, 2);
    assert.equal(events[1]?.power, 'shutdown');
    assert.equal((await driver.status(spec.id)).power, 'shutdown');
    assert.throws(() => driver.crashGuest(spec.id), /shutdown/);

    unsubscribe();
    await driver.start(spec.id);
    driver.crashGuest(spec.id);
    assert.equal(events.length, 2);
    assert.deepEqual(ignored, []);
  });

  it('a crash during boot fails the create and removes the guest', async () => {
    const driver = new SimulatedDriver({ bootDelayMs: 50 });
    const spec = guestSpec();
    const creating = driver.create(spec);
    driver.crashGuest(spec.id);
    await assert.rejects(creating, /crashed before it became ready/);
    await assert.rejects(driver.status(spec.id), GuestNotFoundError);
  });

  it('honours the boot delay, and concurrent creates adopt one guest', async () => {
    const driver = new SimulatedDriver({ bootDelayMs: 40 });
    const spec = guestSpec();
    const started = Date.now();
    const first = driver.create(spec);
    const booting = await driver.status(spec.id);
    assert.equal(booting.ready, false);
    assert.equal(booting.power, 'running');
    const [a, b] = await Promise.all([first, driver.create(spec)]);
    const elapsed = Date.now() - started;
    assert.ok(elapsed >= 35 && elapsed < 1000, `${elapsed} ms`);
    assert.equal(a.ready && b.ready, true);
    assert.equal((await driver.list()).length, 1);
    const readyMark = a.timeline?.find((mark) => mark.step === 'ready');
    assert.ok(readyMark && readyMark.elapsedMs >= 35, 'timeline has the ready mark');
  });

  it('a timed-out adoption leaves the guest to the create that made it', async () => {
    const driver = new SimulatedDriver({ bootDelayMs: 60 });
    const spec = guestSpec();
    const creating = driver.create(spec);
    await assert.rejects(driver.create(spec, { readyTimeoutMs: 5 }), GuestBootTimeoutError);
    assert.equal((await creating).ready, true);
  });

  it('pause freezes a boot in progress', async () => {
    const driver = new SimulatedDriver({ bootDelayMs: 30 });
    const spec = guestSpec();
    const creating = driver.create(spec);
    await driver.pause(spec.id);
    await new Promise((resolve) => setTimeout(resolve, 60));
    assert.equal((await driver.status(spec.id)).ready, false);
    await driver.unpause(spec.id);
    assert.equal((await creating).ready, true);
  });

  it('forces a guest off when the graceful shutdown outlasts the timeout', async () => {
    const driver = new SimulatedDriver({ stopDelayMs: 1000 });
    const spec = guestSpec();
    await driver.create(spec);
    const started = Date.now();
    const stopped = await driver.stop(spec.id, { gracefulTimeoutMs: 20 });
    assert.ok(Date.now() - started < 500);
    assert.equal(stopped.power, 'shutdown');
    assert.match(stopped.message ?? '', /forced off/);
  });

  it('destroy during a stop or a boot settles the waiting calls', async () => {
    const driver = new SimulatedDriver({ bootDelayMs: 50, stopDelayMs: 50 });
    const booting = guestSpec();
    const creating = driver.create(booting);
    await driver.destroy(booting.id);
    await assert.rejects(creating, /destroyed/);

    const stopping = guestSpec();
    driver.setFaults({});
    await driver.create(stopping);
    const stop = driver.stop(stopping.id);
    assert.equal((await driver.status(stopping.id)).message, 'shutting down');
    await driver.destroy(stopping.id);
    await assert.rejects(stop, GuestNotFoundError);
  });

  it('a guest that crashes while shutting down still ends stopped', async () => {
    const driver = new SimulatedDriver({ stopDelayMs: 50 });
    const spec = guestSpec();
    await driver.create(spec);
    const stopping = driver.stop(spec.id);
    driver.crashGuest(spec.id);
    assert.equal((await stopping).power, 'shutdown');
  });

  it('pausing a stopped guest is an error', async () => {
    const driver = new SimulatedDriver();
    const spec = guestSpec();
    await driver.create(spec);
    await driver.stop(spec.id);
    await assert.rejects(driver.pause(spec.id), /cannot pause .* shutdown/);
    await assert.rejects(driver.unpause(spec.id), /cannot unpause/);
  });

  it('console shows the hostname and key fingerprints, stays bounded', async () => {
    const driver = new SimulatedDriver();
    const spec = guestSpec(randomUUID(), 'web-1');
    await driver.create(spec);
    const output = await driver.consoleOutput(spec.id);
    assert.match(output, /set hostname to web-1/);
    assert.match(output, /ssh-ed25519 SHA256:[A-Za-z0-9+/]{43} alice@laptop/);
    assert.match(output, /web-1 login:$/);
    assert.equal(await driver.consoleOutput(spec.id, 0), '');
    for (let i = 0; i < 200; i++) await driver.reboot(spec.id, 'soft');
    assert.ok((await driver.consoleOutput(spec.id)).split('\n').length < 400);
  });

  it('console keeps every event in order, past the short log a guest starts with', async () => {
    const driver = new SimulatedDriver();
    const spec = guestSpec();
    await driver.create(spec);
    for (let i = 0; i < 6; i++) {
      await driver.stop(spec.id);
      await driver.start(spec.id);
    }
    driver.crashGuest(spec.id);
    const markers = (await driver.consoleOutput(spec.id))
      .split('\n')
      .map((line) => (/^SeaBIOS/.test(line) ? 'B' : / login:$/.test(line) ? 'R' : /Power down/.test(line) ? 'S' : /Kernel panic/.test(line) ? 'P' : ''))
      .join('');
    assert.equal(markers, `BR${'SBR'.repeat(6)}P`);
  });

  it('snapshot returns the image boot source', async () => {
    const driver = new SimulatedDriver();
    const spec = guestSpec();
    await driver.create(spec);
    const snapshot = await driver.snapshot(spec.id, 'snap-1');
    assert.deepEqual(snapshot.boot, spec.image.boot);
    assert.ok(snapshot.sizeBytes > 0);
    await assert.rejects(driver.snapshot(randomUUID(), 'snap-2'), GuestNotFoundError);
  });

  it('a reboot keeps a pending resize for the next start', async () => {
    const driver = new SimulatedDriver();
    const spec = guestSpec();
    await driver.create(spec);
    await driver.resize(spec.id, { vcpus: 8, ramMb: 8192, diskGb: 40 });
    assert.equal((await driver.reboot(spec.id, 'hard')).vcpus, 2);
    await driver.stop(spec.id);
    assert.equal((await driver.start(spec.id)).vcpus, 8);
  });

  it('creates 1,000 guests well within a second with zero delays', async () => {
    const driver = new SimulatedDriver();
    const started = performance.now();
    const statuses = await Promise.all(Array.from({ length: 1000 }, () => driver.create(guestSpec())));
    const elapsed = performance.now() - started;
    assert.ok(statuses.every((status) => status.ready));
    assert.ok(elapsed < 500, `${elapsed} ms`);
  });

  it('rejects calls after close', async () => {
    const driver = new SimulatedDriver({ bootDelayMs: 1000 });
    const creating = driver.create(guestSpec());
    await driver.close();
    await assert.rejects(creating, /closed/);
    await assert.rejects(driver.list(), /closed/);
  });
});
