import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { freePort } from '../support/free-port.js';
import { once } from 'node:events';
import { access, chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import {
  EMBEDDED_POSTGRES_MAJOR_VERSION,
  startEmbeddedPostgres,
  type EmbeddedPostgresHandle,
} from '../../src/store/embedded-postgres-server.js';
import { inspectProcess } from '../../src/store/inspect-process.js';

const serverModule = new URL('../../src/store/embedded-postgres-server.js', import.meta.url).href;
const isRoot = process.getuid?.() === 0;

const handles: EmbeddedPostgresHandle[] = [];
const children: ChildProcess[] = [];
const dirs: string[] = [];

after(async () => {
  for (const child of children) child.kill('SIGKILL');
  await Promise.all(handles.map((handle) => handle.stop().catch(() => undefined)));
  await Promise.all(dirs.map((dir) => rm(dir, { recursive: true, force: true })));
});

/** The uid and gid PostgreSQL runs as, for spawning processes as that user; none when not root. */
function postgresUserIds(): { uid?: number; gid?: number } {
  if (!isRoot) return {};
  const id = (flag: string): number => Number(execFileSync('id', [flag, 'postgres'], { encoding: 'utf8' }).trim());
  return { uid: id('-u'), gid: id('-g') };
}

/** A fresh Kumo data directory that the postgres user (when we are root) may enter, as /tmp's mkdtemp gives 0700. */
async function dataDirForTest(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'kumo-pg-test-'));
  dirs.push(dir);
  await chmod(dir, 0o755);
  return dir;
}

async function start(dataDir: string, port?: number, log?: string[]): Promise<EmbeddedPostgresHandle> {
  const handle = await startEmbeddedPostgres({ dataDir, port, log: (line) => log?.push(line) });
  handles.push(handle);
  return handle;
}


async function query<T extends pg.QueryResultRow>(connectionString: string, sql: string): Promise<T[]> {
  const client = new pg.Client({ connectionString });
  await client.connect();
  try {
    return (await client.query<T>(sql)).rows;
  } finally {
    await client.end();
  }
}

async function postmasterPid(dataDir: string): Promise<number> {
  const text = await readFile(join(dataDir, 'postgres', 'postmaster.pid'), 'utf8');
  return Number(text.split('\n')[0]);
}

async function exists(path: string): Promise<boolean> {
  return access(path).then(
    () => true,
    () => false,
  );
}

/**
 * Starts the server in a child Node process, as a Kumo would, and resolves once it prints the port; the child then
 * idles until killed.
 */
async function startInChild(dataDir: string): Promise<{ child: ChildProcess; port: number }> {
  const script = join(dataDir, 'start-and-idle.mjs');
  await writeFile(
    script,
    `import { startEmbeddedPostgres } from ${JSON.stringify(serverModule)};\n` +
      'const handle = await startEmbeddedPostgres({ dataDir: process.argv[2] });\n' +
      'console.log(JSON.stringify({ port: handle.port }));\n' +
      'setInterval(() => undefined, 60_000);\n',
  );
  const child = spawn(process.execPath, [script, dataDir], { stdio: ['ignore', 'pipe', 'inherit'] });
  children.push(child);
  let output = '';
  for await (const chunk of child.stdout as AsyncIterable<Buffer>) {
    output += chunk.toString('utf8');
    if (output.includes('\n')) break;
  }
  const { port } = JSON.parse(output) as { port: number };
  return { child, port };
}

