import { spawn, type ChildProcess } from 'node:child_process';
import { mkdir, open, readFile, realpath, unlink } from 'node:fs/promises';
import { createServer } from 'node:net';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { findProcessesWorkingIn, inspectProcess, readStartTimeSync } from './inspect-process.js';
import { inspectPostmaster, readPostmasterPid } from './postmaster-pid.js';
import { locatePostgresBinaries, POSTGRES_PROCESS_ENV } from './postgres-binaries.js';
import {
  POSTGRES_SUPERUSER,
  postgresDataDirLayout,
  preparePostgresDataDir,
  type PostgresDataDirLayout,
} from './postgres-data-dir.js';
import { assertTraversableBy, resolvePostgresOsUser, type PostgresOsUser } from './postgres-os-user.js';

export { EMBEDDED_POSTGRES_MAJOR_VERSION } from './postgres-binaries.js';

/** Options for {@link startEmbeddedPostgres}. */
export interface EmbeddedPostgresOptions {
  /** The Kumo data directory; PostgreSQL's own data directory is `${dataDir}/postgres`. */
  dataDir: string;
  /** TCP port on 127.0.0.1; 0 or undefined picks a free one. */
  port?: number;
  /** Database Kumo's tables live in, created if missing. Default `kumo`. */
  database?: string;
  /** Receives one line per lifecycle event (initialised, started, adopted, stopped). */
  log?: (line: string) => void;
  /** `max_connections`; default 100. The test runner raises it: many Kumo processes share its one server. */
  maxConnections?: number;
}

/** A running embedded PostgreSQL server. */
export interface EmbeddedPostgresHandle {
  /** `postgresql://` URL of `database` on 127.0.0.1, with the superuser's credentials. Keep it out of logs. */
  connectionString: string;
  port: number;
  /** True when the server was already running, left behind by a Kumo process that was killed, and was taken over. */
  adopted: boolean;
  /** Shuts the server down (fast shutdown: open transactions roll back) and waits for it to exit. Idempotent. */
  stop(): Promise<void>;
}

/**
 * Settings the server always runs with, passed on its command line so that they hold whatever the configuration files
 * say (and so `ALTER SYSTEM` cannot change these particular ones). Sized for a control plane on a small machine.
 */
const SERVER_SETTINGS: ReadonlyArray<readonly [string, string]> = [
  // Reachable only from this machine, and no Unix socket in /var/run/postgresql where the machine's own
  // PostgreSQL keeps its socket and lock files.
  ['listen_addresses', '127.0.0.1'],
  ['unix_socket_directories', ''],
  ['max_connections', '100'],
  ['shared_buffers', '128MB'],
  // Durability is the point of a real server: an acknowledged commit survives a power loss.
  ['fsync', 'on'],
  ['synchronous_commit', 'on'],
  ['full_page_writes', 'on'],
  // A control plane's tables go from empty to 100,000 rows in minutes; a minute of stale statistics made the planner
  // scan a whole project for a label-selector page (migration 0005).
  ['autovacuum_naptime', '10s'],
  // The logging collector writes files itself, so a server that outlives Kumo (kill -9) still logs: a week of
  // daily files in ${dataDir}/postgres/log.
  ['logging_collector', 'on'],
  ['log_directory', 'log'],
  ['log_filename', 'postgresql-%a.log'],
  ['log_rotation_age', '1d'],
  ['log_truncate_on_rotation', 'on'],
  // Names its processes "postgres: kumo: ...", to tell them from the machine's own PostgreSQL in ps.
  ['cluster_name', 'kumo'],
  ['timezone', 'UTC'],
  ['log_timezone', 'UTC'],
];

const POLL_INTERVAL_MS = 20;
/** Long enough for crash recovery of a control plane's WAL after a power loss. */
const READY_TIMEOUT_MS = 120_000;
const FAST_SHUTDOWN_TIMEOUT_MS = 30_000;
const IMMEDIATE_SHUTDOWN_TIMEOUT_MS = 10_000;
/** Attempts at a free port when the one picked is taken before PostgreSQL binds it. */
const PORT_ATTEMPTS = 3;

