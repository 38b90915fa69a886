import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { startHarness, type ControllerHarness } from './controller-harness.js';

describe('controller: the writes of a step do only what the step asked', () => {
  let harness: ControllerHarness;
  before(async () => {
    harness = await startHarness({ hosts: 1 });
  });
  after(() => harness.close());

  it('a boot step that resizes nothing does not touch the claim (kumo_reclaim is not called)', async () => {
    // A reclaim that cannot run: any call fails the whole observation batch, so the instance would never record
    // RUNNING. In SQL, `NULL AND f()` still calls f(); an observation without a reclaim used to pay for one.
    const client = new pg.Client({ connectionString: harness.databaseUrl });
    await client.connect();
    try {
      await client.query(`CREATE OR REPLACE FUNCTION kumo_reclaim(p_uid uuid, p_size jsonb) RETURNS boolean
        LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'kumo_reclaim called for %', p_uid; END $$`);
    } finally {
      await client.end();
    }
    const { instance, operation } = await harness.create();
    const running = await harness.waitFor(instance.uid, (i) => i.phase === 'running' && i.currentOperationId === null, 5_000);
    assert.equal(running.powerState, 'running');
    assert.equal((await harness.operation(operation.id)).status, 'succeeded');
  });
});
