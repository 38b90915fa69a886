import { readFileSync } from 'node:fs';
import { readdir, readFile, readlink } from 'node:fs/promises';

/**
 * What Linux's /proc says about one process. Kumo uses it to tell a live owner of a data directory from a dead one
 * whose PID the kernel has since handed to an unrelated process.
 */
export interface ProcessInfo {
  pid: number;
  /** The one-letter state from /proc/<pid>/stat; `Z` is a zombie (exited, not yet reaped). */
  state: string;
  /**
   * Start time in clock ticks since boot (field 22 of /proc/<pid>/stat), as a decimal string. Together with the PID it
   * names one process for the life of the machine, which guards against PID reuse.
   */
  startTime: string;
  /** argv, as the process sees it now (a process may rewrite it, as PostgreSQL's children do). */
  cmdline: string[];
  /** Current working directory, or undefined when it cannot be read (another user's process when we are not root). */
  cwd: string | undefined;
}

/**
 * Reads /proc for `pid`. Resolves undefined when no such process exists, or when it has exited and is a zombie: for
 * every question Kumo asks (does it still hold the directory?) a zombie is gone.
 */
export async function inspectProcess(pid: number): Promise<ProcessInfo | undefined> {
  if (!Number.isInteger(pid) || pid <= 0) return undefined;
  let stat: string;
  try {
    stat = await readFile(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  const fields = parseStatFields(stat);
  const state = fields[0];
  const startTime = fields[19];
  if (state === undefined || startTime === undefined || state === 'Z' || state === 'X') return undefined;
  const [cmdline, cwd] = await Promise.all([
    readFile(`/proc/${pid}/cmdline`, 'utf8').then(
      (raw) => raw.split('\0').filter((arg) => arg.length > 0),
      () => [] as string[],
    ),
    readlink(`/proc/${pid}/cwd`).catch(() => undefined),
  ]);
  return { pid, state, startTime, cmdline, cwd };
}

/** The start time of the calling process, in the same units as {@link ProcessInfo.startTime}. */
export async function ownProcessStartTime(): Promise<string> {
  const fields = parseStatFields(await readFile('/proc/self/stat', 'utf8'));
  const startTime = fields[19];
  if (startTime === undefined) throw new Error('cannot read this process start time from /proc/self/stat');
  return startTime;
}

/**
 * The start time of `pid` as {@link ProcessInfo.startTime}, or undefined when it is gone or a zombie. Synchronous, for
 * a check immediately before `process.kill` with nothing in between that could let the PID be reused.
 */
export function readStartTimeSync(pid: number): string | undefined {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  const fields = parseStatFields(stat);
  return fields[0] === 'Z' || fields[0] === 'X' ? undefined : fields[19];
}

/**
 * The fields of /proc/<pid>/stat after the command name, starting with the state (field 3). The command name sits in
 * parentheses and may itself contain spaces and parentheses, so the split starts after the last `)`.
 */
function parseStatFields(stat: string): string[] {
  return stat.slice(stat.lastIndexOf(')') + 2).trim().split(' ');
}

/**
 * The live processes whose working directory is `dir` (compare with a path from `realpath`, as /proc shows one).
 * Every PostgreSQL process, postmaster and backends alike, works in its data directory, so this finds a server's
 * processes even when its postmaster is gone and `postmaster.pid` no longer names them.
 */
export async function findProcessesWorkingIn(dir: string): Promise<ProcessInfo[]> {
  const entries = await readdir('/proc');
  const candidates = await Promise.all(
    entries
      .filter((entry) => /^\d+$/.test(entry))
      .map(async (entry) => {
        const cwd = await readlink(`/proc/${entry}/cwd`).catch(() => undefined);
        return cwd === dir ? inspectProcess(Number(entry)) : undefined;
      }),
  );
  return candidates.filter((info): info is ProcessInfo => info !== undefined && info.cwd === dir);
}
