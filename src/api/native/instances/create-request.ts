import { isIPv6 } from 'node:net';
import type { CreateInstanceRequest, CreateNicRequest } from '../../../core/instances/instance-requests.js';
import type { GpuSpec } from '../../../core/catalog/catalog.js';
import { RequestValidationError, type LocatedViolation } from '../../http/request-errors.js';
import { parseImageUri, parseInstanceTypeUri, parseNetworkUri } from '../native-uris.js';
import type { CreateInstanceBody } from './schemas.js';

/**
 * The placeholder the k0rdent reference puts in its generated examples. In the optional fields that name something
 * (hostname, subnet, addresses, GPU type) it is read as "not given", so the published example works verbatim; in
 * free-text fields (displayName, description, metadata) it is ordinary text.
 */
export const DOCUMENTATION_PLACEHOLDER = '<string>';

function given(value: string | undefined): string | undefined {
  return value === undefined || value === DOCUMENTATION_PLACEHOLDER || value === '' ? undefined : value;
}

/** A create request translated to the core, plus how to name the core's field paths in native terms. */
export interface TranslatedCreate {
  request: CreateInstanceRequest;
  /** Maps a core violation path (`nics/0/networkId`) to the native JSON pointer (`/nics/0/network`). */
  fieldPath(corePath: string): string;
}

/**
 * Translates the k0rdent create body for `region`/`project` into the core's request. Checks what only the dialect
 * can (URI shapes, the region in URIs, the boot disk's image); the core checks that everything named exists.
 * @throws RequestValidationError listing every violation found
 */
export function translateCreate(region: string, project: string, body: CreateInstanceBody): TranslatedCreate {
  const violations: LocatedViolation[] = [];
  const fail = (path: string, message: string) => violations.push({ location: 'body', path, message });

  const type = parseInstanceTypeUri(body.type);
  if (!type) fail('/type', 'must be /v1/regions/{region}/zones/{zone}/instance-types/{type}');
  else if (type.regionId !== region) fail('/type', `names region ${type.regionId}, but the request is for region ${region}`);

  let imageId: string | null = null;
  const bootIndex = body.disks.findIndex((disk) => disk.boot === true);
  const disks = body.disks.map((disk, index) => {
    let diskImage: string | null = null;
    if (disk.source !== undefined) {
      const image = parseImageUri(disk.source);
      if (!image) fail(`/disks/${index}/source`, 'must be /v1/regions/{region}/compute/images/{image}');
      else if (image.regionId !== region) fail(`/disks/${index}/source`, `names region ${image.regionId}, not ${region}`);
      else if (image.projectId !== null && image.projectId !== project) fail(`/disks/${index}/source`, 'names an image of another project');
      else diskImage = image.imageId;
    }
    if (index === bootIndex) imageId = diskImage;
    return {
      sizeGb: disk.sizeGb,
      interface: disk.interface ?? 'VIRTIO',
      imageId: diskImage,
      boot: disk.boot ?? false,
      type: disk.type ?? 'PERSISTENT',
      mode: disk.mode ?? 'READ_WRITE',
    } as const;
  });
  if (bootIndex < 0) fail('/disks', 'one disk must have boot: true');
  else if (body.disks.filter((disk) => disk.boot === true).length > 1) fail('/disks', 'only one disk may be the boot disk');
  else if (imageId === null && body.disks[bootIndex]?.source === undefined) fail(`/disks/${bootIndex}/source`, 'the boot disk needs an image source');

  const nics: CreateNicRequest[] = (body.nics ?? []).map((nic, index) => {
    const network = parseNetworkUri(nic.network);
    if (!network) fail(`/nics/${index}/network`, 'must be /v1/regions/{region}/projects/{project}/compute/networks/{network}');
    else if (network.regionId !== region || network.projectId !== project) {
      fail(`/nics/${index}/network`, `must be a network of project ${project} in region ${region}`);
    }
    const ipv6Address = given(nic.ipv6Address);
    if (ipv6Address !== undefined && !isIPv6(ipv6Address)) fail(`/nics/${index}/ipv6Address`, 'must be an IPv6 address');
    return {
      networkId: network?.networkId ?? '',
      subnetId: given(nic.subnet) ?? null,
      ipv4Address: given(nic.ipv4Address) ?? null,
      ipv6Address: ipv6Address ?? null,
      vlan: nic.vlan ?? null,
    };
  });

  // GPU entries whose type is the documentation placeholder are dropped; remember original indices for field paths.
  const gpuIndices: number[] = [];
  const gpus: GpuSpec[] = [];
  (body.gpus ?? []).forEach((gpu, index) => {
    if (given(gpu.type) === undefined) return;
    gpuIndices.push(index);
    gpus.push({ type: gpu.type, count: gpu.count });
  });

  if (violations.length > 0) throw new RequestValidationError('the instance request is invalid', violations);

  const userDataIndex = (body.instanceMetadata ?? []).findIndex((item) => item.key === 'user-data' || item.key === 'startup-script');
  const request: CreateInstanceRequest = {
    projectId: project,
    regionId: region,
    zoneId: type?.zoneId ?? null,
    name: body.id ?? null,
    instanceTypeId: type?.instanceTypeId ?? '',
    imageId: imageId ?? '',
    disks,
    nics,
    gpus,
    hostname: given(body.hostname) ?? null,
    labels: body.labels ?? {},
    instanceMetadata: body.instanceMetadata ?? [],
  };
  if (body.displayName !== undefined) request.displayName = body.displayName;
  if (body.description !== undefined) request.description = body.description;

  const fieldPath = (corePath: string): string => {
    const [head = '', index, leaf] = corePath.split('/');
    switch (head) {
      case 'regionId':
      case 'zoneId':
      case 'instanceTypeId':
        return '/type';
      case 'imageId':
        return `/disks/${Math.max(bootIndex, 0)}/source`;
      case 'name':
        return '/id';
      case 'userData':
        return userDataIndex >= 0 ? `/instanceMetadata/${userDataIndex}/value` : '/instanceMetadata';
      case 'gpus':
        return index === undefined ? '/gpus' : `/gpus/${gpuIndices[Number(index)] ?? index}`;
      case 'nics':
        if (leaf === 'networkId') return `/nics/${index}/network`;
        if (leaf === 'subnetId') return `/nics/${index}/subnet`;
        return `/${corePath}`;
      default:
        return corePath.startsWith('/') ? corePath : `/${corePath}`;
    }
  };
  return { request, fieldPath };
}
