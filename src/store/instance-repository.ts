import type pg from 'pg';
import {
  IdempotencyInFlightError,
  IdempotencyMismatchError,
  NotFoundError,
  PreconditionFailedError,
  type ChangeEvent,
  type CreateInstanceCommand,
  type CreateInstanceOutcome,
  type EventStore,
  type IdempotencyContext,
  type Instance,
  type InstanceMutation,
  type InstancePage,
  type InstanceRef,
  type InstanceStore,
  type LabelRequirement,
  type ListInstancesQuery,
  type MutateOptions,
  type MutationResult,
  type Operation,
} from '../core/index.js';
import type { CreateBatcher } from './create-batcher.js';
import { withTransaction } from './database.js';
import type { NotificationListener } from './notification-listener.js';
import { CHANNELS, type PostCommitNotifier } from './post-commit-notifier.js';
import { instanceColumns, reviveEvent, reviveInstance, reviveOperation } from './row-mappers.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

const INSTANCE_SELECT = 'SELECT doc, short_id, resource_version FROM instances';

interface StoredResult {
  instance: Record<string, unknown>;
  operation: Record<string, unknown> | null;
}

/** What the create function decided for a new instance (kumo-create-instance.sql); the rest is the command's. */
interface Placement {
  shortId: number | string;
  hostId: string;
  zoneId: string;
  nics: Instance['nics'];
}

function placedInstance(instance: Instance, placed: Placement): Instance {
  return { ...instance, shortId: Number(placed.shortId), hostId: placed.hostId, zoneId: placed.zoneId, nics: placed.nics };
}

function reviveResult(result: StoredResult, replayed: boolean): MutationResult {
  return {
    instance: reviveInstance(result.instance),
    operation: result.operation ? reviveOperation(result.operation) : null,
    replayed,
  };
}

/** Instances, their operations and the change stream. */
export class InstanceRepository implements InstanceStore, EventStore {
  constructor(
    private readonly pool: pg.Pool,
    private readonly batcher: CreateBatcher,
    private readonly listener: NotificationListener,
    private readonly notifier: PostCommitNotifier,
  ) {}

  async createInstance(command: CreateInstanceCommand): Promise<CreateInstanceOutcome> {
    const outcome = await this.batcher.submit(command as unknown as Record<string, unknown>);
    switch (outcome.kind) {
      case 'created':
        this.notifier.notify(CHANNELS.events, command.instance.projectId);
        // A create leased to this process's controller is its work already; tell the other replicas only otherwise.
        if (outcome.leased !== true) this.notifier.notify(CHANNELS.work);
        return {
          kind: 'created',
          result: { instance: placedInstance(command.instance, outcome.placed as Placement), operation: command.operation, replayed: false },
          leased: outcome.leased === true,
        };
      case 'replayed':
        return { kind: 'replayed', result: reviveResult(outcome.result as StoredResult, true) };
      case 'in-flight':
        throw new IdempotencyInFlightError(command.idempotency?.key ?? '');
      default:
        return outcome as unknown as CreateInstanceOutcome;
    }
  }

  async getInstance(ref: InstanceRef): Promise<Instance | null> {
    const byUid = UUID.test(ref.id);
    const { rows } = await this.pool.query(
      `${INSTANCE_SELECT} WHERE project_id = $1 AND ${byUid ? 'uid = $2::uuid' : 'name = $2'} AND deleted_at IS NULL`,
      [ref.projectId, ref.id],
    );
    return rows[0] ? reviveInstance(rows[0].doc, rows[0]) : null;
  }

  async getInstanceByUid(uid: string): Promise<Instance | null> {
    if (!UUID.test(uid)) return null;
    const { rows } = await this.pool.query(`${INSTANCE_SELECT} WHERE uid = $1`, [uid]);
    return rows[0] ? reviveInstance(rows[0].doc, rows[0]) : null;
  }

