import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { startTestKumo, type TestKumo } from '../../support/test-kumo.js';
import { BASE, createInstance, waitForStatus } from './native-client.js';

let kumo: TestKumo;
let token: string;

before(async () => {
  // Events kept for one second, retention looking five times a second, two rows a statement (so a pass takes many):
  // what a day does, in a test.
  kumo = await startTestKumo({ env: { KUMO_EVENT_RETENTION_SECONDS: '1' }, retention: { intervalMs: 200, batch: 2 } });
  token = await kumo.createProjectKey('project-x9y8z7', 'member');
});
after(async () => kumo.close());

/** Opens the stream from `after` and returns the status, and the body when it is not the stream. */
async function openStream(after: string | null): Promise<{ status: number; body: unknown }> {
  const controller = new AbortController();
  const response = await fetch(`${kumo.url}${BASE}/events`, {
    headers: { authorization: `Bearer ${token}`, ...(after ? { 'last-event-id': after } : {}) },
    signal: controller.signal,
  });
  if (response.status === 200) {
    controller.abort();
    return { status: 200, body: null };
  }
  return { status: response.status, body: await response.json() };
}

async function eventCount(): Promise<number> {
  const client = new pg.Client({ connectionString: kumo.databaseUrl });
  await client.connect();
  try {
    const { rows } = await client.query<{ n: string }>('SELECT count(*) AS n FROM events');
    return Number(rows[0]!.n);
  } finally {
    await client.end();
  }
}

describe('event retention', () => {
  it('deletes events past the retention, and a stream resumed from before them answers 410 EXPIRED', async () => {
    const created = await Promise.all([createInstance(kumo.app, token), createInstance(kumo.app, token), createInstance(kumo.app, token)]);
    for (const { id } of created) await waitForStatus(kumo.app, token, id, 'RUNNING');
    // A position from before the instance's events: the start of the stream.
    assert.equal((await openStream('0.0')).status, 200, 'resumable while its events are kept');
    assert.ok((await eventCount()) > 0);

    const deadline = Date.now() + 15_000;
    while ((await eventCount()) > 0 && Date.now() < deadline) await sleep(100);
    assert.equal(await eventCount(), 0, 'the expired events were deleted');

    const expired = await openStream('0.0');
    assert.equal(expired.status, 410);
    const { error } = expired.body as { error: { code: string; status: number; message: string; details: Array<{ info?: Record<string, unknown> }> } };
    assert.equal(error.code, 'EXPIRED');
    assert.equal(error.status, 410);
    assert.match(error.message, /no longer kept/);

    // Streaming from now still works, and a position past everything deleted resumes.
    assert.equal((await openStream(null)).status, 200);
    const far = '99999999999.1';
    assert.equal((await openStream(far)).status, 200);
  });

  it('deletes idempotency records past their expiry', async () => {
    const client = new pg.Client({ connectionString: kumo.databaseUrl });
    await client.connect();
    try {
      await client.query(
        `INSERT INTO idempotency_keys (principal_id, scope, key, fingerprint, expires_at)
         VALUES ('someone', 'test', 'stale', 'f', now() - interval '1 minute'), ('someone', 'test', 'fresh', 'f', now() + interval '1 day')`,
      );
      const deadline = Date.now() + 15_000;
      let keys: string[] = [];
      do {
        await sleep(100);
        keys = (await client.query<{ key: string }>("SELECT key FROM idempotency_keys WHERE principal_id = 'someone' ORDER BY key")).rows.map((row) => row.key);
      } while (keys.includes('stale') && Date.now() < deadline);
      assert.deepEqual(keys, ['fresh']);
    } finally {
      await client.end();
    }
  });
});
