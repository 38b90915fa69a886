/**
 * Helpers of the core end-to-end tests: a native API client over a real port, projects provisioned through the admin
 * API, `kumo server` as a child process, and the store invariants checked straight in PostgreSQL.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { freePort } from '../support/free-port.js';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';

export const REGION = 'us-texas-1';
export const DEFAULT_PROJECT = 'project-x9y8z7';
export const IMAGE = `/v1/regions/${REGION}/compute/images/ubuntu-24.04-20260202-3`;
/** The owner of the gateway rows in `ip_addresses`. */
export const GATEWAY_OWNER = '00000000-0000-0000-0000-000000000000';

export function instancesPath(project: string): string {
  return `/v1/regions/${REGION}/projects/${project}/compute/instances`;
}

export function typeUri(type: string, zone = 'us1-a'): string {
  return `/v1/regions/${REGION}/zones/${zone}/instance-types/${type}`;
}

export function networkUri(project: string, network: string): string {
  return `/v1/regions/${REGION}/projects/${project}/compute/networks/${network}`;
}

export interface InstanceView {
  id: string;
  uid: string;
  lifecycle: { status: string; statusMessage: string };
  nics: Array<{ ipv4Address: string; network: string }>;
  operationId?: string;
}

export interface OperationView {
  id: string;
  kind: string;
  targetUid: string;
  status: 'PENDING' | 'RUNNING' | 'DONE' | 'FAILED';
  error: { code: string; message: string } | null;
  steps: Array<{ name: string; status: string; at: string; message?: string }>;
}

export interface ErrorBody {
  error: { code: string; status: number; message: string; requestId: string; info?: Record<string, unknown> };
}

export interface ApiResponse<T> {
  status: number;
  body: T;
  headers: Headers;
}

/** A create body for the native API: a boot disk of `sizeGb` from the seed's Ubuntu image, optionally one NIC. */
export function instanceBody(options: { name: string; type?: string; zone?: string; sizeGb?: number; network?: string }): Record<string, unknown> {
  return {
    type: typeUri(options.type ?? 'g1-small', options.zone),
    id: options.name,
    disks: [{ sizeGb: options.sizeGb ?? 20, boot: true, source: IMAGE }],
    ...(options.network ? { nics: [{ network: options.network }] } : {}),
  };
}

/** A native API client over fetch with one bearer token. */
export class KumoApi {
  constructor(
    readonly baseUrl: string,
    readonly token: string,
  ) {}

  withToken(token: string): KumoApi {
    return new KumoApi(this.baseUrl, token);
  }

  async request<T = Record<string, unknown>>(method: string, path: string, body?: unknown): Promise<ApiResponse<T>> {
    const headers: Record<string, string> = { authorization: `Bearer ${this.token}` };
    if (body !== undefined) headers['content-type'] = 'application/json';
    const response = await fetch(`${this.baseUrl}${path}`, { method, headers, ...(body !== undefined ? { body: JSON.stringify(body) } : {}) });
    const text = await response.text();
    return { status: response.status, body: (text ? JSON.parse(text) : null) as T, headers: response.headers };
  }

  create(project: string, body: Record<string, unknown>): Promise<ApiResponse<InstanceView & ErrorBody>> {
    return this.request('POST', instancesPath(project), body);
  }

  get(project: string, name: string): Promise<ApiResponse<InstanceView & ErrorBody>> {
    return this.request('GET', `${instancesPath(project)}/${name}`);
  }

  delete(project: string, name: string): Promise<ApiResponse<OperationView & ErrorBody>> {
    return this.request('DELETE', `${instancesPath(project)}/${name}`);
  }

  action(project: string, name: string, action: string, body: unknown = {}): Promise<ApiResponse<OperationView & ErrorBody>> {
    return this.request('POST', `${instancesPath(project)}/${name}:${action}`, body);
  }

  async operations(project: string, name: string): Promise<OperationView[]> {
    const response = await this.request<{ items: OperationView[] }>('GET', `${instancesPath(project)}/${name}/operations`);
    assert.equal(response.status, 200, JSON.stringify(response.body));
    return response.body.items;
  }

  async console(project: string, name: string): Promise<string> {
    const response = await this.request<{ contents: string }>('GET', `${instancesPath(project)}/${name}/console?lines=10000`);
    assert.equal(response.status, 200, JSON.stringify(response.body));
    return response.body.contents;
  }

  /** Every live instance of the project, all pages. */
  async list(project: string): Promise<InstanceView[]> {
    const items: InstanceView[] = [];
    let token: string | undefined;
    do {
      const query = `?pageSize=500${token ? `&pageToken=${encodeURIComponent(token)}` : ''}`;
      const response = await this.request<{ items: InstanceView[]; nextPageToken?: string }>('GET', `${instancesPath(project)}${query}`);
      assert.equal(response.status, 200, JSON.stringify(response.body));
      items.push(...response.body.items);
      token = response.body.nextPageToken;
    } while (token);
    return items;
  }