/** The postmaster this module started or adopted; PID plus start time name it even after PID reuse. */
interface Postmaster {
  pid: number;
  startTime: string;
  port: number;
  adopted: boolean;
}

/**
 * Starts Kumo's PostgreSQL 18 server on `${dataDir}/postgres`, from the binaries installed with the
 * `embedded-postgres` package, and makes sure `database` exists.
 *
 * - A first start runs initdb; later starts reuse the directory. As root, PostgreSQL runs as the `postgres` user
 *   (created if missing), which must be able to enter `dataDir` and its parents; this is checked up front.
 * - A server still running on the directory (its Kumo was killed with SIGKILL, so nothing stopped it) is adopted:
 *   `postmaster.pid` names its PID and port, /proc confirms the PID is a postgres working in this directory, and the
 *   handle connects to it with `adopted: true`. Starting a second server there would fail, and must not be tried.
 * - A `postmaster.pid` left by a server that is gone is left to PostgreSQL, which handles stale ones, unless its PID
 *   now belongs to an unrelated process, which would make PostgreSQL refuse to start; then it is removed, once no
 *   process at all works in the directory any more.
 *
 * The server runs in its own session, so a Ctrl-C meant for Kumo does not shut the store down under requests still
 * being drained; Kumo stops it with `stop()`. It does not lock the Kumo data directory: see `acquireDataDirLock`.
 */
export async function startEmbeddedPostgres(options: EmbeddedPostgresOptions): Promise<EmbeddedPostgresHandle> {
  const log = options.log ?? (() => undefined);
  const database = options.database ?? 'kumo';
  const dataDir = resolve(options.dataDir);
  await mkdir(dataDir, { recursive: true });
  const layout = postgresDataDirLayout(dataDir);
  const [binaries, runAs] = await Promise.all([locatePostgresBinaries(), resolvePostgresOsUser(log)]);
  if (runAs !== undefined) await assertTraversableBy(dataDir, runAs);
  const password = await preparePostgresDataDir(layout, binaries.initdb, runAs, log);
  const pgDir = await realpath(layout.pgDir);

  const requestedPort = options.port !== undefined && options.port !== 0 ? options.port : undefined;
  const postmaster =
    (await adoptRunningPostmaster(pgDir, requestedPort, log)) ??
    (await spawnPostmaster({ ...layout, pgDir }, binaries.postgres, runAs, requestedPort, log, options.maxConnections ?? 100));

  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> => (stopping ??= stopPostmaster(postmaster, pgDir, log));
  try {
    await ensureDatabase(password, postmaster.port, database, log);
  } catch (error) {
    await stop().catch(() => undefined);
    throw error;
  }
  return {
    connectionString:
      `postgresql://${POSTGRES_SUPERUSER}:${encodeURIComponent(password)}@127.0.0.1:${postmaster.port}/` +
      encodeURIComponent(database),
    port: postmaster.port,
    adopted: postmaster.adopted,
    stop,
  };
}

/**
 * Takes over a postmaster already running on `pgDir`, or clears the way for a new one. Resolves undefined when a new
 * server should be started.
 */
