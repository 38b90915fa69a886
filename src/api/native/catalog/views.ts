import type { Image, InstanceType, Network, Region, Subnet, Zone } from '../../../core/catalog/catalog.js';
import { imageLink, instanceTypeLink, networkLink, regionLink, rfc3339, zoneLink } from '../native-uris.js';
import type { ImageView, InstanceTypeView, NetworkView, RegionView, ZoneView } from './schemas.js';

export function regionView(region: Region): RegionView {
  return { selfLink: regionLink(region.id), id: region.id, displayName: region.name, country: region.country };
}

export function zoneView(zone: Zone): ZoneView {
  return { selfLink: zoneLink(zone.regionId, zone.id), id: zone.id, region: regionLink(zone.regionId), displayName: zone.name };
}

/** An instance type as offered in one zone (its selfLink names the zone it was listed under). */
export function instanceTypeView(type: InstanceType, region: string, zone: string): InstanceTypeView {
  return {
    selfLink: instanceTypeLink(region, zone, type.id),
    uid: type.uid,
    id: type.id,
    displayName: type.name,
    vcpus: type.vcpus,
    memoryMb: type.ramMb,
    diskGb: type.diskGb,
    gpus: type.gpus,
  };
}

/** Images are global in the catalog; each region shows them under its own URI. */
export function imageView(image: Image, region: string): ImageView {
  return {
    selfLink: imageLink(region, image.id),
    uid: image.uid,
    id: image.id,
    displayName: image.name,
    os: image.os,
    osVersion: image.osVersion,
    architecture: image.arch,
    minDiskGb: image.minDiskGb,
    minMemoryMb: image.minRamMb,
    sizeBytes: image.sizeBytes,
    status: image.status.toUpperCase(),
    visibility: image.projectId === null ? 'PUBLIC' : 'PROJECT',
    ...(image.sourceInstanceUid ? { sourceInstance: image.sourceInstanceUid } : {}),
    createdAt: rfc3339(image.createdAt),
    updatedAt: rfc3339(image.updatedAt),
  };
}

/** A network as a project sees it (shared networks appear under every project's path). */
export function networkView(network: Network, project: string, subnets: Subnet[]): NetworkView {
  return {
    selfLink: networkLink(network.regionId, project, network.id),
    uid: network.uid,
    id: network.id,
    displayName: network.name,
    shared: network.projectId === null,
    subnets: subnets.map((subnet) => ({
      id: subnet.id,
      uid: subnet.uid,
      displayName: subnet.name,
      cidr: subnet.cidr,
      gatewayIp: subnet.gatewayIp,
    })),
    createdAt: rfc3339(network.createdAt),
  };
}