  async listInstances(query: ListInstancesQuery): Promise<InstancePage> {
    const where: string[] = [];
    const params: unknown[] = [];
    const param = (value: unknown) => {
      params.push(value);
      return `$${params.length}`;
    };
    if (query.projectId !== null) where.push(`project_id = ${param(query.projectId)}`);
    if (!query.includeDeleted) where.push('deleted_at IS NULL');
    if (query.phases && query.phases.length > 0) where.push(`phase = ANY(${param(query.phases)}::text[])`);
    if (query.name !== undefined) where.push(`name = ${param(query.name)}`);
    if (query.hostId !== undefined) where.push(`host_id = ${param(query.hostId)}`);
    where.push(...labelConditions(query.labels, param));

    const descending = query.order.startsWith('-');
    const column = query.order.endsWith('name') ? 'name' : 'created_at';
    if (query.after) {
      const value = column === 'name' ? param(query.after.value) : `${param(query.after.value)}::timestamptz`;
      where.push(`(${column}, uid) ${descending ? '<' : '>'} (${value}, ${param(query.after.uid)}::uuid)`);
    }
    const direction = descending ? 'DESC' : 'ASC';
    const sql = `${INSTANCE_SELECT} ${where.length ? `WHERE ${where.join(' AND ')}` : ''}
      ORDER BY ${column} ${direction}, uid ${direction} LIMIT ${param(query.limit + 1)}`;
    const { rows } = await this.pool.query(sql, params);
    const instances = rows.slice(0, query.limit).map((row) => reviveInstance(row.doc, row));
    const last = instances[instances.length - 1];
    const next =
      rows.length > query.limit && last
        ? { order: query.order, value: column === 'name' ? last.name : last.createdAt.toISOString(), uid: last.uid }
        : null;
    return { instances, next };
  }

  async mutateInstance(
    ref: InstanceRef,
    mutate: (current: Instance) => InstanceMutation,
    options: MutateOptions,
  ): Promise<MutationResult> {
    const outcome = await withTransaction(this.pool, async (client) => {
      if (options.idempotency) {
        const replay = await claimIdempotencyKey(client, options.idempotency);
        if (replay) return replay;
      }
      const byUid = UUID.test(ref.id);
      const { rows } = await client.query(
        `${INSTANCE_SELECT} WHERE project_id = $1 AND ${byUid ? 'uid = $2::uuid' : 'name = $2'} AND deleted_at IS NULL FOR UPDATE`,
        [ref.projectId, ref.id],
      );
      if (!rows[0]) throw new NotFoundError('instance', ref.id);
      const current = reviveInstance(rows[0].doc, rows[0]);
      if (options.expectedVersion !== null && options.expectedVersion !== current.resourceVersion) {
        throw new PreconditionFailedError(String(options.expectedVersion), String(current.resourceVersion));
      }
      const mutation = mutate(current);
      let instance = current;
      const events: Array<[string, string, string, unknown]> = [];
      if (Object.keys(mutation.patch).length > 0) {
        instance = { ...current, ...mutation.patch, resourceVersion: current.resourceVersion + 1, updatedAt: new Date() };
        // A user change supersedes whatever step the controller was taking: dropping the lease fences its write.
        await client.query(
          `UPDATE instances SET phase = $2, desired_power = $3, host_id = $4, labels = $5, doc = $6, resource_version = $7,
                  updated_at = $8, deleted_at = $9, lease_owner = NULL, lease_until = NULL, requeue_at = NULL
            WHERE uid = $1`,
          instanceColumns(instance),
        );
        events.push(['instance', instance.uid, 'updated', instance]);
      }
      let operation: Operation | null = mutation.operation;
      if (operation) {
        if (current.currentOperationId && current.currentOperationId !== operation.id && operation.status === 'pending') {
          const superseded = await supersedeOperation(client, current.currentOperationId, operation);
          if (superseded) events.push(['operation', superseded.id, 'updated', superseded]);
        }
        await client.query('INSERT INTO operations (id, project_id, target_uid, status, doc, created_at) VALUES ($1,$2,$3,$4,$5,$6)', [
          operation.id,
          operation.projectId,
          operation.targetUid,
          operation.status,
          JSON.stringify(operation),
          operation.createdAt,
        ]);
        events.push(['operation', operation.id, 'created', operation]);
      } else if (current.currentOperationId) {
        const { rows: ops } = await client.query('SELECT doc FROM operations WHERE id = $1', [current.currentOperationId]);
        operation = ops[0] ? reviveOperation(ops[0].doc) : null;
      }
      if (events.length > 0) {
        await client.query(
          `INSERT INTO events (project_id, resource, resource_id, type, data)
           SELECT $1, r, i, t, d FROM unnest($2::text[], $3::text[], $4::text[], $5::jsonb[]) AS u(r, i, t, d)`,
          [ref.projectId, events.map((e) => e[0]), events.map((e) => e[1]), events.map((e) => e[2]), events.map((e) => JSON.stringify(e[3]))],
        );
      }
      const result: MutationResult = { instance, operation, replayed: false };
      if (options.idempotency) {
        await client.query('UPDATE idempotency_keys SET result = $4 WHERE principal_id = $1 AND scope = $2 AND key = $3', [
          options.idempotency.principalId,
          options.idempotency.scope,
          options.idempotency.key,
          JSON.stringify({ instance, operation }),
        ]);
      }
      return result;
    });
    this.notifier.notify(CHANNELS.events, ref.projectId);
    this.notifier.notify(CHANNELS.work);
    return outcome;
  }

