import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import type { GuestSpec } from '../../src/drivers/hypervisor-driver.js';
import { buildGuestImage, defaultImageCacheDir, type GuestImage } from '../../src/drivers/qemu/image-builder.js';
import type { HostNetworkConfig } from '../../src/drivers/qemu/host-network.js';

/** Why QEMU tests cannot run here, or undefined when they can (root, qemu, genisoimage, ssh, the Debian packages). */
export function qemuSkipReason(): string | undefined {
  if (process.getuid?.() !== 0) return 'QEMU driver tests need root (bridge, taps, routes)';
  const path = (process.env.PATH ?? '').split(':');
  for (const tool of ['qemu-system-x86_64', 'qemu-img', 'genisoimage', 'ssh', 'ssh-keygen', 'ip']) {
    if (!path.some((dir) => existsSync(join(dir, tool)))) return `${tool} is not installed`;
  }
  for (const file of ['/bin/busybox', '/usr/sbin/dropbear']) if (!existsSync(file)) return `${file} is missing (busybox-static, dropbear-bin)`;
  return undefined;
}

/** The guest image from the default cache (`${KUMO_DATA_DIR:-.kumo}/images`), built on first use and reused after. */
export function testGuestImage(): Promise<GuestImage> {
  return buildGuestImage({ cacheDir: process.env.KUMO_TEST_IMAGE_CACHE ?? defaultImageCacheDir() });
}

/**
 * A private network per test file: its own bridge, subnet, rule priority, table and blackhole metric, so test files
 * running at the same time never share (or tear down) each other's safety net. Subnets are 10.213.<n>.0/24, inside
 * the 10.213.0.0/16 the HostNetwork blackholes.
 */
export function testNetwork(n: number): HostNetworkConfig & { subnetPrefix: string; gateway: string } {
  return {
    bridge: `kumotb${n}`,
    tapPrefix: `kt${n}-`,
    routeTable: 4300 + n,
    rulePriority: 4300 + n,
    blackholeMetric: 4300 + n,
    subnetPrefix: `10.213.${n}`,
    gateway: `10.213.${n}.1`,
  };
}

/** A spec for the test guest: host number `host` in the test file's subnet, 1 vCPU, 256 MB, 1 GB data disk. */
export function testSpec(options: {
  id: string;
  image: GuestImage;
  network: { subnetPrefix: string; gateway: string };
  host: number;
  publicKey: string;
  userData?: string | null;
}): GuestSpec {
  const hex = options.host.toString(16).padStart(2, '0');
  return {
    id: options.id,
    hostname: `vm-${options.id.slice(0, 8)}`,
    vcpus: 1,
    ramMb: 256,
    diskGb: 1,
    image: { id: 'kumo-busybox', boot: { kind: 'kernel', kernel: options.image.kernel, initrd: options.image.initrd, cmdline: options.image.cmdline } },
    nics: [
      {
        macAddress: `52:54:00:d5:${options.network.subnetPrefix.split('.')[2]?.padStart(2, '0').slice(-2) ?? '00'}:${hex}`,
        ipv4Address: `${options.network.subnetPrefix}.${options.host}`,
        prefixLength: 24,
        gatewayIp: options.network.gateway,
      },
    ],
    sshPublicKeys: [options.publicKey],
    userData: options.userData ?? null,
    metadata: { 'kumo-test': 'yes' },
  };
}

/** A fresh ed25519 key pair in a temporary directory. */
export async function sshKeyPair(): Promise<{ dir: string; privateKey: string; publicKey: string }> {
  const dir = await mkdtemp(join(tmpdir(), 'kumo-qemu-key-'));
  const privateKey = join(dir, 'id_ed25519');
  await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'kumo-test', '-f', privateKey]);
  return { dir, privateKey, publicKey: (await readFile(`${privateKey}.pub`, 'utf8')).trim() };
}

/**
 * Runs a command in the guest as root over SSH (only ever to an address the test assigned on its own bridge). A
 * connection-level failure is retried for a few seconds: right after a guest comes back from a stop, the host's
 * neighbour entry for its address can still be FAILED from while it was down ("No route to host").
 */
export async function ssh(privateKey: string, address: string, command: string, timeoutSeconds = 10): Promise<string> {
  const deadline = Date.now() + 15_000;
  for (;;) {
    try {
      return await sshOnce(privateKey, address, command, timeoutSeconds);
    } catch (error) {
      const unreachable = /No route to host|Connection refused/.test(String((error as Error).message));
      if (!unreachable || Date.now() > deadline) throw error;
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
  }
}

function sshOnce(privateKey: string, address: string, command: string, timeoutSeconds: number): Promise<string> {
  return run(
    'ssh',
    [
      '-o', 'StrictHostKeyChecking=no',
      '-o', 'UserKnownHostsFile=/dev/null',
      '-o', 'LogLevel=ERROR',
      '-o', 'BatchMode=yes',
      '-o', `ConnectTimeout=${timeoutSeconds}`,
      '-i', privateKey,
      `root@${address}`,
      command,
    ],
    (timeoutSeconds + 20) * 1000,
  );
}

/** Retries {@link ssh} until it succeeds and `accept` holds, or the deadline passes. */
export async function sshUntil(
  privateKey: string,
  address: string,
  command: string,
  accept: (output: string) => boolean = () => true,
  timeoutMs = 60_000,
): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const output = await ssh(privateKey, address, command);
      if (accept(output)) return output;
      last = new Error(`unexpected output: ${output}`);
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline) throw last;
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
}

/** A temporary state directory removed by the returned cleanup. */
export async function tempStateDir(): Promise<{ dir: string; remove: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), 'kumo-qemu-state-'));
  return { dir, remove: () => rm(dir, { recursive: true, force: true }) };
}

/** Pids of running (non-zombie) QEMU processes whose command line names this guest. */
export async function guestPids(guestId: string): Promise<number[]> {
  const out = await run('ps', ['-eo', 'pid=,stat=,args=']);
  return out
    .split('\n')
    .filter((line) => line.includes(`guest=${guestId}`) && line.includes('qemu-system') && !/^\s*\d+\s+Z/.test(line))
    .map((line) => Number.parseInt(line.trim(), 10));
}

/** Runs a program (argument vector, no shell) and resolves with its stdout. */
export function run(file: string, args: string[], timeoutMs = 60_000): Promise<string> {
  return new Promise((resolvePromise, reject) => {
    execFile(file, args, { timeout: timeoutMs, encoding: 'utf8' }, (error, stdout, stderr) => {
      if (error) reject(new Error(`${file} ${args.join(' ')}: ${error.message} ${stderr}`));
      else resolvePromise(stdout);
    });
  });
}
