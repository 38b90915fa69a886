import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startNativeHarness, type TestKumo } from './native-harness.js';
import { assertError, BASE, call, createBody, createInstance, INSTANCES, json, seedCreateBody, waitForStatus } from './native-client.js';

interface InstanceView {
  selfLink: string;
  uid: string;
  id: string;
  labels: Record<string, string>;
  type: string;
  hostname: string;
  displayName: string;
  description: string;
  instanceMetadata: Array<{ key: string; value: string }>;
  lifecycle: { status: string; statusMessage: string };
  disks: Array<{ source?: string; sizeGb: number; boot: boolean }>;
  nics: Array<{ network: string; subnet: string; ipv4Address: string; vlan?: number }>;
  createdAt: string;
  updatedAt: string;
}

let kumo: TestKumo;
let token: string;

before(async () => {
  kumo = await startNativeHarness();
  token = kumo.adminToken;
});
after(async () => kumo.close());

describe('create', () => {
  it("accepts the k0rdent reference's example verbatim with 202, Location and Operation-Id", async () => {
    const response = await call(kumo.app, 'POST', INSTANCES, { token, body: seedCreateBody() });
    assert.equal(response.statusCode, 202, response.body);
    const view = json<InstanceView>(response);
    assert.equal(view.selfLink, '/v1/regions/us-texas-1/projects/project-x9y8z7/compute/instances/instance-d4e5f6');
    assert.equal(response.headers.location, view.selfLink);
    assert.match(String(response.headers['operation-id']), /^op-/);
    assert.match(String(response.headers.etag), /^"\d+"$/);
    assert.equal(view.id, 'instance-d4e5f6');
    assert.match(view.uid, /^[0-9a-f-]{36}$/);
    assert.equal(view.type, '/v1/regions/us-texas-1/zones/us1-a/instance-types/g1-xlarge');
    assert.equal(view.lifecycle.status, 'PROVISIONING');
    assert.equal(view.hostname, 'instance-d4e5f6', 'the placeholder hostname means "generate one"');
    assert.equal(view.disks[0]?.source, '/v1/regions/us-texas-1/compute/images/ubuntu-24.04-20260202-3');
    assert.equal(view.nics[0]?.network, '/v1/regions/us-texas-1/projects/project-x9y8z7/compute/networks/network-g7h8i9');
    assert.match(view.nics[0]?.ipv4Address ?? '', /^10\.0\.\d+\.\d+$/);
    assert.equal(view.nics[0]?.vlan, 123);
    assert.match(view.createdAt, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
  });

  it('refuses a type URI in another region, naming the field', async () => {
    const body = createBody({ type: '/v1/regions/KGL-1/zones/kgl1-a/instance-types/g1-small' });
    const error = assertError(await call(kumo.app, 'POST', INSTANCES, { token, body }), 400, 'INVALID_ARGUMENT');
    assert.equal(error.details[0]?.field, '/type');
  });

  it('reports schema violations with JSON pointers to the field', async () => {
    const body = createBody({ nics: [{ subnet: 'x' }] });
    const error = assertError(await call(kumo.app, 'POST', INSTANCES, { token, body }), 400, 'INVALID_ARGUMENT');
    assert.deepEqual(error.details[0], { field: '/nics/0/network', location: 'body', message: 'is required' });
  });

  it('reports core violations in native field names', async () => {
    const body = createBody({ nics: [{ network: `${BASE}/compute/networks/network-nope` }] });
    const error = assertError(await call(kumo.app, 'POST', INSTANCES, { token, body }), 400, 'INVALID_ARGUMENT');
    assert.equal(error.details[0]?.field, '/nics/0/network');
    const image = createBody({ disks: [{ sizeGb: 20, boot: true, source: '/v1/regions/us-texas-1/compute/images/nope' }] });
    const imageError = assertError(await call(kumo.app, 'POST', INSTANCES, { token, body: image }), 400, 'INVALID_ARGUMENT');
    assert.equal(imageError.details[0]?.field, '/disks/0/source');
  });

  it('requires a boot disk with an image', async () => {
    const body = createBody({ disks: [{ sizeGb: 20 }] });
    const error = assertError(await call(kumo.app, 'POST', INSTANCES, { token, body }), 400, 'INVALID_ARGUMENT');
    assert.equal(error.details[0]?.field, '/disks');
  });

  it('answers 409 for a name already taken', async () => {
    const created = await createInstance(kumo.app, token);
    const response = await call(kumo.app, 'POST', INSTANCES, { token, body: createBody({ id: created.id }) });
    assertError(response, 409, 'CONFLICT');
  });
});

describe('read', () => {
  it('gets by name and by uid with an ETag', async () => {
    const created = await createInstance(kumo.app, token);
    for (const id of [created.id, created.uid]) {
      const response = await call(kumo.app, 'GET', `${INSTANCES}/${id}`, { token });
      assert.equal(response.statusCode, 200);
      assert.equal(json<InstanceView>(response).uid, created.uid);
      assert.match(String(response.headers.etag), /^"\d+"$/);
    }
    assertError(await call(kumo.app, 'GET', `${INSTANCES}/missing-one`, { token }), 404, 'NOT_FOUND');
    assertError(await call(kumo.app, 'GET', `/v1/regions/nowhere/projects/project-x9y8z7/compute/instances/${created.id}`, { token }), 404, 'NOT_FOUND');
  });

  it('pages with an opaque token, filters by labels and status, and orders', async () => {
    const tag = `t${Date.now().toString(36)}`;
    for (let i = 0; i < 5; i++) await createInstance(kumo.app, token, { id: `${tag}-${i}`, labels: { suite: tag, tier: i % 2 ? 'db' : 'web' } });
    const seen: string[] = [];
    let pageToken: string | undefined;
    do {
      const url = `${INSTANCES}?pageSize=2&orderBy=name&labelSelector=suite%3D${tag}${pageToken ? `&pageToken=${pageToken}` : ''}`;
      const response = await call(kumo.app, 'GET', url, { token });
      assert.equal(response.statusCode, 200, response.body);
      const page = json<{ items: InstanceView[]; nextPageToken?: string }>(response);
      assert.ok(page.items.length <= 2);
      seen.push(...page.items.map((item) => item.id));
      pageToken = page.nextPageToken;
    } while (pageToken);
    assert.deepEqual(seen, [0, 1, 2, 3, 4].map((i) => `${tag}-${i}`));

    const db = json<{ items: InstanceView[] }>(await call(kumo.app, 'GET', `${INSTANCES}?labelSelector=${encodeURIComponent(`suite=${tag},tier in (db)`)}`, { token }));
    assert.deepEqual(db.items.map((item) => item.id).sort(), [`${tag}-1`, `${tag}-3`]);
    const descending = json<{ items: InstanceView[] }>(await call(kumo.app, 'GET', `${INSTANCES}?orderBy=-name&labelSelector=suite%3D${tag}`, { token }));
    assert.equal(descending.items[0]?.id, `${tag}-4`);
    const none = json<{ items: InstanceView[] }>(await call(kumo.app, 'GET', `${INSTANCES}?status=DELETED&labelSelector=suite%3D${tag}`, { token }));
    assert.equal(none.items.length, 0);
    // Several equalities are one containment in SQL; a key asked for two values matches nothing, and repeating the
    // same value changes nothing.
    const select = async (selector: string) =>
      json<{ items: InstanceView[] }>(await call(kumo.app, 'GET', `${INSTANCES}?labelSelector=${encodeURIComponent(selector)}`, { token }))
        .items.map((item) => item.id)
        .sort();
    assert.deepEqual(await select(`suite=${tag},tier=web`), [`${tag}-0`, `${tag}-2`, `${tag}-4`]);
    assert.deepEqual(await select(`suite=${tag},tier=web,tier=db`), []);
    assert.deepEqual(await select(`suite=${tag},tier=db,suite=${tag}`), [`${tag}-1`, `${tag}-3`]);
    assert.deepEqual(await select(`suite=${tag},tier=db,tier!=web`), [`${tag}-1`, `${tag}-3`]);
  });

  it('refuses bad list parameters with 400 on the parameter', async () => {
    const first = json<{ nextPageToken?: string }>(await call(kumo.app, 'GET', `${INSTANCES}?pageSize=1&orderBy=name`, { token }));
    assert.ok(first.nextPageToken);
    const cases: Array<[string, string]> = [
      [`pageToken=${first.nextPageToken}&orderBy=-name`, '/pageToken'],
      ['pageToken=tampered.abc', '/pageToken'],
      ['pageSize=0', '/pageSize'],
      ['pageSize=501', '/pageSize'],
      ['pageSize=ten', '/pageSize'],
      ['labelSelector=a%20in%20(', '/labelSelector'],
      ['status=SLEEPING', '/status'],
      ['orderBy=uid', '/orderBy'],
      ['unknown=1', '/unknown'],
    ];
    for (const [query, field] of cases) {
      const error = assertError(await call(kumo.app, 'GET', `${INSTANCES}?${query}`, { token }), 400, 'INVALID_ARGUMENT');
      assert.equal(error.details[0]?.field, field, query);
      assert.equal(error.details[0]?.location, 'query', query);
    }
  });
});

describe('update', () => {
  it('merges labels, replaces metadata and honours If-Match', async () => {
    const created = await createInstance(kumo.app, token, { labels: { keep: 'yes', drop: 'me' } });
    const url = `${INSTANCES}/${created.id}`;
    // Settle first: the controller bumps the version while provisioning, which would (rightly) fail If-Match.
    await waitForStatus(kumo.app, token, created.id, 'RUNNING');
    const etag = String((await call(kumo.app, 'GET', url, { token })).headers.etag);
    const response = await kumo.app.inject({
      method: 'PATCH',
      url,
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/merge-patch+json', 'if-match': etag },
      payload: JSON.stringify({ displayName: 'renamed', labels: { drop: null, added: 'new' }, instanceMetadata: [{ key: 'role', value: 'web' }] }),
    });
    assert.equal(response.statusCode, 200, response.body);
    const view = json<InstanceView>(response);
    assert.equal(view.displayName, 'renamed');
    assert.deepEqual(view.labels, { keep: 'yes', added: 'new' });
    assert.deepEqual(view.instanceMetadata, [{ key: 'role', value: 'web' }]);
    assert.notEqual(response.headers.etag, etag);

    const stale = await call(kumo.app, 'PATCH', url, { token, body: { description: 'late' }, headers: { 'if-match': etag } });
    assertError(stale, 412, 'PRECONDITION_FAILED');
    const star = await call(kumo.app, 'PATCH', url, { token, body: { description: null }, headers: { 'if-match': '*' } });
    assert.equal(star.statusCode, 200);
    assert.equal(json<InstanceView>(star).description, '');
    const malformed = await call(kumo.app, 'PATCH', url, { token, body: { description: 'x' }, headers: { 'if-match': 'seven' } });
    assert.equal(assertError(malformed, 400, 'INVALID_ARGUMENT').details[0]?.field, '/If-Match');
  });

  it('refuses immutable and unknown fields with their paths', async () => {
    const created = await createInstance(kumo.app, token);
    const url = `${INSTANCES}/${created.id}`;
    const immutable = assertError(await call(kumo.app, 'PATCH', url, { token, body: { type: 'x', hostname: 'y' } }), 400, 'INVALID_ARGUMENT');
    assert.deepEqual(immutable.details.map((d) => [d.field, d.message]), [['/type', 'is immutable'], ['/hostname', 'is immutable']]);
    const unknown = assertError(await call(kumo.app, 'PATCH', url, { token, body: { colour: 'red' } }), 400, 'INVALID_ARGUMENT');
    assert.equal(unknown.details[0]?.field, '/colour');
  });
});

describe('actions and delete', () => {
  it('stops, starts, reboots, resizes and snapshots, each answering 202 with an operation', async () => {
    const created = await createInstance(kumo.app, token);
    const url = `${INSTANCES}/${created.id}`;
    await waitForStatus(kumo.app, token, created.id, 'RUNNING');

    const conflict = assertError(await call(kumo.app, 'POST', `${url}:start`, { token }), 409, 'INVALID_STATE');
    assert.equal(conflict.info?.state, 'running');

    const stop = await call(kumo.app, 'POST', `${url}:stop`, { token, body: { force: true } });
    assert.equal(stop.statusCode, 202, stop.body);
    const operation = json<{ id: string; kind: string; status: string; selfLink: string; target: string }>(stop);
    assert.equal(operation.kind, 'stop');
    assert.equal(stop.headers.location, operation.selfLink);
    assert.equal(operation.target, `/v1/regions/us-texas-1/projects/project-x9y8z7/compute/instances/${created.id}`);
    assert.ok(['PENDING', 'RUNNING', 'DONE'].includes(operation.status));
    const polled = await call(kumo.app, 'GET', operation.selfLink, { token });
    assert.equal(polled.statusCode, 200);
    assert.equal(json<{ id: string }>(polled).id, operation.id);

    await waitForStatus(kumo.app, token, created.id, 'STOPPED');
    assert.equal((await call(kumo.app, 'POST', `${url}:start`, { token })).statusCode, 202);
    await waitForStatus(kumo.app, token, created.id, 'RUNNING');
    assert.equal((await call(kumo.app, 'POST', `${url}:reboot`, { token, body: { hard: true } })).statusCode, 202);
    await waitForStatus(kumo.app, token, created.id, 'RUNNING');

    const badResize = await call(kumo.app, 'POST', `${url}:resize`, { token, body: { type: '/v1/regions/us-texas-1/zones/us1-a/instance-types/nope' } });
    assert.equal(assertError(badResize, 400, 'INVALID_ARGUMENT').details[0]?.field, '/type');
    const resize = await call(kumo.app, 'POST', `${url}:resize`, { token, body: { type: '/v1/regions/us-texas-1/zones/us1-a/instance-types/g1-medium' } });
    assert.equal(resize.statusCode, 202, resize.body);
    const settled = await waitUntilNot(created.id, 'RESIZING');
    if (settled === 'VERIFY_RESIZE') assert.equal((await call(kumo.app, 'POST', `${url}:confirmResize`, { token })).statusCode, 202);
    await waitForStatus(kumo.app, token, created.id, 'RUNNING');

    const snapshot = await call(kumo.app, 'POST', `${url}:snapshot`, { token, body: { imageId: `snap-${created.id}`, displayName: 'before upgrade' } });
    assert.equal(snapshot.statusCode, 202, snapshot.body);
    assert.equal(json<{ kind: string }>(snapshot).kind, 'snapshot');

    const operations = json<{ items: Array<{ kind: string }> }>(await call(kumo.app, 'GET', `${url}/operations`, { token }));
    assert.deepEqual(
      ['create', 'stop', 'start', 'reboot', 'resize', 'snapshot'].filter((kind) => operations.items.some((op) => op.kind === kind)).length,
      6,
    );
    assertError(await call(kumo.app, 'POST', `${url}:explode`, { token }), 404, 'NOT_FOUND');
  });

  it('reads the console', async () => {
    const created = await createInstance(kumo.app, token);
    await waitForStatus(kumo.app, token, created.id, 'RUNNING');
    const response = await call(kumo.app, 'GET', `${INSTANCES}/${created.id}/console?lines=5`, { token });
    assert.equal(response.statusCode, 200);
    assert.equal(typeof json<{ contents: string }>(response).contents, 'string');
    assertError(await call(kumo.app, 'GET', `${INSTANCES}/${created.id}/console?lines=0`, { token }), 400, 'INVALID_ARGUMENT');
  });

  it('deletes with 202 and an operation, honours If-Match, and the instance disappears', async () => {
    const created = await createInstance(kumo.app, token);
    const url = `${INSTANCES}/${created.id}`;
    assertError(await call(kumo.app, 'DELETE', url, { token, headers: { 'if-match': '"9999"' } }), 412, 'PRECONDITION_FAILED');
    const response = await call(kumo.app, 'DELETE', url, { token });
    assert.equal(response.statusCode, 202, response.body);
    assert.equal(json<{ kind: string }>(response).kind, 'delete');
    const deadline = Date.now() + 15_000;
    while ((await call(kumo.app, 'GET', url, { token })).statusCode !== 404) {
      assert.ok(Date.now() < deadline, 'instance never disappeared');
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
  });
});

async function waitUntilNot(id: string, status: string): Promise<string> {
  const deadline = Date.now() + 15_000;
  for (;;) {
    const current = json<InstanceView>(await call(kumo.app, 'GET', `${INSTANCES}/${id}`, { token })).lifecycle.status;
    if (current !== status || Date.now() > deadline) return current;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}
