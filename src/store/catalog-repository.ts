import { randomUUID } from 'node:crypto';
import type pg from 'pg';
import type {
  CatalogDocument,
  CatalogStore,
  IdempotencyContext,
  Image,
  InstanceType,
  Network,
  PublicIpPool,
  Region,
  SecurityGroup,
  ServerGroup,
  SshKey,
  Subnet,
  Zone,
} from '../core/index.js';
import { ConflictError, IdempotencyMismatchError, ValidationError } from '../core/index.js';
import { uniqueViolation, withTransaction } from './database.js';
import { reviveImage, reviveWithCreatedAt } from './row-mappers.js';

/** Owner of the reserved gateway address rows. */
export const RESERVED_ADDRESS_OWNER = '00000000-0000-0000-0000-000000000000';

export class CatalogRepository implements CatalogStore {
  constructor(private readonly pool: pg.Pool) {}

  async listRegions(): Promise<Region[]> {
    const { rows } = await this.pool.query('SELECT id, name, country FROM regions ORDER BY id');
    return rows.map((row) => ({ id: row.id, name: row.name, country: row.country }));
  }

  async listZones(regionId?: string): Promise<Zone[]> {
    const { rows } = await this.pool.query('SELECT id, region_id, name FROM zones WHERE ($1::text IS NULL OR region_id = $1) ORDER BY id', [
      regionId ?? null,
    ]);
    return rows.map((row) => ({ id: row.id, regionId: row.region_id, name: row.name }));
  }

  async listImages(projectId: string | null): Promise<Image[]> {
    const { rows } = await this.pool.query(
      "SELECT doc FROM images WHERE status <> 'deleted' AND (project_id IS NULL OR $1::text IS NULL OR project_id = $1) ORDER BY id",
      [projectId],
    );
    return rows.map((row) => reviveImage(row.doc));
  }

  async getImage(id: string): Promise<Image | null> {
    const { rows } = await this.pool.query('SELECT doc FROM images WHERE id = $1 OR uid::text = $1', [id]);
    return rows[0] ? reviveImage(rows[0].doc) : null;
  }

  async createImage(image: Image): Promise<Image> {
    try {
      await this.pool.query(
        'INSERT INTO images (id, uid, doc, status, project_id, created_at, updated_at) VALUES ($1,$2,$3,$4,$5,$6,$7)',
        [image.id, image.uid, JSON.stringify(image), image.status, image.projectId, image.createdAt, image.updatedAt],
      );
    } catch (error) {
      if (uniqueViolation(error)) throw new ConflictError(`image ${image.id} already exists`, { resource: 'image', id: image.id });
      throw error;
    }
    return image;
  }

  async updateImage(id: string, patch: Partial<Pick<Image, 'status' | 'boot' | 'sizeBytes'>>): Promise<Image | null> {
    const { rows } = await this.pool.query(
      `UPDATE images SET doc = doc || $2::jsonb || jsonb_build_object('updatedAt', to_jsonb(now())),
              status = COALESCE($3, status), updated_at = now() WHERE id = $1 RETURNING doc`,
      [id, JSON.stringify(patch), patch.status ?? null],
    );
    return rows[0] ? reviveImage(rows[0].doc) : null;
  }

  async listInstanceTypes(): Promise<InstanceType[]> {
    const { rows } = await this.pool.query('SELECT doc FROM instance_types ORDER BY id');
    return rows.map((row) => reviveWithCreatedAt<InstanceType>(row.doc));
  }

  async listNetworks(projectId: string | null): Promise<Network[]> {
    const { rows } = await this.pool.query(
      'SELECT doc FROM networks WHERE $1::text IS NULL OR project_id IS NULL OR project_id = $1 ORDER BY id',
      [projectId],
    );
    return rows.map((row) => reviveWithCreatedAt<Network>(row.doc));
  }

  async listSubnets(networkId?: string): Promise<Subnet[]> {
    const { rows } = await this.pool.query('SELECT doc FROM subnets WHERE $1::text IS NULL OR network_id = $1 ORDER BY id', [networkId ?? null]);
    return rows.map((row) => reviveWithCreatedAt<Subnet>(row.doc));
  }

  async listPublicIpPools(): Promise<PublicIpPool[]> {
    const { rows } = await this.pool.query('SELECT id, region_id, cidr::text AS cidr FROM public_ip_pools ORDER BY id');
    return rows.map((row) => ({ id: row.id, regionId: row.region_id, cidr: row.cidr }));
  }

  async listSecurityGroups(projectId: string | null): Promise<SecurityGroup[]> {
    const { rows } = await this.pool.query(
      'SELECT doc FROM security_groups WHERE $1::text IS NULL OR project_id IS NULL OR project_id = $1 ORDER BY id',
      [projectId],
    );
    return rows.map((row) => reviveWithCreatedAt<SecurityGroup>(row.doc));
  }

