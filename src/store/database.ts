import pg from 'pg';

// Bigint columns (counts, sizes) arrive as strings; ids never exceed 2^53, so numbers are safe and simpler.
pg.types.setTypeParser(20, (value) => Number(value));

export type Queryable = pg.Pool | pg.PoolClient;

/** Runs `work` in one transaction on one connection; rolls back and rethrows on any error. */
export async function withTransaction<T>(pool: pg.Pool, work: (client: pg.PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    const result = await work(client);
    await client.query('COMMIT');
    return result;
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw error;
  } finally {
    client.release();
  }
}

/**
 * `asynchronousCommit` pools commit without waiting for the WAL flush: for writes that can be lost in a crash and
 * re-derived (leases, the controller's observations), never for what a client is told was accepted.
 */
export function createPool(connectionString: string, max = 16, options: { asynchronousCommit?: boolean } = {}): pg.Pool {
  const pool = new pg.Pool({
    connectionString,
    max,
    application_name: options.asynchronousCommit ? 'kumo-controller' : 'kumo',
    idleTimeoutMillis: 30_000,
    // JIT compilation pays off for analytics, not for a control plane's short queries, whose cost estimates can still
    // cross jit_above_cost on a large table (the Debian PostgreSQL 15 here has JIT on; the embedded server has none).
    options: options.asynchronousCommit ? '-c jit=off -c synchronous_commit=off' : '-c jit=off',
  });
  // An idle client that loses its server must not crash the process; the next query reconnects.
  pool.on('error', () => undefined);
  return pool;
}

/** PostgreSQL's unique_violation, with the constraint that was hit. */
export function uniqueViolation(error: unknown): string | null {
  const e = error as { code?: string; constraint?: string };
  return e?.code === '23505' ? (e.constraint ?? 'unknown') : null;
}
