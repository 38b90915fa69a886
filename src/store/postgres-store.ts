import type pg from 'pg';
import type { Store } from '../core/index.js';
import { CatalogRepository } from './catalog-repository.js';
import { ControllerRepository } from './controller-repository.js';
import { CreateBatcher, type CreateBatcherOptions } from './create-batcher.js';
import { createPool } from './database.js';
import { EventRetention, type EventRetentionOptions } from './event-retention.js';
import { StatisticsKeeper, type StatisticsKeeperOptions } from './statistics-keeper.js';
import { InstanceRepository } from './instance-repository.js';
import { migrate } from './migrations.js';
import { NotificationListener } from './notification-listener.js';
import { PostCommitNotifier } from './post-commit-notifier.js';
import { TenancyRepository } from './tenancy-repository.js';

export interface PostgresStoreOptions {
  connectionString: string;
  poolSize?: number;
  batching?: CreateBatcherOptions;
  /** Tests shorten its interval; see {@link StatisticsKeeper}. */
  statistics?: StatisticsKeeperOptions;
  /** How long events are kept (tests shorten it and the interval); see {@link EventRetention}. */
  retention?: EventRetentionOptions;
  /** Guests a status sweep compares in one statement (default 2,048; tests make it tiny to cross slices). */
  guestSliceSize?: number;
}

/** Binds every method of a repository, so the store can be assembled from them without forwarding boilerplate. */
function methodsOf<T extends object>(repository: T): T {
  const bound: Record<string, unknown> = {};
  for (const name of Object.getOwnPropertyNames(Object.getPrototypeOf(repository))) {
    const value = (repository as Record<string, unknown>)[name];
    if (name !== 'constructor' && typeof value === 'function') bound[name] = value.bind(repository);
  }
  return bound as T;
}

/**
 * Opens Kumo's store on a PostgreSQL server (embedded or external, the same code path): a connection pool, the
 * migrations, and one LISTEN connection for wake-ups.
 */
export async function openPostgresStore(options: PostgresStoreOptions): Promise<Store & { pool: pg.Pool }> {
  const pool = createPool(options.connectionString, options.poolSize ?? 16);
  try {
    await migrate(pool);
  } catch (error) {
    await pool.end().catch(() => undefined);
    throw error;
  }
  const listener = new NotificationListener(options.connectionString);
  const batcher = new CreateBatcher(pool, options.batching);
  const notifier = new PostCommitNotifier(pool);
  const statistics = new StatisticsKeeper(pool, options.statistics);
  statistics.start();
  const retention = new EventRetention(pool, options.retention);
  retention.start();
  // The controller's writes are re-derivable: a lease or an observation lost in a crash is taken or observed again
  // (every step is idempotent). They commit without waiting for the disk, so they do not queue behind client writes.
  const controllerPool = createPool(options.connectionString, Math.max(2, Math.ceil((options.poolSize ?? 16) / 3)), { asynchronousCommit: true });
  const store: Store & { pool: pg.Pool } = Object.assign(
    {},
    methodsOf(new TenancyRepository(pool)),
    methodsOf(new CatalogRepository(pool)),
    methodsOf(new InstanceRepository(pool, batcher, listener, notifier)),
    methodsOf(new ControllerRepository(controllerPool, listener, notifier, options.guestSliceSize)),
    {
    pool,
    async exclusively<T>(name: string, work: () => Promise<T>): Promise<T> {
      const client = await pool.connect();
      try {
        await client.query('SELECT pg_advisory_lock(hashtext($1))', [name]);
        try {
          return await work();
        } finally {
          await client.query('SELECT pg_advisory_unlock(hashtext($1))', [name]);
        }
      } finally {
        client.release();
      }
    },
    async ping(): Promise<void> {
      await pool.query('SELECT 1');
    },
    async close(): Promise<void> {
      await statistics.stop();
      await retention.stop();
      await listener.close();
      await controllerPool.end();
      await pool.end();
    },
    },
  );
  return store;
}
