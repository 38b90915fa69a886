import { createHash } from 'node:crypto';
import { writeFile } from 'node:fs/promises';

import type { GuestNic } from '../hypervisor-driver.js';
import { runCommand } from './run-command.js';

/** How a host wires guests: one Linux bridge carrying the gateway, one tap per guest, a safety net around both. */
export interface HostNetworkConfig {
  /** Bridge name; default `kumobr0`. */
  bridge?: string;
  /** Tap name prefix; default `kt-` (the name is the prefix plus a hash of the guest id, at most 15 bytes). */
  tapPrefix?: string;
  /** The blackholed range around each subnet is the subnet's network at this prefix length; default 16. */
  blackholePrefixLength?: number;
  /** Policy routing table for traffic arriving from the bridge; default 4213. */
  routeTable?: number;
  /** Priority of the `iif <bridge>` rule; default 4213. */
  rulePriority?: number;
  /** Metric of the blackhole routes, which also marks them as ours; default 4213. */
  blackholeMetric?: number;
}

function ipToInt(address: string): number {
  const parts = address.split('.').map(Number);
  if (parts.length !== 4 || parts.some((part) => !Number.isInteger(part) || part < 0 || part > 255)) {
    throw new Error(`not an IPv4 address: ${address}`);
  }
  return parts.reduce((value, part) => value * 256 + part, 0);
}

function intToIp(value: number): string {
  return [24, 16, 8, 0].map((shift) => Math.floor(value / 2 ** shift) % 256).join('.');
}

/** The network address of `address/prefixLength` as a CIDR string. */
export function networkCidr(address: string, prefixLength: number): string {
  if (!Number.isInteger(prefixLength) || prefixLength < 1 || prefixLength > 32) throw new Error(`bad prefix length ${prefixLength}`);
  const size = 2 ** (32 - prefixLength);
  return `${intToIp(Math.floor(ipToInt(address) / size) * size)}/${prefixLength}`;
}

async function ip(args: string[], allowFailure = false): Promise<{ code: number; stdout: string; stderr: string }> {
  return runCommand('ip', args, { allowFailure });
}

/**
 * Host side of guest networking on one machine. Safety is set up before any address exists and is never relaxed:
 *
 * 1. a blackhole route (marked by its metric) for a range wider than every guest subnet, so the host never sends a
 *    packet for a guest address it does not carry out of its default route;
 * 2. `ip rule iif <bridge> lookup <table>`, where the table holds only the bridge's subnets and `blackhole default`,
 *    so nothing arriving from a guest is routed anywhere but back onto the bridge (and `ip_forward`, left as found,
 *    stays the first line of defence).
 *
 * Guests on the bridge reach each other at layer 2 and the host reaches them through the connected route. Every
 * operation is idempotent, and {@link teardown} removes everything this class can have made, also after a restart.
 */
export class HostNetwork {
  readonly bridge: string;
  private readonly tapPrefix: string;
  private readonly blackholePrefixLength: number;
  private readonly table: number;
  private readonly priority: number;
  private readonly metric: number;
  private queue: Promise<unknown> = Promise.resolve();

  constructor(config: HostNetworkConfig = {}) {
    this.bridge = config.bridge ?? 'kumobr0';
    this.tapPrefix = config.tapPrefix ?? 'kt-';
    this.blackholePrefixLength = config.blackholePrefixLength ?? 16;
    this.table = config.routeTable ?? 4213;
    this.priority = config.rulePriority ?? 4213;
    this.metric = config.blackholeMetric ?? 4213;
    if (Buffer.byteLength(this.bridge) > 15) throw new Error(`bridge name ${this.bridge} is longer than 15 bytes`);
  }

  /** The tap device name of a guest: deterministic, so a restarted driver finds it again. */
  tapName(guestId: string): string {
    const room = 15 - Buffer.byteLength(this.tapPrefix);
    return `${this.tapPrefix}${createHash('sha256').update(guestId).digest('hex').slice(0, room)}`;
  }

