import type { ChangeEvent } from '../instances/instance.js';
import type { EventStore } from '../ports.js';
import type { TenancyService } from '../tenancy/tenancy-service.js';
import type { Principal } from '../tenancy/tenancy.js';

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

  /** Events after `afterId`, oldest first; the caller must have been authorized for the project. */
  listAfter(projectId: string, afterId: number, limit = 500): Promise<ChangeEvent[]> {
    return this.store.listEvents(projectId, afterId, limit);
  }

  latestId(projectId: string): Promise<number> {
    return this.store.latestEventId(projectId);
  }

  /** Calls `listener(projectId)` whenever a replica committed events for that project. */
  subscribe(listener: (projectId: string) => void): () => void {
    return this.store.subscribeEvents(listener);
  }
}
