import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startNativeHarness, type TestKumo } from './native-harness.js';
import { assertError, BASE, call, createBody, createInstance, ensureProject, INSTANCES, json, REGION, waitForStatus } from './native-client.js';

const OTHER = 'project-other1';
let kumo: TestKumo;
let member: string;
let reader: string;
let outsider: string;

before(async () => {
  kumo = await startNativeHarness();
  await ensureProject(kumo.store, OTHER);
  member = await kumo.createProjectKey('project-x9y8z7', 'member');
  reader = await kumo.createProjectKey('project-x9y8z7', 'reader');
  outsider = await kumo.createProjectKey(OTHER, 'admin');
});
after(async () => kumo.close());

describe('authentication', () => {
  it('answers 401 with WWW-Authenticate for a missing, malformed or unknown token', async () => {
    const attempts: Array<Record<string, string>> = [{}, { authorization: 'Basic Zm9vOmJhcg==' }, { authorization: 'Bearer nope' }, { authorization: `Bearer ${'x'.repeat(600)}` }];
    for (const headers of attempts) {
      const response = await call(kumo.app, 'GET', INSTANCES, { token: null, headers });
      assertError(response, 401, 'UNAUTHENTICATED');
      assert.equal(response.headers['www-authenticate'], 'Bearer');
    }
  });

  it('keeps health, metrics and the OpenAPI document public', async () => {
    for (const url of ['/healthz', '/readyz', '/metrics', '/openapi.json']) {
      assert.equal((await call(kumo.app, 'GET', url, { token: null })).statusCode, 200, url);
    }
  });

  it('exposes request counts and the process memory in the Prometheus text format', async () => {
    await call(kumo.app, 'GET', '/healthz', { token: null });
    const response = await call(kumo.app, 'GET', '/metrics', { token: null });
    assert.match(String(response.headers['content-type']), /^text\/plain; version=0\.0\.4/);
    assert.match(response.body, /^kumo_http_requests_total\{method="GET",route="\/healthz",status="200"\} \d+$/m);
    for (const name of ['process_resident_memory_bytes', 'nodejs_heap_size_total_bytes', 'nodejs_heap_size_used_bytes']) {
      const sample = new RegExp(`^${name} (\\d+)$`, 'm').exec(response.body);
      assert.ok(sample && Number(sample[1]) > 1024 * 1024, `${name} in\n${response.body}`);
    }
    for (const space of ['new', 'old', 'code', 'large_object']) {
      const total = new RegExp(`^nodejs_heap_space_size_total_bytes\\{space="${space}"\\} (\\d+)$`, 'm').exec(response.body);
      const used = new RegExp(`^nodejs_heap_space_size_used_bytes\\{space="${space}"\\} (\\d+)$`, 'm').exec(response.body);
      assert.ok(total && used && Number(used[1]) <= Number(total[1]), `heap space ${space} in\n${response.body}`);
    }
  });

  it('echoes X-Request-Id and uses it in errors', async () => {
    const response = await call(kumo.app, 'GET', INSTANCES, { token: null, headers: { 'x-request-id': 'trace-42' } });
    assert.equal(response.headers['x-request-id'], 'trace-42');
    assert.equal(assertError(response, 401, 'UNAUTHENTICATED').requestId, 'trace-42');
  });
});