async function adoptRunningPostmaster(
  pgDir: string,
  requestedPort: number | undefined,
  log: (line: string) => void,
): Promise<Postmaster | undefined> {
  const state = await inspectPostmaster(pgDir);
  if (state.kind === 'none') return undefined;
  if (state.kind === 'stale') {
    if (state.pidReused) {
      const users = await findProcessesWorkingIn(pgDir);
      if (users.length > 0) {
        throw new Error(
          `${pgDir} has no running postmaster, but processes ${users.map((user) => user.pid).join(', ')} still ` +
            'work in it (orphaned PostgreSQL backends?); stop them before starting Kumo',
        );
      }
      // PostgreSQL would take the unrelated process for a running postmaster and refuse to start.
      await unlink(join(pgDir, 'postmaster.pid')).catch(() => undefined);
      log(`removed stale postmaster.pid (its PID ${state.pidFile.pid} now belongs to another process)`);
    }
    return undefined;
  }

  const { pid } = state.pidFile;
  const info = await inspectProcess(pid);
  if (info === undefined) return undefined;
  const outcome = await waitForPostmaster(pgDir, pid, () => inspectProcess(pid).then((now) => now === undefined));
  if (outcome.kind === 'timeout') {
    throw new Error(
      `PostgreSQL pid ${pid}, left running on ${pgDir}, did not become ready in ${READY_TIMEOUT_MS} ms ` +
        `(still in crash recovery?); see ${join(pgDir, 'log')}`,
    );
  }
  if (outcome.kind === 'gone') {
    // It was shutting down, or failed while starting up (why is in its own log): once it is gone, start afresh.
    if (!(await waitForExit({ pid, startTime: info.startTime }, FAST_SHUTDOWN_TIMEOUT_MS))) {
      throw new Error(`PostgreSQL pid ${pid}, left running on ${pgDir}, is shutting down but has not exited`);
    }
    return undefined;
  }
  const postmaster: Postmaster = { pid, startTime: info.startTime, port: outcome.port, adopted: true };
  if (requestedPort !== undefined && requestedPort !== outcome.port) {
    log(`stopping PostgreSQL pid ${pid} left running on port ${outcome.port}, to restart it on port ${requestedPort}`);
    await stopPostmaster(postmaster, pgDir, log);
    return undefined;
  }
  log(`adopted PostgreSQL pid ${pid} left running on ${pgDir}, port ${outcome.port}`);
  return postmaster;
}

async function spawnPostmaster(
  layout: PostgresDataDirLayout,
  postgres: string,
  runAs: PostgresOsUser | undefined,
  requestedPort: number | undefined,
  log: (line: string) => void,
  maxConnections: number,
): Promise<Postmaster> {
  for (let attempt = 1; ; attempt++) {
    const port = requestedPort ?? (await pickFreePort());
    const started = Date.now();
    const args = ['-D', layout.pgDir, '-p', String(port)];
    for (const [name, value] of SERVER_SETTINGS) args.push('-c', `${name}=${name === 'max_connections' ? maxConnections : value}`);
    const child = await spawnDetached(postgres, args, layout.startupLog, runAs);
    let exit: string | undefined;
    child.on('error', (error) => (exit ??= error.message));
    child.on('exit', (code, signal) => (exit ??= `exit code ${code ?? 'none'}, signal ${signal ?? 'none'}`));
    // Kumo may exit without stopping the server (it is then adopted next time), so it must not hold the loop open.
    child.unref();
    const pid = child.pid;
    const outcome =
      pid === undefined
        ? ({ kind: 'gone' } as const)
        : await waitForPostmaster(layout.pgDir, pid, () => Promise.resolve(exit !== undefined));
    const info = pid === undefined ? undefined : await inspectProcess(pid);
    if (outcome.kind === 'ready' && pid !== undefined && info !== undefined) {
      log(`started PostgreSQL pid ${pid} on 127.0.0.1:${port} in ${Date.now() - started} ms`);
      return { pid, startTime: info.startTime, port, adopted: false };
    }
    if (outcome.kind === 'timeout' && pid !== undefined && info !== undefined) {
      await stopPostmaster({ pid, startTime: info.startTime, port, adopted: false }, layout.pgDir, log);
    }
    const output = (await readFile(layout.startupLog, 'utf8').catch(() => '')).slice(-4000).trim();
    if (requestedPort === undefined && attempt < PORT_ATTEMPTS && /could not bind|already in use/i.test(output)) {
      log(`port ${port} was taken before PostgreSQL could bind it; trying another`);
      continue;
    }
    const how = outcome.kind === 'timeout' ? `not ready after ${READY_TIMEOUT_MS} ms` : (exit ?? 'exited');
    throw new Error(
      `PostgreSQL did not start on ${layout.pgDir} (${how}). Its output (${layout.startupLog}):\n${output}`,
    );
  }
}

type WaitOutcome = { kind: 'ready'; port: number } | { kind: 'gone' } | { kind: 'timeout' };

