/**
 * The native API's resource URIs: built for `selfLink`s and references, parsed where a request names a resource by
 * URI (`type`, a disk's `source`, a NIC's `network`). One module so the two directions cannot drift apart.
 */

/** A path segment naming a catalog resource: region `us-texas-1`, type `m1.medium`, image `ubuntu-24.04-20260202-3`. */
const SEGMENT = '([A-Za-z0-9][A-Za-z0-9._-]{0,62})';

/** Stand-in zone segment for an instance not yet placed in a zone (`-` means "any", as in Google's APIs). */
export const ANY_ZONE = '-';

export const regionLink = (region: string) => `/v1/regions/${region}`;
export const zoneLink = (region: string, zone: string) => `${regionLink(region)}/zones/${zone || ANY_ZONE}`;
export const instanceTypeLink = (region: string, zone: string, type: string) => `${zoneLink(region, zone)}/instance-types/${type}`;
export const imageLink = (region: string, image: string) => `${regionLink(region)}/compute/images/${image}`;
export const projectLink = (region: string, project: string) => `${regionLink(region)}/projects/${project}`;
export const networkLink = (region: string, project: string, network: string) => `${projectLink(region, project)}/compute/networks/${network}`;
export const instanceLink = (region: string, project: string, name: string) => `${projectLink(region, project)}/compute/instances/${name}`;
export const operationLink = (region: string, project: string, id: string) => `${projectLink(region, project)}/operations/${id}`;
export const sshKeyLink = (region: string, project: string, id: string) => `${projectLink(region, project)}/compute/ssh-keys/${id}`;

/** Accepts a path or an absolute URL of this API (clients paste either). */
function pathOf(uri: string): string {
  return uri.replace(/^https?:\/\/[^/]+/i, '');
}

function matcher(pattern: string): RegExp {
  return new RegExp(`^${pattern.replaceAll('{}', SEGMENT)}$`);
}

const INSTANCE_TYPE_URI = matcher('/v1/regions/{}/zones/{}/instance-types/{}');
const IMAGE_URI = matcher('/v1/regions/{}/compute/images/{}');
const PROJECT_IMAGE_URI = matcher('/v1/regions/{}/projects/{}/compute/images/{}');
const NETWORK_URI = matcher('/v1/regions/{}/projects/{}/compute/networks/{}');

export interface InstanceTypeRef {
  regionId: string;
  /** null: `-`, any zone of the region. */
  zoneId: string | null;
  instanceTypeId: string;
}

export function parseInstanceTypeUri(uri: string): InstanceTypeRef | null {
  const match = INSTANCE_TYPE_URI.exec(pathOf(uri));
  if (!match?.[1] || !match[2] || !match[3]) return null;
  return { regionId: match[1], zoneId: match[2] === ANY_ZONE ? null : match[2], instanceTypeId: match[3] };
}

/** An image URI: the region's public form, or a project's form for its own snapshots. */
export function parseImageUri(uri: string): { regionId: string; projectId: string | null; imageId: string } | null {
  const path = pathOf(uri);
  const regional = IMAGE_URI.exec(path);
  if (regional?.[1] && regional[2]) return { regionId: regional[1], projectId: null, imageId: regional[2] };
  const scoped = PROJECT_IMAGE_URI.exec(path);
  if (scoped?.[1] && scoped[2] && scoped[3]) return { regionId: scoped[1], projectId: scoped[2], imageId: scoped[3] };
  return null;
}

export function parseNetworkUri(uri: string): { regionId: string; projectId: string; networkId: string } | null {
  const match = NETWORK_URI.exec(pathOf(uri));
  if (!match?.[1] || !match[2] || !match[3]) return null;
  return { regionId: match[1], projectId: match[2], networkId: match[3] };
}

/** RFC 3339 in UTC without fractional seconds, as the k0rdent examples show (`2023-11-07T05:31:56Z`). */
export function rfc3339(value: Date | string): string {
  // Every view and event frame formats two or more dates: stored JSON already in UTC ISO form is cut, not parsed.
  if (typeof value === 'string' && ISO_UTC.test(value)) return `${value.slice(0, 19)}Z`;
  const date = value instanceof Date ? value : new Date(value);
  if (Number.isNaN(date.getTime())) return '';
  const iso = date.toISOString();
  return iso.length === 24 ? `${iso.slice(0, 19)}Z` : iso.replace(/\.\d{3}Z$/, 'Z');
}

/** `2026-12-02T14:21:04Z` or `2026-12-02T14:21:04.398Z`: what Date#toISOString writes for years 0–9999. */
const ISO_UTC = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?Z$/;
