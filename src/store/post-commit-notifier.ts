import type pg from 'pg';

/** Channels Kumo's processes listen on. */
export const CHANNELS = {
  /** Payload: a project id whose change stream has new events. */
  events: 'kumo_events',
  /** No payload: the controller has new work. */
  work: 'kumo_work',
} as const;

/**
 * Sends NOTIFYs after the changes they announce have committed, coalesced and on their own statement.
 *
 * Why not NOTIFY inside the writing transaction: PostgreSQL serialises the commits of notifying transactions with a
 * database-wide lock held through the commit's fsync, which capped all of Kumo's writes at one commit at a time. A
 * notification is only a hint to look again (every consumer also polls or sweeps), so sending it a moment later,
 * from a transaction that writes nothing, loses nothing.
 */
export class PostCommitNotifier {
  private readonly pending = new Map<string, Set<string>>();
  private scheduled = false;
  private sending = false;

  constructor(private readonly pool: pg.Pool) {}

  notify(channel: string, payload = ''): void {
    let payloads = this.pending.get(channel);
    if (!payloads) this.pending.set(channel, (payloads = new Set()));
    payloads.add(payload);
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(() => void this.flush());
    }
  }

  private async flush(): Promise<void> {
    this.scheduled = false;
    if (this.sending) {
      // One flush at a time; whatever arrives meanwhile goes out with the next.
      this.scheduled = true;
      setTimeout(() => void this.flush(), 1);
      return;
    }
    const channels: string[] = [];
    const payloads: string[] = [];
    for (const [channel, set] of this.pending) for (const payload of set) {
      channels.push(channel);
      payloads.push(payload);
    }
    this.pending.clear();
    if (channels.length === 0) return;
    this.sending = true;
    try {
      await this.pool.query('SELECT pg_notify(c, p) FROM unnest($1::text[], $2::text[]) AS t(c, p)', [channels, payloads]);
    } catch {
      // A lost hint costs latency only: listeners sweep.
    } finally {
      this.sending = false;
    }
  }
}