  async getOperation(projectId: string | null, id: string): Promise<Operation | null> {
    const { rows } = await this.pool.query('SELECT doc FROM operations WHERE id = $1 AND ($2::text IS NULL OR project_id = $2)', [id, projectId]);
    return rows[0] ? reviveOperation(rows[0].doc) : null;
  }

  async listOperations(targetUid: string): Promise<Operation[]> {
    const { rows } = await this.pool.query('SELECT doc FROM operations WHERE target_uid = $1 ORDER BY created_at, id', [targetUid]);
    return rows.map((row) => reviveOperation(row.doc));
  }

  async listServerGroupHosts(serverGroupUid: string): Promise<string[]> {
    const { rows } = await this.pool.query(
      "SELECT DISTINCT host_id FROM instances WHERE doc->>'serverGroupUid' = $1 AND deleted_at IS NULL AND host_id IS NOT NULL",
      [serverGroupUid],
    );
    return rows.map((row) => row.host_id);
  }

  async listEvents(projectId: string, after: string, limit: number): Promise<ChangeEvent[]> {
    // Events are read in (transaction, id) order and only from transactions older than every one still running.
    // Any transaction that commits later has a larger transaction id than everything returned, so a reader that
    // resumes from the last position it saw can never miss an event; ordering by id alone could.
    const [xid, id] = after.split('.');
    const { rows } = await this.pool.query({
      name: 'kumo-list-events',
      text: `SELECT id, xid::text AS xid, project_id, resource, resource_id, type, data, at FROM events
        WHERE project_id = $1 AND (xid, id) > ($2::text::xid8, $3::bigint)
          AND xid < pg_snapshot_xmin(pg_current_snapshot())
        ORDER BY xid, id LIMIT $4`,
      values: [projectId, xid, id, limit],
    });
    return rows.map(reviveEvent);
  }

  async latestEventId(_projectId: string): Promise<string> {
    // Everything of transactions below the oldest running one has committed: start just past all of it.
    const { rows } = await this.pool.query("SELECT (pg_snapshot_xmin(pg_current_snapshot())::text::numeric - 1)::text AS xid");
    return `${rows[0]?.xid ?? '0'}.9223372036854775807`;
  }

  async eventHorizon(): Promise<string> {
    const { rows } = await this.pool.query<{ position: string }>({
      name: 'kumo-event-horizon',
      text: "SELECT xid::text || '.' || id::text AS position FROM event_horizon",
    });
    return rows[0]?.position ?? '0.0';
  }

  subscribeEvents(listener: (projectId: string) => void): () => void {
    return this.listener.subscribe(CHANNELS.events, listener);
  }
}

/**
 * Records the key for this request, or finds the earlier one. Returns the earlier result to replay, throws when the
 * key was used with another body, and returns null when this request is the first (or the old record expired).
 */
