/**
 * `npm run bench`: creates instances through the native API of a `kumo server` child process (simulated hosts, zero
 * boot delay), first on the embedded PostgreSQL, then on the machine's PostgreSQL (DATABASE_URL, default
 * postgresql://postgres@127.0.0.1:5432/postgres), and prints creates/s, POST p50/p99, POST→RUNNING p50/p99, list-page
 * p99 at the filled size, and idle RSS of Kumo and of its PostgreSQL.
 *
 * Options: --instances N (measured creates, default 5000) --warmup W (creates before them, default 4000)
 * --concurrency C (default 8) --fill T (instances in the
 * project before the list measurement, default 100000) --only embedded|external --no-idle (skips the idle waits and
 * the memory figures, for quick comparisons). Unless --only embedded, it first
 * measures the machine's ceiling for a create-shaped transaction with pgbench (bench/transaction-ceiling.ts) and reports
 * creates/s as a ratio of it, since absolute figures move between machines and runs.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cpuMsOf, descendants, memoryOf, percentile, startKumoProcess, waitForQuietMachine } from './bench-support.js';
import { createScratchDatabase } from '../test/support/test-database.js';
import pg from 'pg';
import { HttpLoad, openEventStream } from './http-load.js';
import { measureTransactionCeiling, type Ceiling } from './transaction-ceiling.js';

const args = process.argv.slice(2);
const arg = (name: string, fallback: string) => {
  const index = args.indexOf(`--${name}`);
  return index >= 0 && args[index + 1] ? args[index + 1]! : fallback;
};
const MEASURED = Number(arg('instances', '5000'));
const CONCURRENCY = Number(arg('concurrency', '8'));
const FILL = Number(arg('fill', '100000'));
const ONLY = arg('only', 'both');
const IDLE = !args.includes('--no-idle');
// Creates before the measured ones. A server that has run a while has its hot paths compiled by V8's optimising
// tier; after only 300 creates it had not (in one session, Kumo's CPU per create was 2.17 ms after 300 warm-up
// creates and 1.36 ms after 4,000, with V8's compiler threads busy throughout the shorter run).
const WARMUP = Number(arg('warmup', '4000'));
const EXTERNAL_URL = process.env.DATABASE_URL ?? 'postgresql://postgres@127.0.0.1:5432/postgres';

const PROJECT = 'bench';
const BASE = `/v1/regions/us-texas-1/projects/${PROJECT}`;

interface Figures {
  target: string;
  createsPerSecond: number;
  postP50: number;
  postP99: number;
  runningP50: number;
  runningP99: number;
  runningSeen: number;
  kumoCpuMsPerCreate: number;
  postgresCpuMsPerCreate: number | null;
  clientCpuMsPerCreate: number;
  fillPerSecond: number;
  busyListP50: number;
  busyListP99: number;
  /** null: not quiet within the wait. */
  quietAfterSeconds: number | null;
  listP50: number;
  listP99: number;
  filteredListP99: number;
  kumoStartRssMb: number;
  /** The highest and the lowest of the samples over one sweep cycle. */
  kumoRssMb: number;
  kumoLowestRssMb: number;
  kumoHeapUsedMb: number;
  postgresRssMb: number | null;
  postgresPssMb: number | null;
  errors: number;
}

function createBody(name: string, i: number) {
  return {
    id: name,
    type: '/v1/regions/us-texas-1/zones/us1-a/instance-types/S-1C',
    labels: { tier: i % 10 === 0 ? 'db' : 'web', shard: String(i % 16) },
    disks: [{ boot: true, source: '/v1/regions/us-texas-1/compute/images/ubuntu-24.04-20260202-3', sizeGb: 10 }],
  };
}

/** Walks 300 pages of 100 through the page tokens; returns each page's latency. */
async function listPages(client: HttpLoad): Promise<number[]> {
  const latencies: number[] = [];
  let token = '';
  for (let i = 0; i < 300; i++) {
    const t0 = performance.now();
    const res = await client.request('GET', `${BASE}/compute/instances?pageSize=100${token ? `&pageToken=${encodeURIComponent(token)}` : ''}`);
    latencies.push(performance.now() - t0);
    token = (JSON.parse(res.body) as { nextPageToken?: string }).nextPageToken ?? '';
  }
  return latencies;
}

/** Runs `count` creates with `concurrency` workers; returns per-request latencies and the wall time. */
async function createMany(client: HttpLoad, prefix: string, count: number, concurrency: number, sent?: Map<string, number>) {
  const latencies: number[] = [];
  let next = 0;
  let errors = 0;
  let firstError = '';
  const started = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < count) {
        const i = next++;
        const name = `${prefix}-${i}`;
        const t0 = performance.now();
        sent?.set(name, t0);
        const res = await client.request('POST', `${BASE}/compute/instances`, createBody(name, i));
        latencies.push(performance.now() - t0);
        if (res.status !== 202) {
          errors++;
          firstError ||= `${res.status} ${res.body.slice(0, 300)}`;
        }
      }
    }),
  );
  if (firstError) console.error(`  first error: ${firstError}`);
  return { latencies, seconds: (performance.now() - started) / 1000, errors };
}

