import type pg from 'pg';
import { PeriodicTask } from './periodic-task.js';

export interface EventRetentionOptions {
  /** How long change events are kept; default 24 hours. */
  eventsMs?: number;
  /** How often to look; default 60 s. */
  intervalMs?: number;
  /** Rows deleted per statement; default 5,000. */
  batch?: number;
}

/** Statements per pass at most, so one pass never holds a connection for long; the next pass goes on. */
const MAX_BATCHES_PER_PASS = 200;

/**
 * Deletes change events older than the retention and idempotency records past their expiry, in small batches, so
 * that the store does not grow for ever. One replica at a time does it (a try-lock: the others skip that pass). The
 * newest stream position deleted is recorded in `event_horizon` in the same statement, for streams that resume from
 * before it (migration 0009). A failed pass is only a missed pass.
 */
type Pruned = { events: number; idempotencyKeys: number };

export class EventRetention {
  private readonly eventsMs: number;
  private readonly batch: number;
  private readonly task: PeriodicTask<Pruned>;

  constructor(
    private readonly pool: pg.Pool,
    options: EventRetentionOptions = {},
  ) {
    this.eventsMs = options.eventsMs ?? 24 * 60 * 60 * 1000;
    this.batch = options.batch ?? 5_000;
    this.task = new PeriodicTask(options.intervalMs ?? 60_000, () => this.pass(), { events: 0, idempotencyKeys: 0 });
  }

  start(): void {
    this.task.start();
  }

  stop(): Promise<void> {
    return this.task.stop();
  }

  /** One pass (or the one under way); resolves with how many rows it deleted. */
  prune(): Promise<Pruned> {
    return this.task.run();
  }

  private async pass(): Promise<Pruned> {
    const client = await this.pool.connect();
    try {
      const { rows } = await client.query<{ locked: boolean }>("SELECT pg_try_advisory_lock(hashtext('kumo-retention')) AS locked");
      if (!rows[0]?.locked) return { events: 0, idempotencyKeys: 0 };
      try {
        return { events: await this.pruneEvents(client), idempotencyKeys: await this.pruneIdempotencyKeys(client) };
      } finally {
        await client.query("SELECT pg_advisory_unlock(hashtext('kumo-retention'))");
      }
    } finally {
      client.release();
    }
  }

  private async pruneEvents(client: pg.PoolClient): Promise<number> {
    let deleted = 0;
    for (let batch = 0; batch < MAX_BATCHES_PER_PASS; batch++) {
      // Ids follow insertion, so the expired events are a run from the oldest id: a window of ids from the oldest,
      // through the primary key, rather than an index on the time that every insert would have to maintain. An
      // event younger than the retention in the window stays, and the pass ends there until it expires too.
      const { rows } = await client.query<{ deleted: string }>({
        name: 'kumo-prune-events',
        text: `WITH oldest AS (SELECT id FROM events ORDER BY id LIMIT 1),
                    gone AS (DELETE FROM events e USING oldest
                              WHERE e.id >= oldest.id AND e.id < oldest.id + $1 AND e.at < now() - make_interval(secs => $2::double precision / 1000)
                              RETURNING e.xid, e.id),
                    newest AS (SELECT xid, id FROM gone ORDER BY xid DESC, id DESC LIMIT 1),
                    moved AS (UPDATE event_horizon h SET xid = n.xid, id = n.id FROM newest n WHERE (n.xid, n.id) > (h.xid, h.id) RETURNING 1)
               SELECT count(*) AS deleted FROM gone`,
        values: [this.batch, this.eventsMs],
      });
      const count = Number(rows[0]?.deleted ?? 0);
      deleted += count;
      if (count === 0) break;
    }
    return deleted;
  }

  private async pruneIdempotencyKeys(client: pg.PoolClient): Promise<number> {
    let deleted = 0;
    for (let batch = 0; batch < MAX_BATCHES_PER_PASS; batch++) {
      const { rowCount } = await client.query({
        name: 'kumo-prune-idempotency-keys',
        text: `DELETE FROM idempotency_keys WHERE ctid = ANY (ARRAY(
                 SELECT ctid FROM idempotency_keys WHERE expires_at < now() LIMIT $1))`,
        values: [this.batch],
      });
      deleted += rowCount ?? 0;
      if ((rowCount ?? 0) < this.batch) break;
    }
    return deleted;
  }
}
