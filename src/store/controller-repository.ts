import type pg from 'pg';
import type {
  ControllerStore,
  Host,
  HostGuestComparison,
  HostState,
  HostStore,
  Instance,
  InstancePhase,
  ObservationResult,
  ObservationUpdate,
} from '../core/index.js';
import { ConflictError, TRANSITIONAL_PHASES } from '../core/index.js';
import type { NotificationListener } from './notification-listener.js';
import { CHANNELS, type PostCommitNotifier } from './post-commit-notifier.js';
import { hostFromRow, reviveInstance, type HostRow } from './row-mappers.js';

/**
 * The phases with a step to take, as a SQL list in the order of the predicate of the index instances_needing_work
 * (migration 0006), so that the planner matches the index.
 */
export const STEPPING_PHASES = `(${[...TRANSITIONAL_PHASES].map((phase) => `'${phase}'`).join(', ')})`;

const INSTANCE_UID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const FIRST_UID = '00000000-0000-0000-0000-000000000000';
const LAST_UID = 'ffffffff-ffff-ffff-ffff-ffffffffffff';

/** The uid right after `uid` in PostgreSQL's order (its 128 bits plus one); never called with the last one. */
function nextUid(uid: string): string {
  const hex = (BigInt(`0x${uid.replaceAll('-', '')}`) + 1n).toString(16).padStart(32, '0');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** Leases, observations and hosts: the controller's and the agents' side of the store. */
export class ControllerRepository implements ControllerStore, HostStore {
  constructor(
    private readonly pool: pg.Pool,
    private readonly listener: NotificationListener,
    private readonly notifier: PostCommitNotifier,
    /** Guests compared in one statement by a status sweep. */
    private readonly guestSliceSize = 2_048,
  ) {}

  async leaseInstances(owner: string, limit: number, leaseMs: number, hostIds: string[]): Promise<Instance[]> {
    if (hostIds.length === 0) return [];
    // Two index-friendly halves (instances mid-step, and settled instances whose re-check is due) rather than one
    // OR that would scan the whole table as it grows.
    const { rows } = await this.pool.query({
      name: 'kumo-lease-instances',
      text: `WITH stepping AS (
         SELECT uid FROM instances
          WHERE phase IN ${STEPPING_PHASES} AND (host_id = ANY($4::text[]) OR host_id IS NULL)
            AND (lease_until IS NULL OR lease_until < now()) AND (requeue_at IS NULL OR requeue_at <= now())
          ORDER BY updated_at LIMIT $2 FOR UPDATE SKIP LOCKED
       ), due AS (
         SELECT uid FROM instances
          WHERE requeue_at <= now() AND phase NOT IN ${STEPPING_PHASES} AND host_id = ANY($4::text[])
            AND (lease_until IS NULL OR lease_until < now())
          ORDER BY requeue_at LIMIT $2 FOR UPDATE SKIP LOCKED
       ), picked AS (SELECT uid FROM stepping UNION ALL SELECT uid FROM due LIMIT $2)
       UPDATE instances i SET lease_owner = $1, lease_until = now() + make_interval(secs => $3::double precision / 1000)
         FROM picked WHERE i.uid = picked.uid
       RETURNING i.doc, i.short_id, i.resource_version`,
      values: [owner, limit, leaseMs, hostIds],
    });
    return rows.map((row) => reviveInstance(row.doc, row));
  }

  async renewLeases(owner: string, uids: string[], leaseMs: number): Promise<void> {
    if (uids.length === 0) return;
    await this.pool.query(
      `UPDATE instances SET lease_until = now() + make_interval(secs => $3::double precision / 1000)
        WHERE uid = ANY($2::uuid[]) AND lease_owner = $1`,
      [owner, uids, leaseMs],
    );
  }

  async recordObservations(owner: string, updates: ObservationUpdate[]): Promise<ObservationResult[]> {
    if (updates.length === 0) return [];
    // One statement for the whole batch (0003-record-observations-function.sql): the controller's write path is as
    // hot as the create path, and a round trip per table per batch cost more than the work itself.
    const { rows } = await this.pool.query<{ results: Array<{ kind: ObservationResult['kind']; projectId?: string }> }>({
      name: 'kumo-record-observations',
      text: 'SELECT kumo_record_observations($1, $2::jsonb) AS results',
      values: [owner, JSON.stringify(updates.map(observationCommand))],
    });
    const results = rows[0]?.results ?? [];
    for (const result of results) if (result.kind === 'applied' && result.projectId) this.notifier.notify(CHANNELS.events, result.projectId);
    return results.map((result): ObservationResult => ({ kind: result.kind }));
  }

  subscribeWork(listener: () => void): () => void {
    return this.listener.subscribe(CHANNELS.work, () => listener());
  }

  async compareHostGuests(
    hostId: string,
    guestIds: readonly string[],
    guestPowers: readonly string[],
    inStep: ReadonlyArray<readonly [InstancePhase, string]>,
  ): Promise<HostGuestComparison> {
    const comparison: HostGuestComparison = { outOfStep: [], unownedGuestIds: [] };
    // A guest whose id is not an instance uid (a canonical lowercase UUID) cannot belong to any instance.
    const order: number[] = [];
    guestIds.forEach((id, index) => {
      if (INSTANCE_UID.test(id)) order.push(index);
      else comparison.unownedGuestIds.push(id);
    });
    order.sort((a, b) => (guestIds[a]! < guestIds[b]! ? -1 : guestIds[a]! > guestIds[b]! ? 1 : 0));
    // In slices of the uid space, each compared with the host's instances in the same slice: the slices tile the
    // whole space, so an instance without a guest is still found, in the slice its uid falls in. One statement for
    // all 33,000 guests of a host sent a 1.6 MB parameter whose strings and the pg client's growing buffers (≈10 MB
    // a sweep) outlived the young generation and stayed resident until a full collection.
    let low = FIRST_UID;
    for (let from = 0; ; from += this.guestSliceSize) {
      const slice = order.slice(from, from + this.guestSliceSize);
      const last = from + this.guestSliceSize >= order.length;
      const high = last ? LAST_UID : guestIds[slice[slice.length - 1]!]!;
      await this.compareGuestSlice(
        hostId,
        slice.map((index) => guestIds[index]!),
        slice.map((index) => guestPowers[index]!),
        low,
        high,
        inStep,
        comparison,
      );
      if (last) return comparison;
      low = nextUid(high);
    }
  }

  private async compareGuestSlice(
    hostId: string,
    ids: string[],
    powers: string[],
    low: string,
    high: string,
    inStep: ReadonlyArray<readonly [InstancePhase, string]>,
    comparison: HostGuestComparison,
  ): Promise<void> {
    // PostgreSQL hash-joins the two lists and sends back only what disagrees (usually nothing); the document is read
    // only for the rows that come back. Reading every instance back into Kumo instead, a page at a time, kept ≈10 MB
    // per host alive across each sweep.
    const { rows } = await this.pool.query<[string | null, string | null, InstancePhase | null, string, boolean | null]>({
      name: 'kumo-compare-host-guests',
      // The lists go as JSON: serialised natively in one flat string, where a PostgreSQL array literal was built
      // element by element (a quoted copy of each id).
      text: `WITH guest AS (SELECT * FROM ROWS FROM (jsonb_array_elements_text($2::jsonb), jsonb_array_elements_text($3::jsonb)) AS g(id, power)),
                  placed AS (SELECT uid, phase, doc FROM instances
                              WHERE host_id = $1 AND deleted_at IS NULL AND uid >= $6::uuid AND uid <= $7::uuid)
             SELECT g.id, i.uid, i.phase, COALESCE(g.power, 'missing'), i.doc->>'launchedAt' IS NOT NULL
               FROM placed i FULL JOIN guest g ON g.id::uuid = i.uid
              WHERE i.uid IS NULL
                 OR (i.phase, COALESCE(g.power, 'missing')) NOT IN (SELECT * FROM unnest($4::text[], $5::text[]))`,
      values: [hostId, JSON.stringify(ids), JSON.stringify(powers), inStep.map(([phase]) => phase), inStep.map(([, power]) => power), low, high],
      rowMode: 'array',
    });
    for (const [guestId, uid, phase, power, launched] of rows) {
      if (uid === null || phase === null) comparison.unownedGuestIds.push(guestId!);
      else comparison.outOfStep.push({ uid, phase, power, launched: launched === true });
    }
  }

  async upsertHost(
    host: Omit<Host, 'usedVcpus' | 'usedRamMb' | 'usedDiskGb' | 'usedGpus' | 'instanceCount' | 'createdAt'>,
    owner: string,
    staleAfterMs: number,
  ): Promise<Host> {
    const { rows } = await this.pool.query<HostRow>(
      `INSERT INTO hosts (id, name, region_id, zone_id, driver, state, arch, vcpus, ram_mb, disk_gb, gpus, cpu_ratio, ram_ratio,
                          disk_ratio, gpu_capacity, heartbeat_at, owner)
       VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15,$16,$17)
       ON CONFLICT (id) DO UPDATE SET name = EXCLUDED.name, region_id = EXCLUDED.region_id, zone_id = EXCLUDED.zone_id,
         driver = EXCLUDED.driver, state = EXCLUDED.state, arch = EXCLUDED.arch, vcpus = EXCLUDED.vcpus,
         ram_mb = EXCLUDED.ram_mb, disk_gb = EXCLUDED.disk_gb, gpus = EXCLUDED.gpus, cpu_ratio = EXCLUDED.cpu_ratio,
         ram_ratio = EXCLUDED.ram_ratio, disk_ratio = EXCLUDED.disk_ratio, gpu_capacity = EXCLUDED.gpu_capacity,
         heartbeat_at = EXCLUDED.heartbeat_at, owner = EXCLUDED.owner
       WHERE hosts.owner IS NULL OR hosts.owner = EXCLUDED.owner OR hosts.heartbeat_at IS NULL
          OR hosts.heartbeat_at < now() - make_interval(secs => $18::double precision / 1000)
       RETURNING *`,
      [
        host.id,
        host.name,
        host.regionId,
        host.zoneId,
        host.driver,
        host.state,
        host.arch,
        host.vcpus,
        host.ramMb,
        host.diskGb,
        JSON.stringify(host.gpus),
        host.cpuAllocationRatio,
        host.ramAllocationRatio,
        host.diskAllocationRatio,
        host.gpus.reduce((sum, gpu) => sum + gpu.count, 0),
        host.heartbeatAt,
        owner,
        staleAfterMs,
      ],
    );
    if (!rows[0]) {
      const { rows: held } = await this.pool.query('SELECT owner FROM hosts WHERE id = $1', [host.id]);
      throw new ConflictError(
        `host ${host.id} is run by another Kumo process (${String(held[0]?.owner)}); give each process its own hosts (KUMO_HOST_PREFIX)`,
        { resource: 'host', id: host.id },
      );
    }
    return hostFromRow(rows[0]);
  }

  async listHosts(): Promise<Host[]> {
    const { rows } = await this.pool.query<HostRow>('SELECT * FROM hosts ORDER BY id');
    return rows.map(hostFromRow);
  }

  async setHostState(id: string, state: HostState): Promise<void> {
    await this.pool.query('UPDATE hosts SET state = $2 WHERE id = $1', [id, state]);
  }

  async heartbeat(id: string, at: Date): Promise<void> {
    await this.pool.query('UPDATE hosts SET heartbeat_at = $2 WHERE id = $1', [id, at]);
  }
}

/** The document fields an observation sets, and its instructions, as the SQL function takes them. */
function observationCommand(update: ObservationUpdate): Record<string, unknown> {
  const set: Record<string, unknown> = { ...update.patch };
  if (update.phase !== undefined) set.phase = update.phase;
  if (update.powerState !== undefined) set.powerState = update.powerState;
  if (update.statusMessage !== undefined) set.statusMessage = update.statusMessage;
  if (update.conditions !== undefined) set.conditions = update.conditions;
  if (update.observedGeneration !== undefined) set.observedGeneration = update.observedGeneration;
  if (update.launchedAt !== undefined) set.launchedAt = update.launchedAt.toISOString();
  return {
    uid: update.uid,
    set,
    ...(update.reclaim ? { reclaim: update.reclaim } : {}),
    ...(update.operation ? { operation: update.operation } : {}),
    ...(update.releaseResources ? { releaseResources: true } : {}),
    ...(update.finalizeDelete ? { finalizeDelete: true } : {}),
    ...(update.releaseLease ? { releaseLease: true } : {}),
    ...(update.requeueAfterMs !== undefined ? { requeueAfterMs: update.requeueAfterMs } : {}),
    ...(update.generation !== undefined ? { generation: update.generation } : {}),
  };
}