  /** Polls until the instance's lifecycle status is `status` (or it is gone, for `GONE`). */
  async waitForStatus(project: string, name: string, status: string, timeoutMs = 20_000): Promise<InstanceView | null> {
    const deadline = Date.now() + timeoutMs;
    let last = '';
    while (Date.now() < deadline) {
      const response = await this.get(project, name);
      if (response.status === 404 && status === 'GONE') return null;
      if (response.status === 200) {
        last = response.body.lifecycle.status;
        if (last === status) return response.body;
      }
      await sleep(50);
    }
    throw new Error(`instance ${name} stayed ${last || 'absent'}, never ${status}`);
  }
}

/** Asserts the native error envelope and returns its `error` member. */
export function assertError(response: ApiResponse<unknown>, status: number, code: string): ErrorBody['error'] {
  assert.equal(response.status, status, JSON.stringify(response.body));
  const { error } = response.body as ErrorBody;
  assert.equal(error.code, code, JSON.stringify(response.body));
  assert.equal(error.status, status);
  return error;
}

/**
 * A new team, a project in it with `quota`, a member key, and (when `network` is given) a private network of the
 * project in us-texas-1 — all through the admin API.
 */
export async function provisionProject(
  admin: KumoApi,
  options: { projectId: string; quota?: Partial<Record<'instances' | 'vcpus' | 'ramMb' | 'publicIps', number>>; network?: { id: string; cidr: string } },
): Promise<{ teamId: string; api: KumoApi; network: string | null }> {
  const team = await admin.request<{ id: string }>('POST', '/v1/admin/teams', { name: `team-${options.projectId}` });
  assert.equal(team.status, 201, JSON.stringify(team.body));
  const project = await admin.request('POST', '/v1/admin/projects', {
    id: options.projectId,
    team: team.body.id,
    ...(options.quota ? { quota: options.quota } : {}),
  });
  assert.equal(project.status, 201, JSON.stringify(project.body));
  const key = await admin.request<{ token: string }>('POST', '/v1/admin/api-keys', { name: `key-${options.projectId}`, projectId: options.projectId, role: 'member' });
  assert.equal(key.status, 201, JSON.stringify(key.body));
  let network: string | null = null;
  if (options.network) {
    const catalog = await admin.request('PUT', '/v1/admin/catalog', {
      networks: [
        {
          id: options.network.id,
          regionId: REGION,
          projectId: options.projectId,
          subnets: [{ id: `${options.network.id}-v4`, cidr: options.network.cidr }],
        },
      ],
    });
    assert.equal(catalog.status, 204, JSON.stringify(catalog.body));
    network = networkUri(options.projectId, options.network.id);
  }
  return { teamId: team.body.id, api: admin.withToken(key.body.token), network };
}

/** A member key of an existing project, made with the admin key. */
export async function projectKey(admin: KumoApi, projectId: string): Promise<KumoApi> {
  const key = await admin.request<{ token: string }>('POST', '/v1/admin/api-keys', { name: `key-${projectId}`, projectId, role: 'member' });
  assert.equal(key.status, 201, JSON.stringify(key.body));
  return admin.withToken(key.body.token);
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Runs the tasks at most `limit` at a time, in order of the list. */
export async function runLimited<T>(tasks: Array<() => Promise<T>>, limit: number): Promise<Array<PromiseSettledResult<T>>> {
  const results: Array<PromiseSettledResult<T>> = new Array(tasks.length);
  let next = 0;
  const worker = async () => {
    while (next < tasks.length) {
      const index = next++;
      try {
        results[index] = { status: 'fulfilled', value: await tasks[index]!() };
      } catch (reason) {
        results[index] = { status: 'rejected', reason };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, tasks.length) }, worker));
  return results;
}


const CLI = join(fileURLToPath(new URL('.', import.meta.url)), '..', '..', 'src', 'cli', 'main.js');

/** `kumo server` as a child process of the test, on a free port. */
export class KumoChild {
  readonly output: string[] = [];
  private readonly exited: Promise<void>;

  private constructor(
    readonly child: ChildProcess,
    readonly url: string,
  ) {
    this.exited = new Promise((resolve) => child.once('exit', () => resolve()));
    child.stdout!.on('data', (chunk: Buffer) => this.output.push(chunk.toString()));
    child.stderr!.on('data', (chunk: Buffer) => this.output.push(chunk.toString()));
  }

