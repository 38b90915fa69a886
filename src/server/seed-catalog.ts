import type { CatalogDocument } from '../core/index.js';

/**
 * The catalog the embedded default starts with. It makes every example in the API seeds resolve as written: the
 * native API's us-texas-1 / us1-a / g1-xlarge / ubuntu-24.04-20260202-3 / network-g7h8i9, Strettch's KGL-1 with its
 * UBUNTU images and S-* specifications, Nova's m1.* flavors and images, and the plain API's cx31 / ubuntu-22.04 /
 * vpc-abc123 / subnet-def456 / sg-web / sg-ssh.
 *
 * Public pools use documentation ranges (RFC 5737 / RFC 2544), which never route anywhere.
 */
export const DEFAULT_PROJECT_ID = 'project-x9y8z7';

export function seedCatalog(projectId = DEFAULT_PROJECT_ID): CatalogDocument {
  const gb = 1024;
  return {
    regions: [
      { id: 'us-texas-1', name: 'US Texas 1', country: 'US' },
      { id: 'KGL-1', name: 'Kigali-1', country: 'RW' },
      { id: 'RegionOne', name: 'RegionOne', country: null },
    ],
    zones: [
      { id: 'us1-a', regionId: 'us-texas-1', name: 'us1-a' },
      { id: 'us1-b', regionId: 'us-texas-1', name: 'us1-b' },
      { id: 'kgl1-a', regionId: 'KGL-1', name: 'kgl1-a' },
      { id: 'nova', regionId: 'RegionOne', name: 'nova' },
    ],
    images: [
      { id: 'ubuntu-24.04-20260202-3', name: 'Ubuntu 24.04 LTS (2026-02-02)', os: 'ubuntu', osVersion: '24.04', minDiskGb: 10 },
      { id: 'ubuntu-22.04', name: 'Ubuntu 22.04 LTS', os: 'ubuntu', osVersion: '22.04', minDiskGb: 10 },
      { id: 'ubuntu-22.04-amd64', name: 'ubuntu-22.04-amd64', os: 'ubuntu', osVersion: '22.04', minDiskGb: 10 },
      { id: 'UBUNTU-24.04', name: 'Ubuntu 24.04 LTS', os: 'ubuntu', osVersion: '24.04', minDiskGb: 10 },
      { id: 'UBUNTU-22.04', name: 'Ubuntu 22.04 LTS', os: 'ubuntu', osVersion: '22.04', minDiskGb: 10 },
      { id: 'debian-12', name: 'Debian 12 (bookworm)', os: 'debian', osVersion: '12', minDiskGb: 2 },
    ],
    instanceTypes: [
      { id: 'g1-small', vcpus: 1, ramMb: 2 * gb, diskGb: 20 },
      { id: 'g1-medium', vcpus: 2, ramMb: 4 * gb, diskGb: 40 },
      { id: 'g1-large', vcpus: 4, ramMb: 8 * gb, diskGb: 80 },
      { id: 'g1-xlarge', vcpus: 8, ramMb: 16 * gb, diskGb: 160 },
      { id: 'gpu1-l4-xlarge', vcpus: 8, ramMb: 32 * gb, diskGb: 200, gpus: [{ type: 'nvidia-l4', count: 1 }] },
      { id: 'S-1C', vcpus: 1, ramMb: 512, diskGb: 10 },
      { id: 'S-1C-1G', vcpus: 1, ramMb: 1 * gb, diskGb: 20 },
      { id: 'S-1C-2G', vcpus: 1, ramMb: 2 * gb, diskGb: 40 },
      { id: 'S-2C-4G', vcpus: 2, ramMb: 4 * gb, diskGb: 80 },
      { id: 'S-4C-8G', vcpus: 4, ramMb: 8 * gb, diskGb: 160 },
      { id: 'S-8C-16G', vcpus: 8, ramMb: 16 * gb, diskGb: 320 },
      { id: 'S-16C-32G', vcpus: 16, ramMb: 32 * gb, diskGb: 640 },
      { id: 'm1.tiny', vcpus: 1, ramMb: 512, diskGb: 1 },
      { id: 'm1.small', vcpus: 1, ramMb: 2 * gb, diskGb: 20 },
      { id: 'm1.medium', vcpus: 2, ramMb: 4 * gb, diskGb: 40 },
      { id: 'm1.large', vcpus: 4, ramMb: 8 * gb, diskGb: 80 },
      { id: 'cx11', vcpus: 1, ramMb: 2 * gb, diskGb: 20 },
      { id: 'cx21', vcpus: 2, ramMb: 4 * gb, diskGb: 40 },
      { id: 'cx31', vcpus: 2, ramMb: 8 * gb, diskGb: 80 },
      { id: 'cx41', vcpus: 4, ramMb: 16 * gb, diskGb: 160 },
    ],
    networks: [
      {
        id: 'network-g7h8i9',
        name: 'default',
        regionId: 'us-texas-1',
        projectId,
        subnets: [{ id: 'subnet-g7h8i9', name: 'default', cidr: '10.0.0.0/20' }],
      },
      {
        id: 'vpc-abc123',
        name: 'vpc-abc123',
        regionId: 'us-texas-1',
        projectId,
        subnets: [{ id: 'subnet-def456', name: 'subnet-def456', cidr: '10.0.1.0/24' }],
      },
      { id: 'kgl-default', name: 'kgl-default', regionId: 'KGL-1', projectId: null, subnets: [{ id: 'kgl-default-v4', cidr: '10.16.0.0/16' }] },
      { id: 'private', name: 'private', regionId: 'RegionOne', projectId: null, subnets: [{ id: 'private-subnet', cidr: '10.32.0.0/16' }] },
    ],
    publicIpPools: [
      { id: 'us-texas-1-public', regionId: 'us-texas-1', cidr: '203.0.113.0/24' },
      { id: 'kgl-1-public', regionId: 'KGL-1', cidr: '198.51.100.0/24' },
      { id: 'regionone-public', regionId: 'RegionOne', cidr: '198.18.0.0/24' },
    ],
    securityGroups: [
      { id: 'default', name: 'default', description: 'Default security group' },
      { id: 'sg-web', name: 'sg-web', description: 'HTTP and HTTPS', projectId },
      { id: 'sg-ssh', name: 'sg-ssh', description: 'SSH', projectId },
      { id: 'web-servers', name: 'web-servers', description: 'Web servers', projectId },
    ],
  };
}

/** A sample key from the native API's seed, registered as `key-001` and `my-keypair` so the seeds' references resolve. */
export const SEED_PUBLIC_KEY = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJeaD1heScpzmiypsUSb0T3lkmg2d/onGkPviaZ2Rtgc admin@hostname';
