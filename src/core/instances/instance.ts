import type { GpuSpec } from '../catalog/catalog.js';
import type { InstanceAction, InstancePhase } from './lifecycle.js';

export type PowerState = 'running' | 'shutdown' | 'paused' | 'crashed' | 'unknown';
export type DesiredPower = 'running' | 'stopped' | 'paused';

/** The k0rdent-style metadata item; `ssh-keys` carries `user:key` lines, `user-data` a cloud-init script. */
export interface MetadataItem {
  key: string;
  value: string;
}

export interface InstanceDisk {
  sizeGb: number;
  interface: 'SCSI' | 'NVME' | 'VIRTIO';
  /** Image slug for a boot disk created from an image; null for a blank disk. */
  imageId: string | null;
  boot: boolean;
  type: 'PERSISTENT' | 'SCRATCH';
  mode: 'READ_WRITE' | 'READ_ONLY';
}

export interface InstanceNic {
  networkId: string;
  subnetId: string;
  /** Assigned by IPAM at create; fixed when the caller asked for one. */
  ipv4Address: string;
  /** Prefix length of the subnet, so a guest can configure itself. */
  prefixLength: number;
  gatewayIp: string;
  macAddress: string;
  ipv6Address: string | null;
  vlan: number | null;
  /** Public IPv4 from the region's pool, NAT-style, when asked for. */
  publicIpv4: string | null;
}

/** A Kubernetes-style condition; reason is always set. */
export interface Condition {
  type: string;
  status: 'True' | 'False' | 'Unknown';
  reason: string;
  message: string;
  lastTransitionTime: string;
}

/**
 * One record, many faces. Every dialect reads this and shows the id form and names its users expect.
 * `resourceVersion` is bumped on every change and is the ETag.
 */
export interface Instance {
  /** UUID: k0rdent `uid`, Nova server id. */
  uid: string;
  /** Short numeric id: Strettch `id`. */
  shortId: number;
  projectId: string;
  /** Client-chosen or generated RFC 1035 label, unique in the project among live instances: k0rdent `id`. */
  name: string;
  displayName: string;
  description: string;
  hostname: string;
  labels: Record<string, string>;
  tags: string[];
  /** Nova-style key/value metadata. */
  metadata: Record<string, string>;
  /** k0rdent instanceMetadata, in the order given. */
  instanceMetadata: MetadataItem[];
  regionId: string;
  zoneId: string;
  instanceTypeId: string;
  /** The type a resize is moving to; null when no resize is pending. */
  pendingInstanceTypeId: string | null;
  /** The type before a resize, kept while in verify-resize so it can be reverted. */
  previousInstanceTypeId: string | null;
  vcpus: number;
  ramMb: number;
  diskGb: number;
  gpus: GpuSpec[];
  imageId: string;
  disks: InstanceDisk[];
  nics: InstanceNic[];
  sshKeyIds: string[];
  /** Public keys actually delivered to the guest (resolved from key ids and metadata). */
  sshPublicKeys: string[];
  keyName: string | null;
  /** User data as given (decoded text); delivered through the NoCloud seed. */
  userData: string | null;
  securityGroups: string[];
  serverGroupUid: string | null;
  withPublicIp: boolean;
  hostId: string | null;
  desiredPower: DesiredPower;
  phase: InstancePhase;
  powerState: PowerState;
  statusMessage: string;
  conditions: Condition[];
  /** Bumped when the desired spec changes; the controller records the generation it last acted on. */
  generation: number;
  observedGeneration: number;
  resourceVersion: number;
  /** The operation the controller is currently completing, if any. */
  currentOperationId: string | null;
  /** The dialect that created it, for the record. */
  createdVia: string;
  createdAt: Date;
  updatedAt: Date;
  launchedAt: Date | null;
  deletedAt: Date | null;
}

export type OperationKind = 'create' | InstanceAction | 'update';
export type OperationStatus = 'pending' | 'running' | 'succeeded' | 'failed';

export interface OperationStep {
  name: string;
  status: 'started' | 'succeeded' | 'failed';
  at: string;
  message?: string;
  /** Milliseconds since the operation was created. */
  elapsedMs?: number;
}

/** A durable record of one mutating request; Nova instance actions and the plain API's operation ids are views of it. */
export interface Operation {
  id: string; // op-…
  projectId: string;
  kind: OperationKind;
  targetUid: string;
  targetName: string;
  status: OperationStatus;
  error: { code: string; message: string } | null;
  steps: OperationStep[];
  requestId: string | null;
  principalId: string | null;
  /** Action parameters (resize target type, snapshot image id, reboot kind). */
  params: Record<string, unknown>;
  createdAt: Date;
  updatedAt: Date;
  completedAt: Date | null;
}

/** A change event, for the resumable per-project stream. */
export interface ChangeEvent {
  /**
   * Position in the project's stream, `<transaction id>.<event id>`: the SSE `id:` and what `Last-Event-ID` resumes
   * after. Ordered by commit, not by insert, so a resumed reader never misses an event committed late.
   */
  id: string;
  projectId: string;
  resource: 'instance' | 'operation';
  resourceId: string;
  type: 'created' | 'updated' | 'deleted';
  /** The resource as it was after the change. */
  data: Record<string, unknown>;
  at: Date;
}
