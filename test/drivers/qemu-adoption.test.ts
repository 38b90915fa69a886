import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { rm } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';

import type { GuestEvent, GuestSpec } from '../../src/drivers/hypervisor-driver.js';
import type { GuestImage } from '../../src/drivers/qemu/image-builder.js';
import { QemuDriver } from '../../src/drivers/qemu/qemu-driver.js';
import { guestPids, qemuSkipReason, ssh, sshKeyPair, tempStateDir, testGuestImage, testNetwork, testSpec } from './qemu-fixtures.js';

const skip = qemuSkipReason();
const network = testNetwork(13);

/** Runs the child Kumo stand-in until it has created the guest; resolves with its pid. */
function childThatCreates(stateDir: string, spec: GuestSpec): Promise<number> {
  const script = fileURLToPath(new URL('./qemu-adoption-child.js', import.meta.url));
  const child = spawn(process.execPath, [script, stateDir, JSON.stringify(network), JSON.stringify(spec)], { stdio: ['ignore', 'pipe', 'inherit'] });
  return new Promise((resolve, reject) => {
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      if (output.includes('CHILD-READY') && child.pid !== undefined) resolve(child.pid);
    });
    child.once('exit', (code, signal) => reject(new Error(`child exited ${code ?? signal} before creating the guest`)));
  });
}

describe('QemuDriver adopts guests after a restart', { skip: skip ?? false, timeout: 10 * 60_000 }, () => {
  let image: GuestImage;
  let state: { dir: string; remove: () => Promise<void> };
  let keys: { dir: string; privateKey: string; publicKey: string };
  const drivers: QemuDriver[] = [];
  const specs: GuestSpec[] = [];
  const newDriver = (): QemuDriver => {
    const driver = new QemuDriver({ stateDir: state.dir, network, readyTimeoutMs: 120_000 });
    drivers.push(driver);
    return driver;
  };

  before(async () => {
    image = await testGuestImage();
    state = await tempStateDir();
    keys = await sshKeyPair();
  });

  after(async () => {
    if (!state) return;
    for (const driver of drivers) await driver.close();
    const driver = newDriver();
    for (const spec of specs) await driver.destroy(spec.id);
    await driver.close();
    await driver.network.teardown();
    await state.remove();
    await rm(keys.dir, { recursive: true, force: true });
  });

  it('a new driver on the same state dir adopts a running guest and controls it', async () => {
    const spec = testSpec({ id: `c-${randomUUID()}`, image, network, host: 10, publicKey: keys.publicKey });
    specs.push(spec);
    const first = newDriver();
    await first.create(spec);
    const [pid] = await guestPids(spec.id);
    await first.close();

    const second = newDriver();
    const listed = (await second.list()).find((guest) => guest.id === spec.id);
    assert.equal(listed?.power, 'running');
    assert.equal(listed?.ready, true);
    assert.equal((await second.pause(spec.id)).power, 'paused', 'QMP was reconnected');
    assert.equal((await second.unpause(spec.id)).power, 'running');
    assert.deepEqual(await guestPids(spec.id), [pid], 'the same QEMU process, not a new one');
    await second.close();
  });

  it('a driver adopts the guests of a SIGKILLed Kumo and notices when one dies', async () => {
    const spec = testSpec({ id: `d-${randomUUID()}`, image, network, host: 11, publicKey: keys.publicKey });
    specs.push(spec);
    const childPid = await childThatCreates(state.dir, spec);
    process.kill(childPid, 'SIGKILL');

    const driver = newDriver();
    const events: GuestEvent[] = [];
    driver.onGuestEvent((event) => events.push(event));
    const listed = await driver.list();
    assert.deepEqual(listed.map((guest) => [guest.id, guest.power, guest.ready]).sort(), [
      [specs[0]!.id, 'running', true],
      [spec.id, 'running', true],
    ].sort());
    assert.equal((await ssh(keys.privateKey, spec.nics[0]!.ipv4Address, 'hostname')).trim(), spec.hostname);

    const [pid] = await guestPids(spec.id);
    assert.ok(pid);
    process.kill(pid, 'SIGKILL');
    const deadline = Date.now() + 20_000;
    while (!events.some((event) => event.id === spec.id) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    assert.equal(events.find((event) => event.id === spec.id)?.power, 'crashed');
    assert.equal((await driver.status(spec.id)).power, 'crashed');
    assert.equal((await driver.start(spec.id)).ready, true, 'a crashed guest starts again');
  });
});
