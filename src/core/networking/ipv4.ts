/** IPv4 arithmetic for IPAM and validation; addresses as unsigned 32-bit numbers. */

export interface Ipv4Cidr {
  network: number;
  prefixLength: number;
  /** Number of addresses in the block. */
  size: number;
}

export function parseIpv4(text: string): number | null {
  const parts = text.split('.');
  if (parts.length !== 4) return null;
  let value = 0;
  for (const part of parts) {
    if (!/^(0|[1-9][0-9]{0,2})$/.test(part)) return null;
    const octet = Number(part);
    if (octet > 255) return null;
    value = value * 256 + octet;
  }
  return value;
}

export function formatIpv4(value: number): string {
  return [value >>> 24, (value >>> 16) & 255, (value >>> 8) & 255, value & 255].join('.');
}

export function parseCidr(text: string): Ipv4Cidr | null {
  const [address, prefix] = text.split('/');
  if (address === undefined || prefix === undefined || !/^[0-9]{1,2}$/.test(prefix)) return null;
  const prefixLength = Number(prefix);
  const value = parseIpv4(address);
  if (value === null || prefixLength > 32) return null;
  const size = 2 ** (32 - prefixLength);
  const network = value - (value % size);
  return { network, prefixLength, size };
}

export function cidrContains(cidr: Ipv4Cidr, address: number): boolean {
  return address >= cidr.network && address < cidr.network + cidr.size;
}

/** Addresses a guest may hold: not the network address, the broadcast address, or the gateway. */
export function isAssignable(cidr: Ipv4Cidr, address: number, gateway: number | null): boolean {
  if (!cidrContains(cidr, address)) return false;
  if (cidr.size >= 4 && (address === cidr.network || address === cidr.network + cidr.size - 1)) return false;
  return address !== gateway;
}

/** RFC 1035 label: a letter first, letters/digits/hyphens, a letter or digit last, at most 63 characters. */
export const RFC1035_LABEL = /^[a-z]([-a-z0-9]*[a-z0-9])?$/;

/** An RFC 1035 host name: dot-separated labels (case-insensitive), at most 253 characters. */
export function isRfc1035Hostname(name: string): boolean {
  if (name.length < 1 || name.length > 253) return false;
  return name
    .toLowerCase()
    .split('.')
    .every((label) => label.length <= 63 && RFC1035_LABEL.test(label));
}