  /** Makes the guest's tap on the bridge, setting up the bridge and its safety net first if needed. Returns the tap name. */
  attach(guestId: string, nic: GuestNic): Promise<string> {
    return this.serialized(async () => {
      await this.ensureSubnet(nic.gatewayIp, nic.prefixLength);
      const tap = this.tapName(guestId);
      if ((await ip(['link', 'show', 'dev', tap], true)).code !== 0) {
        await ip(['tuntap', 'add', 'dev', tap, 'mode', 'tap']);
      }
      await ip(['link', 'set', 'dev', tap, 'master', this.bridge]);
      await ip(['link', 'set', 'dev', tap, 'up']);
      return tap;
    });
  }

  /** Removes the guest's tap. Detaching a guest without a tap succeeds. */
  detach(guestId: string): Promise<void> {
    return this.serialized(async () => {
      await ip(['link', 'del', 'dev', this.tapName(guestId)], true);
    });
  }

  /** True when the guest's tap device exists. */
  async hasTap(guestId: string): Promise<boolean> {
    return (await ip(['link', 'show', 'dev', this.tapName(guestId)], true)).code === 0;
  }

  /** Removes the bridge, its rule and table, the marked blackhole routes and any tap left on the bridge. */
  teardown(): Promise<void> {
    return this.serialized(async () => {
      const links = JSON.parse((await ip(['-j', 'link', 'show', 'master', this.bridge], true)).stdout || '[]') as Array<{ ifname: string }>;
      for (const link of links) await ip(['link', 'del', 'dev', link.ifname], true);
      await ip(['link', 'del', 'dev', this.bridge], true);
      while ((await ip(['rule', 'del', 'priority', String(this.priority), 'iif', this.bridge, 'lookup', String(this.table)], true)).code === 0);
      await ip(['route', 'flush', 'table', String(this.table)], true);
      const routes = JSON.parse((await ip(['-j', 'route', 'show', 'table', 'main', 'type', 'blackhole'], true)).stdout || '[]') as Array<{
        dst: string;
        metric?: number;
      }>;
      for (const route of routes) {
        if (route.metric === this.metric) await ip(['route', 'del', 'blackhole', route.dst, 'metric', String(this.metric)], true);
      }
    });
  }

  private async ensureSubnet(gatewayIp: string, prefixLength: number): Promise<void> {
    const subnet = networkCidr(gatewayIp, prefixLength);
    const covering = networkCidr(gatewayIp, Math.min(prefixLength, this.blackholePrefixLength));
    const table = String(this.table);
    await ip(['route', 'replace', 'blackhole', covering, 'metric', String(this.metric)]);
    const rules = (await ip(['rule', 'show', 'priority', String(this.priority)])).stdout;
    if (!rules.includes(`iif ${this.bridge} lookup ${table}`)) {
      await ip(['rule', 'add', 'priority', String(this.priority), 'iif', this.bridge, 'lookup', table]);
    }
    await ip(['route', 'replace', 'blackhole', 'default', 'table', table]);
    if ((await ip(['link', 'show', 'dev', this.bridge], true)).code !== 0) {
      await ip(['link', 'add', 'name', this.bridge, 'type', 'bridge']);
    }
    await writeFile(`/proc/sys/net/ipv6/conf/${this.bridge}/disable_ipv6`, '1').catch(() => undefined);
    await ip(['link', 'set', 'dev', this.bridge, 'up']);
    await ip(['addr', 'replace', `${gatewayIp}/${prefixLength}`, 'dev', this.bridge]);
    await ip(['route', 'replace', subnet, 'dev', this.bridge, 'table', table]);
  }

  private serialized<T>(work: () => Promise<T>): Promise<T> {
    const next = this.queue.then(work, work);
    this.queue = next.catch(() => undefined);
    return next;
  }
}
