import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type pg from 'pg';
import { createPool } from '../../src/store/database.js';
import { migrate } from '../../src/store/migrations.js';
import { StatisticsKeeper } from '../../src/store/statistics-keeper.js';
import { createTestDatabase } from '../support/test-database.js';

let database: Awaited<ReturnType<typeof createTestDatabase>>;
let pool: pg.Pool;

before(async () => {
  database = await createTestDatabase();
  pool = createPool(database.databaseUrl, 4);
  await migrate(pool);
  // Autovacuum must not analyse first: this is about the keeper doing it.
  await pool.query('ALTER TABLE events SET (autovacuum_enabled = false)');
});
after(async () => {
  await pool.end();
  await database.drop();
});

async function lastAnalyze(table: string): Promise<Date | null> {
  const { rows } = await pool.query<{ at: Date | null }>('SELECT last_analyze AS at FROM pg_stat_user_tables WHERE relname = $1', [table]);
  return rows[0]?.at ?? null;
}

describe('StatisticsKeeper', () => {
  it('analyses a table once enough of it changed, and not again until more does', async () => {
    const keeper = new StatisticsKeeper(pool, { minChangedRows: 500 });
    assert.deepEqual(await keeper.check(), [], 'an empty database needs nothing');
    await pool.query(
      "INSERT INTO events (project_id, resource, resource_id, type, data) SELECT 'p', 'instance', g::text, 'created', '{}' FROM generate_series(1, 2000) g",
    );
    // The server's counters of changed rows reach pg_stat_user_tables a moment after the commit.
    let analysed: string[] = [];
    const deadline = Date.now() + 10_000;
    while (analysed.length === 0 && Date.now() < deadline) {
      analysed = await keeper.check();
      if (analysed.length === 0) await new Promise((resolve) => setTimeout(resolve, 200));
    }
    assert.deepEqual(analysed, ['events']);
    assert.ok(await lastAnalyze('events'));
    assert.deepEqual(await keeper.check(), [], 'nothing changed since');
  });
});
