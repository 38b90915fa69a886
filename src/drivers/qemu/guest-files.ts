import { createHash } from 'node:crypto';
import { readFile, rename, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import type { GuestPowerState, GuestSpec } from '../hypervisor-driver.js';

/** The size a guest boots with next; a resize rewrites it, a boot applies it. */
export interface GuestSize {
  vcpus: number;
  ramMb: number;
  diskGb: number;
}

/** What the driver persists about a guest: its spec and its next-boot size. Survives driver restarts. */
export interface GuestRecord {
  spec: GuestSpec;
  size: GuestSize;
}

/** What the driver persists about the current QEMU process of a guest. */
export interface BootRecord {
  pid: number;
  /** Wall-clock start of the current boot (launch or reset), epoch ms. */
  startedAt: number;
  /** Offset into the serial log where the current boot's output begins; readiness is looked for after it. */
  serialOffset: number;
  vcpus: number;
  ramMb: number;
  timeline: Array<{ step: string; elapsedMs: number }>;
}

/** Why the last QEMU process of a guest ended without the driver asking. */
export interface ExitRecord {
  power: GuestPowerState;
  reason: string;
}

const GUEST_ID = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/;

/** Rejects ids that cannot safely name a directory, a process and a device. */
export function assertGuestId(id: string): void {
  if (!GUEST_ID.test(id)) throw new Error(`invalid guest id ${JSON.stringify(id)}: use letters, digits, '.', '_' and '-'`);
}

/**
 * The files of one guest under `${stateDir}/guests/<id>/`: spec and boot records, the disk (data disk for kernel boot,
 * root overlay for disk boot), the NoCloud seed, the serial log, the QEMU pidfile and stderr log, and the QMP socket
 * (moved to a short path under the temp dir when the natural one would exceed the 107-byte unix socket limit).
 */
export class GuestFiles {
  readonly dir: string;

  constructor(
    readonly stateDir: string,
    readonly id: string,
  ) {
    assertGuestId(id);
    this.dir = join(stateDir, 'guests', id);
  }

  get recordPath(): string {
    return join(this.dir, 'guest.json');
  }
  get bootPath(): string {
    return join(this.dir, 'boot.json');
  }
  get exitPath(): string {
    return join(this.dir, 'exit.json');
  }
  get disk(): string {
    return join(this.dir, 'disk.qcow2');
  }
  get seed(): string {
    return join(this.dir, 'seed.iso');
  }
  get serialLog(): string {
    return join(this.dir, 'console.log');
  }
  get pidFile(): string {
    return join(this.dir, 'qemu.pid');
  }
  get qemuLog(): string {
    return join(this.dir, 'qemu.log');
  }
  get qmpSocket(): string {
    const natural = join(this.dir, 'qmp.sock');
    if (Buffer.byteLength(natural) < 100) return natural;
    return join(tmpdir(), `kumo-qmp-${createHash('sha256').update(natural).digest('hex').slice(0, 20)}.sock`);
  }

  readRecord(): Promise<GuestRecord | undefined> {
    return readJson<GuestRecord>(this.recordPath);
  }
  writeRecord(record: GuestRecord): Promise<void> {
    return writeJson(this.recordPath, record);
  }
  readBoot(): Promise<BootRecord | undefined> {
    return readJson<BootRecord>(this.bootPath);
  }
  writeBoot(record: BootRecord): Promise<void> {
    return writeJson(this.bootPath, record);
  }
  readExit(): Promise<ExitRecord | undefined> {
    return readJson<ExitRecord>(this.exitPath);
  }
  writeExit(record: ExitRecord): Promise<void> {
    return writeJson(this.exitPath, record);
  }
}

async function readJson<T>(path: string): Promise<T | undefined> {
  try {
    return JSON.parse(await readFile(path, 'utf8')) as T;
  } catch {
    return undefined;
  }
}

/** Writes through a temporary file and a rename, so a crash never leaves half a record. */
async function writeJson(path: string, value: unknown): Promise<void> {
  const temporary = `${path}.${process.pid}.tmp`;
  await writeFile(temporary, `${JSON.stringify(value, null, 2)}\n`);
  await rename(temporary, path);
}
