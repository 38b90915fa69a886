import type { GpuSpec } from '../catalog/catalog.js';
import type { IdempotencyContext } from '../ports.js';
import type { Principal } from '../tenancy/tenancy.js';
import type { DesiredPower, InstanceDisk, MetadataItem } from './instance.js';

/** Who asks, under which idempotency key, through which dialect. */
export interface RequestContext {
  principal: Principal;
  idempotency: IdempotencyContext | null;
  requestId: string | null;
  /** The dialect the request came through (`native`, `nova`, `strettch`, `instances`). */
  via: string;
}

export interface CreateNicRequest {
  networkId: string;
  subnetId?: string | null;
  ipv4Address?: string | null;
  ipv6Address?: string | null;
  vlan?: number | null;
}

/** A dialect-neutral create. Field paths in validation errors use these names (`nics/0/networkId`). */
export interface CreateInstanceRequest {
  projectId: string;
  regionId: string;
  /** null: any zone of the region. */
  zoneId: string | null;
  /** null: generated. */
  name: string | null;
  displayName?: string;
  description?: string;
  hostname?: string | null;
  labels?: Record<string, string>;
  tags?: string[];
  metadata?: Record<string, string>;
  instanceMetadata?: MetadataItem[];
  instanceTypeId: string;
  imageId: string;
  /** A boot disk without a size gets the instance type's disk size (at least the image's minimum). */
  disks?: Array<Omit<InstanceDisk, 'imageId' | 'sizeGb'> & { imageId: string | null; sizeGb?: number | undefined }>;
  /** Empty or absent: the project's default network in the region. */
  nics?: CreateNicRequest[];
  gpus?: GpuSpec[];
  sshKeyIds?: string[];
  sshPublicKeys?: string[];
  keyName?: string | null;
  userData?: string | null;
  securityGroups?: string[];
  serverGroupUid?: string | null;
  withPublicIp?: boolean;
  desiredPower?: Exclude<DesiredPower, 'paused'>;
}

/** The mutable fields of an instance. */
export interface UpdateInstanceRequest {
  displayName?: string;
  description?: string;
  labels?: Record<string, string>;
  tags?: string[];
  metadata?: Record<string, string>;
  instanceMetadata?: MetadataItem[];
}

export type InstanceActionRequest =
  | { action: 'start' }
  | { action: 'stop'; force?: boolean }
  | { action: 'reboot'; hard?: boolean }
  | { action: 'pause' }
  | { action: 'unpause' }
  | { action: 'resize'; instanceTypeId: string; autoConfirm?: boolean }
  | { action: 'confirm-resize' }
  | { action: 'revert-resize' }
  | { action: 'snapshot'; imageId?: string; imageName?: string };
