import { readFileSync, readdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type pg from 'pg';

export interface Migration {
  version: number;
  name: string;
  sql: string;
}

/** A database function's one definition (`functions/*.sql`): `CREATE OR REPLACE`, applied on every start. */
export interface Routine {
  name: string;
  sql: string;
}

/**
 * The numbered migrations live as .sql files beside the source; the compiled code reads them from the source tree
 * (dist/src/store → src/store/migrations) so SQL is never duplicated into generated output.
 */
export function loadMigrations(directory = sqlDirectory('migrations')): Migration[] {
  return readdirSync(directory)
    .filter((file) => /^\d{4}-.+\.sql$/.test(file))
    .sort()
    .map((file) => ({
      version: Number(file.slice(0, 4)),
      name: file.replace(/\.sql$/, ''),
      sql: readFileSync(join(directory, file), 'utf8'),
    }));
}

/**
 * The functions on the hot path change with the code that calls them. A numbered migration would have to restate a
 * whole function body for every change; as routines each has one file, re-applied (`CREATE OR REPLACE`) on every
 * start after the migrations, so the database always runs the definitions of the code that started.
 */
export function loadRoutines(directory = sqlDirectory('functions')): Routine[] {
  return readdirSync(directory)
    .filter((file) => file.endsWith('.sql'))
    .sort()
    .map((file) => ({ name: file.replace(/\.sql$/, ''), sql: readFileSync(join(directory, file), 'utf8') }));
}

function sqlDirectory(name: string): string {
  const here = dirname(fileURLToPath(import.meta.url));
  // Running from src/ (ts directly) or from dist/src/ (compiled).
  const candidates = [join(here, name), resolve(here, `../../../src/store/${name}`)];
  for (const candidate of candidates) {
    try {
      if (readdirSync(candidate).some((file) => file.endsWith('.sql'))) return candidate;
    } catch {
      // not this layout
    }
  }
  throw new Error(`${name} directory not found near ${here}`);
}

/** An arbitrary constant: the advisory lock that serialises migrations when several Kumo processes start at once. */
const MIGRATION_LOCK = 7_471_000_001;

/**
 * Applies every migration not yet recorded, each in its own transaction, then every routine in one, all under an
 * advisory lock. Returns the versions of the migrations it applied.
 */
export async function migrate(
  pool: pg.Pool,
  migrations: Migration[] = loadMigrations(),
  routines: Routine[] = loadRoutines(),
): Promise<number[]> {
  const client = await pool.connect();
  const applied: number[] = [];
  try {
    await client.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK]);
    await client.query(
      'CREATE TABLE IF NOT EXISTS schema_migrations (version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())',
    );
    const done = new Set((await client.query<{ version: number }>('SELECT version FROM schema_migrations')).rows.map((r) => r.version));
    for (const migration of migrations) {
      if (done.has(migration.version)) continue;
      await client.query('BEGIN');
      try {
        await client.query(migration.sql);
        await client.query('INSERT INTO schema_migrations (version, name) VALUES ($1, $2)', [migration.version, migration.name]);
        await client.query('COMMIT');
        applied.push(migration.version);
      } catch (error) {
        await client.query('ROLLBACK');
        throw new Error(`migration ${migration.name} failed: ${(error as Error).message}`);
      }
    }
    await client.query('BEGIN');
    try {
      for (const routine of routines) await client.query(routine.sql);
      await client.query('COMMIT');
    } catch (error) {
      await client.query('ROLLBACK');
      throw new Error(`database functions could not be defined: ${(error as Error).message}`);
    }
  } finally {
    await client.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK]).catch(() => undefined);
    client.release();
  }
  return applied;
}
