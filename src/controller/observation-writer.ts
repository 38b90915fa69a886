import type { ControllerStore, ObservationResult, ObservationUpdate } from '../core/ports.js';

interface PendingGroup {
  updates: ObservationUpdate[];
  resolve: (results: ObservationResult[]) => void;
  reject: (error: unknown) => void;
}

export interface ObservationWriterOptions {
  /** Most updates in one transaction; default 256. */
  maxBatch?: number;
  /** Transactions in flight at once; default 1 (larger batches, fewer commits: see CreateBatcher). */
  maxConcurrent?: number;
}

/**
 * Group commit for observations: callers hand in their updates and await the results, and whatever piles up while a
 * transaction is running goes into the next one. At a thousand steps a second that turns a thousand transactions
 * into a few dozen without delaying anyone on a timer.
 *
 * A caller's group (several updates for one instance, in order) is never split across transactions, so a step's
 * updates land together or not at all. When a batch fails, each group is retried alone once, so one bad update
 * fails only its own caller.
 */
export class ObservationWriter {
  private readonly queue: PendingGroup[] = [];
  private readonly maxBatch: number;
  private readonly maxConcurrent: number;
  private running = 0;
  private idleWaiters: Array<() => void> = [];

  constructor(
    private readonly store: Pick<ControllerStore, 'recordObservations'>,
    private readonly owner: string,
    options: ObservationWriterOptions = {},
  ) {
    this.maxBatch = options.maxBatch ?? 256;
    this.maxConcurrent = options.maxConcurrent ?? 1;
  }

  /** Records the updates (applied in order, in one transaction); resolves with one result per update. */
  write(updates: ObservationUpdate[]): Promise<ObservationResult[]> {
    if (updates.length === 0) return Promise.resolve([]);
    return new Promise((resolve, reject) => {
      this.queue.push({ updates, resolve, reject });
      this.pump();
    });
  }

  /** Resolves once everything handed in so far is written. */
  idle(): Promise<void> {
    if (this.running === 0 && this.queue.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private pump(): void {
    while (this.running < this.maxConcurrent && this.queue.length > 0) {
      const batch: PendingGroup[] = [];
      let size = 0;
      while (this.queue.length > 0) {
        const next = this.queue[0];
        if (!next || (batch.length > 0 && size + next.updates.length > this.maxBatch)) break;
        batch.push(next);
        size += next.updates.length;
        this.queue.shift();
      }
      this.running += 1;
      void this.flush(batch).finally(() => {
        this.running -= 1;
        this.pump();
        if (this.running === 0 && this.queue.length === 0) {
          for (const waiter of this.idleWaiters.splice(0)) waiter();
        }
      });
    }
  }

  private async flush(batch: PendingGroup[]): Promise<void> {
    try {
      const results = await this.store.recordObservations(
        this.owner,
        batch.flatMap((group) => group.updates),
      );
      let offset = 0;
      for (const group of batch) {
        group.resolve(results.slice(offset, offset + group.updates.length));
        offset += group.updates.length;
      }
    } catch (error) {
      if (batch.length === 1) {
        batch[0]?.reject(error);
        return;
      }
      await Promise.all(
        batch.map((group) =>
          this.store.recordObservations(this.owner, group.updates).then(group.resolve, group.reject),
        ),
      );
    }
  }
}
