import { randomBytes } from 'node:crypto';
import pg from 'pg';
import type { Store } from '../../src/core/index.js';
import { openPostgresStore } from '../../src/store/postgres-store.js';

/**
 * The PostgreSQL server the tests run on: `KUMO_TEST_DATABASE_URL` (the test runner points it at an embedded
 * PostgreSQL 18 it started) or `DATABASE_URL` (an external server, as CI's second pass). Each test gets its own
 * database on it, dropped afterwards.
 */
export function testServerUrl(): string {
  const url = process.env.KUMO_TEST_DATABASE_URL ?? process.env.DATABASE_URL;
  if (!url) throw new Error('no test database: run the tests with `npm test`, or set DATABASE_URL');
  return url;
}

function withDatabase(url: string, database: string): string {
  const parsed = new URL(url);
  parsed.pathname = `/${database}`;
  return parsed.toString();
}

/** Creates an empty database on the test server and returns its URL and a function that drops it. */
export async function createTestDatabase(): Promise<{ databaseUrl: string; drop(): Promise<void> }> {
  const serverUrl = testServerUrl();
  const name = `kumo_test_${randomBytes(6).toString('hex')}`;
  const admin = new pg.Client({ connectionString: withDatabase(serverUrl, 'postgres') });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE ${name}`);
  } finally {
    await admin.end();
  }
  return {
    databaseUrl: withDatabase(serverUrl, name),
    async drop() {
      const client = new pg.Client({ connectionString: withDatabase(serverUrl, 'postgres') });
      await client.connect();
      try {
        await client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      } finally {
        await client.end();
      }
    },
  };
}

/** A migrated store on a fresh database. */
export async function createTestStore(): Promise<{ store: Store; databaseUrl: string; close(): Promise<void> }> {
  const database = await createTestDatabase();
  const store = await openPostgresStore({ connectionString: database.databaseUrl, poolSize: 8 });
  return {
    store,
    databaseUrl: database.databaseUrl,
    async close() {
      await store.close();
      await database.drop();
    },
  };
}
