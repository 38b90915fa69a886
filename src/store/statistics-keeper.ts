import type pg from 'pg';
import { PeriodicTask } from './periodic-task.js';

export interface StatisticsKeeperOptions {
  /** How often to look; default 10 s. */
  intervalMs?: number;
  /** Re-analyse a table once this share of its rows changed since the last ANALYZE; default 0.05. */
  changedShare?: number;
  /** …and at least this many rows; default 1,000. */
  minChangedRows?: number;
}

/** The tables whose growth changes which plan is right (label index or a project scan; event positions). */
const TABLES = ['instances', 'events'];

/**
 * Keeps the planner's statistics of Kumo's fast-growing tables fresh on any server. Autovacuum analyses them too
 * (migration 0005 lowers their thresholds), but only as often as the server's `autovacuum_naptime`, a minute by
 * default on an external server: a benchmark filled 100,000 instances in 80 s, and for the rest of that minute every
 * label-selector page scanned the whole project (≈400 ms at p99 against ≈20 ms). Every `intervalMs` this asks
 * PostgreSQL how many rows changed since the last analyse and runs ANALYZE on a table past the threshold. A failed
 * look is only a missed look.
 */
export class StatisticsKeeper {
  private readonly changedShare: number;
  private readonly minChangedRows: number;
  private readonly task: PeriodicTask<string[]>;

  constructor(
    private readonly pool: pg.Pool,
    options: StatisticsKeeperOptions = {},
  ) {
    this.changedShare = options.changedShare ?? 0.05;
    this.minChangedRows = options.minChangedRows ?? 1_000;
    this.task = new PeriodicTask(options.intervalMs ?? 10_000, () => this.analyseStale(), []);
  }

  start(): void {
    this.task.start();
  }

  stop(): Promise<void> {
    return this.task.stop();
  }

  /** One look (or the one under way); resolves with the tables it analysed. */
  check(): Promise<string[]> {
    return this.task.run();
  }

  private async analyseStale(): Promise<string[]> {
    const { rows } = await this.pool.query<{ relname: string }>({
      name: 'kumo-stale-statistics',
      text: `SELECT relname FROM pg_stat_user_tables
              WHERE schemaname = current_schema() AND relname = ANY($1::text[])
                AND n_mod_since_analyze >= greatest($3::bigint, ($2::float8 * n_live_tup)::bigint)`,
      values: [TABLES, this.changedShare, this.minChangedRows],
    });
    const analysed: string[] = [];
    for (const { relname } of rows) {
      // The names come from the fixed list above, never from a request.
      await this.pool.query(`ANALYZE ${relname}`);
      analysed.push(relname);
    }
    return analysed;
  }
}
