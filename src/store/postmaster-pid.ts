import { readFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { inspectProcess } from './inspect-process.js';

/**
 * The contents of a data directory's `postmaster.pid`, which PostgreSQL writes when it starts and removes when it shuts
 * down cleanly. Lines, per PostgreSQL's `pidfile.h`: PID, data directory, start time (epoch seconds), port, socket
 * directory, listen address, shared memory key, status.
 */
export interface PostmasterPidFile {
  pid: number;
  dataDir: string;
  port: number;
  /** `starting`, `stopping`, `ready` or `standby`; empty while the server writes the first lines. */
  status: string;
}

/**
 * What is running on a data directory, judged from `postmaster.pid` and /proc:
 * - `none`: no `postmaster.pid` (never started, or shut down cleanly);
 * - `running`: the PID is alive and is a PostgreSQL postmaster working in this directory;
 * - `stale`: the file names a process that is gone, or a live process that is not this directory's postmaster
 *   (its PID was reused after a crash); `pidReused` only when that process is visibly something else, the one case
 *   in which PostgreSQL would refuse to start.
 */
export type PostmasterState =
  | { kind: 'none' }
  | { kind: 'running'; pidFile: PostmasterPidFile }
  | { kind: 'stale'; pidFile: PostmasterPidFile; pidReused: boolean };

/** Reads and parses `postmaster.pid` in `pgDir`; undefined when it does not exist or is not complete yet. */
export async function readPostmasterPid(pgDir: string): Promise<PostmasterPidFile | undefined> {
  let text: string;
  try {
    text = await readFile(join(pgDir, 'postmaster.pid'), 'utf8');
  } catch (error) {
    if (isNotFound(error)) return undefined;
    throw error;
  }
  const lines = text.split('\n');
  const pid = Number(lines[0]);
  const port = Number(lines[3]);
  if (!Number.isInteger(pid) || pid <= 0) return undefined;
  return {
    pid,
    dataDir: lines[1] ?? '',
    port: Number.isInteger(port) ? port : 0,
    status: (lines[7] ?? '').trim(),
  };
}

/**
 * Decides whether `pgDir` (an absolute path from `realpath`) has a live postmaster. A live PID counts only when the
 * process is a `postgres` binary whose working directory is `pgDir` (the postmaster changes into its data directory),
 * so a PID the kernel reused for something else reads as stale rather than as a server to connect to.
 */
export async function inspectPostmaster(pgDir: string): Promise<PostmasterState> {
  const pidFile = await readPostmasterPid(pgDir);
  if (pidFile === undefined) return { kind: 'none' };
  const info = await inspectProcess(pidFile.pid);
  if (info === undefined) return { kind: 'stale', pidFile, pidReused: false };
  // Another user's process (its cwd is unreadable) cannot be the postmaster of a directory this user owns, and
  // PostgreSQL itself treats such a PID as stale, so it is left to PostgreSQL.
  if (info.cwd === undefined) return { kind: 'stale', pidFile, pidReused: false };
  const program = info.cmdline[0];
  const isPostgres = program !== undefined && basename(program) === 'postgres';
  if (isPostgres && info.cwd === pgDir) return { kind: 'running', pidFile };
  return { kind: 'stale', pidFile, pidReused: true };
}

function isNotFound(error: unknown): boolean {
  return error instanceof Error && (error as NodeJS.ErrnoException).code === 'ENOENT';
}
