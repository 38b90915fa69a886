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

/**
 * How many times to retry when other processes race for the same lock. A round ends with the lock, an error, a stale
 * lock removed, or a short wait while another process removes one.
 */
const ACQUIRE_ROUNDS = 50;

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
      if (await tryLink(draft, lockPath)) {
        await syncDirectory(dir);
        return heldLock(lockPath, own);
      }
      const holder = await readLockRecord(lockPath);
      if (holder === undefined) continue;
      if (await isLiveKumo(holder)) throw inUseError(dir, holder);
      await removeStaleLock(dir, lockPath, holder, draft);
    }
    throw new Error(`could not lock data directory ${dir}: other processes kept taking ${lockPath}`);
  } finally {
    await unlink(draft).catch(() => undefined);
  }
}

/**
 * Removes a lock judged stale, holding `kumo.pid.takeover` (created like the lock itself) while it looks again and
 * unlinks. Only a takeover holder removes another process's lock, and a lock path that exists cannot be linked over,
 * so the lock it looks at cannot change under it. Without the takeover file, a process that read the stale lock just
 * before another replaced it with a fresh one removed the fresh one, and a third process could then take the
 * directory while the second still believed it held it.
 *
 * A takeover file whose holder is gone (killed inside these few system calls) is moved aside and removed.
 */
async function removeStaleLock(dir: string, lockPath: string, stale: LockRecord, draft: string): Promise<void> {
  const takeoverPath = `${lockPath}.takeover`;
  if (!(await tryLink(draft, takeoverPath))) {
    const taker = await readLockRecord(takeoverPath);
    if (taker !== undefined && !(await isLiveKumo(taker))) await removeAbandonedTakeover(dir, takeoverPath, taker);
    else await sleep(2 + Math.random() * 8);
    return;
  }
  try {
    const current = await readLockRecord(lockPath);
    if (sameHolder(current, stale)) {
      await unlink(lockPath).catch((error: unknown) => {
        if (errorCode(error) !== 'ENOENT') throw error;
      });
    }
  } finally {
    await unlink(takeoverPath).catch(() => undefined);
  }
}

/** Moves an abandoned takeover file to a private name and removes it, unless what was moved is a live one. */
async function removeAbandonedTakeover(dir: string, takeoverPath: string, abandoned: LockRecord): Promise<void> {
  const aside = join(dir, `.${DATA_DIR_LOCK_FILE}.takeover.${process.pid}.${randomBytes(6).toString('hex')}`);
  try {
    await rename(takeoverPath, aside);
  } catch (error) {
    if (errorCode(error) === 'ENOENT') return;
    throw error;
  }
  try {
    const moved = await readLockRecord(aside);
    if (moved !== undefined && !sameHolder(moved, abandoned) && (await isLiveKumo(moved))) {
      await link(aside, takeoverPath).catch(() => undefined);
    }
  } finally {
    await unlink(aside).catch(() => undefined);
  }
}

/** `link(2)`: true when `target` was created, false when it already existed. */
async function tryLink(source: string, target: string): Promise<boolean> {
  try {
    await link(source, target);
    return true;
  } catch (error) {
    if (errorCode(error) === 'EEXIST') return false;
    throw error;
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Whether a lock file read back names the same process (PID and start time) as `expected`. */
function sameHolder(record: LockRecord | undefined, expected: LockRecord): boolean {
  return record !== undefined && record.pid === expected.pid && record.startTime === expected.startTime;
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
      if (sameHolder(current, own)) {
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
