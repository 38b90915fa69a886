import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startNativeHarness, type TestKumo } from './native-harness.js';
import { assertError, BASE, call, json } from './native-client.js';

const SSH_KEY = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJeaD1heScpzmiypsUSb0T3lkmg2d/onGkPviaZ2Rtgc admin@hostname';

let kumo: TestKumo;
let token: string;

before(async () => {
  kumo = await startNativeHarness();
  token = await kumo.createProjectKey('project-x9y8z7', 'member');
});
after(async () => kumo.close());

type Items<T = Record<string, unknown>> = { items: T[] };

describe('catalog', () => {
  it('lists regions and zones', async () => {
    const regions = json<Items<{ id: string; selfLink: string }>>(await call(kumo.app, 'GET', '/v1/regions', { token }));
    assert.ok(regions.items.some((region) => region.id === 'us-texas-1' && region.selfLink === '/v1/regions/us-texas-1'));
    const zones = json<Items<{ id: string; region: string }>>(await call(kumo.app, 'GET', '/v1/regions/us-texas-1/zones', { token }));
    assert.ok(zones.items.some((zone) => zone.id === 'us1-a' && zone.region === '/v1/regions/us-texas-1'));
    assertError(await call(kumo.app, 'GET', '/v1/regions/atlantis/zones', { token }), 404, 'NOT_FOUND');
  });

  it('lists and gets instance types of a zone', async () => {
    const types = json<Items<{ id: string; selfLink: string; vcpus: number }>>(await call(kumo.app, 'GET', '/v1/regions/us-texas-1/zones/us1-a/instance-types', { token }));
    const type = types.items.find((candidate) => candidate.id === 'g1-xlarge');
    assert.equal(type?.selfLink, '/v1/regions/us-texas-1/zones/us1-a/instance-types/g1-xlarge');
    const one = await call(kumo.app, 'GET', '/v1/regions/us-texas-1/zones/us1-a/instance-types/g1-xlarge', { token });
    assert.equal(one.statusCode, 200);
    assert.equal(json<{ vcpus: number }>(one).vcpus, 8);
    assertError(await call(kumo.app, 'GET', '/v1/regions/us-texas-1/zones/us1-a/instance-types/nope', { token }), 404, 'NOT_FOUND');
    assertError(await call(kumo.app, 'GET', '/v1/regions/us-texas-1/zones/kgl1-a/instance-types', { token }), 404, 'NOT_FOUND');
  });

  it('lists public images and the project view of images', async () => {
    const images = json<Items<{ id: string; visibility: string; status: string }>>(await call(kumo.app, 'GET', '/v1/regions/us-texas-1/compute/images', { token }));
    const image = images.items.find((candidate) => candidate.id === 'ubuntu-24.04-20260202-3');
    assert.equal(image?.visibility, 'PUBLIC');
    assert.equal(image?.status, 'ACTIVE');
    assert.equal((await call(kumo.app, 'GET', '/v1/regions/us-texas-1/compute/images/ubuntu-24.04-20260202-3', { token })).statusCode, 200);
    const project = json<Items<{ id: string }>>(await call(kumo.app, 'GET', `${BASE}/compute/images`, { token }));
    assert.ok(project.items.some((candidate) => candidate.id === 'ubuntu-24.04-20260202-3'));
    assertError(await call(kumo.app, 'GET', '/v1/regions/us-texas-1/compute/images/nope', { token }), 404, 'NOT_FOUND');
  });

  it('lists networks with subnets', async () => {
    const networks = json<Items<{ id: string; selfLink: string; subnets: Array<{ cidr: string }> }>>(await call(kumo.app, 'GET', `${BASE}/compute/networks`, { token }));
    const network = networks.items.find((candidate) => candidate.id === 'network-g7h8i9');
    assert.equal(network?.selfLink, `${BASE}/compute/networks/network-g7h8i9`);
    assert.ok((network?.subnets.length ?? 0) > 0);
    assert.equal((await call(kumo.app, 'GET', `${BASE}/compute/networks/network-g7h8i9`, { token })).statusCode, 200);
    assertError(await call(kumo.app, 'GET', `${BASE}/compute/networks/kgl-default`, { token }), 404, 'NOT_FOUND');
  });
});

describe('ssh keys', () => {
  it('registers, lists, gets and deletes a key', async () => {
    const created = await call(kumo.app, 'POST', `${BASE}/compute/ssh-keys`, { token, body: { id: 'laptop', displayName: 'My laptop', publicKey: SSH_KEY } });
    assert.equal(created.statusCode, 201, created.body);
    const view = json<{ selfLink: string; fingerprint: string; displayName: string }>(created);
    assert.equal(created.headers.location, view.selfLink);
    assert.match(view.fingerprint, /^SHA256:/);
    assert.equal(view.displayName, 'My laptop');
    const list = json<Items<{ id: string }>>(await call(kumo.app, 'GET', `${BASE}/compute/ssh-keys`, { token }));
    assert.ok(list.items.some((key) => key.id === 'laptop'));
    assert.equal((await call(kumo.app, 'GET', `${BASE}/compute/ssh-keys/laptop`, { token })).statusCode, 200);
    assertError(await call(kumo.app, 'POST', `${BASE}/compute/ssh-keys`, { token, body: { id: 'laptop', publicKey: SSH_KEY } }), 409, 'CONFLICT');
    assert.equal((await call(kumo.app, 'DELETE', `${BASE}/compute/ssh-keys/laptop`, { token })).statusCode, 204);
    assertError(await call(kumo.app, 'DELETE', `${BASE}/compute/ssh-keys/laptop`, { token }), 404, 'NOT_FOUND');
  });

  it('refuses an invalid public key with the field', async () => {
    const response = await call(kumo.app, 'POST', `${BASE}/compute/ssh-keys`, { token, body: { id: 'broken', publicKey: 'ssh-ed25519 AAAA' } });
    assert.equal(assertError(response, 400, 'INVALID_ARGUMENT').details[0]?.field, '/publicKey');
  });
});

describe('OpenAPI', () => {
  it('documents every native route with request and response schemas', async () => {
    const document = json<{ openapi: string; paths: Record<string, Record<string, { responses: Record<string, unknown>; requestBody?: unknown }>> }>(
      await call(kumo.app, 'GET', '/openapi.json', { token: null }),
    );
    assert.equal(document.openapi, '3.1.0');
    const create = document.paths['/v1/regions/{region}/projects/{project}/compute/instances']?.post;
    assert.ok(create?.requestBody);
    assert.ok(create?.responses['202']);
    assert.ok(document.paths['/v1/regions/{region}/projects/{project}/compute/instances/{id}:start']?.post);
    for (const [path, methods] of Object.entries(document.paths)) {
      for (const [method, operation] of Object.entries(methods)) {
        assert.ok(Object.keys(operation.responses).some((status) => status.startsWith('2')), `${method} ${path} has no success schema`);
        assert.ok(operation.responses['4XX'] ?? operation.responses['4xx'], `${method} ${path} has no error schema`);
      }
    }
  });
});