/** Polls `postmaster.pid` until the postmaster `pid` reports `ready`, exits, or the timeout passes. */
async function waitForPostmaster(pgDir: string, pid: number, hasExited: () => Promise<boolean>): Promise<WaitOutcome> {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  for (;;) {
    const pidFile = await readPostmasterPid(pgDir);
    if (pidFile?.pid === pid && pidFile.status === 'ready') return { kind: 'ready', port: pidFile.port };
    if (pidFile?.pid === pid && pidFile.status === 'stopping') return { kind: 'gone' };
    if (await hasExited()) return { kind: 'gone' };
    if (Date.now() > deadline) return { kind: 'timeout' };
    await sleep(POLL_INTERVAL_MS);
  }
}

/**
 * Fast shutdown (SIGINT: roll back open transactions, disconnect, checkpoint), and if that hangs, immediate shutdown
 * (SIGQUIT: WAL replay on the next start, no data lost). Never SIGKILL, which would orphan the backends on the shared
 * memory. A PID whose start time changed is no longer ours and is left alone.
 */
async function stopPostmaster(postmaster: Postmaster, pgDir: string, log: (line: string) => void): Promise<void> {
  const started = Date.now();
  if (!signalIfSame(postmaster, 'SIGINT')) return;
  if (!(await waitForExit(postmaster, FAST_SHUTDOWN_TIMEOUT_MS))) {
    log(`PostgreSQL pid ${postmaster.pid} did not finish a fast shutdown; requesting an immediate one`);
    signalIfSame(postmaster, 'SIGQUIT');
    if (!(await waitForExit(postmaster, IMMEDIATE_SHUTDOWN_TIMEOUT_MS))) {
      throw new Error(`PostgreSQL pid ${postmaster.pid} on ${pgDir} did not stop`);
    }
  }
  log(`stopped PostgreSQL pid ${postmaster.pid} in ${Date.now() - started} ms`);
}

function signalIfSame(postmaster: Pick<Postmaster, 'pid' | 'startTime'>, signal: NodeJS.Signals): boolean {
  // Checked synchronously right before the signal, so a PID reused since cannot receive it.
  if (readStartTimeSync(postmaster.pid) !== postmaster.startTime) return false;
  try {
    process.kill(postmaster.pid, signal);
    return true;
  } catch {
    return false;
  }
}

/** Polls until the process is gone; false if it is still there after `timeoutMs`. */
async function waitForExit(postmaster: Pick<Postmaster, 'pid' | 'startTime'>, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const info = await inspectProcess(postmaster.pid);
    if (info === undefined || info.startTime !== postmaster.startTime) return true;
    if (Date.now() > deadline) return false;
    await sleep(POLL_INTERVAL_MS);
  }
}

/**
 * Starts `postgres` in its own session, its output going to a file emptied at each start rather than to a pipe: a
 * pipe would break when Kumo dies, and the server must outlive it.
 */
async function spawnDetached(
  postgres: string,
  args: string[],
  startupLog: string,
  runAs: PostgresOsUser | undefined,
): Promise<ChildProcess> {
  const output = await open(startupLog, 'w', 0o600);
  try {
    return spawn(postgres, args, {
      env: POSTGRES_PROCESS_ENV,
      detached: true,
      stdio: ['ignore', output.fd, output.fd],
      ...(runAs !== undefined ? { uid: runAs.uid, gid: runAs.gid } : {}),
    });
  } finally {
    await output.close();
  }
}

async function ensureDatabase(
  password: string,
  port: number,
  database: string,
  log: (line: string) => void,
): Promise<void> {
  const client = new pg.Client({ host: '127.0.0.1', port, user: POSTGRES_SUPERUSER, password, database: 'postgres' });
  client.on('error', () => undefined);
  await client.connect();
  try {
    const existing = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [database]);
    if (existing.rowCount === 0) {
      await client.query(`CREATE DATABASE ${client.escapeIdentifier(database)}`).catch((error: unknown) => {
        // 42P04 duplicate_database: created meanwhile, which is what was wanted.
        if ((error as { code?: unknown }).code !== '42P04') throw error;
      });
      log(`created database ${database}`);
    }
  } finally {
    await client.end();
  }
}

/** A port free on 127.0.0.1 right now; PostgreSQL may still lose it to a race, which the caller retries. */
function pickFreePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => (port > 0 ? resolvePort(port) : reject(new Error('could not pick a free port'))));
    });
  });
}
