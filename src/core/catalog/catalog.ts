/** Catalog records: what instances are made of. Global unless a projectId says otherwise. */

export interface Region {
  id: string; // e.g. us-texas-1, KGL-1
  name: string;
  country: string | null;
}

export interface Zone {
  id: string; // e.g. us1-a
  regionId: string;
  name: string;
}

export type CpuArch = 'x86_64' | 'aarch64';

/**
 * How a hypervisor boots an image. `kernel`: direct kernel boot of a kernel + initramfs; `disk`: a qcow2/raw disk
 * booted by firmware. Paths are resolved by the driver against its image directory; the simulated driver ignores them.
 */
export type BootArtifacts =
  | { kind: 'kernel'; kernel: string; initrd: string; cmdline?: string }
  | { kind: 'disk'; disk: string; format: 'qcow2' | 'raw' }
  | { kind: 'none' };

export type ImageStatus = 'queued' | 'saving' | 'active' | 'error' | 'deleted';

export interface Image {
  /** Slug used in URIs, e.g. `ubuntu-24.04-20260202-3`, `UBUNTU-24.04`. */
  id: string;
  uid: string;
  name: string;
  os: string;
  osVersion: string;
  arch: CpuArch;
  minDiskGb: number;
  minRamMb: number;
  sizeBytes: number;
  status: ImageStatus;
  /** null: public; otherwise the owning project (snapshots). */
  projectId: string | null;
  /** The instance a snapshot was taken from. */
  sourceInstanceUid: string | null;
  boot: BootArtifacts;
  createdAt: Date;
  updatedAt: Date;
}

export interface GpuSpec {
  type: string;
  count: number;
}

export interface InstanceType {
  /** Slug, e.g. `g1-xlarge`, `S-1C-1G`, `m1.medium`, `cx31`. Also the Nova flavor id. */
  id: string;
  uid: string;
  name: string;
  vcpus: number;
  ramMb: number;
  diskGb: number;
  gpus: GpuSpec[];
  /** Zones in which the type is offered; empty means every zone. */
  zones: string[];
  createdAt: Date;
}

export interface Network {
  id: string; // e.g. network-g7h8i9, vpc-abc123
  uid: string;
  name: string;
  regionId: string;
  /** null: shared by every project. */
  projectId: string | null;
  createdAt: Date;
}

export interface Subnet {
  id: string; // e.g. subnet-def456
  uid: string;
  networkId: string;
  name: string;
  cidr: string;
  gatewayIp: string;
  createdAt: Date;
}

export interface PublicIpPool {
  id: string;
  regionId: string;
  cidr: string;
}

export interface SshKey {
  id: string; // e.g. key-001
  uid: string;
  projectId: string;
  name: string;
  publicKey: string;
  fingerprint: string;
  createdAt: Date;
}

export interface SecurityGroup {
  id: string; // e.g. sg-web
  uid: string;
  projectId: string | null;
  name: string;
  description: string;
  createdAt: Date;
}

export type ServerGroupPolicy = 'affinity' | 'anti-affinity' | 'soft-affinity' | 'soft-anti-affinity';

export interface ServerGroup {
  uid: string;
  projectId: string;
  name: string;
  policy: ServerGroupPolicy;
  createdAt: Date;
}

/** A catalog document an operator loads from a file (`kumo admin catalog load FILE`). */
export interface CatalogDocument {
  regions?: Array<Pick<Region, 'id' | 'name'> & Partial<Pick<Region, 'country'>>>;
  zones?: Array<Pick<Zone, 'id' | 'regionId'> & Partial<Pick<Zone, 'name'>>>;
  images?: Array<
    Pick<Image, 'id' | 'name' | 'os' | 'osVersion'> &
      Partial<Pick<Image, 'arch' | 'minDiskGb' | 'minRamMb' | 'sizeBytes' | 'boot' | 'uid'>>
  >;
  instanceTypes?: Array<
    Pick<InstanceType, 'id' | 'vcpus' | 'ramMb' | 'diskGb'> & Partial<Pick<InstanceType, 'name' | 'gpus' | 'zones' | 'uid'>>
  >;
  networks?: Array<
    Pick<Network, 'id' | 'regionId'> &
      Partial<Pick<Network, 'name' | 'projectId' | 'uid'>> & {
        subnets: Array<Pick<Subnet, 'id' | 'cidr'> & Partial<Pick<Subnet, 'name' | 'gatewayIp' | 'uid'>>>;
      }
  >;
  publicIpPools?: PublicIpPool[];
  securityGroups?: Array<Pick<SecurityGroup, 'id' | 'name'> & Partial<Pick<SecurityGroup, 'projectId' | 'description'>>>;
}
