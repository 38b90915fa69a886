import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { STEPPING_PHASES } from '../../src/store/controller-repository.js';
import { createTestStore } from '../support/test-database.js';

describe('the index of instances with a step to take', () => {
  let database: Awaited<ReturnType<typeof createTestStore>>;
  let client: pg.Client;
  before(async () => {
    database = await createTestStore();
    client = new pg.Client({ connectionString: database.databaseUrl });
    await client.connect();
  });
  after(async () => {
    await client.end();
    await database.close();
  });

  it("is the one the controller's lease query can use: its predicate lists the same phases", async () => {
    // With sequential scans priced out, a query whose phase list the index predicate does not match has no other
    // plan than a scan of the table; a phase added to TRANSITIONAL_PHASES without a migration shows up here.
    await client.query('SET enable_seqscan = off');
    const { rows } = await client.query(
      `EXPLAIN SELECT uid FROM instances WHERE phase IN ${STEPPING_PHASES} ORDER BY updated_at LIMIT 10`,
    );
    const plan = rows.map((row: Record<string, string>) => row['QUERY PLAN']).join('\n');
    assert.match(plan, /instances_needing_work/, plan);
  });
});
