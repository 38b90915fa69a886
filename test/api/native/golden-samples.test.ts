/**
 * Golden request/response pairs of the native API, kept in test/api-samples/native/ as documentation that cannot go
 * stale: each test replays its request and compares the normalized response with the file. Volatile values (uids,
 * times, operation and request ids, addresses, ETags) are replaced by placeholders. KUMO_UPDATE_SAMPLES=1 rewrites
 * the files from the current behaviour.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { startNativeHarness, type TestKumo } from './native-harness.js';
import { BASE, call, INSTANCES, seedCreateBody, waitForStatus } from './native-client.js';

const SAMPLES = new URL('../../../../test/api-samples/native/', import.meta.url);
const UPDATE = process.env.KUMO_UPDATE_SAMPLES === '1';
const TOKEN = '<token>';

interface Sample {
  request: { method: string; url: string; headers: Record<string, string>; body?: unknown };
  response: { status: number; headers: Record<string, string>; body: unknown };
}

const SHOWN_HEADERS = ['location', 'operation-id', 'etag', 'idempotent-replayed', 'www-authenticate', 'retry-after', 'content-type'];

function normalize(text: string): string {
  return text
    .replace(/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/g, '3c90c3cc-0d44-4b50-8888-8dd25736052a')
    .replace(/\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z/g, '2023-11-07T05:31:56Z')
    .replace(/op-[a-z0-9]+/g, 'op-0123456789')
    .replace(/"(10|203)\.\d+\.\d+\.\d+"/g, '"10.0.0.2"')
    .replace(/\\"\d+\\"|"\\"\d+\\""/g, (match) => match.replace(/\d+/, '1'));
}

let kumo: TestKumo;
let token: string;

before(async () => {
  kumo = await startNativeHarness();
  token = await kumo.createProjectKey('project-x9y8z7', 'member');
  if (UPDATE) mkdirSync(SAMPLES, { recursive: true });
});
after(async () => kumo.close());

async function sample(name: string, request: Sample['request']): Promise<void> {
  const headers = { ...request.headers };
  if (headers.authorization === `Bearer ${TOKEN}`) headers.authorization = `Bearer ${token}`;
  const response = await call(kumo.app, request.method, request.url, { token: null, headers, body: request.body });
  const shown = Object.fromEntries(SHOWN_HEADERS.filter((header) => response.headers[header] !== undefined).map((header) => [header, String(response.headers[header])]));
  const recorded: Sample = {
    request,
    response: { status: response.statusCode, headers: shown, body: response.body ? JSON.parse(response.body) : null },
  };
  const text = `${normalize(JSON.stringify(recorded, null, 2)).replace(/"requestId": "[^"]+"/g, '"requestId": "<request-id>"')}\n`;
  const file = new URL(`${name}.json`, SAMPLES);
  if (UPDATE || !existsSync(file)) {
    if (!UPDATE) assert.fail(`missing sample ${name}.json; run with KUMO_UPDATE_SAMPLES=1`);
    writeFileSync(file, text);
    return;
  }
  assert.equal(text, readFileSync(file, 'utf8'), `${name}.json differs from the API's answer`);
}

const auth = { authorization: `Bearer ${TOKEN}` };
const json = { ...auth, 'content-type': 'application/json' };

describe('native API samples', () => {
  it('create-instance: the reference example, verbatim', async () => {
    await sample('create-instance', { method: 'POST', url: INSTANCES, headers: { ...json, 'idempotency-key': 'b4ad3c6e-create-1' }, body: seedCreateBody() });
  });

  it('get-instance', async () => {
    await waitForStatus(kumo.app, token, 'instance-d4e5f6', 'RUNNING');
    await sample('get-instance', { method: 'GET', url: `${INSTANCES}/instance-d4e5f6`, headers: auth });
  });

  it('list-instances', async () => {
    await sample('list-instances', { method: 'GET', url: `${INSTANCES}?pageSize=10&status=RUNNING&orderBy=name`, headers: auth });
  });

  it('update-instance', async () => {
    await sample('update-instance', {
      method: 'PATCH',
      url: `${INSTANCES}/instance-d4e5f6`,
      headers: { ...auth, 'content-type': 'application/merge-patch+json' },
      body: { displayName: 'web-1', labels: { env: 'prod' } },
    });
  });

  it('error-invalid-state: start a running instance', async () => {
    await sample('error-invalid-state', { method: 'POST', url: `${INSTANCES}/instance-d4e5f6:start`, headers: json, body: {} });
  });

  it('stop-instance', async () => {
    await sample('stop-instance', { method: 'POST', url: `${INSTANCES}/instance-d4e5f6:stop`, headers: json, body: { force: false } });
  });

  it('error-validation', async () => {
    const body = { ...seedCreateBody(), id: 'Bad_Name', nics: [{ subnet: 'subnet-g7h8i9' }] };
    await sample('error-validation', { method: 'POST', url: INSTANCES, headers: json, body });
  });

  it('error-unauthenticated', async () => {
    await sample('error-unauthenticated', { method: 'GET', url: INSTANCES, headers: {} });
  });

  it('list-networks', async () => {
    await sample('list-networks', { method: 'GET', url: `${BASE}/compute/networks`, headers: auth });
  });

  it('delete-instance', async () => {
    await sample('delete-instance', { method: 'DELETE', url: `${INSTANCES}/instance-d4e5f6`, headers: auth });
  });
});
