import type pg from 'pg';
import type {
  ControllerStore,
  Host,
  HostState,
  HostStore,
  Instance,
  ObservationResult,
  ObservationUpdate,
  Operation,
} from '../core/index.js';
import { ConflictError } from '../core/index.js';
import { withTransaction } from './database.js';
import type { NotificationListener } from './notification-listener.js';
import { hostFromRow, instanceColumns, reviveInstance, reviveOperation, type HostRow } from './row-mappers.js';

/** Leases, observations and hosts: the controller's and the agents' side of the store. */
export class ControllerRepository implements ControllerStore, HostStore {
  constructor(
    private readonly pool: pg.Pool,
    private readonly listener: NotificationListener,
  ) {}

  async leaseInstances(owner: string, limit: number, leaseMs: number, hostIds: string[]): Promise<Instance[]> {
    if (hostIds.length === 0) return [];
    // Two index-friendly halves (instances mid-step, and settled instances whose re-check is due) rather than one
    // OR that would scan the whole table as it grows.
    const { rows } = await this.pool.query(
      `WITH stepping AS (
         SELECT uid FROM instances
          WHERE needs_work AND (host_id = ANY($4::text[]) OR host_id IS NULL)
            AND (lease_until IS NULL OR lease_until < now()) AND (requeue_at IS NULL OR requeue_at <= now())
          ORDER BY updated_at LIMIT $2 FOR UPDATE SKIP LOCKED
       ), due AS (
         SELECT uid FROM instances
          WHERE requeue_at <= now() AND NOT needs_work AND host_id = ANY($4::text[])
            AND (lease_until IS NULL OR lease_until < now())
          ORDER BY requeue_at LIMIT $2 FOR UPDATE SKIP LOCKED
       ), picked AS (SELECT uid FROM stepping UNION ALL SELECT uid FROM due LIMIT $2)
       UPDATE instances i SET lease_owner = $1, lease_until = now() + make_interval(secs => $3::double precision / 1000)
         FROM picked WHERE i.uid = picked.uid
       RETURNING i.doc, i.short_id, i.resource_version`,
      [owner, limit, leaseMs, hostIds],
    );
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
    const { results, projects } = await withTransaction(this.pool, async (client) => {
      const { rows } = await client.query(
        'SELECT doc, short_id, resource_version FROM instances WHERE uid = ANY($1::uuid[]) AND lease_owner = $2 FOR UPDATE',
        [updates.map((u) => u.uid), owner],
      );
      const held = new Map(rows.map((row) => [row.doc.uid as string, reviveInstance(row.doc, row)]));
      const opIds = [...new Set(updates.flatMap((u) => (u.operation ? [u.operation.id] : [])))];
      const opRows = opIds.length
        ? (await client.query('SELECT doc FROM operations WHERE id = ANY($1::text[]) FOR UPDATE', [opIds])).rows
        : [];
      const operations = new Map<string, Operation>(opRows.map((row) => [row.doc.id as string, reviveOperation(row.doc)]));
      const changedOps = new Set<string>();
      const now = new Date();
      const results: ObservationResult[] = [];
      const written: Array<{ instance: Instance; lease: 'keep' | 'release'; requeueAt: Date | null }> = [];
      const toRelease: string[] = [];

      for (const update of updates) {
        const current = held.get(update.uid);
        if (!current) {
          results.push({ kind: 'lease-lost' });
          continue;
        }
        if (update.reclaim) {
          const ok = await reclaim(client, current.uid, update.reclaim);
          if (!ok) {
            results.push({ kind: 'reclaim-failed' });
            continue;
          }
        }
        const next: Instance = {
          ...current,
          ...update.patch,
          phase: update.finalizeDelete ? 'deleted' : (update.phase ?? current.phase),
          powerState: update.finalizeDelete ? 'shutdown' : (update.powerState ?? current.powerState),
          statusMessage: update.statusMessage ?? current.statusMessage,
          conditions: update.conditions ?? current.conditions,
          observedGeneration: update.observedGeneration ?? current.observedGeneration,
          launchedAt: update.launchedAt ?? current.launchedAt,
          deletedAt: update.finalizeDelete ? now : current.deletedAt,
          resourceVersion: current.resourceVersion + 1,
          updatedAt: now,
        };
        if (update.finalizeDelete || update.releaseResources) {
          toRelease.push(current.uid);
          next.hostId = update.finalizeDelete ? current.hostId : null;
        }
        held.set(update.uid, next);
        written.push({
          instance: next,
          lease: update.releaseLease || update.finalizeDelete || update.requeueAfterMs !== undefined ? 'release' : 'keep',
          requeueAt: update.requeueAfterMs !== undefined ? new Date(now.getTime() + update.requeueAfterMs) : null,
        });
        if (update.operation) {
          const operation = operations.get(update.operation.id);
          if (operation) {
            const status = update.operation.status ?? operation.status;
            const done = status === 'succeeded' || status === 'failed';
            operations.set(operation.id, {
              ...operation,
              status,
              error: update.operation.error !== undefined ? update.operation.error : operation.error,
              steps: update.operation.step ? [...operation.steps, update.operation.step] : operation.steps,
              updatedAt: now,
              completedAt: done ? (operation.completedAt ?? now) : null,
            });
            changedOps.add(operation.id);
          }
        }
        results.push({ kind: 'applied', instance: next });
      }

      if (toRelease.length > 0) await client.query('SELECT kumo_release_instances($1::uuid[])', [toRelease]);
      // The last write per instance wins; one statement for all of them.
      const finalByUid = new Map(written.map((w) => [w.instance.uid, w]));
      const finals = [...finalByUid.values()];
      if (finals.length > 0) {
        const columns = finals.map((w) => instanceColumns(w.instance));
        await client.query(
          `UPDATE instances i SET phase = u.phase, desired_power = u.desired_power, host_id = u.host_id, labels = u.labels,
                  doc = u.doc, resource_version = u.resource_version, updated_at = u.updated_at, deleted_at = u.deleted_at,
                  lease_owner = CASE WHEN u.release_lease THEN NULL ELSE i.lease_owner END,
                  lease_until = CASE WHEN u.release_lease THEN NULL ELSE i.lease_until END,
                  requeue_at = u.requeue_at
             FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::jsonb[], $6::jsonb[], $7::bigint[],
                         $8::timestamptz[], $9::timestamptz[], $10::boolean[], $11::timestamptz[])
                  AS u(uid, phase, desired_power, host_id, labels, doc, resource_version, updated_at, deleted_at, release_lease, requeue_at)
            WHERE i.uid = u.uid`,
          [
            columns.map((c) => c[0]),
            columns.map((c) => c[1]),
            columns.map((c) => c[2]),
            columns.map((c) => c[3]),
            columns.map((c) => c[4]),
            columns.map((c) => c[5]),
            columns.map((c) => c[6]),
            columns.map((c) => c[7]),
            columns.map((c) => c[8]),
            finals.map((w) => w.lease === 'release'),
            finals.map((w) => w.requeueAt),
          ],
        );
      }
      const ops = [...changedOps].map((id) => operations.get(id)!);
      if (ops.length > 0) {
        await client.query(
          `UPDATE operations o SET status = u.status, doc = u.doc FROM unnest($1::text[], $2::text[], $3::jsonb[]) AS u(id, status, doc)
            WHERE o.id = u.id`,
          [ops.map((o) => o.id), ops.map((o) => o.status), ops.map((o) => JSON.stringify(o))],
        );
      }
      const events = [
        ...finals.map((w) => ({
          project: w.instance.projectId,
          resource: 'instance',
          id: w.instance.uid,
          type: w.instance.phase === 'deleted' ? 'deleted' : 'updated',
          data: w.instance as unknown,
        })),
        ...ops.map((o) => ({ project: o.projectId, resource: 'operation', id: o.id, type: 'updated', data: o as unknown })),
      ];
      if (events.length > 0) {
        await client.query(
          `INSERT INTO events (project_id, resource, resource_id, type, data)
           SELECT p, r, i, t, d FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::jsonb[]) AS u(p, r, i, t, d)`,
          [
            events.map((e) => e.project),
            events.map((e) => e.resource),
            events.map((e) => e.id),
            events.map((e) => e.type),
            events.map((e) => JSON.stringify(e.data)),
          ],
        );
      }
      const projects = [...new Set(events.map((e) => e.project))];
      if (projects.length > 0) await client.query("SELECT pg_notify('kumo_events', p) FROM unnest($1::text[]) AS p", [projects]);
      return { results, projects };
    });
    void projects;
    return results;
  }