describe('authorization', () => {
  it('lets a reader read but answers 403 to every change', async () => {
    const created = await createInstance(kumo.app, member);
    const url = `${INSTANCES}/${created.id}`;
    assert.equal((await call(kumo.app, 'GET', url, { token: reader })).statusCode, 200);
    const attempts: Array<[string, string, unknown]> = [
      ['POST', INSTANCES, createBody()],
      ['PATCH', url, { displayName: 'x' }],
      ['DELETE', url, undefined],
      ['POST', `${url}:stop`, {}],
      ['POST', `${BASE}/compute/ssh-keys`, { id: 'k1', publicKey: 'ssh-ed25519 AAAA' }],
    ];
    for (const [method, path, body] of attempts) {
      assertError(await call(kumo.app, method, path, { token: reader, body }), 403, 'PERMISSION_DENIED');
    }
  });

  it("never shows another project's data: every route answers 404", async () => {
    const created = await createInstance(kumo.app, member);
    const instance = `${INSTANCES}/${created.id}`;
    await waitForStatus(kumo.app, member, created.id, 'RUNNING');
    const operationId = String((await call(kumo.app, 'POST', `${instance}:reboot`, { token: member })).headers['operation-id'] ?? 'op-x');
    const routes: Array<[string, string, unknown?]> = [
      ['GET', INSTANCES],
      ['POST', INSTANCES, createBody()],
      ['GET', instance],
      ['GET', `/v1/regions/${REGION}/projects/project-x9y8z7/compute/instances/${created.uid}`],
      ['PATCH', instance, { displayName: 'stolen' }],
      ['DELETE', instance],
      ['POST', `${instance}:stop`, {}],
      ['POST', `${instance}:snapshot`, {}],
      ['GET', `${instance}/console`],
      ['GET', `${instance}/operations`],
      ['GET', `${BASE}/operations/${operationId}`],
      ['GET', `${BASE}/compute/networks`],
      ['GET', `${BASE}/compute/networks/network-g7h8i9`],
      ['GET', `${BASE}/compute/images`],
      ['GET', `${BASE}/compute/ssh-keys`],
      ['POST', `${BASE}/compute/ssh-keys`, { id: 'stolen', publicKey: 'ssh-ed25519 AAAA' }],
      ['DELETE', `${BASE}/compute/ssh-keys/key-001`],
      ['GET', `${BASE}/events`],
    ];
    for (const [method, path, body] of routes) {
      const response = await call(kumo.app, method, path, { token: outsider, body });
      assertError(response, 404, 'NOT_FOUND');
      assert.doesNotMatch(response.body, new RegExp(created.uid), `${method} ${path} leaked the instance`);
    }
    // Nothing was changed by the attempts.
    const after = json<{ displayName: string }>(await call(kumo.app, 'GET', instance, { token: member }));
    assert.notEqual(after.displayName, 'stolen');
  });
});

describe('idempotency', () => {
  it('32 concurrent creates with one key make one instance and identical replays', async () => {
    const body = createBody();
    const headers = { 'idempotency-key': `create-${body.id as string}` };
    const responses = await Promise.all(Array.from({ length: 32 }, () => call(kumo.app, 'POST', INSTANCES, { token: member, body, headers })));
    const statuses = responses.map((response) => response.statusCode);
    const accepted = responses.filter((response) => response.statusCode === 202);
    // A request that arrives while the first is still in flight may be told to retry (409); none may create a second.
    assert.ok(statuses.every((status) => status === 202 || status === 409), statuses.join(','));
    assert.ok(accepted.length >= 1);
    const bodies = new Set(accepted.map((response) => response.body));
    assert.equal(bodies.size, 1, 'every accepted answer is the same body');
    assert.equal(accepted.filter((response) => response.headers['idempotent-replayed'] !== 'true').length, 1);

    const replay = await call(kumo.app, 'POST', INSTANCES, { token: member, body, headers });
    assert.equal(replay.statusCode, 202);
    assert.equal(replay.headers['idempotent-replayed'], 'true');
    assert.equal(replay.body, accepted[0]?.body);
    const list = json<{ items: Array<{ id: string }> }>(await call(kumo.app, 'GET', `${INSTANCES}?pageSize=500`, { token: member }));
    assert.equal(list.items.filter((item) => item.id === body.id).length, 1);
  });

  it('answers 422 when a key is reused with a different body, and 400 for a malformed key', async () => {
    const headers = { 'idempotency-key': `reuse-${Date.now()}` };
    assert.equal((await call(kumo.app, 'POST', INSTANCES, { token: member, body: createBody(), headers })).statusCode, 202);
    assertError(await call(kumo.app, 'POST', INSTANCES, { token: member, body: createBody(), headers }), 422, 'IDEMPOTENCY_KEY_REUSED');
    const bad = await call(kumo.app, 'POST', INSTANCES, { token: member, body: createBody(), headers: { 'idempotency-key': 'k'.repeat(256) } });
    assert.equal(assertError(bad, 400, 'INVALID_ARGUMENT').details[0]?.field, '/Idempotency-Key');
  });

  it('replays an action', async () => {
    const created = await createInstance(kumo.app, member);
    await waitForStatus(kumo.app, member, created.id, 'RUNNING');
    const headers = { 'idempotency-key': `stop-${created.id}` };
    const first = await call(kumo.app, 'POST', `${INSTANCES}/${created.id}:stop`, { token: member, headers });
    const second = await call(kumo.app, 'POST', `${INSTANCES}/${created.id}:stop`, { token: member, headers });
    assert.equal(first.statusCode, 202, first.body);
    assert.equal(second.statusCode, 202, second.body);
    assert.equal(second.headers['idempotent-replayed'], 'true');
    assert.equal(json<{ id: string }>(second).id, json<{ id: string }>(first).id);
  });
});