  /** Starts it with the test's environment plus `env`, and waits until /readyz answers. */
  static async start(env: Record<string, string>, readyTimeoutMs = 60_000): Promise<KumoChild> {
    const port = await freePort();
    const childEnv: Record<string, string | undefined> = { ...process.env, KUMO_RATE_LIMIT: '100000', KUMO_RATE_BURST: '100000', ...env, KUMO_PORT: String(port) };
    // The test runner's database is not this child's unless the caller says so.
    if (!('DATABASE_URL' in env)) delete childEnv.DATABASE_URL;
    const child = spawn(process.execPath, [CLI, 'server'], { env: childEnv, stdio: ['ignore', 'pipe', 'pipe'] });
    const kumo = new KumoChild(child, `http://127.0.0.1:${port}`);
    const deadline = Date.now() + readyTimeoutMs;
    for (;;) {
      if (child.exitCode !== null || child.signalCode !== null) throw new Error(`kumo exited: ${kumo.output.join('')}`);
      try {
        if ((await fetch(`${kumo.url}/readyz`)).ok) return kumo;
      } catch {
        // not listening yet
      }
      if (Date.now() > deadline) {
        await kumo.kill9();
        throw new Error(`kumo did not become ready: ${kumo.output.join('')}`);
      }
      await sleep(100);
    }
  }

  get pid(): number {
    return this.child.pid!;
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  /** SIGKILL, as a crash: nothing of Kumo's shutdown runs. */
  async kill9(): Promise<void> {
    if (!this.running) return;
    this.child.kill('SIGKILL');
    await this.exited;
  }

  /** SIGTERM and wait: Kumo stops its agents, controller and (embedded) PostgreSQL. Falls back to SIGKILL. */
  async stop(timeoutMs = 30_000): Promise<void> {
    if (!this.running) return;
    this.child.kill('SIGTERM');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), timeoutMs);
    await this.exited;
    clearTimeout(timer);
  }
}

/** The PID in `${dataDir}/postgres/postmaster.pid` if that process is still alive. */
export function livePostmaster(dataDir: string): number | null {
  let text: string;
  try {
    text = readFileSync(join(dataDir, 'postgres', 'postmaster.pid'), 'utf8');
  } catch {
    return null;
  }
  const pid = Number(text.split('\n')[0]);
  if (!Number.isInteger(pid) || pid <= 0) return null;
  try {
    process.kill(pid, 0);
  } catch {
    return null;
  }
  // A zombie is not a server.
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    if (stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z')) return null;
  } catch {
    return null;
  }
  return pid;
}

/** Host rows, with capacity and use. */
export interface HostUse {
  id: string;
  usedVcpus: number;
  usedRamMb: number;
  usedDiskGb: number;
  instanceCount: number;
  vcpuCapacity: number;
  ramCapacity: number;
  diskCapacity: number;
}

export async function hostUse(client: pg.ClientBase): Promise<HostUse[]> {
  const { rows } = await client.query(
    `SELECT id, used_vcpus, used_ram_mb, used_disk_gb, instance_count, vcpu_capacity, ram_capacity, disk_capacity FROM hosts ORDER BY id`,
  );
  return rows.map((row) => ({
    id: row.id,
    usedVcpus: Number(row.used_vcpus),
    usedRamMb: Number(row.used_ram_mb),
    usedDiskGb: Number(row.used_disk_gb),
    instanceCount: Number(row.instance_count),
    vcpuCapacity: Number(row.vcpu_capacity),
    ramCapacity: Number(row.ram_capacity),
    diskCapacity: Number(row.disk_capacity),
  }));
}

/**
 * The store's bookkeeping invariants, as a list of violations (empty when all hold):
 * - every host's used_* and instance_count equal the sums of its claims, and never exceed its capacity;
 * - every claim belongs to a live instance on that host, and every live instance that is not in error has one;
 * - every address row belongs to a live instance (or is a gateway row); no two live instances show one address,
 *   and the address an instance shows is one it holds;
 * - each project's usage equals the sums over its claimed instances.
 */
