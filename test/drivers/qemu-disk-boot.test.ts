import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';

import type { GuestSpec } from '../../src/drivers/hypervisor-driver.js';
import { QemuDriver } from '../../src/drivers/qemu/qemu-driver.js';
import { guestPids, qemuSkipReason, tempStateDir, testNetwork } from './qemu-fixtures.js';

const skip = qemuSkipReason();

/**
 * A 1 MiB raw disk whose MBR boot sector (hand-assembled 16-bit code) writes the ready line to COM1 and halts:
 * `cli; cld; xor ax,ax; mov ds,ax; mov si,msg; mov dx,0x3f8; l: lodsb; test al,al; jz h; out dx,al; jmp l; h: hlt; jmp h`.
 * It is the cheapest bootable disk there is, and enough to exercise the firmware (`boot.kind === 'disk'`) path.
 */
function bootSectorDisk(message: string): Buffer {
  const code = [0xfa, 0xfc, 0x31, 0xc0, 0x8e, 0xd8, 0xbe, 0x17, 0x7c, 0xba, 0xf8, 0x03, 0xac, 0x84, 0xc0, 0x74, 0x03, 0xee, 0xeb, 0xf8, 0xf4, 0xeb, 0xfd];
  const disk = Buffer.alloc(1024 * 1024);
  Buffer.from(code).copy(disk, 0);
  Buffer.from(`${message}\r\n\0`, 'ascii').copy(disk, code.length);
  disk[510] = 0x55;
  disk[511] = 0xaa;
  return disk;
}

function diskSpec(id: string, disk: string, format: 'raw' | 'qcow2'): GuestSpec {
  return {
    id,
    hostname: `disk-${id.slice(0, 6)}`,
    vcpus: 1,
    ramMb: 64,
    diskGb: 1,
    image: { id: 'boot-sector', boot: { kind: 'disk', disk, format } },
    nics: [],
    sshPublicKeys: [],
    userData: null,
    metadata: {},
  };
}

describe('QemuDriver boots a disk image through the firmware', { skip: skip ?? false, timeout: 5 * 60_000 }, () => {
  let state: { dir: string; remove: () => Promise<void> };
  let driver: QemuDriver;
  const ids: string[] = [];

  before(async () => {
    state = await tempStateDir();
    driver = new QemuDriver({ stateDir: state.dir, network: testNetwork(14), readyTimeoutMs: 60_000 });
  });

  after(async () => {
    if (!driver) return;
    for (const id of ids) await driver.destroy(id);
    await driver.close();
    await driver.network.teardown();
    await state.remove();
  });

  it('boots a raw disk over a qcow2 overlay, snapshots it, and boots the snapshot', async () => {
    const disk = join(state.dir, 'boot-sector.raw');
    await writeFile(disk, bootSectorDisk('KUMO-GUEST-READY boot-sector'));
    const original = diskSpec(`disk-${randomUUID()}`, disk, 'raw');
    ids.push(original.id);
    assert.equal((await driver.create(original)).ready, true);
    assert.match(await driver.consoleOutput(original.id, 5), /KUMO-GUEST-READY boot-sector/);

    const snapshot = await driver.snapshot(original.id, `disk-snap-${randomUUID()}`);
    assert.equal(snapshot.boot.kind, 'disk');
    assert.equal((await driver.status(original.id)).power, 'running');

    const copy = { ...diskSpec(`copy-${randomUUID()}`, '', 'qcow2'), image: { id: 'snapshot', boot: snapshot.boot } };
    ids.push(copy.id);
    assert.equal((await driver.create(copy)).ready, true);
    assert.match(await driver.consoleOutput(copy.id, 5), /KUMO-GUEST-READY boot-sector/);

    for (const id of ids) {
      await driver.destroy(id);
      assert.deepEqual(await guestPids(id), []);
    }
  });

  it('a create that never becomes ready times out with the serial tail and leaves nothing behind', async () => {
    const disk = join(state.dir, 'silent.raw');
    await writeFile(disk, bootSectorDisk('no ready line here'));
    const spec = diskSpec(`silent-${randomUUID()}`, disk, 'raw');
    await assert.rejects(driver.create(spec, { readyTimeoutMs: 8000 }), (error: Error) => {
      assert.equal(error.name, 'GuestBootTimeoutError');
      assert.match(error.message, /no ready line here/);
      return true;
    });
    assert.deepEqual(await guestPids(spec.id), []);
    assert.deepEqual(await driver.list(), []);
  });
});
