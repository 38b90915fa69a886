import { spawn } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { readFile } from 'node:fs/promises';

/** Whether a pid is a live process, a zombie waiting to be reaped, or gone. */
export type ProcessState = 'alive' | 'zombie' | 'gone';

/** Reads `/proc/<pid>/stat`; a zombie (or dead) entry counts as not running. */
export async function processState(pid: number): Promise<ProcessState> {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    return state === 'Z' || state === 'X' ? 'zombie' : 'alive';
  } catch {
    return 'gone';
  }
}

/**
 * True when `pid` is a live QEMU started for this guest: its command line must carry `-name guest=<id>` (so a recycled
 * pid or another guest's process is never adopted, signalled or killed).
 */
export async function isGuestProcess(pid: number, guestId: string): Promise<boolean> {
  if ((await processState(pid)) !== 'alive') return false;
  try {
    const argv = (await readFile(`/proc/${pid}/cmdline`, 'utf8')).split('\0');
    const at = argv.indexOf('-name');
    return at >= 0 && argv[at + 1] === `guest=${guestId}`;
  } catch {
    return false;
  }
}

/** Reads a pidfile; undefined when missing or malformed. */
export async function readPidFile(path: string): Promise<number | undefined> {
  try {
    const pid = Number.parseInt((await readFile(path, 'utf8')).trim(), 10);
    return Number.isInteger(pid) && pid > 1 ? pid : undefined;
  } catch {
    return undefined;
  }
}

/** Polls until the process is gone or a zombie; resolves false on timeout. */
export async function waitForProcessExit(pid: number, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if ((await processState(pid)) !== 'alive') return true;
    if (Date.now() >= deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** A QEMU process this driver spawned; `exited` settles when it ends (Node reaps it, so it leaves no zombie). */
export interface SpawnedQemu {
  pid: number;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/**
 * Starts QEMU detached from this process: its own session and process group, stdin from /dev/null, stdout and stderr
 * appended to `logPath`. It therefore outlives a Kumo restart or a SIGKILL of Kumo (the reason the brief asked for
 * `-daemonize`), while Kumo, as its parent, reaps it when it exits. `-daemonize` was measured to orphan QEMU at once:
 * on a host whose init does not reap (this one), every guest exit would leave a zombie. The caller still passes
 * `-pidfile`, which adoption after a restart relies on.
 */
export function spawnQemu(binary: string, args: readonly string[], logPath: string): SpawnedQemu {
  const log = openSync(logPath, 'a');
  try {
    const child = spawn(binary, args as string[], { detached: true, stdio: ['ignore', log, log] });
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
      child.once('exit', (code, signal) => resolve({ code, signal }));
      child.once('error', () => resolve({ code: -1, signal: null }));
    });
    child.unref();
    if (child.pid === undefined) throw new Error(`cannot start ${binary}`);
    return { pid: child.pid, exited };
  } finally {
    closeSync(log);
  }
}