export async function storeInvariantViolations(databaseUrl: string): Promise<string[]> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    // The column naming an address's space (its subnet): `subnet_id`, or `space_id` once public pools share the table.
    const { rows: columns } = await client.query<{ column_name: string }>(
      "SELECT column_name FROM information_schema.columns WHERE table_name = 'ip_addresses' AND column_name IN ('space_id', 'subnet_id')",
    );
    const space = columns[0]?.column_name ?? 'subnet_id';
    const violations: string[] = [];
    const check = async (label: string, sql: string) => {
      const { rows } = await client.query(sql);
      for (const row of rows) violations.push(`${label}: ${JSON.stringify(row)}`);
    };
    await check(
      'host use differs from its claims',
      `SELECT h.id, h.used_vcpus, h.used_ram_mb, h.used_disk_gb, h.instance_count, c.vcpus, c.ram_mb, c.disk_gb, c.n
         FROM hosts h LEFT JOIN (
           SELECT host_id, sum(claim_vcpus)::int AS vcpus, sum(claim_ram_mb)::bigint AS ram_mb, sum(claim_disk_gb)::bigint AS disk_gb,
                  count(*)::int AS n
             FROM instances WHERE claim_vcpus IS NOT NULL GROUP BY host_id) c ON c.host_id = h.id
        WHERE h.used_vcpus <> COALESCE(c.vcpus, 0) OR h.used_ram_mb <> COALESCE(c.ram_mb, 0)
           OR h.used_disk_gb <> COALESCE(c.disk_gb, 0) OR h.instance_count <> COALESCE(c.n, 0)`,
    );
    await check(
      'host over capacity',
      `SELECT id, used_vcpus, vcpu_capacity, used_ram_mb, ram_capacity, used_disk_gb, disk_capacity FROM hosts
        WHERE used_vcpus > vcpu_capacity OR used_ram_mb > ram_capacity OR used_disk_gb > disk_capacity`,
    );
    await check(
      'claim held by a deleted or unplaced instance',
      `SELECT uid, name, phase, host_id FROM instances
        WHERE claim_vcpus IS NOT NULL AND (deleted_at IS NOT NULL OR host_id IS NULL)`,
    );
    await check(
      'live instance without a claim',
      `SELECT uid, name, phase FROM instances WHERE deleted_at IS NULL AND phase <> 'error' AND claim_vcpus IS NULL`,
    );
    await check(
      'address held by no live instance',
      `SELECT a.${space}, host(a.address) AS address, a.instance_uid FROM ip_addresses a LEFT JOIN instances i ON i.uid = a.instance_uid
        WHERE a.instance_uid <> '${GATEWAY_OWNER}' AND (i.uid IS NULL OR i.deleted_at IS NOT NULL)`,
    );
    await check(
      'live instances showing one address',
      `SELECT nic->>'subnetId' AS subnet, nic->>'ipv4Address' AS address, array_agg(i.name) AS instances
         FROM instances i, jsonb_array_elements(i.doc->'nics') nic
        WHERE i.deleted_at IS NULL AND COALESCE(nic->>'ipv4Address', '') <> ''
        GROUP BY 1, 2 HAVING count(*) > 1`,
    );
    await check(
      'shown address not held',
      `SELECT i.name, nic->>'subnetId' AS subnet, nic->>'ipv4Address' AS address
         FROM instances i, jsonb_array_elements(i.doc->'nics') nic
        WHERE i.deleted_at IS NULL AND i.phase <> 'error' AND COALESCE(nic->>'ipv4Address', '') <> ''
          AND NOT EXISTS (SELECT 1 FROM ip_addresses a WHERE a.${space} = nic->>'subnetId'
                            AND a.address = (nic->>'ipv4Address')::inet AND a.instance_uid = i.uid)`,
    );
    await check(
      'project usage differs from its claimed instances',
      `SELECT u.project_id, u.instances, u.vcpus, u.ram_mb, c.n, c.vcpus AS claimed_vcpus, c.ram_mb AS claimed_ram_mb
         FROM project_usage u LEFT JOIN (
           SELECT i.project_id, count(*)::int AS n, sum((i.doc->>'vcpus')::int)::int AS vcpus, sum((i.doc->>'ramMb')::bigint)::bigint AS ram_mb
             FROM instances i WHERE i.claim_vcpus IS NOT NULL GROUP BY i.project_id) c ON c.project_id = u.project_id
        WHERE u.instances <> COALESCE(c.n, 0) OR u.vcpus <> COALESCE(c.vcpus, 0) OR u.ram_mb <> COALESCE(c.ram_mb, 0)`,
    );
    return violations;
  } finally {
    await client.end();
  }
}

/** One query on a database, for the tests' own checks. */
export async function queryDatabase<T extends pg.QueryResultRow>(databaseUrl: string, sql: string, params: unknown[] = []): Promise<T[]> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    return (await client.query<T>(sql, params)).rows;
  } finally {
    await client.end();
  }
}

/** The URL of the embedded PostgreSQL running on a Kumo data directory (port from postmaster.pid, Kumo's superuser). */
export function embeddedDatabaseUrl(dataDir: string): string {
  const pidFile = readFileSync(join(dataDir, 'postgres', 'postmaster.pid'), 'utf8').split('\n');
  const port = Number(pidFile[3]);
  const password = readFileSync(join(dataDir, 'postgres-password'), 'utf8').trim();
  return `postgresql://postgres:${encodeURIComponent(password)}@127.0.0.1:${port}/kumo`;
}