describe('hostile input never causes a 500', () => {
  const bodies: Array<[string, string]> = [
    ['garbage', '{"type": '],
    ['not an object', '[1,2,3]'],
    ['a string', '"hello"'],
    ['prototype pollution', '{"__proto__": {"admin": true}, "type": "x"}'],
    ['constructor pollution', '{"constructor": {"prototype": {"admin": true}}}'],
    ['nested pollution', JSON.stringify({ ...createBody(), labels: { a: 'b' } }).replace('"labels":{', '"labels":{"__proto__":{"x":1},')],
    ['wrong types', JSON.stringify({ type: 5, id: ['a'], disks: 'many', nics: {}, labels: [] })],
    ['huge string', JSON.stringify({ ...createBody(), description: 'x'.repeat(900_000) })],
    ['unicode', JSON.stringify({ ...createBody(), id: 'ｉｎｓｔａｎｃｅ', displayName: '💥\u0000\u202e', labels: { 'ключ': 'значение' } })],
    ['deep nesting', `{"labels":${'{"a":'.repeat(5000)}1${'}'.repeat(5000)}}`],
    ['deep arrays', `${'['.repeat(100_000)}${']'.repeat(100_000)}`],
    ['numbers', JSON.stringify({ ...createBody(), disks: [{ sizeGb: 1e308, boot: true, source: 'x' }] })],
    ['negative zero and floats', JSON.stringify({ ...createBody(), disks: [{ sizeGb: 20.5, boot: true }], nics: [{ network: 'x', vlan: -0.1 }] })],
    ['empty', ''],
  ];
  for (const [name, payload] of bodies) {
    it(name, async () => {
      const response = await kumo.app.inject({
        method: 'POST',
        url: INSTANCES,
        headers: { authorization: `Bearer ${member}`, 'content-type': 'application/json' },
        payload,
      });
      assert.ok(response.statusCode >= 400 && response.statusCode < 500, `${response.statusCode} ${response.body.slice(0, 300)}`);
      assert.equal(typeof json<{ error: { code: string } }>(response).error.code, 'string');
      assert.equal(({} as Record<string, unknown>).admin, undefined);
    });
  }

  it('answers 413 for a body over the limit and 415 for a foreign content type', async () => {
    const big = await kumo.app.inject({
      method: 'POST',
      url: INSTANCES,
      headers: { authorization: `Bearer ${member}`, 'content-type': 'application/json' },
      payload: JSON.stringify({ description: 'x'.repeat(1_100_000) }),
    });
    assertError(big, 413, 'PAYLOAD_TOO_LARGE');
    const xml = await kumo.app.inject({
      method: 'POST',
      url: INSTANCES,
      headers: { authorization: `Bearer ${member}`, 'content-type': 'application/xml' },
      payload: '<instance/>',
    });
    assertError(xml, 415, 'UNSUPPORTED_MEDIA_TYPE');
  });

  it('answers 404 for unknown routes and 405 with Allow for a wrong method', async () => {
    assertError(await call(kumo.app, 'GET', '/v1/nothing-here', { token: member }), 404, 'NOT_FOUND');
    const wrong = await call(kumo.app, 'PUT', `${INSTANCES}/x`, { token: member, body: {} });
    assertError(wrong, 405, 'METHOD_NOT_ALLOWED');
    assert.match(String(wrong.headers.allow), /GET/);
  });

  it('refuses hostile path parameters and query strings cleanly', async () => {
    for (const path of [`${INSTANCES}/${'a'.repeat(300)}`, `${INSTANCES}/%00`, `${INSTANCES}/..%2F..%2Fetc`, `/v1/regions/%F0%9F%92%A5/zones`, `${INSTANCES}?labelSelector=${'a,'.repeat(2000)}`]) {
      const response = await call(kumo.app, 'GET', path, { token: member });
      assert.ok(response.statusCode >= 400 && response.statusCode < 500, `${path}: ${response.statusCode}`);
    }
  });
});

describe('rate limiting', () => {
  it('answers 429 with Retry-After once the burst is spent', async () => {
    const limited = await startNativeHarness({ api: { rateLimit: { ratePerSecond: 1, burst: 3 } } });
    try {
      const statuses: number[] = [];
      let retryAfter: string | undefined;
      for (let i = 0; i < 5; i++) {
        const response = await call(limited.app, 'GET', '/v1/regions', { token: limited.adminToken });
        statuses.push(response.statusCode);
        if (response.statusCode === 429) {
          retryAfter = String(response.headers['retry-after']);
          assertError(response, 429, 'RATE_LIMITED');
        }
      }
      assert.deepEqual(statuses, [200, 200, 200, 429, 429]);
      assert.match(retryAfter ?? '', /^[1-9]\d*$/);
      assert.equal((await call(limited.app, 'GET', '/healthz', { token: null })).statusCode, 200, 'probes are never limited');
    } finally {
      await limited.close();
    }
  });
});
