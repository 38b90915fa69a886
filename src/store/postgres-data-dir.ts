import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chown, mkdir, readdir, readFile, rename, rm, rmdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { syncDirectory, writeFileDurably } from './durable-files.js';
import { EMBEDDED_POSTGRES_MAJOR_VERSION, POSTGRES_PROCESS_ENV } from './postgres-binaries.js';
import type { PostgresOsUser } from './postgres-os-user.js';

/** Where things live inside a Kumo data directory. */
export interface PostgresDataDirLayout {
  /** The Kumo data directory. */
  dataDir: string;
  /** PostgreSQL's data directory, `${dataDir}/postgres`. */
  pgDir: string;
  /** The superuser's password, readable only by Kumo's own user. */
  passwordFile: string;
  /** PostgreSQL's stderr from the latest start, before its logging collector takes over. */
  startupLog: string;
}

/** The layout of the Kumo data directory `dataDir` (an absolute path). */
export function postgresDataDirLayout(dataDir: string): PostgresDataDirLayout {
  return {
    dataDir,
    pgDir: join(dataDir, 'postgres'),
    passwordFile: join(dataDir, 'postgres-password'),
    startupLog: join(dataDir, 'postgres-startup.log'),
  };
}

const INITDB_DRAFT_PREFIX = 'postgres.initdb.';

/** The superuser PostgreSQL is initialised with. */
export const POSTGRES_SUPERUSER = 'postgres';

/**
 * Makes `layout.pgDir` an initialised PostgreSQL data directory of the shipped major version and returns the
 * superuser's password. Initialised directories are reused as they are; a first start runs initdb (≈0.6 s).
 *
 * initdb writes into a draft directory `${dataDir}/postgres.initdb.<random>` and the result is renamed into place only when complete, so a Kumo
 * killed halfway leaves no half-initialised directory that a later start would take for a real one.
 *
 * The cluster uses password (SCRAM) authentication although it listens on 127.0.0.1 only: with `trust`, any local
 * account could connect as superuser and from there run programs as the `postgres` user.
 */
export async function preparePostgresDataDir(
  layout: PostgresDataDirLayout,
  initdb: string,
  runAs: PostgresOsUser | undefined,
  log: (line: string) => void,
): Promise<string> {
  const { pgDir, passwordFile } = layout;
  const version = await readFile(join(pgDir, 'PG_VERSION'), 'utf8').then(
    (text) => text.trim(),
    () => undefined,
  );
  if (version !== undefined) {
    if (version !== EMBEDDED_POSTGRES_MAJOR_VERSION) {
      throw new Error(
        `${pgDir} was created by PostgreSQL ${version}, but Kumo runs PostgreSQL ${EMBEDDED_POSTGRES_MAJOR_VERSION}; ` +
          'upgrade it with pg_upgrade or restore a dump into a fresh data directory',
      );
    }
    await assertOwnedBy(pgDir, runAs);
    const password = await readPassword(passwordFile);
    if (password === undefined) {
      throw new Error(
        `${pgDir} is initialised but ${passwordFile} (its superuser password) is missing; restore that file ` +
          'or set a new password and write it there',
      );
    }
    return password;
  }
  await removeIfEmpty(pgDir);
  const password = (await readPassword(passwordFile)) ?? (await createPassword(passwordFile));
  await runInitdb(layout, initdb, password, runAs, log);
  return password;
}

