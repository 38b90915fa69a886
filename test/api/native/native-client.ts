/** Small helpers shared by the native API tests: authenticated inject calls, the seed's create body, waits. */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import { DEFAULT_QUOTA, type Store } from '../../../src/core/index.js';

export const REGION = 'us-texas-1';
export const PROJECT = 'project-x9y8z7';
export const BASE = `/v1/regions/${REGION}/projects/${PROJECT}`;
export const INSTANCES = `${BASE}/compute/instances`;

export interface CallOptions {
  token?: string | null;
  body?: unknown;
  headers?: Record<string, string>;
}

/** One request through the app; `token: null` sends no Authorization header. */
export async function call(app: FastifyInstance, method: string, url: string, options: CallOptions = {}): Promise<LightMyRequestResponse> {
  const headers: Record<string, string> = { ...options.headers };
  if (options.token) headers.authorization = `Bearer ${options.token}`;
  return app.inject({
    method: method as 'GET',
    url,
    headers,
    ...(options.body !== undefined ? { payload: options.body as object } : {}),
  });
}

/** The create body of the k0rdent reference, verbatim (placeholders included). */
export function seedCreateBody(): Record<string, unknown> {
  return {
    type: '/v1/regions/us-texas-1/zones/us1-a/instance-types/g1-xlarge',
    id: 'instance-d4e5f6',
    displayName: '<string>',
    description: '<string>',
    labels: {},
    instanceMetadata: [{ key: '<string>', value: '<string>' }],
    hostname: '<string>',
    disks: [
      {
        sizeGb: 123,
        interface: 'SCSI',
        source: '/v1/regions/us-texas-1/compute/images/ubuntu-24.04-20260202-3',
        boot: true,
        type: 'PERSISTENT',
        mode: 'READ_ONLY',
      },
    ],
    nics: [
      {
        network: '/v1/regions/us-texas-1/projects/project-x9y8z7/compute/networks/network-g7h8i9',
        subnet: '<string>',
        ipv4Address: '<string>',
        ipv6Address: '<string>',
        vlan: 123,
      },
    ],
    gpus: [{ type: '<string>', count: 123 }],
  };
}

/** A minimal valid create body with a fresh name. */
export function createBody(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    type: '/v1/regions/us-texas-1/zones/us1-a/instance-types/g1-small',
    id: `vm-${randomUUID().slice(0, 8)}`,
    disks: [{ sizeGb: 20, boot: true, source: '/v1/regions/us-texas-1/compute/images/ubuntu-24.04-20260202-3' }],
    ...overrides,
  };
}

export function json<T = Record<string, unknown>>(response: LightMyRequestResponse): T {
  return response.json() as T;
}

/** Creates an instance and returns its view. */
export async function createInstance(app: FastifyInstance, token: string, overrides: Record<string, unknown> = {}) {
  const response = await call(app, 'POST', INSTANCES, { token, body: createBody(overrides) });
  assert.equal(response.statusCode, 202, response.body);
  return json<{ id: string; uid: string; labels: Record<string, string>; lifecycle: { status: string } }>(response);
}

/** Polls the instance until its lifecycle status is `status` (the controller, or the in-memory stand-in, settles it). */
export async function waitForStatus(app: FastifyInstance, token: string, id: string, status: string, timeoutMs = 15_000) {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  while (Date.now() < deadline) {
    const response = await call(app, 'GET', `${INSTANCES}/${id}`, { token });
    if (response.statusCode === 200) {
      last = json<{ lifecycle: { status: string } }>(response).lifecycle.status;
      if (last === status) return json<{ id: string; uid: string; lifecycle: { status: string } }>(response);
    }
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  throw new Error(`instance ${id} stayed ${last}, never ${status}`);
}

/** Makes sure a second project exists (for cross-project tests), through the store's tenancy port. */
export async function ensureProject(store: Store, id: string): Promise<void> {
  if (await store.getProject(id)) return;
  const now = new Date();
  const team = { id: randomUUID(), name: `team-${id}`, billingStatus: 'active' as const, balanceCents: 0, createdAt: now, updatedAt: now };
  await store.createTeam(team);
  await store.createProject({ id, uid: randomUUID(), teamId: team.id, name: id, createdAt: now }, { projectId: id, ...DEFAULT_QUOTA });
}

/** Asserts the native error envelope and returns its `error` member. */
export function assertError(response: LightMyRequestResponse, status: number, code: string) {
  assert.equal(response.statusCode, status, response.body);
  const body = json<{ error: { code: string; status: number; message: string; requestId: string; details: Array<{ field: string; location: string; message: string }>; info?: Record<string, unknown> } }>(response);
  assert.equal(body.error.code, code, response.body);
  assert.equal(body.error.status, status);
  assert.equal(body.error.requestId, response.headers['x-request-id']);
  assert.ok(Array.isArray(body.error.details));
  return body.error;
}
