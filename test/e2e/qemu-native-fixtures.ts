/** Helpers of the QEMU end-to-end tests: a native API client over a real port, a Kumo child process, guest checks. */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { QemuDriver } from '../../src/drivers/qemu/qemu-driver.js';
import { HostNetwork } from '../../src/drivers/qemu/host-network.js';
import { guestPids } from '../drivers/qemu-fixtures.js';

export const REGION = 'us-texas-1';
export const PROJECT = 'project-x9y8z7';
export const INSTANCES = `/v1/regions/${REGION}/projects/${PROJECT}/compute/instances`;
/** The seed's default network: 10.0.0.0/20, gateway 10.0.0.1, on the bridge the QEMU driver makes (kumobr0). */
export const NETWORK = `/v1/regions/${REGION}/projects/${PROJECT}/compute/networks/network-g7h8i9`;
export const GUEST_SUBNET = /^10\.0\.(?:[0-9]|1[0-5])\.\d{1,3}$/;

export interface InstanceView {
  id: string;
  uid: string;
  hostname: string;
  lifecycle: { status: string; statusMessage: string };
  nics: Array<{ ipv4Address: string }>;
  operationId?: string;
}

export interface OperationView {
  id: string;
  status: 'PENDING' | 'RUNNING' | 'DONE' | 'FAILED';
  error: { code: string; message: string } | null;
  steps: Array<{ name: string; status: string; at: string; message?: string }>;
}

export interface ApiResponse<T> {
  status: number;
  body: T;
  headers: Headers;
}

/** The k0rdent create body for a small guest on the seed's network: ssh key and optional user data as metadata. */
export function createBody(options: { id: string; publicKey: string; userData?: string; image?: string; sizeGb?: number }): Record<string, unknown> {
  const metadata = [{ key: 'ssh-keys', value: `root:${options.publicKey}` }];
  if (options.userData) metadata.push({ key: 'user-data', value: options.userData });
  return {
    type: `/v1/regions/${REGION}/zones/us1-a/instance-types/g1-small`,
    id: options.id,
    instanceMetadata: metadata,
    disks: [{ sizeGb: options.sizeGb ?? 2, boot: true, source: `/v1/regions/${REGION}/compute/images/${options.image ?? 'debian-12'}` }],
    nics: [{ network: NETWORK }],
  };
}

/** A native API client on a real port (fetch), with the waits the tests need. */
export class NativeClient {
  constructor(
    readonly baseUrl: string,
    private readonly token: string,
  ) {}

  async request<T = Record<string, unknown>>(method: string, path: string, body?: unknown): Promise<ApiResponse<T>> {
    const headers: Record<string, string> = { authorization: `Bearer ${this.token}` };
    if (body !== undefined) headers['content-type'] = 'application/json';
    const response = await fetch(`${this.baseUrl}${path}`, { method, headers, ...(body !== undefined ? { body: JSON.stringify(body) } : {}) });
    const text = await response.text();
    return { status: response.status, body: (text ? JSON.parse(text) : null) as T, headers: response.headers };
  }

  /** POST the create; asserts 202 and returns the view and the create operation's id. */
  async create(body: Record<string, unknown>): Promise<{ instance: InstanceView; operationId: string }> {
    const response = await this.request<InstanceView>('POST', INSTANCES, body);
    assert.equal(response.status, 202, JSON.stringify(response.body));
    return { instance: response.body, operationId: response.headers.get('operation-id') ?? '' };
  }

  async get(name: string): Promise<ApiResponse<InstanceView>> {
    return this.request<InstanceView>('GET', `${INSTANCES}/${name}`);
  }

  /** `POST …/instances/{name}:{verb}`; asserts 202 and returns the operation. */
  async action(name: string, verb: string, body: Record<string, unknown> = {}): Promise<OperationView> {
    const response = await this.request<OperationView>('POST', `${INSTANCES}/${name}:${verb}`, body);
    assert.equal(response.status, 202, `${verb}: ${JSON.stringify(response.body)}`);
    return response.body;
  }

  async operation(id: string): Promise<OperationView> {
    const response = await this.request<OperationView>('GET', `/v1/regions/${REGION}/projects/${PROJECT}/operations/${id}`);
    assert.equal(response.status, 200, JSON.stringify(response.body));
    return response.body;
  }