async function runInitdb(
  layout: PostgresDataDirLayout,
  initdb: string,
  password: string,
  runAs: PostgresOsUser | undefined,
  log: (line: string) => void,
): Promise<void> {
  const { dataDir, pgDir } = layout;
  await removeAbandonedDrafts(dataDir);
  const suffix = randomBytes(6).toString('hex');
  const draft = join(dataDir, `${INITDB_DRAFT_PREFIX}${suffix}`);
  // initdb reads the password from a file, and it runs as the postgres user; a pipe on stdin cannot be reopened there.
  const passwordForInitdb = join(dataDir, `.postgres-initdb-password.${suffix}`);
  await mkdir(draft, { mode: 0o700 });
  const started = Date.now();
  try {
    await writeFileDurably(passwordForInitdb, `${password}\n`, 0o600);
    if (runAs !== undefined) {
      await chown(draft, runAs.uid, runAs.gid);
      await chown(passwordForInitdb, runAs.uid, runAs.gid);
    }
    await runToCompletion(
      initdb,
      [
        `--pgdata=${draft}`,
        `--username=${POSTGRES_SUPERUSER}`,
        `--pwfile=${passwordForInitdb}`,
        '--auth=scram-sha-256',
        '--encoding=UTF8',
        // The builtin provider sorts by code point, independent of the C library, so an OS upgrade cannot silently
        // reorder (and so corrupt) text indexes the way a glibc collation change can.
        '--locale-provider=builtin',
        '--builtin-locale=C.UTF-8',
        '--locale=C',
        '--no-instructions',
      ],
      runAs,
    );
  } catch (error) {
    await rm(draft, { recursive: true, force: true });
    throw error;
  } finally {
    await rm(passwordForInitdb, { force: true });
  }
  await rename(draft, pgDir);
  await syncDirectory(dataDir);
  log(`initialised PostgreSQL data directory ${pgDir} in ${Date.now() - started} ms`);
}

/**
 * Drafts left by a Kumo killed during initdb. Each initdb gets its own draft, so one still being written by an initdb
 * that outlived its Kumo never mixes with a new one; removal is best effort for the same reason.
 */
async function removeAbandonedDrafts(dataDir: string): Promise<void> {
  const entries = await readdir(dataDir);
  await Promise.all(
    entries
      .filter((entry) => entry.startsWith(INITDB_DRAFT_PREFIX) || entry.startsWith('.postgres-initdb-password.'))
      .map((entry) => rm(join(dataDir, entry), { recursive: true, force: true }).catch(() => undefined)),
  );
}

function runToCompletion(program: string, args: string[], runAs: PostgresOsUser | undefined): Promise<void> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(program, args, {
      env: POSTGRES_PROCESS_ENV,
      stdio: ['ignore', 'pipe', 'pipe'],
      ...(runAs !== undefined ? { uid: runAs.uid, gid: runAs.gid } : {}),
    });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
    child.on('error', reject);
    child.on('close', (code, signal) => {
      if (code === 0) resolvePromise();
      else reject(new Error(`${program} failed (exit code ${code ?? 'none'}, signal ${signal ?? 'none'}): ${output}`));
    });
  });
}

async function assertOwnedBy(pgDir: string, runAs: PostgresOsUser | undefined): Promise<void> {
  const owner = (await stat(pgDir)).uid;
  const expected = runAs?.uid ?? process.getuid?.();
  if (expected !== undefined && owner !== expected) {
    const who = runAs !== undefined ? `user ${runAs.name} (uid ${runAs.uid})` : `this user (uid ${expected})`;
    throw new Error(`${pgDir} is owned by uid ${owner}, but PostgreSQL runs as ${who}: chown -R it to that user`);
  }
}

/** A directory left empty (for instance created by hand) is no obstacle; anything else in it is not ours to delete. */
async function removeIfEmpty(pgDir: string): Promise<void> {
  let entries: string[];
  try {
    entries = await readdir(pgDir);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw error;
  }
  if (entries.length > 0) {
    throw new Error(`${pgDir} is not empty but has no PG_VERSION, so it is not a PostgreSQL data directory`);
  }
  await rmdir(pgDir);
}

async function readPassword(passwordFile: string): Promise<string | undefined> {
  try {
    const password = (await readFile(passwordFile, 'utf8')).trim();
    return password === '' ? undefined : password;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}

async function createPassword(passwordFile: string): Promise<string> {
  const password = randomBytes(24).toString('base64url');
  const draft = `${passwordFile}.${randomBytes(6).toString('hex')}`;
  await writeFileDurably(draft, `${password}\n`, 0o600);
  await rename(draft, passwordFile);
  return password;
}


