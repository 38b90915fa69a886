import type { Instance } from '../../../core/instances/instance.js';
import { INSTANCE_PHASES, type InstancePhase } from '../../../core/instances/lifecycle.js';
import { imageLink, instanceLink, instanceTypeLink, networkLink, rfc3339 } from '../native-uris.js';
import type { InstanceView } from './schemas.js';

/** k0rdent `lifecycle.status` of a canonical phase: `verify-resize` → `VERIFY_RESIZE`. */
export function lifecycleStatus(phase: InstancePhase): string {
  return phase.toUpperCase().replaceAll('-', '_');
}

/** The canonical phase of a k0rdent status (case-insensitive), or null if there is none. */
export function phaseOfStatus(status: string): InstancePhase | null {
  const phase = status.trim().toLowerCase().replaceAll('_', '-');
  return PHASES.has(phase) ? (phase as InstancePhase) : null;
}

const PHASES: ReadonlySet<string> = new Set(INSTANCE_PHASES);

/**
 * The k0rdent view of an instance. References come back as URIs (type, disk source, network) and the host stays
 * hidden from tenants. Dates may be strings when the instance comes from a change event's JSON.
 */
export function instanceView(instance: Instance): InstanceView {
  const region = instance.regionId;
  const view: InstanceView = {
    selfLink: instanceLink(region, instance.projectId, instance.name),
    uid: instance.uid,
    id: instance.name,
    displayName: instance.displayName,
    description: instance.description,
    labels: instance.labels,
    type: instanceTypeLink(region, instance.zoneId, instance.instanceTypeId),
    instanceMetadata: instance.instanceMetadata,
    hostname: instance.hostname,
    lifecycle: { status: lifecycleStatus(instance.phase), statusMessage: instance.statusMessage },
    disks: instance.disks.map((disk) => ({
      sizeGb: disk.sizeGb,
      interface: disk.interface,
      ...(disk.imageId ? { source: imageLink(region, disk.imageId) } : {}),
      boot: disk.boot,
      type: disk.type,
      mode: disk.mode,
    })),
    nics: instance.nics.map((nic) => ({
      network: networkLink(region, instance.projectId, nic.networkId),
      subnet: nic.subnetId,
      ipv4Address: nic.ipv4Address,
      ...(nic.ipv6Address ? { ipv6Address: nic.ipv6Address } : {}),
      ...(nic.vlan !== null && nic.vlan !== undefined ? { vlan: nic.vlan } : {}),
      ...(nic.publicIpv4 ? { externalIpv4: nic.publicIpv4 } : {}),
    })),
    gpus: instance.gpus,
    createdAt: rfc3339(instance.createdAt),
    updatedAt: rfc3339(instance.updatedAt),
  };
  if (instance.currentOperationId) view.operationId = instance.currentOperationId;
  return view;
}