async function claimIdempotencyKey(client: pg.PoolClient, ctx: IdempotencyContext): Promise<MutationResult | null> {
  const inserted = await client.query(
    `INSERT INTO idempotency_keys (principal_id, scope, key, fingerprint, expires_at)
     VALUES ($1,$2,$3,$4, now() + interval '24 hours') ON CONFLICT DO NOTHING RETURNING 1`,
    [ctx.principalId, ctx.scope, ctx.key, ctx.fingerprint],
  );
  if (inserted.rowCount) return null;
  const { rows } = await client.query(
    'SELECT fingerprint, result, expires_at < now() AS expired FROM idempotency_keys WHERE principal_id = $1 AND scope = $2 AND key = $3 FOR UPDATE',
    [ctx.principalId, ctx.scope, ctx.key],
  );
  const row = rows[0];
  if (!row || row.expired) {
    await client.query(
      `INSERT INTO idempotency_keys (principal_id, scope, key, fingerprint, expires_at) VALUES ($1,$2,$3,$4, now() + interval '24 hours')
       ON CONFLICT (principal_id, scope, key) DO UPDATE SET fingerprint = EXCLUDED.fingerprint, result = NULL,
         created_at = now(), expires_at = EXCLUDED.expires_at`,
      [ctx.principalId, ctx.scope, ctx.key, ctx.fingerprint],
    );
    return null;
  }
  if (row.fingerprint !== ctx.fingerprint) throw new IdempotencyMismatchError(ctx.key);
  if (!row.result) throw new IdempotencyInFlightError(ctx.key);
  return reviveResult(row.result as StoredResult, true);
}

/** Fails an unfinished operation that a newer one (a delete) made moot. */
async function supersedeOperation(client: pg.PoolClient, id: string, by: Operation): Promise<Operation | null> {
  const { rows } = await client.query("SELECT doc FROM operations WHERE id = $1 AND status IN ('pending', 'running') FOR UPDATE", [id]);
  if (!rows[0]) return null;
  const now = new Date();
  const operation: Operation = {
    ...reviveOperation(rows[0].doc),
    status: 'failed',
    error: { code: 'superseded', message: `superseded by ${by.kind} operation ${by.id}` },
    updatedAt: now,
    completedAt: now,
  };
  await client.query('UPDATE operations SET status = $2, doc = $3 WHERE id = $1', [id, operation.status, JSON.stringify(operation)]);
  return operation;
}

/**
 * The equality requirements become one containment (`labels @> {"tier":"db","shard":"3"}`): one probe of the GIN
 * index, and one the planner estimates from the most common label sets as a whole. As separate conditions it
 * multiplied their selectivities, expected matches where none were (tier=db never has an odd shard), and walked the
 * creation-order index through all 100,000 instances looking for them: 500 ms a page instead of 10. Two values
 * for one key cannot both hold, so that selector keeps its separate conditions and matches nothing, as it should.
 */
function labelConditions(requirements: LabelRequirement[], param: (value: unknown) => string): string[] {
  const equal: Record<string, string> = {};
  let conflicting = false;
  const others: LabelRequirement[] = [];
  for (const requirement of requirements) {
    if (requirement.op !== 'eq') others.push(requirement);
    else if (requirement.key in equal && equal[requirement.key] !== requirement.value) conflicting = true;
    else equal[requirement.key] = requirement.value;
  }
  if (conflicting) return requirements.map((requirement) => labelCondition(requirement, param));
  const merged = Object.keys(equal).length > 0 ? [`labels @> ${param(JSON.stringify(equal))}::jsonb`] : [];
  return [...merged, ...others.map((requirement) => labelCondition(requirement, param))];
}

/** Kubernetes label-selector semantics: `!=` and `notin` also match objects without the key. */
function labelCondition(requirement: LabelRequirement, param: (value: unknown) => string): string {
  switch (requirement.op) {
    case 'eq':
      return `labels @> ${param(JSON.stringify({ [requirement.key]: requirement.value }))}::jsonb`;
    case 'neq':
      return `NOT (labels @> ${param(JSON.stringify({ [requirement.key]: requirement.value }))}::jsonb)`;
    case 'in':
      return `(labels ->> ${param(requirement.key)}) = ANY(${param(requirement.values)}::text[])`;
    case 'notin': {
      const key = param(requirement.key);
      return `((labels ->> ${key}) IS NULL OR NOT ((labels ->> ${key}) = ANY(${param(requirement.values)}::text[])))`;
    }
    case 'exists':
      return `labels ? ${param(requirement.key)}`;
    case 'notexists':
      return `NOT (labels ? ${param(requirement.key)})`;
  }
}
