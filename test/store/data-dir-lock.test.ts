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
  // With --start-on-go, wait for a line on stdin first, so that racers start at once rather than as they boot.
  'if (process.argv[2] === "--start-on-go") { console.log("ready"); await new Promise((go) => process.stdin.once("data", go)); }\n' +
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
 * the lock if it got it) until its stdin closes. With `startOnGo`, it first prints `ready` and waits for `go()`.
 */
function contender(
  dataDir: string,
  options: { startOnGo?: boolean } = {},
): { child: ChildProcess; ready: Promise<void>; go(): void; outcome: Promise<string> } {
  const args = ['--input-type=module', '--eval', CONTENDER_SCRIPT, dataDir, ...(options.startOnGo ? ['--start-on-go'] : [])];
  const child = spawn(process.execPath, args, { stdio: ['pipe', 'pipe', 'inherit'] });
  children.push(child);
  const lines = (async function* () {
    let output = '';
    for await (const chunk of child.stdout as AsyncIterable<Buffer>) {
      output += chunk.toString('utf8');
      let newline;
      while ((newline = output.indexOf('\n')) >= 0) {
        yield output.slice(0, newline).trim();
        output = output.slice(newline + 1);
      }
    }
  })();
  const ready = options.startOnGo ? lines.next().then(() => undefined) : Promise.resolve();
  const outcome = ready.then(async () => (await lines.next()).value ?? '');
  return { child, ready, go: () => child.stdin?.write('go\n'), outcome };
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
    // Several rounds: a racer that read the stale lock just before another replaced it used to remove the fresh
    // lock, and a third racer then took the directory too (two winners in about one round of six).
    for (let round = 0; round < 5; round++) {
      const dataDir = await dataDirForTest();
      await writeLock(dataDir, { pid: 0, startTime: 'stale' });
      const racers = Array.from({ length: 8 }, () => contender(dataDir, { startOnGo: true }));
      await Promise.all(racers.map((racer) => racer.ready));
      for (const racer of racers) racer.go();
      const outcomes = await Promise.all(racers.map((racer) => racer.outcome));
      assert.equal(outcomes.filter((outcome) => outcome === 'locked').length, 1, `round ${round}:\n${outcomes.join('\n')}`);
      for (const outcome of outcomes.filter((o) => o !== 'locked')) {
        assert.match(outcome, /is in use by another Kumo process \(pid \d+\)/);
      }
      for (const racer of racers) racer.child.stdin?.end();
    }
  });
});
