import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import { freePort } from '../test/support/free-port.js';

/** Percentile of a list of numbers (nearest-rank). */
export function percentile(values: number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}


/** Resident and proportional set size of a process, in MiB. */
export function memoryOf(pid: number): { rssMb: number; pssMb: number } {
  const rollup = readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8');
  const field = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(rollup)?.[1] ?? 0) / 1024;
  return { rssMb: field('Rss'), pssMb: field('Pss') };
}

const CLOCK_TICKS = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout.trim()) || 100;

/**
 * CPU time (user + system) the processes have used so far, in ms; a process gone meanwhile counts as 0, so take
 * differences over a window in which the set of processes is stable (pooled connections, one server).
 */
export function cpuMsOf(pids: number[]): number {
  let ticks = 0;
  for (const pid of pids) {
    const fields = statFields(pid);
    if (fields) ticks += Number(fields[11]) + Number(fields[12]);
  }
  return (ticks * 1000) / CLOCK_TICKS;
}

/**
 * The fields of /proc/<pid>/stat after the command name (field 3, the state, comes first), or null when the process
 * is gone. The name is cut at its last `)`, since it may itself hold spaces and parentheses.
 */
function statFields(pid: number | string): string[] | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  } catch {
    return null;
  }
}

/** Every process whose parent chain leads to `root` (the embedded PostgreSQL's backends under its postmaster). */
export function descendants(root: number): number[] {
  const parents = new Map<number, number>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const fields = statFields(entry);
    if (fields) parents.set(Number(entry), Number(fields[1]));
  }
  const out: number[] = [];
  const walk = (pid: number) => {
    for (const [child, parent] of parents) if (parent === pid) {
      out.push(child);
      walk(child);
    }
  };
  walk(root);
  return out;
}

export interface KumoProcess {
  child: ChildProcess;
  url: string;
  output: string[];
  stop(): Promise<void>;
}

/** Starts `kumo server` as a child process and waits until /readyz answers. */
export async function startKumoProcess(env: Record<string, string>): Promise<KumoProcess> {
  const port = await freePort();
  // Through bin/kumo.js, as `npm start` and `npx kumo server` start it, so that its Node.js flags apply; extra flags
  // for a profile (KUMO_BENCH_NODE_ARGS) go through NODE_OPTIONS.
  const nodeOptions = [process.env.NODE_OPTIONS, process.env.KUMO_BENCH_NODE_ARGS].filter(Boolean).join(' ');
  const child = spawn('bin/kumo.js', ['server'], {
    env: { ...process.env, ...env, KUMO_PORT: String(port), ...(nodeOptions ? { NODE_OPTIONS: nodeOptions } : {}) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const output: string[] = [];
  child.stdout!.on('data', (chunk: Buffer) => output.push(chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => output.push(chunk.toString()));
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`kumo exited: ${output.join('')}`);
    try {
      if ((await fetch(`${url}/readyz`)).ok) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error(`kumo did not become ready: ${output.join('')}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return {
    child,
    url,
    output,
    async stop() {
      if (child.exitCode !== null) return;
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      await exited;
    },
  };
}

/** The machine's busy and total CPU time so far (all cores, clock ticks), from /proc/stat. */
function machineCpuTicks(): { busy: number; total: number } {
  const fields = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
  const total = fields.reduce((sum, value) => sum + value, 0);
  // user nice system idle iowait irq softirq steal …: idle and iowait are the only ones not busy.
  return { busy: total - (fields[3] ?? 0) - (fields[4] ?? 0), total };
}

/**
 * Waits until a whole second passes with the machine's CPUs busy less than `busyShare` of the time, or `maxMs` has
 * passed; resolves with how long it waited and whether it got quiet.
 */
export async function waitForQuietMachine(maxMs: number, busyShare = 0.1): Promise<{ waitedMs: number; quiet: boolean }> {
  const started = performance.now();
  for (;;) {
    const before = machineCpuTicks();
    await new Promise((resolve) => setTimeout(resolve, 1000));
    const after = machineCpuTicks();
    const share = (after.busy - before.busy) / Math.max(1, after.total - before.total);
    const waitedMs = performance.now() - started;
    if (share < busyShare) return { waitedMs, quiet: true };
    if (waitedMs >= maxMs) return { waitedMs, quiet: false };
  }
}
