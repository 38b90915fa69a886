import { randomBytes } from 'node:crypto';
import pg from 'pg';
import type { Store } from '../../src/core/index.js';
import { openPostgresStore, type PostgresStoreOptions } from '../../src/store/postgres-store.js';

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

/**
 * Creates an empty database named `${prefix}_<random>` on the server of `serverUrl` and returns its URL and a function
 * that drops it (with any sessions still connected). The tests and the bench make their databases this way.
 */
export async function createScratchDatabase(
  serverUrl: string,
  prefix: string,
): Promise<{ databaseUrl: string; drop(): Promise<void> }> {
  const name = `${prefix}_${randomBytes(6).toString('hex')}`;
  const adminQuery = async (sql: string) => {
    const admin = new pg.Client({ connectionString: withDatabase(serverUrl, 'postgres') });
    await admin.connect();
    try {
      await admin.query(sql);
    } finally {
      await admin.end();
    }
  };
  await adminQuery(`CREATE DATABASE ${name}`);
  return {
    databaseUrl: withDatabase(serverUrl, name),
    drop: () => adminQuery(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`),
  };
}

/** Creates an empty database on the test server and returns its URL and a function that drops it. */
export function createTestDatabase(): Promise<{ databaseUrl: string; drop(): Promise<void> }> {
  return createScratchDatabase(testServerUrl(), 'kumo_test');
}

/** A migrated store on a fresh database. */
export async function createTestStore(
  options: Pick<PostgresStoreOptions, 'guestSliceSize'> = {},
): Promise<{ store: Store; databaseUrl: string; close(): Promise<void> }> {
  const database = await createTestDatabase();
  const store = await openPostgresStore({ connectionString: database.databaseUrl, poolSize: 8, ...options });
  return {
    store,
    databaseUrl: database.databaseUrl,
    async close() {
      await store.close();
      await database.drop();
    },
  };
}