describe('startEmbeddedPostgres', () => {
  it('starts a fresh server with fsync on, listening on 127.0.0.1 only, and keeps data across restarts', async () => {
    const dataDir = await dataDirForTest();
    const first = await start(dataDir);
    assert.equal(first.adopted, false);
    assert.ok(first.port > 0);
    assert.deepEqual(await query(first.connectionString, 'SELECT 1 AS one'), [{ one: 1 }]);
    const [settings] = await query<{ fsync: string; listen: string; db: string; version: string }>(
      first.connectionString,
      "SELECT current_setting('fsync') AS fsync, current_setting('listen_addresses') AS listen, " +
        "current_database() AS db, current_setting('server_version') AS version",
    );
    assert.equal(settings?.fsync, 'on');
    assert.equal(settings?.listen, '127.0.0.1');
    assert.equal(settings?.db, 'kumo');
    assert.ok(settings?.version.startsWith(`${EMBEDDED_POSTGRES_MAJOR_VERSION}.`), settings?.version);
    await query(first.connectionString, "CREATE TABLE kept (note text); INSERT INTO kept VALUES ('still here')");
    await first.stop();
    await first.stop();
    assert.equal(await exists(join(dataDir, 'postgres', 'postmaster.pid')), false);

    const second = await start(dataDir);
    assert.equal(second.adopted, false);
    assert.deepEqual(await query(second.connectionString, 'SELECT note FROM kept'), [{ note: 'still here' }]);
    await second.stop();
  });

  it('adopts the server left running by a Kumo killed with SIGKILL, and stop() then stops it', async () => {
    const dataDir = await dataDirForTest();
    const { child, port } = await startInChild(dataDir);
    const orphanPid = await postmasterPid(dataDir);
    const url = `postgresql://postgres:${(await readFile(join(dataDir, 'postgres-password'), 'utf8')).trim()}@127.0.0.1:${port}/kumo`;
    await query(url, "CREATE TABLE survived (note text); INSERT INTO survived VALUES ('written before the kill')");
    child.kill('SIGKILL');
    await once(child, 'exit');
    assert.ok(await inspectProcess(orphanPid), 'the postmaster outlives its killed Kumo');

    const adopted = await start(dataDir);
    assert.equal(adopted.adopted, true);
    assert.equal(adopted.port, port);
    assert.deepEqual(await query(adopted.connectionString, 'SELECT note FROM survived'), [
      { note: 'written before the kill' },
    ]);
    await adopted.stop();
    assert.equal(await inspectProcess(orphanPid), undefined);
    assert.equal(await exists(join(dataDir, 'postgres', 'postmaster.pid')), false);
  });

  it('restarts a left-running server on the requested port when it runs on another', async () => {
    const dataDir = await dataDirForTest();
    const { child, port } = await startInChild(dataDir);
    const orphanPid = await postmasterPid(dataDir);
    child.kill('SIGKILL');
    await once(child, 'exit');
    const wanted = await freePort();
    assert.notEqual(wanted, port);

    const handle = await start(dataDir, wanted);
    assert.equal(handle.adopted, false);
    assert.equal(handle.port, wanted);
    assert.equal(await inspectProcess(orphanPid), undefined);
    assert.deepEqual(await query(handle.connectionString, 'SELECT 1 AS one'), [{ one: 1 }]);
    await handle.stop();
  });

  it('starts despite a postmaster.pid whose PID now belongs to an unrelated process', async () => {
    const dataDir = await dataDirForTest();
    await (await start(dataDir)).stop();
    // Owned by the user PostgreSQL runs as: another user's PID it would ignore (kill(pid, 0) fails with EPERM), but
    // with this one it refuses to start ("Is another postmaster running?").
    const unrelated = spawn('sleep', ['30'], { stdio: 'ignore', ...postgresUserIds() });
    children.push(unrelated);
    const pgDir = join(dataDir, 'postgres');
    await writeFile(
      join(pgDir, 'postmaster.pid'),
      `${unrelated.pid}\n${pgDir}\n${Math.floor(Date.now() / 1000)}\n5999\n\n127.0.0.1\n     0         0\nready   \n`,
    );

    const log: string[] = [];
    const handle = await start(dataDir, undefined, log);
    assert.equal(handle.adopted, false);
    assert.ok(log.some((line) => line.startsWith('removed stale postmaster.pid')), log.join('\n'));
    assert.deepEqual(await query(handle.connectionString, 'SELECT 1 AS one'), [{ one: 1 }]);
    await handle.stop();
    unrelated.kill('SIGKILL');
  });

  it('starts despite a postmaster.pid left by a postmaster that is gone', async () => {
    const dataDir = await dataDirForTest();
    await (await start(dataDir)).stop();
    const gone = spawn('true', { stdio: 'ignore' });
    await once(gone, 'exit');
    const pgDir = join(dataDir, 'postgres');
    await writeFile(
      join(pgDir, 'postmaster.pid'),
      `${gone.pid}\n${pgDir}\n${Math.floor(Date.now() / 1000)}\n5999\n\n127.0.0.1\n     0         0\nready   \n`,
    );

    const handle = await start(dataDir);
    assert.equal(handle.adopted, false);
    assert.deepEqual(await query(handle.connectionString, 'SELECT 1 AS one'), [{ one: 1 }]);
    await handle.stop();
  });

  it('names the directory the postgres user cannot enter', { skip: !isRoot && 'needs root' }, async () => {
    const closed = await mkdtemp(join(tmpdir(), 'kumo-pg-closed-'));
    dirs.push(closed);
    await chmod(closed, 0o700);
    await assert.rejects(startEmbeddedPostgres({ dataDir: join(closed, 'kumo') }), (error: Error) => {
      assert.match(error.message, new RegExp(`cannot enter ${closed} \\(mode 0700`));
      return true;
    });
  });
});
