import type { CpuArch, GpuSpec } from './catalog/catalog.js';

export type HostState = 'up' | 'down' | 'disabled';

/** A hypervisor host as the control plane sees it: capacity, overcommit ratios and what is claimed. */
export interface Host {
  id: string;
  name: string;
  regionId: string;
  zoneId: string;
  /** Driver name: `simulated` or `qemu`. */
  driver: string;
  state: HostState;
  arch: CpuArch;
  vcpus: number;
  ramMb: number;
  diskGb: number;
  gpus: GpuSpec[];
  cpuAllocationRatio: number;
  ramAllocationRatio: number;
  diskAllocationRatio: number;
  usedVcpus: number;
  usedRamMb: number;
  usedDiskGb: number;
  usedGpus: number;
  instanceCount: number;
  heartbeatAt: Date | null;
  createdAt: Date;
}

/** What one instance claims on a host. */
export interface ResourceClaim {
  vcpus: number;
  ramMb: number;
  diskGb: number;
  gpus: number;
}

/** Schedulable headroom after overcommit: what a claim is checked against. */
export function hostHeadroom(host: Host): ResourceClaim {
  return {
    vcpus: Math.floor(host.vcpus * host.cpuAllocationRatio) - host.usedVcpus,
    ramMb: Math.floor(host.ramMb * host.ramAllocationRatio) - host.usedRamMb,
    diskGb: Math.floor(host.diskGb * host.diskAllocationRatio) - host.usedDiskGb,
    gpus: host.gpus.reduce((sum, gpu) => sum + gpu.count, 0) - host.usedGpus,
  };
}
