import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { acquireDataDirLock, DATA_DIR_LOCK_FILE } from '../../src/store/data-dir-lock.js';
import { inspectProcess } from '../../src/store/inspect-process.js';

const lockModule = new URL('../../src/store/data-dir-lock.js', import.meta.url).href;
const children: ChildProcess[] = [];

const CONTENDER_SCRIPT =
  `import { acquireDataDirLock } from ${JSON.stringify(lockModule)};\n` +
  'try { await acquireDataDirLock(process.argv[1]); console.log("locked"); }\n' +
  'catch (error) { console.log(error.message); }\n' +
  'process.stdin.resume();\n';
const dirs: string[] = [];

after(async () => {
  for (const child of children) child.kill('SIGKILL');
  await Promise.all(dirs.map((dir) => rm(dir, { recursive: true, force: true })));
});

async function dataDirForTest(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'kumo-lock-test-'));
  dirs.push(dir);
  return dir;
}

/**
 * A child Node process that tries to take the lock, prints `locked` or the error message, and then holds on (keeping
 * the lock if it got it) until its stdin closes.
 */
function contender(dataDir: string): { child: ChildProcess; outcome: Promise<string> } {
  const child = spawn(process.execPath, ['--input-type=module', '--eval', CONTENDER_SCRIPT, dataDir], { stdio: ['pipe', 'pipe', 'inherit'] });
  children.push(child);
  const outcome = (async () => {
    let output = '';
    for await (const chunk of child.stdout as AsyncIterable<Buffer>) {
      output += chunk.toString('utf8');
      if (output.includes('\n')) break;
    }
    return output.trim();
  })();
  return { child, outcome };
}

async function writeLock(dataDir: string, record: unknown): Promise<void> {
  await writeFile(join(dataDir, DATA_DIR_LOCK_FILE), JSON.stringify(record));
}

async function lockHolder(dataDir: string): Promise<number> {
  return (JSON.parse(await readFile(join(dataDir, DATA_DIR_LOCK_FILE), 'utf8')) as { pid: number }).pid;
}

describe('acquireDataDirLock', () => {
  it('holds the directory until released, also against this same process', async () => {
    const dataDir = await dataDirForTest();
    const lock = await acquireDataDirLock(dataDir);
    assert.equal(await lockHolder(dataDir), process.pid);
    await assert.rejects(acquireDataDirLock(dataDir), /already locked by this process/);
    await lock.release();
    await lock.release();
    const again = await acquireDataDirLock(dataDir);
    await again.release();
  });

  it('refuses a directory held by another live Kumo process, and takes it over once that one is killed', async () => {
    const dataDir = await dataDirForTest();
    const holder = contender(dataDir);
    assert.equal(await holder.outcome, 'locked');

    await assert.rejects(acquireDataDirLock(dataDir), {
      message: `data directory ${dataDir} is in use by another Kumo process (pid ${holder.child.pid})`,
    });

    holder.child.kill('SIGKILL');
    await once(holder.child, 'exit');
    const lock = await acquireDataDirLock(dataDir);
    assert.equal(await lockHolder(dataDir), process.pid);
    await lock.release();
  });

  it('takes over a lock whose process is gone', async () => {
    const dataDir = await dataDirForTest();
    const gone = spawn('true', { stdio: 'ignore' });
    await once(gone, 'exit');
    await writeLock(dataDir, { pid: gone.pid, startTime: '1' });
    const lock = await acquireDataDirLock(dataDir);
    assert.equal(await lockHolder(dataDir), process.pid);
    await lock.release();
  });

  it('takes over a lock whose PID now belongs to another process', async () => {
    const dataDir = await dataDirForTest();
    // The parent process is a live node process, but it started at another time than the one recorded.
    await writeLock(dataDir, { pid: process.ppid, startTime: '1' });
    const lock = await acquireDataDirLock(dataDir);
    await lock.release();

    // A live process with the recorded start time that is not Kumo (sleep, not node) does not hold it either.
    const sleeper = spawn('sleep', ['30'], { stdio: 'ignore' });
    children.push(sleeper);
    const info = await inspectProcess(sleeper.pid ?? 0);
    assert.ok(info);
    await writeLock(dataDir, { pid: info.pid, startTime: info.startTime });
    const second = await acquireDataDirLock(dataDir);
    await second.release();
  });

  it('takes over an unreadable lock file', async () => {
    const dataDir = await dataDirForTest();
    await writeFile(join(dataDir, DATA_DIR_LOCK_FILE), 'not json');
    const lock = await acquireDataDirLock(dataDir);
    await lock.release();
  });

  it('lets exactly one of several processes racing for the same directory win', async () => {
    const dataDir = await dataDirForTest();
    await writeLock(dataDir, { pid: 0, startTime: 'stale' });
    const racers = Array.from({ length: 6 }, () => contender(dataDir));
    const outcomes = await Promise.all(racers.map((racer) => racer.outcome));
    assert.equal(outcomes.filter((outcome) => outcome === 'locked').length, 1, outcomes.join('\n'));
    for (const outcome of outcomes.filter((o) => o !== 'locked')) {
      assert.match(outcome, /is in use by another Kumo process \(pid \d+\)/);
    }
    for (const racer of racers) racer.child.stdin?.end();
  });
});
