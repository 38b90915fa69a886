import { ExpiredError, ValidationError } from '../errors.js';
import type { ChangeEvent } from '../instances/instance.js';
import type { EventStore } from '../ports.js';
import type { TenancyService } from '../tenancy/tenancy-service.js';
import type { Principal } from '../tenancy/tenancy.js';

const EVENT_CURSOR = /^[0-9]{1,19}\.[0-9]{1,19}$/;

/** An event id as the stream hands them out: `<transaction id>.<event id>`. */
export function isEventCursor(value: string): boolean {
  return EVENT_CURSOR.test(value);
}

function assertEventCursor(after: string): void {
  if (!isEventCursor(after)) throw new ValidationError('invalid event id', [{ path: 'after', message: 'not an event id of this stream' }]);
}

/** Orders two event ids by (transaction, event), as the stream hands them out. */
export function compareCursors(a: string, b: string): number {
  const [ax = '0', ai = '0'] = a.split('.');
  const [bx = '0', bi = '0'] = b.split('.');
  const byTransaction = BigInt(ax) - BigInt(bx);
  const difference = byTransaction !== 0n ? byTransaction : BigInt(ai) - BigInt(bi);
  return difference < 0n ? -1 : difference > 0n ? 1 : 0;
}

/**
 * The per-project change stream. Events are rows written in the same transaction as the change, so a client that
 * resumes from its last event id misses nothing; `subscribe` only says "look again", it carries no data.
 */
export class EventService {
  constructor(
    private readonly store: EventStore,
    private readonly tenancy: TenancyService,
  ) {}

  async authorize(principal: Principal, projectId: string): Promise<void> {
    await this.tenancy.authorize(principal, projectId, 'read');
  }

  /** Events after the cursor, in commit order; the caller must have been authorized for the project. */
  listAfter(projectId: string, after: string, limit = 500): Promise<ChangeEvent[]> {
    assertEventCursor(after);
    return this.store.listEvents(projectId, after, limit);
  }

  /**
   * Throws {@link ExpiredError} when events after `cursor` may have been deleted by retention: a client resuming
   * from there would silently miss them, so it is told to read the resources again and stream from now.
   */
  async assertResumable(cursor: string): Promise<void> {
    assertEventCursor(cursor);
    const horizon = await this.store.eventHorizon();
    if (compareCursors(cursor, horizon) < 0) {
      throw new ExpiredError(`events after ${cursor} are no longer kept; read the resources again and stream from now`, {
        after: cursor,
        oldestResumable: horizon,
      });
    }
  }

  latestId(projectId: string): Promise<string> {
    return this.store.latestEventId(projectId);
  }

  /** Calls `listener(projectId)` whenever a replica committed events for that project. */
  subscribe(listener: (projectId: string) => void): () => void {
    return this.store.subscribeEvents(listener);
  }
}
