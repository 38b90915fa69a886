import { randomBytes } from 'node:crypto';
import { chmod, mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { QemuDriver } from '../src/drivers/qemu/qemu-driver.js';
import { loadConfig } from '../src/server/config.js';
import { startKumo, type RunningKumo } from '../src/server/kumo-server.js';

/**
 * End-to-end QEMU benchmark through the native API (KUMO_DRIVER=qemu, TCG): POST → RUNNING latency for one guest at a
 * time and for five at once, Kumo's own overhead on top of the driver's boot, and memory per guest.
 *
 * RUNNING is observed as a client would, on the project's server-sent event stream (no polling granularity). For each
 * instance, in the same run:
 * - `total`     POST sent → the `instance.updated` event with lifecycle RUNNING received;
 * - `boot`      the driver's boot timeline (boot.json: tap, spawn, QMP, then the guest's ready line seen on the serial
 *               console), i.e. what QEMU and the guest take plus the driver's own launch work;
 * - `overhead`  total − boot: the API, the create transaction, the controller's wake-up and lease, disk and seed
 *               preparation, the observation write and the event delivery — Kumo's cost on top of the boot;
 * - `before`    POST → the driver launching QEMU, split into the API's 202, the controller picking the instance up
 *               (202 → the driver's create making the guest directory) and the driver's disk and NoCloud seed;
 * - `after`     the ready line seen by the driver → RUNNING received;
 * - `detect`    the serial log's last write (≈ the ready line) → the driver seeing it (its 100 ms serial poll).
 * Memory: PSS of each QEMU process at RUNNING (/proc/<pid>/smaps_rollup).
 *
 * Kumo runs in this process on the embedded PostgreSQL of a temporary data directory (or DATABASE_URL). Guests use the
 * seed network 10.0.0.0/20 on the driver's bridge; everything made is removed at the end.
 * Usage: node dist/bench/qemu-api-bench.js [--rounds N] [--concurrent-rounds M]
 */
const REGION = 'us-texas-1';
const PROJECT = 'project-x9y8z7';
const INSTANCES = `/v1/regions/${REGION}/projects/${PROJECT}/compute/instances`;
const PUBLIC_KEY = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGnhYl4Xg3cFmUZ0n6WJ8eXyoRpjNQ0dMdsc3zJYKuZ2 bench@kumo';

function argument(name: string, fallback: number): number {
  const index = process.argv.indexOf(name);
  return index >= 0 ? Number(process.argv[index + 1]) : fallback;
}

interface Sample {
  totalMs: number;
  acceptMs: number;
  bootMs: number;
  overheadMs: number;
  beforeMs: number;
  pickupMs: number;
  prepMs: number;
  afterMs: number;
  detectMs: number | null;
  pssKb: number;
}

interface BootRecord {
  pid: number;
  startedAt: number;
  timeline: Array<{ step: string; elapsedMs: number }>;
}

/** Instance RUNNING arrivals from the project's SSE stream, by instance name (epoch ms). */
class RunningWatcher {
  private readonly arrivals = new Map<string, number>();
  private readonly waiters = new Map<string, (at: number) => void>();
  private readonly abort = new AbortController();

  static async open(url: string, token: string): Promise<RunningWatcher> {
    const watcher = new RunningWatcher();
    const response = await fetch(`${url}/v1/regions/${REGION}/projects/${PROJECT}/events`, {
      headers: { authorization: `Bearer ${token}`, accept: 'text/event-stream' },
      signal: watcher.abort.signal,
    });
    if (!response.ok || !response.body) throw new Error(`event stream: HTTP ${response.status}`);
    void watcher.read(response.body);
    return watcher;
  }

  running(name: string, timeoutMs: number): Promise<number> {
    const seen = this.arrivals.get(name);
    if (seen !== undefined) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${name} not RUNNING within ${timeoutMs} ms`)), timeoutMs);
      this.waiters.set(name, (at) => {
        clearTimeout(timer);
        resolve(at);
      });
    });
  }

  close(): void {
    this.abort.abort();
  }

  private async read(body: ReadableStream<Uint8Array>): Promise<void> {
    const decoder = new TextDecoder();
    let buffer = '';
    try {
      for await (const chunk of body) {
        const at = Date.now();
        buffer += decoder.decode(chunk, { stream: true });
        let end: number;
        while ((end = buffer.indexOf('\n\n')) >= 0) {
          const event = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const data = event.split('\n').filter((line) => line.startsWith('data:')).map((line) => line.slice(5)).join('\n');
          if (!/^event: ?instance\./m.test(event) || !data) continue;
          const view = JSON.parse(data) as { id?: string; lifecycle?: { status?: string } };
          if (view.id && view.lifecycle?.status === 'RUNNING' && !this.arrivals.has(view.id)) {
            this.arrivals.set(view.id, at);
            this.waiters.get(view.id)?.(at);
          }
        }
      }
    } catch {
      /* closed */
    }
  }
}

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))] ?? Number.NaN;
}

async function pssKb(pid: number): Promise<number> {
  const rollup = await readFile(`/proc/${pid}/smaps_rollup`, 'utf8');
  return Number(/^Pss:\s+(\d+) kB/m.exec(rollup)?.[1] ?? Number.NaN);
}

async function main(): Promise<void> {
  const rounds = argument('--rounds', 5);
  const concurrentRounds = argument('--concurrent-rounds', 2);
  const dataDir = await mkdtemp(join(tmpdir(), 'kumo-qemu-api-bench-'));
  await chmod(dataDir, 0o755); // the embedded PostgreSQL runs as its own user when Kumo runs as root
  const token = `bench-${randomBytes(12).toString('hex')}`;
  const config = loadConfig({
    ...process.env,
    KUMO_DRIVER: 'qemu',
    KUMO_DATA_DIR: dataDir,
    KUMO_PORT: '0',
    KUMO_HOST: '127.0.0.1',
    KUMO_ADMIN_TOKEN: token,
    KUMO_RATE_LIMIT: '100000',
    KUMO_RATE_BURST: '100000',
  });
  let kumo: RunningKumo | undefined;
  let watcher: RunningWatcher | undefined;
  const guestsDir = join(dataDir, 'qemu', 'guests');
  let counter = 0;

  const api = async (method: string, path: string, body?: unknown): Promise<Response> =>
    fetch(`${kumo!.url}${path}`, {
      method,
      headers: { authorization: `Bearer ${token}`, ...(body ? { 'content-type': 'application/json' } : {}) },
      ...(body ? { body: JSON.stringify(body) } : {}),
    });

  const createOne = async (): Promise<Sample & { name: string }> => {
    const name = `bench-${suffix}-${counter++}`;
    const posted = Date.now();
    const response = await api('POST', INSTANCES, {
      type: `/v1/regions/${REGION}/zones/us1-a/instance-types/g1-small`,
      id: name,
      instanceMetadata: [{ key: 'ssh-keys', value: `root:${PUBLIC_KEY}` }],
      disks: [{ sizeGb: 2, boot: true, source: `/v1/regions/${REGION}/compute/images/debian-12` }],
    });
    const accepted = Date.now();
    const view = (await response.json()) as { uid: string; lifecycle: { status: string } };
    if (response.status !== 202) throw new Error(`create: ${response.status} ${JSON.stringify(view)}`);
    const running = await watcher!.running(name, 180_000);
    const guestDir = join(guestsDir, view.uid);
    const boot = JSON.parse(await readFile(join(guestDir, 'boot.json'), 'utf8')) as BootRecord;
    const serialWritten = (await stat(join(guestDir, 'console.log'))).mtimeMs;
    // The guest directory is made when the driver's create begins; guest.json is written when disk and seed are done.
    const createBegan = (await stat(guestDir)).birthtimeMs;
    const prepared = (await stat(join(guestDir, 'guest.json'))).mtimeMs;
    const pss = await pssKb(boot.pid);
    const ready = boot.timeline.find((mark) => mark.step === 'ready')?.elapsedMs ?? Number.NaN;
    const readySeen = boot.startedAt + ready;
    const totalMs = running - posted;
    return {
      name,
      totalMs,
      acceptMs: accepted - posted,
      bootMs: ready,
      overheadMs: totalMs - ready,
      beforeMs: boot.startedAt - posted,
      pickupMs: createBegan - accepted,
      prepMs: prepared - createBegan,
      afterMs: running - readySeen,
      detectMs: serialWritten <= readySeen ? readySeen - serialWritten : null,
      pssKb: pss,
    };
  };

  const deleteAll = async (names: string[]): Promise<void> => {
    for (const name of names) await api('DELETE', `${INSTANCES}/${name}`);
    const deadline = Date.now() + 60_000;
    for (const name of names) {
      while ((await api('GET', `${INSTANCES}/${name}`)).status !== 404 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    }
  };

  const suffix = randomBytes(2).toString('hex');
  const results: Record<string, Sample[]> = { '1 guest': [], '5 concurrent': [] };
  try {
    const started = Date.now();
    kumo = await startKumo(config, { principalCacheMs: 60_000 });
    process.stdout.write(`Kumo (QEMU driver, ${config.qemuAccel}) started in ${Date.now() - started} ms; ${config.databaseUrl ? 'DATABASE_URL' : 'embedded PostgreSQL'}\n`);
    watcher = await RunningWatcher.open(kumo.url, token);
    // One warm-up guest: the first boot pays for page-cache misses on the kernel and initramfs.
    const warm = await createOne();
    await deleteAll([warm.name]);
    for (let round = 0; round < rounds; round++) {
      const sample = await createOne();
      results['1 guest']!.push(sample);
      await deleteAll([sample.name]);
    }
    for (let round = 0; round < concurrentRounds; round++) {
      const samples = await Promise.all(Array.from({ length: 5 }, () => createOne()));
      results['5 concurrent']!.push(...samples);
      await deleteAll(samples.map((sample) => sample.name));
    }
    printTable(results, rounds, concurrentRounds);
  } finally {
    watcher?.close();
    await kumo?.stop();
    const driver = new QemuDriver({ stateDir: join(dataDir, 'qemu') });
    for (const guest of await driver.list()) await driver.destroy(guest.id).catch(() => undefined);
    await driver.close();
    await driver.network.teardown();
    await rm(dataDir, { recursive: true, force: true });
  }
}

function printTable(results: Record<string, Sample[]>, rounds: number, concurrentRounds: number): void {
  const columns: Array<[string, (sample: Sample) => number | null]> = [
    ['POST→RUNNING', (s) => s.totalMs],
    ['driver boot', (s) => s.bootMs],
    ['Kumo overhead', (s) => s.overheadMs],
    ['  POST→QEMU launch', (s) => s.beforeMs],
    ['    POST→202', (s) => s.acceptMs],
    ['    202→driver create', (s) => s.pickupMs],
    ['    disk + seed', (s) => s.prepMs],
    ['  ready→RUNNING', (s) => s.afterMs],
    ['  (in boot) ready detect', (s) => s.detectMs],
  ];
  const lines = [
    `QEMU through the native API: TCG, g1-small (1 vCPU), busybox guest; ${rounds} single rounds, ${concurrentRounds}×5 concurrent; ms`,
    '',
    `${'metric'.padEnd(26)}${Object.keys(results).map((key) => `${key} p50`.padStart(18) + `${key} p95`.padStart(18)).join('')}`,
  ];
  for (const [label, pick] of columns) {
    let line = label.padEnd(26);
    for (const samples of Object.values(results)) {
      const values = samples.map(pick).filter((value): value is number => value !== null && Number.isFinite(value));
      line += (values.length ? String(Math.round(percentile(values, 50))) : '-').padStart(18);
      line += (values.length ? String(Math.round(percentile(values, 95))) : '-').padStart(18);
    }
    lines.push(line);
  }
  let memory = 'PSS per guest (MB)'.padEnd(26);
  for (const samples of Object.values(results)) {
    const pss = samples.map((sample) => sample.pssKb / 1024);
    memory += (pss.length ? (pss.reduce((a, b) => a + b, 0) / pss.length).toFixed(0) : '-').padStart(18) + `(mean, n=${pss.length})`.padStart(18);
  }
  lines.push(memory);
  process.stdout.write(`${lines.join('\n')}\n`);
}

await main();
