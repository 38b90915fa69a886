import { randomBytes } from 'node:crypto';
import { link, mkdir, readFile, rename, unlink } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { syncDirectory, writeFileDurably } from './durable-files.js';
import { inspectProcess, ownProcessStartTime } from './inspect-process.js';

/** The lock file's name inside a Kumo data directory. */
export const DATA_DIR_LOCK_FILE = 'kumo.pid';

/** A held lock on a Kumo data directory. */
export interface DataDirLock {
  /** Absolute path of the lock file. */
  readonly path: string;
  /** Removes the lock file if it still names this process. Idempotent. */
  release(): Promise<void>;
}

/** What the lock file records: enough to tell the holder from a later process that was given the same PID. */
interface LockRecord {
  pid: number;
  /** Clock ticks since boot at which the holder started (see `ProcessInfo.startTime`). */
  startTime: string;
}

/** How many times to retry when other processes race for the same lock; each round ends with progress or an error. */
const ACQUIRE_ROUNDS = 5;

/**
 * Takes the Kumo data directory `dataDir` (created if missing) for this process, so that two Kumo servers never share
 * one store, queue or set of virtual machines.
 *
 * The lock is `${dataDir}/kumo.pid`, holding this process's PID and start time. It is created with `link(2)` from a
 * fully written temporary file, so no reader ever sees it half written and of two processes creating it at once
 * exactly one wins. A lock naming a live Kumo process (same PID, same start time, `node` or `kumo` in its command
 * line) makes this throw `data directory <dir> is in use by another Kumo process (pid N)`. A lock left by a process
 * that is gone (killed, crashed, machine rebooted) is taken over.
 *
 * Linux only: liveness comes from /proc.
 */
export async function acquireDataDirLock(dataDir: string): Promise<DataDirLock> {
  const dir = resolve(dataDir);
  await mkdir(dir, { recursive: true });
  const lockPath = join(dir, DATA_DIR_LOCK_FILE);
  const own: LockRecord = { pid: process.pid, startTime: await ownProcessStartTime() };
  const draft = join(dir, `.${DATA_DIR_LOCK_FILE}.${process.pid}.${randomBytes(6).toString('hex')}`);
  await writeFileDurably(draft, `${JSON.stringify(own)}\n`, 0o644);
  try {
    for (let round = 0; round < ACQUIRE_ROUNDS; round++) {
      try {
        await link(draft, lockPath);
        await syncDirectory(dir);
        return heldLock(lockPath, own);
      } catch (error) {
        if (errorCode(error) !== 'EEXIST') throw error;
      }
      const holder = await readLockRecord(lockPath);
      if (holder === undefined) continue;
      if (await isLiveKumo(holder)) throw inUseError(dir, holder);
      await removeStaleLock(dir, lockPath, holder);
    }
    throw new Error(`could not lock data directory ${dir}: other processes kept taking ${lockPath}`);
  } finally {
    await unlink(draft).catch(() => undefined);
  }
}

/**
 * Removes a lock judged stale. It is first renamed to a private name, which only one of several processes taking over
 * the same stale lock can do; if what was moved turns out to be a fresh lock that another process wrote after we
 * looked, it is put back and this process backs off.
 */
async function removeStaleLock(dir: string, lockPath: string, stale: LockRecord): Promise<void> {
  const aside = join(dir, `.${DATA_DIR_LOCK_FILE}.stale.${process.pid}.${randomBytes(6).toString('hex')}`);
  try {
    await rename(lockPath, aside);
  } catch (error) {
    if (errorCode(error) === 'ENOENT') return;
    throw error;
  }
  try {
    const moved = await readLockRecord(aside);
    const isSameStaleLock = moved !== undefined && moved.pid === stale.pid && moved.startTime === stale.startTime;
    if (moved !== undefined && !isSameStaleLock && (await isLiveKumo(moved))) {
      await link(aside, lockPath).catch(() => undefined);
      throw inUseError(dir, moved);
    }
  } finally {
    await unlink(aside).catch(() => undefined);
  }
}

function heldLock(lockPath: string, own: LockRecord): DataDirLock {
  let released = false;
  return {
    path: lockPath,
    async release() {
      if (released) return;
      released = true;
      const current = await readLockRecord(lockPath);
      // Never remove a lock that another process has taken since (possible only if ours was judged stale).
      if (current?.pid === own.pid && current.startTime === own.startTime) {
        await unlink(lockPath).catch(() => undefined);
      }
    },
  };
}

async function isLiveKumo(record: LockRecord): Promise<boolean> {
  const info = await inspectProcess(record.pid);
  if (info === undefined || info.startTime !== record.startTime) return false;
  return info.cmdline.some((arg) => /node|kumo/i.test(arg));
}

function inUseError(dir: string, holder: LockRecord): Error {
  if (holder.pid === process.pid) return new Error(`data directory ${dir} is already locked by this process`);
  return new Error(`data directory ${dir} is in use by another Kumo process (pid ${holder.pid})`);
}

/** Parses a lock file; undefined when it is gone. Unparsable content reads as a lock of no live process. */
async function readLockRecord(path: string): Promise<LockRecord | undefined> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    if (errorCode(error) === 'ENOENT') return undefined;
    throw error;
  }
  try {
    const parsed = JSON.parse(text) as Partial<LockRecord>;
    if (typeof parsed.pid === 'number' && typeof parsed.startTime === 'string') {
      return { pid: parsed.pid, startTime: parsed.startTime };
    }
  } catch {
    // Falls through to the record that no process matches.
  }
  return { pid: 0, startTime: '' };
}



function errorCode(error: unknown): string | undefined {
  return error instanceof Error ? (error as NodeJS.ErrnoException).code : undefined;
}