  /** Waits for the operation to finish and asserts it succeeded. */
  async operationDone(id: string, timeoutMs = 120_000): Promise<OperationView> {
    const operation = await poll(() => this.operation(id), (op) => op.status === 'DONE' || op.status === 'FAILED', timeoutMs, `operation ${id}`);
    assert.equal(operation.status, 'DONE', `operation ${id} failed: ${JSON.stringify(operation.error)}`);
    return operation;
  }

  /** Waits for the instance's lifecycle status; fails early on ERROR unless that is what is awaited. */
  async waitForStatus(name: string, status: string, timeoutMs = 120_000): Promise<InstanceView> {
    const view = await poll(
      async () => (await this.get(name)).body,
      (instance) => instance.lifecycle?.status === status || (status !== 'ERROR' && instance.lifecycle?.status === 'ERROR'),
      timeoutMs,
      `instance ${name} to be ${status}`,
    );
    assert.equal(view.lifecycle.status, status, `instance ${name}: ${view.lifecycle.statusMessage}`);
    return view;
  }

  async console(name: string, lines = 200): Promise<string> {
    const response = await this.request<{ contents: string }>('GET', `${INSTANCES}/${name}/console?lines=${lines}`);
    assert.equal(response.status, 200, JSON.stringify(response.body));
    return response.body.contents;
  }

  /** DELETE and wait until the instance is gone from the API (404, or DELETED while it is finalized). */
  async deleteAndWait(name: string, timeoutMs = 60_000): Promise<void> {
    const response = await this.request('DELETE', `${INSTANCES}/${name}`);
    assert.ok(response.status === 202 || response.status === 404, `delete ${name}: ${response.status} ${JSON.stringify(response.body)}`);
    await poll(() => this.get(name), (got) => got.status === 404 || got.body.lifecycle?.status === 'DELETED', timeoutMs, `instance ${name} to be deleted`);
  }
}

/** Calls `read` until `done` holds for its value or the time is up (then throws with the last value). */
export async function poll<T>(read: () => Promise<T>, done: (value: T) => boolean, timeoutMs: number, what: string, intervalMs = 200): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (done(value)) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; last: ${JSON.stringify(value)}`);
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}


/** `kumo server` as a child process; resolves once it prints that it is running. */
export interface KumoProcess {
  child: ChildProcess;
  url: string;
  output(): string;
}

export function spawnKumoServer(env: Record<string, string>, timeoutMs = 90_000): Promise<KumoProcess> {
  const main = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));
  const child = spawn(process.execPath, [main, 'server'], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`kumo server did not start within ${timeoutMs} ms:\n${output}`));
    }, timeoutMs);
    const check = (): void => {
      const match = /Kumo is running at (\S+)/.exec(output);
      if (!match?.[1]) return;
      clearTimeout(timer);
      child.stdout.off('data', check);
      resolve({ child, url: match[1], output: () => output });
    };
    child.stdout.on('data', check);
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`kumo server exited (${code ?? signal}) before it was running:\n${output}`));
    });
  });
}

/** Sends `signal` to the child and waits for it to exit. */
export async function stopChild(child: ChildProcess, signal: NodeJS.Signals = 'SIGTERM', timeoutMs = 30_000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill(signal);
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  await exited;
  clearTimeout(timer);
}

/** The QEMU driver's state directory inside a Kumo data directory (see src/server/qemu-host.ts). */
export function qemuStateDir(dataDir: string): string {
  return join(dataDir, 'qemu');
}

/** Asserts that nothing of the guest is left on the host: no QEMU process, no tap, no guest directory. */
export async function assertGuestGone(dataDir: string, uid: string): Promise<void> {
  assert.deepEqual(await guestPids(uid), [], `a QEMU process of guest ${uid} is still running`);
  assert.equal(await new HostNetwork().hasTap(uid), false, `the tap of guest ${uid} is still there`);
  assert.equal(existsSync(join(qemuStateDir(dataDir), 'guests', uid)), false, `the directory of guest ${uid} is still there`);
}

/**
 * Last-resort cleanup after Kumo has stopped: destroys every guest left in the data directory (a failed test may leave
 * some) and removes the driver's bridge, taps and safety routes.
 */
export async function destroyLeftovers(dataDir: string): Promise<string[]> {
  const driver = new QemuDriver({ stateDir: qemuStateDir(dataDir) });
  const left = (await driver.list()).map((guest) => guest.id);
  for (const id of left) await driver.destroy(id).catch(() => undefined);
  await driver.close();
  await driver.network.teardown();
  return left;
}
