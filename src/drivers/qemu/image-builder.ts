import { createHash, randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readFile, readdir, rename, rm, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';

import { buildCpioArchive, type CpioEntry } from './cpio-archive.js';
import {
  GUEST_BOOT_SCRIPT,
  GUEST_GROUP,
  GUEST_INITTAB,
  GUEST_PASSWD,
  GUEST_POWER_BUTTON_SCRIPT,
  GUEST_SHUTDOWN_SCRIPT,
} from './guest-init.js';
import { runCommand } from './run-command.js';
import { extractVmlinux } from './vmlinux-extractor.js';

/** Bump when the builder's output changes for the same inputs; it is part of the cache key. */
export const IMAGE_BUILDER_VERSION = 1;

/**
 * Kernel command line of the built image: serial console, and options that cut the boot time under TCG (no
 * mitigations, no KASLR, no audit/LSM, trust the TSC and the CPU's RNG, one UART). `panic=-1` reboots a panicked
 * guest at once.
 */
export const GUEST_KERNEL_CMDLINE =
  'console=ttyS0 quiet panic=-1 mitigations=off nokaslr audit=0 apparmor=0 security=none tsc=reliable ' +
  'no_timer_check cryptomgr.notests 8250.nr_uarts=1 random.trust_cpu=on';

/** Kernel modules the guest loads at boot (with their dependencies, resolved from modules.dep). */
const GUEST_MODULES = ['crc32c_generic', 'virtio_pci', 'virtio_blk', 'virtio_net', 'virtio_rng', 'isofs', 'ext4', 'button', 'evdev'];

/** Debian packages whose files make the image. */
const BASE_PACKAGES = ['busybox-static', 'dropbear-bin'];
const DROPBEAR_BINARIES = ['/usr/sbin/dropbear', '/usr/bin/dropbearkey'];

/** A built guest image: a PVH-bootable kernel and an initramfs, both in one content-addressed cache directory. */
export interface GuestImage {
  dir: string;
  kernel: string;
  initrd: string;
  cmdline: string;
  /** Content hash of the inputs (package versions, init files, builder version). */
  hash: string;
  kernelRelease: string;
}

export interface BuildGuestImageOptions {
  /** Where images are cached; default `${KUMO_DATA_DIR:-.kumo}/images`. */
  cacheDir?: string;
  /** Debian kernel package; default the dependency of the `linux-image-amd64` meta package. */
  kernelPackage?: string;
  /** Rebuild even when the cache holds an image with the same hash. */
  force?: boolean;
}

async function packageVersion(name: string): Promise<string> {
  const { stdout } = await runCommand('dpkg-query', ['-W', '-f', '${Version}', name]);
  if (!stdout.trim()) throw new Error(`Debian package ${name} is not installed`);
  return stdout.trim();
}

async function defaultKernelPackage(): Promise<string> {
  const { stdout } = await runCommand('dpkg-query', ['-W', '-f', '${Depends}', 'linux-image-amd64']);
  const match = /linux-image-[0-9][^\s,(]*/.exec(stdout);
  if (!match) throw new Error('linux-image-amd64 is not installed or depends on no kernel package');
  return match[0];
}

async function sharedLibraries(binary: string): Promise<string[]> {
  const { stdout } = await runCommand('ldd', [binary]);
  const paths = new Set<string>();
  for (const line of stdout.split('\n')) {
    const match = /(?:=>\s*)?(\/\S+)\s+\(0x/.exec(line);
    if (match?.[1]) paths.add(match[1]);
  }
  return [...paths];
}

async function owningPackage(path: string): Promise<string> {
  const { stdout } = await runCommand('dpkg-query', ['-S', path], { allowFailure: true });
  const real = stdout ? stdout : (await runCommand('dpkg-query', ['-S', path.replace(/^\/lib/, '/usr/lib')], { allowFailure: true })).stdout;
  return real.split(':')[0]?.trim() || 'unknown';
}

/** Modules in load order: dependencies first, each once, as paths relative to /lib/modules/<release>. */
async function resolveModules(modulesDir: string, wanted: readonly string[]): Promise<string[]> {
  const deps = new Map<string, string[]>();
  for (const line of (await readFile(join(modulesDir, 'modules.dep'), 'utf8')).split('\n')) {
    const [module, rest] = line.split(':');
    if (module) deps.set(module, (rest ?? '').trim().split(/\s+/).filter(Boolean));
  }
  const byName = new Map<string, string>();
  for (const path of deps.keys()) byName.set(path.replace(/^.*\//, '').replace(/\.ko(\..*)?$/, '').replace(/-/g, '_'), path);
  const ordered: string[] = [];
  const visit = (path: string): void => {
    if (ordered.includes(path)) return;
    for (const dep of deps.get(path) ?? []) visit(dep);
    ordered.push(path);
  };
  for (const name of wanted) {
    const path = byName.get(name);
    if (path) visit(path);
  }
  return ordered;
}

/** The default image cache directory: `${KUMO_DATA_DIR:-.kumo}/images`. */
export function defaultImageCacheDir(): string {
  return resolve(process.env.KUMO_DATA_DIR ?? '.kumo', 'images');
}

/**
 * Builds (or finds in the cache) the QEMU test guest from Debian packages installed on this machine: the kernel of
 * `linux-image-amd64` (its vmlinuz decompressed to an ELF vmlinux for PVH boot), `busybox-static`, `dropbear-bin` and
 * the shared libraries dropbear needs, and the modules of the *packaged* kernel release (not the host's). Nothing is
 * downloaded and nothing is committed. The cache key hashes the package versions, the init files and
 * {@link IMAGE_BUILDER_VERSION}, so an upgrade of any input builds a new image beside the old one.
 */
export async function buildGuestImage(options: BuildGuestImageOptions = {}): Promise<GuestImage> {
  const cacheDir = resolve(options.cacheDir ?? defaultImageCacheDir());
  const kernelPackage = options.kernelPackage ?? (await defaultKernelPackage());
  const kernelRelease = kernelPackage.replace(/^linux-image-/, '');
  const bzImage = `/boot/vmlinuz-${kernelRelease}`;
  const modulesDir = `/lib/modules/${kernelRelease}`;

  const libraries = [...new Set((await Promise.all(DROPBEAR_BINARIES.map(sharedLibraries))).flat())].sort();
  const libraryPackages = [...new Set(await Promise.all(libraries.map(owningPackage)))].sort();
  const packages = [kernelPackage, ...BASE_PACKAGES, ...libraryPackages.filter((name) => name !== 'unknown')];
  const versions = Object.fromEntries(await Promise.all(packages.map(async (name) => [name, await packageVersion(name)] as const)));
  const inputs = {
    builder: IMAGE_BUILDER_VERSION,
    versions,
    modules: GUEST_MODULES,
    cmdline: GUEST_KERNEL_CMDLINE,
    init: [GUEST_INITTAB, GUEST_BOOT_SCRIPT, GUEST_POWER_BUTTON_SCRIPT, GUEST_SHUTDOWN_SCRIPT, GUEST_PASSWD, GUEST_GROUP],
  };
  const hash = createHash('sha256').update(JSON.stringify(inputs)).digest('hex').slice(0, 16);
  const dir = join(cacheDir, `guest-${hash}`);
  const image: GuestImage = {
    dir,
    kernel: join(dir, 'vmlinux'),
    initrd: join(dir, 'initramfs.cpio.gz'),
    cmdline: GUEST_KERNEL_CMDLINE,
    hash,
    kernelRelease,
  };
  if (!options.force && existsSync(join(dir, 'manifest.json'))) return image;

  const staging = join(cacheDir, `.build-${hash}-${randomBytes(4).toString('hex')}`);
  await mkdir(staging, { recursive: true });
  try {
    await extractVmlinux(bzImage, join(staging, 'vmlinux'));
    const entries = await initramfsEntries(kernelRelease, modulesDir, libraries);
    await writeFile(join(staging, 'initramfs.cpio.gz'), buildCpioArchive(entries));
    await writeFile(join(staging, 'manifest.json'), `${JSON.stringify({ hash, kernelRelease, ...inputs, init: undefined }, null, 2)}\n`);
    if (options.force) await rm(dir, { recursive: true, force: true });
    try {
      await rename(staging, dir);
    } catch (error) {
      if (!existsSync(join(dir, 'manifest.json'))) throw error;
    }
  } finally {
    await rm(staging, { recursive: true, force: true });
  }
  return image;
}

async function initramfsEntries(kernelRelease: string, modulesDir: string, libraries: readonly string[]): Promise<CpioEntry[]> {
  const entries: CpioEntry[] = [];
  const dirs = new Set<string>();
  const ensureDir = (path: string): void => {
    if (path === '/' || dirs.has(path)) return;
    ensureDir(dirname(path));
    dirs.add(path);
    entries.push({ kind: 'dir', path, mode: path === '/root' ? 0o700 : 0o755 });
  };
  const addFile = async (path: string, data: Buffer | string, mode = 0o644): Promise<void> => {
    ensureDir(dirname(path));
    entries.push({ kind: 'file', path, data: typeof data === 'string' ? Buffer.from(data) : data, mode });
  };
  for (const dir of ['/dev', '/proc', '/sys', '/run', '/tmp', '/root', '/data', '/seed', '/etc/dropbear', '/var/log']) ensureDir(dir);
  entries.push({ kind: 'char', path: '/dev/console', major: 5, minor: 1 }, { kind: 'char', path: '/dev/null', major: 1, minor: 3, mode: 0o666 });

  await addFile('/bin/busybox', await readFile('/bin/busybox'), 0o755);
  entries.push({ kind: 'symlink', path: '/init', target: '/bin/busybox' });
  const applets = (await runCommand('/bin/busybox', ['--list-full'])).stdout.split('\n').filter(Boolean);
  for (const applet of applets) {
    const path = `/${applet}`;
    if (path === '/bin/busybox') continue;
    ensureDir(dirname(path));
    entries.push({ kind: 'symlink', path, target: '/bin/busybox' });
  }
  for (const binary of DROPBEAR_BINARIES) await addFile(binary, await readFile(binary), 0o755);
  for (const library of libraries) await addFile(library, await readFile(library), 0o755);

  const modules = await resolveModules(modulesDir, GUEST_MODULES);
  for (const module of modules) await addFile(`/lib/modules/${kernelRelease}/${module}`, await readFile(join(modulesDir, module)));
  await addFile('/etc/kumo/modules', modules.map((module) => `${kernelRelease}/${module}\n`).join(''));

  await addFile('/etc/inittab', GUEST_INITTAB);
  await addFile('/etc/kumo/boot', GUEST_BOOT_SCRIPT, 0o755);
  await addFile('/etc/kumo/power-button', GUEST_POWER_BUTTON_SCRIPT, 0o755);
  await addFile('/etc/kumo/shutdown', GUEST_SHUTDOWN_SCRIPT, 0o755);
  await addFile('/etc/passwd', GUEST_PASSWD);
  await addFile('/etc/group', GUEST_GROUP);
  await addFile('/etc/shells', '/bin/sh\n');
  await addFile('/etc/nsswitch.conf', 'passwd: files\ngroup: files\nshadow: files\nhosts: files\n');
  return entries;
}

/** Lists cached images (directories named `guest-<hash>`), newest build last is not guaranteed. */
export async function listCachedImages(cacheDir: string = defaultImageCacheDir()): Promise<string[]> {
  if (!existsSync(cacheDir)) return [];
  return (await readdir(cacheDir)).filter((name) => name.startsWith('guest-')).map((name) => join(cacheDir, name));
}
