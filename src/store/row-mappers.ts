import type { ChangeEvent, Host, Image, Instance, InstanceType, Network, Operation, SecurityGroup, ServerGroup, SshKey, Subnet } from '../core/index.js';

/** Documents are stored as the domain objects' JSON; these revive the Date fields JSON turned into strings. */
const asDate = (value: unknown): Date => (value instanceof Date ? value : new Date(String(value)));
const asDateOrNull = (value: unknown): Date | null => (value === null || value === undefined ? null : asDate(value));

export function reviveInstance(doc: Record<string, unknown>, row?: { short_id?: string | number; resource_version?: string | number }): Instance {
  const instance = doc as unknown as Instance;
  return {
    ...instance,
    shortId: row?.short_id !== undefined ? Number(row.short_id) : Number(instance.shortId),
    resourceVersion: row?.resource_version !== undefined ? Number(row.resource_version) : Number(instance.resourceVersion),
    createdAt: asDate(instance.createdAt),
    updatedAt: asDate(instance.updatedAt),
    launchedAt: asDateOrNull(instance.launchedAt),
    deletedAt: asDateOrNull(instance.deletedAt),
  };
}

export function reviveOperation(doc: Record<string, unknown>): Operation {
  const operation = doc as unknown as Operation;
  return {
    ...operation,
    createdAt: asDate(operation.createdAt),
    updatedAt: asDate(operation.updatedAt),
    completedAt: asDateOrNull(operation.completedAt),
  };
}

export function reviveEvent(row: { id: string; xid: string; project_id: string; resource: string; resource_id: string; type: string; data: Record<string, unknown>; at: Date }): ChangeEvent {
  const data = row.resource === 'instance' ? reviveInstance(row.data) : reviveOperation(row.data);
  return {
    id: `${row.xid}.${row.id}`,
    projectId: row.project_id,
    resource: row.resource as ChangeEvent['resource'],
    resourceId: row.resource_id,
    type: row.type as ChangeEvent['type'],
    data: data as unknown as Record<string, unknown>,
    at: row.at,
  };
}

export function reviveImage(doc: Record<string, unknown>): Image {
  const image = doc as unknown as Image;
  return { ...image, createdAt: asDate(image.createdAt), updatedAt: asDate(image.updatedAt) };
}

export function reviveWithCreatedAt<T extends InstanceType | Network | Subnet | SecurityGroup | SshKey | ServerGroup>(doc: Record<string, unknown>): T {
  const value = doc as unknown as T;
  return { ...value, createdAt: asDate(value.createdAt) };
}

export interface HostRow {
  id: string;
  name: string;
  region_id: string;
  zone_id: string;
  driver: string;
  state: Host['state'];
  arch: Host['arch'];
  vcpus: number;
  ram_mb: string;
  disk_gb: string;
  gpus: Host['gpus'];
  cpu_ratio: number;
  ram_ratio: number;
  disk_ratio: number;
  used_vcpus: number;
  used_ram_mb: string;
  used_disk_gb: string;
  used_gpus: number;
  instance_count: number;
  heartbeat_at: Date | null;
  created_at: Date;
}

export function hostFromRow(row: HostRow): Host {
  return {
    id: row.id,
    name: row.name,
    regionId: row.region_id,
    zoneId: row.zone_id,
    driver: row.driver,
    state: row.state,
    arch: row.arch,
    vcpus: row.vcpus,
    ramMb: Number(row.ram_mb),
    diskGb: Number(row.disk_gb),
    gpus: row.gpus,
    cpuAllocationRatio: row.cpu_ratio,
    ramAllocationRatio: row.ram_ratio,
    diskAllocationRatio: row.disk_ratio,
    usedVcpus: row.used_vcpus,
    usedRamMb: Number(row.used_ram_mb),
    usedDiskGb: Number(row.used_disk_gb),
    usedGpus: row.used_gpus,
    instanceCount: row.instance_count,
    heartbeatAt: row.heartbeat_at,
    createdAt: row.created_at,
  };
}

/** The instance columns derived from its document, written together so indexes never disagree with the doc. */
export function instanceColumns(instance: Instance): unknown[] {
  return [
    instance.uid,
    instance.phase,
    instance.desiredPower,
    instance.hostId,
    JSON.stringify(instance.labels),
    JSON.stringify(instance),
    instance.resourceVersion,
    instance.updatedAt,
    instance.deletedAt,
  ];
}