/** The embedded server: its postmaster and every process under it. */
function embeddedPostgresPids(dataDir: string): number[] {
  const postmaster = Number(readFileSync(join(dataDir, 'postgres', 'postmaster.pid'), 'utf8').split('\n')[0]);
  return [postmaster, ...descendants(postmaster)];
}

/**
 * The external server's processes that work for this run: the backends connected to the scratch database and the
 * server's own background processes (WAL writer, checkpointer, autovacuum), which serve every database on it.
 */
async function externalPostgresPids(databaseUrl: string): Promise<number[]> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    const { rows } = await client.query<{ pid: number }>(
      'SELECT pid FROM pg_stat_activity WHERE (datname = current_database() OR datname IS NULL) AND pid <> pg_backend_pid()',
    );
    return rows.map((row) => row.pid);
  } finally {
    await client.end();
  }
}

async function run(target: 'embedded' | 'external'): Promise<Figures> {
  const dataDir = mkdtempSync(join(tmpdir(), 'kumo-bench-'));
  const adminToken = `bench-${randomBytes(12).toString('hex')}`;
  const database = target === 'external' ? await createScratchDatabase(EXTERNAL_URL, 'kumo_bench') : null;
  const databaseUrl = database?.databaseUrl ?? null;
  const kumo = await startKumoProcess({
    KUMO_DATA_DIR: dataDir,
    KUMO_ADMIN_TOKEN: adminToken,
    KUMO_SIMULATED_HOSTS: 'us1-a=3',
    KUMO_SIM_HOST_VCPUS: '100000',
    KUMO_SIM_HOST_RAM_MB: '100000000',
    KUMO_SIM_HOST_DISK_GB: '10000000',
    KUMO_RATE_LIMIT: '1000000',
    KUMO_RATE_BURST: '1000000',
    ...(databaseUrl ? { DATABASE_URL: databaseUrl } : {}),
  });
  const client = new HttpLoad(kumo.url, adminToken, Math.max(CONCURRENCY, 16) + 4);
  try {
    const setup = async (method: string, path: string, body: unknown) => {
      const res = await client.request(method, path, body);
      if (res.status >= 300) throw new Error(`${method} ${path}: ${res.status} ${res.body}`);
      return res.body ? JSON.parse(res.body) : null;
    };
    await setup('POST', '/v1/admin/teams', { name: 'bench' });
    await setup('POST', '/v1/admin/projects', {
      id: PROJECT,
      team: 'bench',
      quota: { instances: 1_000_000, vcpus: 10_000_000, ramMb: 1_000_000_000, publicIps: 0 },
    });
    await setup('PUT', '/v1/admin/catalog', {
      networks: [{ id: 'bench-net', regionId: 'us-texas-1', projectId: PROJECT, subnets: [{ id: 'bench-subnet', cidr: '10.64.0.0/12' }] }],
    });

    // Idle after start-up and the setup calls, before any load: long enough for the idle heap trimmer's first quiet
    // interval and for the pages it frees to go back to the system.
    if (IDLE) await new Promise((resolve) => setTimeout(resolve, 25000));
    const kumoStart = IDLE ? memoryOf(kumo.child.pid!) : { rssMb: Number.NaN, pssMb: Number.NaN };

    const sent = new Map<string, number>();
    const running = new Map<string, number>();
    const closeStream = await openEventStream(`${kumo.url}${BASE}/events`, adminToken, (event) => {
      // Parsed only when it can be the RUNNING one: the load generator shares the two cores with the server.
      if (event.type !== 'instance.updated' || !event.data.includes('"RUNNING"')) return;
      const view = JSON.parse(event.data) as { id: string; lifecycle: { status: string } };
      if (view.lifecycle.status === 'RUNNING' && !running.has(view.id)) running.set(view.id, performance.now());
    });

    console.log(`[${target}] warm-up`);
    await createMany(client, 'warm', WARMUP, CONCURRENCY);
    await new Promise((resolve) => setTimeout(resolve, 1000));

    console.log(`[${target}] ${MEASURED} creates at concurrency ${CONCURRENCY}`);
    // CPU over the measured creates until the last one is seen RUNNING: the machine is shared and its speed varies,
    // and CPU per create says where the cost is whatever the throughput of this run.
    const postgresPids = target === 'embedded' ? embeddedPostgresPids(dataDir) : await externalPostgresPids(database!.databaseUrl);
    const cpuBefore = { kumo: cpuMsOf([kumo.child.pid!]), postgres: cpuMsOf(postgresPids), client: process.cpuUsage() };
    const measured = await createMany(client, 'm', MEASURED, CONCURRENCY, sent);
    const waitUntil = performance.now() + 60_000;
    while (performance.now() < waitUntil && [...sent.keys()].some((name) => !running.has(name))) {
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    const clientCpu = process.cpuUsage(cpuBefore.client);
    const cpu = {
      kumo: (cpuMsOf([kumo.child.pid!]) - cpuBefore.kumo) / MEASURED,
      postgres: (cpuMsOf(postgresPids) - cpuBefore.postgres) / MEASURED,
      client: (clientCpu.user + clientCpu.system) / 1000 / MEASURED,
    };
    closeStream();
    const toRunning = [...sent].flatMap(([name, t0]) => (running.has(name) ? [running.get(name)! - t0] : []));

    const remaining = Math.max(0, FILL - MEASURED - WARMUP);
    console.log(`[${target}] filling the project with ${remaining} more instances`);
    const fill = await createMany(client, 'f', remaining, 16);

    console.log(`[${target}] list pages of 100, right after the fill`);
    const busyList = await listPages(client);
    // Right after 91,000 creates in a minute or two, autovacuum is still working through what the fill wrote, and
    // those pages compete with it for the two cores: measured both then and once the machine is quiet, which is what
    // a list at this size costs by itself.
    const settled = await waitForQuietMachine(90_000);
    console.log(`[${target}] list pages of 100, once the machine is quiet (${settled.quiet ? '' : 'not quiet after '}${(settled.waitedMs / 1000).toFixed(0)} s)`);
    const quietList = await listPages(client);
    const filtered: number[] = [];
    for (let i = 0; i < 100; i++) {
      const t0 = performance.now();
      await client.request('GET', `${BASE}/compute/instances?pageSize=100&labelSelector=${encodeURIComponent(`tier=db,shard=${i % 16}`)}`);
      filtered.push(performance.now() - t0);
    }

    // Long enough for Kumo's idle heap trimmer (5 s intervals) to see a quiet interval after the load, collect, and
    // for the freed pages to go back to the system (that takes V8 some seconds more). Then sampled once a second for
    // one whole cycle of the agents' 30 s status sweeps, and the highest sample reported: a single sample landed on
    // or between sweeps by chance (120 and 146 MB at 100,000 instances, in one run).
    console.log(`[${target}] idle memory`);
    let kumoRssMb = Number.NaN;
    let kumoLowestRssMb = Number.NaN;
    if (IDLE) {
      await new Promise((resolve) => setTimeout(resolve, 30000));
      const samples: number[] = [];
      for (let second = 0; second < 31; second++) {
        samples.push(memoryOf(kumo.child.pid!).rssMb);
        await new Promise((resolve) => setTimeout(resolve, 1000));
      }
      kumoRssMb = Math.max(...samples);
      kumoLowestRssMb = Math.min(...samples);
    }
    const scraped = (await client.request('GET', '/metrics')).body;
    const kumoHeapUsedMb = Number(/^nodejs_heap_size_used_bytes (\d+)$/m.exec(scraped)?.[1] ?? Number.NaN) / 1024 / 1024;
    let postgresRssMb: number | null = null;
    let postgresPssMb: number | null = null;
    if (target === 'embedded' && IDLE) {
      const memories = embeddedPostgresPids(dataDir).map((pid) => {
        try {
          return memoryOf(pid);
        } catch {
          return { rssMb: 0, pssMb: 0 };
        }
      });
      postgresRssMb = memories.reduce((sum, m) => sum + m.rssMb, 0);
      postgresPssMb = memories.reduce((sum, m) => sum + m.pssMb, 0);
    }
    return {
      target,
      createsPerSecond: MEASURED / measured.seconds,
      postP50: percentile(measured.latencies, 50),
      postP99: percentile(measured.latencies, 99),
      runningP50: percentile(toRunning, 50),
      runningP99: percentile(toRunning, 99),
      runningSeen: toRunning.length,
      kumoCpuMsPerCreate: cpu.kumo,
      postgresCpuMsPerCreate: cpu.postgres,
      clientCpuMsPerCreate: cpu.client,
      fillPerSecond: remaining / Math.max(fill.seconds, 0.001),
      busyListP50: percentile(busyList, 50),
      busyListP99: percentile(busyList, 99),
      quietAfterSeconds: settled.quiet ? settled.waitedMs / 1000 : null,
      listP50: percentile(quietList, 50),
      listP99: percentile(quietList, 99),
      filteredListP99: percentile(filtered, 99),
      kumoStartRssMb: kumoStart.rssMb,
      kumoRssMb,
      kumoLowestRssMb,
      kumoHeapUsedMb,
      postgresRssMb,
      postgresPssMb,
      errors: measured.errors + fill.errors,
    };
  } finally {
    client.close();
    await kumo.stop();
    rmSync(dataDir, { recursive: true, force: true });
    await database?.drop();
  }
}

// The machine's own ceiling first, on the external server, while nothing else runs.
let ceiling: Ceiling = { transactionsPerSecond: null, missing: 'not measured with --only embedded' };
if (ONLY !== 'embedded') {
  console.log(`[ceiling] pgbench, create-shaped transaction, ${CONCURRENCY} clients, 15 s`);
  ceiling = await measureTransactionCeiling(EXTERNAL_URL, CONCURRENCY, 15);
}

const results: Figures[] = [];
if (ONLY !== 'external') results.push(await run('embedded'));
if (ONLY !== 'embedded') results.push(await run('external'));

const f = (n: number | null, digits = 1) => (n === null || Number.isNaN(n) ? 'n/a' : n.toFixed(digits));
console.log('\n| figure | target | ' + results.map((r) => r.target).join(' | ') + ' |');
console.log('|---|---|' + results.map(() => '---').join('|') + '|');
const rows: Array<[string, string, (r: Figures) => string]> = [
  [`creates/s accepted (c=${CONCURRENCY}, n=${MEASURED})`, '≥ 1000', (r) => f(r.createsPerSecond, 0)],
  [
    'creates/s ÷ pgbench ceiling of the same run',
    '',
    (r) => (ceiling.transactionsPerSecond ? f(r.createsPerSecond / ceiling.transactionsPerSecond, 2) : 'n/a'),
  ],
  ['POST p50 ms', '', (r) => f(r.postP50, 2)],
  ['POST p99 ms', '≤ 10', (r) => f(r.postP99, 2)],
  ['POST→RUNNING p50 ms', '', (r) => f(r.runningP50, 2)],
  ['POST→RUNNING p99 ms', '≤ 50', (r) => f(r.runningP99, 2)],
  ['CPU ms per create, Kumo', '', (r) => f(r.kumoCpuMsPerCreate, 2)],
  ['CPU ms per create, PostgreSQL', '', (r) => f(r.postgresCpuMsPerCreate, 2)],
  ['CPU ms per create, bench client', '', (r) => f(r.clientCpuMsPerCreate, 2)],
  ['instances seen RUNNING', `${MEASURED}`, (r) => String(r.runningSeen)],
  ['fill creates/s (c=16)', '', (r) => f(r.fillPerSecond, 0)],
  [`list page of 100 p50 ms at ${FILL}, right after the fill`, '', (r) => f(r.busyListP50, 2)],
  [`list page of 100 p99 ms at ${FILL}, right after the fill`, '', (r) => f(r.busyListP99, 2)],
  ['seconds until the machine was quiet (CPU < 10% for 1 s)', '', (r) => f(r.quietAfterSeconds, 0)],
  [`list page of 100 p50 ms at ${FILL}, quiet`, '', (r) => f(r.listP50, 2)],
  [`list page of 100 p99 ms at ${FILL}, quiet`, '≤ 20', (r) => f(r.listP99, 2)],
  ['label-selector page p99 ms', '', (r) => f(r.filteredListP99, 2)],
  ['idle RSS Kumo MB, fresh (before any load)', '≤ 120', (r) => f(r.kumoStartRssMb)],
  [`idle RSS Kumo MB, after the load (${FILL} instances), highest over 30 s`, '≤ 120', (r) => f(r.kumoRssMb)],
  ['  … lowest over the same 30 s', '', (r) => f(r.kumoLowestRssMb)],
  ['idle JS heap used by Kumo MB, after the load (/metrics)', '', (r) => f(r.kumoHeapUsedMb)],
  ['idle RSS PostgreSQL MB (all processes)', '', (r) => f(r.postgresRssMb)],
  ['idle PSS PostgreSQL MB (all processes)', '', (r) => f(r.postgresPssMb)],
  ['errors', '0', (r) => String(r.errors)],
];
for (const [name, goal, value] of rows) console.log(`| ${name} | ${goal} | ${results.map(value).join(' | ')} |`);
console.log(
  ceiling.transactionsPerSecond
    ? `\npgbench ceiling (create-shaped transaction, c=${CONCURRENCY}, external server): ${f(ceiling.transactionsPerSecond, 0)} tx/s`
    : `\npgbench ceiling: n/a (${ceiling.missing})`,
);
if (results.length === 2) {
  console.log(`\nexternal/embedded ratios (same run): creates/s ${f(results[1]!.createsPerSecond / results[0]!.createsPerSecond, 2)}, POST p99 ${f(results[1]!.postP99 / results[0]!.postP99, 2)}`);
}