  subscribeWork(listener: () => void): () => void {
    return this.listener.subscribe('kumo_work', () => listener());
  }

  async listHostInstances(hostId: string): Promise<Instance[]> {
    const { rows } = await this.pool.query(
      'SELECT doc, short_id, resource_version FROM instances WHERE host_id = $1 AND deleted_at IS NULL',
      [hostId],
    );
    return rows.map((row) => reviveInstance(row.doc, row));
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

/** Moves an instance's claim to a new size on the same host, atomically; false when the host cannot take it. */
async function reclaim(client: pg.PoolClient, uid: string, size: { vcpus: number; ramMb: number; diskGb: number; gpus: number }): Promise<boolean> {
  const { rowCount } = await client.query(
    `WITH old AS (SELECT * FROM instance_claims WHERE instance_uid = $1 FOR UPDATE),
          moved AS (
            UPDATE hosts h SET used_vcpus = h.used_vcpus - old.vcpus + $2, used_ram_mb = h.used_ram_mb - old.ram_mb + $3,
                               used_disk_gb = h.used_disk_gb - old.disk_gb + $4, used_gpus = h.used_gpus - old.gpus + $5
              FROM old
             WHERE h.id = old.host_id
               AND h.used_vcpus - old.vcpus + $2 <= h.vcpu_capacity AND h.used_ram_mb - old.ram_mb + $3 <= h.ram_capacity
               AND h.used_disk_gb - old.disk_gb + $4 <= h.disk_capacity AND h.used_gpus - old.gpus + $5 <= h.gpu_capacity
            RETURNING h.id)
     UPDATE instance_claims c SET vcpus = $2, ram_mb = $3, disk_gb = $4, gpus = $5
       FROM moved WHERE c.instance_uid = $1`,
    [uid, size.vcpus, size.ramMb, size.diskGb, size.gpus],
  );
  if ((rowCount ?? 0) === 0) return false;
  // Project usage follows the claim.
  await client.query(
    `UPDATE project_usage u SET vcpus = u.vcpus - (i.doc->>'vcpus')::integer + $2, ram_mb = u.ram_mb - (i.doc->>'ramMb')::bigint + $3
       FROM instances i WHERE i.uid = $1 AND u.project_id = i.project_id`,
    [uid, size.vcpus, size.ramMb],
  );
  return true;
}
