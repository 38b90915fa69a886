import { existsSync } from 'node:fs';
import { link, copyFile, mkdir, readdir, rm, stat } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

import type { GuestBootSource } from '../hypervisor-driver.js';
import type { QmpClient } from './qmp-client.js';
import { runCommand } from './run-command.js';

/**
 * The file beside a kernel that, when present, is the base of the guest's data disk. A snapshot of a kernel-booted
 * guest is a directory holding the kernel, the initrd and this disk, so the contract's `{kind:'kernel'}` boot source
 * carries the data without a contract change.
 */
export const KERNEL_DATA_DISK = 'data.qcow2';

const GIB = 1024 ** 3;

async function virtualSize(path: string, format: string): Promise<number> {
  const { stdout } = await runCommand('qemu-img', ['info', '-U', '--output=json', '-f', format, path]);
  return (JSON.parse(stdout) as { 'virtual-size': number })['virtual-size'];
}

/**
 * Makes the guest's disk as a qcow2 overlay: for disk boot on the image's disk, for kernel boot on the kernel's
 * {@link KERNEL_DATA_DISK} when there is one, else blank. Its size is `diskGb`, never less than the base's.
 */
export async function createGuestDisk(path: string, boot: Exclude<GuestBootSource, { kind: 'none' }>, diskGb: number): Promise<void> {
  const base =
    boot.kind === 'disk'
      ? { file: boot.disk, format: boot.format }
      : existsSync(join(dirname(boot.kernel), KERNEL_DATA_DISK))
        ? { file: join(dirname(boot.kernel), KERNEL_DATA_DISK), format: 'qcow2' }
        : undefined;
  const wanted = Math.max(1, diskGb) * GIB;
  if (!base) {
    await runCommand('qemu-img', ['create', '-q', '-f', 'qcow2', path, String(wanted)]);
    return;
  }
  const size = Math.max(wanted, await virtualSize(base.file, base.format));
  await runCommand('qemu-img', ['create', '-q', '-f', 'qcow2', '-b', base.file, '-F', base.format, path, String(size)]);
}

/** Grows the (stopped) guest's disk to `diskGb`; never shrinks it, since that would cut off data. */
export async function growGuestDisk(path: string, diskGb: number): Promise<void> {
  const wanted = diskGb * GIB;
  if ((await virtualSize(path, 'qcow2')) < wanted) await runCommand('qemu-img', ['resize', '-q', '-f', 'qcow2', path, String(wanted)]);
}

/**
 * Copies the guest's disk, flattened, into `target`. A running (or paused) guest keeps running: QMP
 * `blockdev-snapshot-sync` puts a new top layer over the disk, the now read-only disk is converted, then
 * `block-commit` (with the disk as its explicit base, so a shared backing image is never written) merges the top
 * layer back and `job-complete` pivots to it. The copy is crash-consistent, as a power cut would leave it.
 */
export async function copyGuestDisk(disk: string, target: string, qmp: QmpClient | undefined): Promise<void> {
  if (!qmp) {
    await runCommand('qemu-img', ['convert', '-O', 'qcow2', disk, target], { timeoutMs: 30 * 60_000 });
    return;
  }
  const top = `${disk}.snapshot-${Date.now()}.qcow2`;
  await qmp.execute('blockdev-snapshot-sync', { device: 'disk0', 'snapshot-file': top, format: 'qcow2' });
  try {
    await runCommand('qemu-img', ['convert', '-O', 'qcow2', disk, target], { timeoutMs: 30 * 60_000 });
  } finally {
    const jobId = `kumo-commit-${Date.now()}`;
    const ready = qmp.waitForEvent('BLOCK_JOB_READY', 10 * 60_000, (event) => event.data?.device === jobId);
    await qmp.execute('block-commit', { device: 'disk0', 'job-id': jobId, base: disk });
    await ready;
    const completed = qmp.waitForEvent('BLOCK_JOB_COMPLETED', 10 * 60_000, (event) => event.data?.device === jobId);
    await qmp.execute('job-complete', { id: jobId });
    const result = await completed;
    if (typeof result.data?.error === 'string') throw new Error(`block-commit failed: ${result.data.error}`);
    await rm(top, { force: true });
  }
}

/** Hard-links a file into a directory, copying when the link fails (another filesystem). */
export async function linkOrCopy(source: string, targetDir: string): Promise<string> {
  const target = join(targetDir, basename(source));
  try {
    await link(source, target);
  } catch {
    await copyFile(source, target);
  }
  return target;
}

/** Total size in bytes of the regular files in a directory. */
export async function directorySize(dir: string): Promise<number> {
  let total = 0;
  for (const name of await readdir(dir)) total += (await stat(join(dir, name))).size;
  return total;
}

/** Makes `dir` anew (empty). */
export async function freshDirectory(dir: string): Promise<void> {
  await rm(dir, { recursive: true, force: true });
  await mkdir(dir, { recursive: true });
}