  async listSshKeys(projectId: string): Promise<SshKey[]> {
    const { rows } = await this.pool.query("SELECT doc FROM ssh_keys WHERE project_id = $1 ORDER BY doc->>'createdAt', id", [projectId]);
    return rows.map((row) => reviveWithCreatedAt<SshKey>(row.doc));
  }

  async createSshKey(key: SshKey, idempotency: IdempotencyContext | null): Promise<{ key: SshKey; replayed: boolean }> {
    return withTransaction(this.pool, async (client) => {
      if (idempotency) {
        const claimed = await client.query(
          `INSERT INTO idempotency_keys (principal_id, scope, key, fingerprint, expires_at)
           VALUES ($1,$2,$3,$4, now() + interval '24 hours') ON CONFLICT DO NOTHING RETURNING 1`,
          [idempotency.principalId, idempotency.scope, idempotency.key, idempotency.fingerprint],
        );
        if (claimed.rowCount === 0) {
          const { rows } = await client.query(
            'SELECT fingerprint, result FROM idempotency_keys WHERE principal_id = $1 AND scope = $2 AND key = $3 FOR UPDATE',
            [idempotency.principalId, idempotency.scope, idempotency.key],
          );
          if (rows[0]?.fingerprint !== idempotency.fingerprint) throw new IdempotencyMismatchError(idempotency.key);
          if (rows[0]?.result) return { key: reviveWithCreatedAt<SshKey>(rows[0].result), replayed: true };
        }
      }
      try {
        await client.query('INSERT INTO ssh_keys (project_id, id, uid, doc) VALUES ($1,$2,$3,$4)', [key.projectId, key.id, key.uid, JSON.stringify(key)]);
      } catch (error) {
        if (uniqueViolation(error)) throw new ConflictError(`ssh key ${key.id} already exists`, { resource: 'ssh key', id: key.id });
        throw error;
      }
      if (idempotency) {
        await client.query('UPDATE idempotency_keys SET result = $4 WHERE principal_id = $1 AND scope = $2 AND key = $3', [
          idempotency.principalId,
          idempotency.scope,
          idempotency.key,
          JSON.stringify(key),
        ]);
      }
      return { key, replayed: false };
    });
  }

  async deleteSshKey(projectId: string, id: string): Promise<boolean> {
    const { rowCount } = await this.pool.query('DELETE FROM ssh_keys WHERE project_id = $1 AND id = $2', [projectId, id]);
    return (rowCount ?? 0) > 0;
  }

  async getServerGroup(uid: string): Promise<ServerGroup | null> {
    const { rows } = await this.pool.query('SELECT doc FROM server_groups WHERE uid::text = $1', [uid]);
    return rows[0] ? reviveWithCreatedAt<ServerGroup>(rows[0].doc) : null;
  }

  async createServerGroup(group: ServerGroup): Promise<ServerGroup> {
    await this.pool.query('INSERT INTO server_groups (uid, project_id, doc) VALUES ($1,$2,$3)', [group.uid, group.projectId, JSON.stringify(group)]);
    return group;
  }

  async applyCatalog(document: CatalogDocument): Promise<void> {
    try {
      await this.applyCatalogDocument(document);
    } catch (error) {
      // A reference to a region or project that does not exist, or a malformed CIDR, is the document's fault.
      const e = error as { code?: string; detail?: string; message?: string };
      if (e.code === '23503' || e.code === '22P02' || e.code === '23514') {
        throw new ValidationError(`the catalog document is invalid: ${e.detail ?? e.message ?? 'bad reference'}`, [
          { path: '', message: e.detail ?? e.message ?? 'bad reference' },
        ]);
      }
      throw error;
    }
  }

  private async applyCatalogDocument(document: CatalogDocument): Promise<void> {
    const now = new Date();
    await withTransaction(this.pool, async (client) => {
      for (const region of document.regions ?? []) {
        await client.query(
          'INSERT INTO regions (id, name, country) VALUES ($1,$2,$3) ON CONFLICT (id) DO UPDATE SET name = EXCLUDED.name, country = EXCLUDED.country',
          [region.id, region.name, region.country ?? null],
        );
      }
      for (const zone of document.zones ?? []) {
        await client.query(
          'INSERT INTO zones (id, region_id, name) VALUES ($1,$2,$3) ON CONFLICT (id) DO UPDATE SET region_id = EXCLUDED.region_id, name = EXCLUDED.name',
          [zone.id, zone.regionId, zone.name ?? zone.id],
        );
      }
      for (const input of document.images ?? []) {
        const existing = await client.query('SELECT doc FROM images WHERE id = $1', [input.id]);
        const previous = existing.rows[0] ? reviveImage(existing.rows[0].doc) : null;
        const image: Image = {
          id: input.id,
          uid: input.uid ?? previous?.uid ?? randomUUID(),
          name: input.name,
          os: input.os,
          osVersion: input.osVersion,
          arch: input.arch ?? 'x86_64',
          minDiskGb: input.minDiskGb ?? 1,
          minRamMb: input.minRamMb ?? 0,
          sizeBytes: input.sizeBytes ?? 0,
          status: 'active',
          projectId: null,
          sourceInstanceUid: null,
          boot: input.boot ?? { kind: 'none' },
          createdAt: previous?.createdAt ?? now,
          updatedAt: now,
        };
        await client.query(
          `INSERT INTO images (id, uid, doc, status, project_id, created_at, updated_at) VALUES ($1,$2,$3,'active',NULL,$4,$5)
           ON CONFLICT (id) DO UPDATE SET doc = EXCLUDED.doc, status = 'active', updated_at = EXCLUDED.updated_at`,
          [image.id, image.uid, JSON.stringify(image), image.createdAt, image.updatedAt],
        );
      }
      for (const input of document.instanceTypes ?? []) {
        const existing = await client.query('SELECT uid FROM instance_types WHERE id = $1', [input.id]);
        const type: InstanceType = {
          id: input.id,
          uid: input.uid ?? existing.rows[0]?.uid ?? randomUUID(),
          name: input.name ?? input.id,
          vcpus: input.vcpus,
          ramMb: input.ramMb,
          diskGb: input.diskGb,
          gpus: input.gpus ?? [],
          zones: input.zones ?? [],
          createdAt: now,
        };
        await client.query(
          'INSERT INTO instance_types (id, uid, doc) VALUES ($1,$2,$3) ON CONFLICT (id) DO UPDATE SET doc = EXCLUDED.doc',
          [type.id, type.uid, JSON.stringify(type)],
        );
      }
      for (const input of document.networks ?? []) {
        const existing = await client.query('SELECT uid FROM networks WHERE id = $1', [input.id]);
        const network: Network = {
          id: input.id,
          uid: input.uid ?? existing.rows[0]?.uid ?? randomUUID(),
          name: input.name ?? input.id,
          regionId: input.regionId,
          projectId: input.projectId ?? null,
          createdAt: now,
        };
        await client.query(
          `INSERT INTO networks (id, uid, region_id, project_id, doc) VALUES ($1,$2,$3,$4,$5)
           ON CONFLICT (id) DO UPDATE SET region_id = EXCLUDED.region_id, project_id = EXCLUDED.project_id, doc = EXCLUDED.doc`,
          [network.id, network.uid, network.regionId, network.projectId, JSON.stringify(network)],
        );
        for (const sub of input.subnets) {
          const existingSubnet = await client.query('SELECT uid FROM subnets WHERE id = $1', [sub.id]);
          const { rows } = await client.query<{ network: string; gateway: string }>(
            "SELECT host(network($1::cidr)) AS network, host(network($1::cidr) + 1) AS gateway",
            [sub.cidr],
          );
          const subnet: Subnet = {
            id: sub.id,
            uid: sub.uid ?? existingSubnet.rows[0]?.uid ?? randomUUID(),
            networkId: network.id,
            name: sub.name ?? sub.id,
            cidr: sub.cidr,
            gatewayIp: sub.gatewayIp ?? rows[0]!.gateway,
            createdAt: now,
          };
          await client.query(
            `INSERT INTO subnets (id, uid, network_id, cidr, gateway_ip, doc) VALUES ($1,$2,$3,$4,$5,$6)
             ON CONFLICT (id) DO UPDATE SET network_id = EXCLUDED.network_id, cidr = EXCLUDED.cidr,
               gateway_ip = EXCLUDED.gateway_ip, doc = EXCLUDED.doc`,
            [subnet.id, subnet.uid, subnet.networkId, subnet.cidr, subnet.gatewayIp, JSON.stringify(subnet)],
          );
          await client.query('INSERT INTO ip_addresses (space_id, address, instance_uid) VALUES ($1,$2,$3) ON CONFLICT DO NOTHING', [
            subnet.id,
            subnet.gatewayIp,
            RESERVED_ADDRESS_OWNER,
          ]);
        }
      }
      for (const pool of document.publicIpPools ?? []) {
        await client.query(
          'INSERT INTO public_ip_pools (id, region_id, cidr) VALUES ($1,$2,$3) ON CONFLICT (id) DO UPDATE SET region_id = EXCLUDED.region_id, cidr = EXCLUDED.cidr',
          [pool.id, pool.regionId, pool.cidr],
        );
      }
      for (const input of document.securityGroups ?? []) {
        const existing = await client.query('SELECT uid FROM security_groups WHERE id = $1', [input.id]);
        const group: SecurityGroup = {
          id: input.id,
          uid: existing.rows[0]?.uid ?? randomUUID(),
          projectId: input.projectId ?? null,
          name: input.name,
          description: input.description ?? '',
          createdAt: now,
        };
        await client.query(
          `INSERT INTO security_groups (id, uid, project_id, doc) VALUES ($1,$2,$3,$4)
           ON CONFLICT (id) DO UPDATE SET project_id = EXCLUDED.project_id, doc = EXCLUDED.doc`,
          [group.id, group.uid, group.projectId, JSON.stringify(group)],
        );
      }
    });
  }
}
