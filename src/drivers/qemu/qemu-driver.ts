import { EventEmitter } from 'node:events';
import { existsSync } from 'node:fs';
import { mkdir, readdir, rm, statfs } from 'node:fs/promises';
import { cpus, totalmem } from 'node:os';
import { join, resolve } from 'node:path';

import {
  GuestBootTimeoutError,
  GuestNotFoundError,
  type DriverCapabilities,
  type GuestEvent,
  type GuestPowers,
  type GuestSpec,
  type GuestStatus,
  type HostCapacity,
  type HypervisorDriver,
  type SnapshotResult,
  type StopOptions,
} from '../hypervisor-driver.js';
import {
  copyGuestDisk,
  createGuestDisk,
  directorySize,
  freshDirectory,
  growGuestDisk,
  KERNEL_DATA_DISK,
  linkOrCopy,
} from './guest-disk.js';
import { assertGuestId, GuestFiles, type BootRecord, type GuestRecord } from './guest-files.js';
import { spawnQemu, waitForProcessExit } from './guest-process.js';
import { delay, GuestRuntimes, markNewBoot, type Runtime } from './guest-runtimes.js';
import { HostNetwork, type HostNetworkConfig } from './host-network.js';
import { writeNoCloudSeed } from './nocloud-seed.js';
import { qemuCommand, type QemuAccel } from './qemu-command.js';
import type { QmpClient } from './qmp-client.js';
import { readSerialLog, serialLogSize, serialTail } from './serial-console.js';

export interface QemuDriverOptions {
  /** Root of everything the driver keeps: `guests/<id>/` per guest, `images/<id>/` per snapshot. */
  stateDir: string;
  /** Where snapshots go; default `${stateDir}/images`. */
  imagesDir?: string;
  /** Default `tcg`: this machine's KVM cannot boot a stock kernel (see the QEMU reference). */
  accel?: QemuAccel;
  /** The host bridge and its safety net; pass a {@link HostNetwork} to share one between drivers. */
  network?: HostNetworkConfig | HostNetwork;
  /** Default time a boot may take before {@link GuestBootTimeoutError}; default 60 s. */
  readyTimeoutMs?: number;
  /** Default `qemu-system-x86_64`. */
  qemuBinary?: string;
  /** A serial line matching this means the guest is ready; default the test guest's line or cloud-init's final one. */
  readyPattern?: RegExp;
  /** How long a soft reboot may take to reset the machine before the driver resets it hard; default 30 s. */
  softRebootTimeoutMs?: number;
  /** How often adopted and running guests are checked for having died; default 2 s. */
  monitorIntervalMs?: number;
}

const DEFAULT_READY = /^KUMO-GUEST-READY\b|Cloud-init v\. \S+ finished/m;
const CTRL_ALT_DELETE = ['ctrl', 'alt', 'delete'].map((key) => ({ type: 'qcode', data: key }));

/**
 * Runs real guests with `qemu-system-x86_64`: a qcow2 disk per guest over the image, a NoCloud seed ISO, a tap on the
 * host bridge, QMP for every power action and the serial console in a log. QEMU runs detached from Kumo, so guests
 * outlive a Kumo restart; a new driver on the same `stateDir` adopts them (pid alive, its command line names the guest)
 * and reconnects QMP. Everything a guest has lives in its directory, so status is recomputed from disk and processes,
 * never from memory alone.
 */
export class QemuDriver implements HypervisorDriver {
  readonly name = 'qemu';
  readonly capabilities: DriverCapabilities = { pause: true, snapshot: true, consoleOutput: true, resizeOnNextBoot: true };
  readonly network: HostNetwork;

  private readonly stateDir: string;
  private readonly imagesDir: string;
  private readonly accel: QemuAccel;
  private readonly readyTimeoutMs: number;
  private readonly qemuBinary: string;
  private readonly readyPattern: RegExp;
  private readonly softRebootTimeoutMs: number;
  private readonly runtimes: GuestRuntimes;
  private readonly locks = new Map<string, Promise<unknown>>();
  private readonly events = new EventEmitter<{ guest: [GuestEvent] }>();
  private readonly adopted: Promise<void>;

  constructor(options: QemuDriverOptions) {
    this.stateDir = resolve(options.stateDir);
    this.imagesDir = resolve(options.imagesDir ?? join(this.stateDir, 'images'));
    this.accel = options.accel ?? 'tcg';
    this.network = options.network instanceof HostNetwork ? options.network : new HostNetwork(options.network);
    this.readyTimeoutMs = options.readyTimeoutMs ?? 60_000;
    this.qemuBinary = options.qemuBinary ?? 'qemu-system-x86_64';
    this.readyPattern = options.readyPattern ?? DEFAULT_READY;
    this.softRebootTimeoutMs = options.softRebootTimeoutMs ?? 30_000;
    this.runtimes = new GuestRuntimes({
      stateDir: this.stateDir,
      monitorIntervalMs: options.monitorIntervalMs ?? 2000,
      onGuestEvent: (event) => this.events.emit('guest', event),
    });
    this.adopted = this.adoptAll();
  }

  /** The machine's CPUs and RAM, and the size of the filesystem holding the state directory. */
  async capacity(): Promise<HostCapacity> {
    await mkdir(this.stateDir, { recursive: true });
    const fs = await statfs(this.stateDir);
    const diskGb = Math.max(1, Math.floor((fs.blocks * fs.bsize) / 1024 ** 3));
    return { vcpus: cpus().length, ramMb: Math.floor(totalmem() / 1024 ** 2), diskGb, gpus: [], arch: 'x86_64' };
  }

  async create(spec: GuestSpec, options: { readyTimeoutMs?: number; signal?: AbortSignal } = {}): Promise<GuestStatus> {
    assertGuestId(spec.id);
    if (spec.image.boot.kind === 'none') throw new Error('the QEMU driver needs a kernel or disk boot source');
    await this.adopted;
    const files = new GuestFiles(this.stateDir, spec.id);
    return this.withLock(spec.id, async () => {
      if (await files.readRecord()) return this.bootAndWait(files, options);
      try {
        const record: GuestRecord = { spec, size: { vcpus: spec.vcpus, ramMb: spec.ramMb, diskGb: spec.diskGb } };
        await mkdir(files.dir, { recursive: true });
        // Two independent programs (genisoimage, qemu-img): run them side by side; both settle before any cleanup.
        const prepared = await Promise.allSettled([
          writeNoCloudSeed(spec, files.seed, files.dir),
          createGuestDisk(files.disk, spec.image.boot as Exclude<typeof spec.image.boot, { kind: 'none' }>, spec.diskGb),
        ]);
        for (const result of prepared) if (result.status === 'rejected') throw result.reason;
        await files.writeRecord(record);
        return await this.bootAndWait(files, options);
      } catch (error) {
        const runtime = this.runtimes.get(spec.id);
        if (runtime) {
          runtime.stopping = true;
          await this.runtimes.kill(runtime);
          this.runtimes.forget(spec.id, runtime);
        }
        await this.remove(files, spec);
        throw error;
      }
    });
  }

  async start(id: string, options: { readyTimeoutMs?: number; signal?: AbortSignal } = {}): Promise<GuestStatus> {
    const files = await this.existing(id);
    return this.withLock(id, () => this.bootAndWait(files, options));
  }

  async stop(id: string, options: StopOptions = { gracefulTimeoutMs: 30_000 }): Promise<GuestStatus> {
    const files = await this.existing(id);
    return this.withLock(id, async () => {
      const runtime = await this.runtime(files);
      if (runtime) {
        runtime.stopping = true;
        if (runtime.qmp) {
          await this.resume(runtime.qmp);
          await runtime.qmp.execute('system_powerdown').catch(() => undefined);
        }
        if (!(await waitForProcessExit(runtime.pid, options.gracefulTimeoutMs))) await this.runtimes.kill(runtime);
        this.runtimes.forget(id, runtime);
      }
      await rm(files.exitPath, { force: true });
      return this.statusOf(files);
    });
  }

  async reboot(id: string, kind: 'soft' | 'hard', options: { readyTimeoutMs?: number } = {}): Promise<GuestStatus> {
    const files = await this.existing(id);
    return this.withLock(id, async () => {
      const runtime = await this.runtime(files);
      if (!runtime?.qmp) return this.bootAndWait(files, options);
      const qmp = runtime.qmp;
      await this.resume(qmp);
      await markNewBoot(files, runtime.pid, 'reboot');
      if (kind === 'soft') {
        const reset = qmp.waitForEvent('RESET', this.softRebootTimeoutMs);
        await qmp.execute('send-key', { keys: CTRL_ALT_DELETE });
        await reset.catch(async () => qmp.execute('system_reset'));
      } else {
        await qmp.execute('system_reset');
      }
      return this.waitReady(files, runtime, options.readyTimeoutMs ?? this.readyTimeoutMs);
    });
  }

  async pause(id: string): Promise<GuestStatus> {
    const files = await this.existing(id);
    return this.withLock(id, async () => {
      const qmp = (await this.runtime(files))?.qmp;
      if (!qmp) throw new Error(`guest ${id} is not running`);
      await qmp.execute('stop');
      return this.statusOf(files);
    });
  }

  async unpause(id: string): Promise<GuestStatus> {
    const files = await this.existing(id);
    return this.withLock(id, async () => {
      const qmp = (await this.runtime(files))?.qmp;
      if (!qmp) throw new Error(`guest ${id} is not running`);
      await qmp.execute('cont');
      return this.statusOf(files);
    });
  }

  async resize(id: string, size: { vcpus: number; ramMb: number; diskGb: number }): Promise<GuestStatus> {
    const files = await this.existing(id);
    return this.withLock(id, async () => {
      const record = await this.record(files);
      await files.writeRecord({ ...record, size: { ...size } });
      return this.statusOf(files);
    });
  }

  async destroy(id: string): Promise<void> {
    assertGuestId(id);
    await this.adopted;
    const files = new GuestFiles(this.stateDir, id);
    await this.withLock(id, async () => {
      const record = await files.readRecord();
      const runtime = await this.runtime(files);
      if (runtime) {
        runtime.stopping = true;
        await this.runtimes.kill(runtime);
        this.runtimes.forget(id, runtime);
      }
      await this.remove(files, record?.spec);
    });
  }

  async status(id: string): Promise<GuestStatus> {
    return this.statusOf(await this.existing(id));
  }

  async list(): Promise<GuestStatus[]> {
    await this.adopted;
    const statuses: GuestStatus[] = [];
    for (const id of await this.guestIds()) {
      const files = new GuestFiles(this.stateDir, id);
      if (await files.readRecord()) statuses.push(await this.statusOf(files));
    }
    return statuses;
  }

  /** From `list`: a QEMU host runs tens of guests, not tens of thousands. */
  async powers(): Promise<GuestPowers> {
    const guests = await this.list();
    return { ids: guests.map((guest) => guest.id), powers: guests.map((guest) => guest.power) };
  }

  async consoleOutput(id: string, maxLines = 100): Promise<string> {
    return serialTail((await this.existing(id)).serialLog, maxLines);
  }

  async snapshot(id: string, imageId: string): Promise<SnapshotResult> {
    assertGuestId(imageId);
    const files = await this.existing(id);
    return this.withLock(id, async () => {
      const { spec } = await this.record(files);
      const runtime = await this.runtime(files);
      const dir = join(this.imagesDir, imageId);
      await freshDirectory(dir);
      try {
        const boot = spec.image.boot;
        if (boot.kind === 'kernel') {
          await copyGuestDisk(files.disk, join(dir, KERNEL_DATA_DISK), runtime?.qmp);
          const kernel = await linkOrCopy(boot.kernel, dir);
          const initrd = await linkOrCopy(boot.initrd, dir);
          const result: SnapshotResult = {
            boot: { kind: 'kernel', kernel, initrd, ...(boot.cmdline === undefined ? {} : { cmdline: boot.cmdline }) },
            sizeBytes: await directorySize(dir),
          };
          return result;
        }
        const disk = join(dir, 'disk.qcow2');
        await copyGuestDisk(files.disk, disk, runtime?.qmp);
        return { boot: { kind: 'disk', disk, format: 'qcow2' }, sizeBytes: await directorySize(dir) };
      } catch (error) {
        await rm(dir, { recursive: true, force: true });
        throw error;
      }
    });
  }

  onGuestEvent(listener: (event: GuestEvent) => void): () => void {
    this.events.on('guest', listener);
    return () => this.events.off('guest', listener);
  }

  async close(): Promise<void> {
    this.runtimes.close();
    await this.adopted.catch(() => undefined);
    this.runtimes.close(); // whatever adoption still picked up meanwhile
  }

  private async bootAndWait(files: GuestFiles, options: { readyTimeoutMs?: number; signal?: AbortSignal }): Promise<GuestStatus> {
    const runtime = (await this.runtime(files)) ?? (await this.launch(files));
    return this.waitReady(files, runtime, options.readyTimeoutMs ?? this.readyTimeoutMs, options.signal);
  }

  private async launch(files: GuestFiles): Promise<Runtime> {
    const startedAt = Date.now();
    const timeline: BootRecord['timeline'] = [];
    const mark = (step: string): void => void timeline.push({ step, elapsedMs: Date.now() - startedAt });
    const { spec, size } = await this.record(files);
    const boot = spec.image.boot;
    if (boot.kind === 'none') throw new Error('the QEMU driver needs a kernel or disk boot source');
    await growGuestDisk(files.disk, size.diskGb);
    const nics = [];
    for (const [index, nic] of spec.nics.entries()) {
      nics.push({ tap: await this.network.attach(nicKey(spec.id, index), nic), macAddress: nic.macAddress });
    }
    mark('network');
    await rm(files.exitPath, { force: true });
    await rm(files.pidFile, { force: true });
    await rm(files.qmpSocket, { force: true });
    const serialOffset = await serialLogSize(files.serialLog);
    const args = qemuCommand({ guestId: spec.id, files, boot, size, accel: this.accel, nics });
    const spawned = spawnQemu(this.qemuBinary, args, files.qemuLog);
    mark('spawned');
    const runtime = this.runtimes.track(spec.id, spawned);
    await files.writeBoot({ pid: spawned.pid, startedAt, serialOffset, vcpus: size.vcpus, ramMb: size.ramMb, timeline });
    const deadline = Date.now() + 10_000;
    while (!runtime.qmp && !runtime.gone && Date.now() < deadline) {
      if (existsSync(files.qmpSocket)) await this.runtimes.connectQmp(files, runtime).catch(() => undefined);
      if (!runtime.qmp) await delay(25);
    }
    if (!runtime.qmp) {
      runtime.stopping = true;
      await this.runtimes.kill(runtime);
      const log = await serialTail(files.qemuLog, 20);
      throw new Error(`qemu for guest ${spec.id} did not start: ${log}`);
    }
    mark('qmp');
    await files.writeBoot({ pid: spawned.pid, startedAt, serialOffset, vcpus: size.vcpus, ramMb: size.ramMb, timeline });
    return runtime;
  }

  private async waitReady(files: GuestFiles, runtime: Runtime, timeoutMs: number, signal?: AbortSignal): Promise<GuestStatus> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      signal?.throwIfAborted();
      const boot = await files.readBoot();
      if (boot && this.readyPattern.test(await readSerialLog(files.serialLog, boot.serialOffset))) {
        if (!boot.timeline.some((mark) => mark.step === 'ready')) {
          boot.timeline.push({ step: 'ready', elapsedMs: Date.now() - boot.startedAt });
          await files.writeBoot(boot);
        }
        return this.statusOf(files);
      }
      if (runtime.gone) {
        throw new Error(`guest ${files.id} stopped while booting: ${await serialTail(files.serialLog, 20)}`);
      }
      if (Date.now() >= deadline) throw new GuestBootTimeoutError(files.id, await serialTail(files.serialLog, 20));
      await delay(100);
    }
  }

  /** The live runtime of a guest: the one this driver watches, or one adopted from its pidfile. */
  private runtime(files: GuestFiles): Promise<Runtime | undefined> {
    return this.runtimes.live(files);
  }

  private async resume(qmp: QmpClient): Promise<void> {
    const state = await qmp.execute<{ status: string }>('query-status');
    if (state.status === 'paused') await qmp.execute('cont');
  }

  private async remove(files: GuestFiles, spec: GuestSpec | undefined): Promise<void> {
    const nicCount = Math.max(1, spec?.nics.length ?? 1);
    for (let index = 0; index < nicCount; index++) await this.network.detach(nicKey(files.id, index));
    await rm(files.qmpSocket, { force: true });
    await rm(files.dir, { recursive: true, force: true });
  }

  private async statusOf(files: GuestFiles): Promise<GuestStatus> {
    const { size } = await this.record(files);
    const runtime = await this.runtime(files);
    if (!runtime) {
      const exit = await files.readExit();
      return {
        id: files.id,
        power: exit?.power ?? 'shutdown',
        ready: false,
        vcpus: size.vcpus,
        ramMb: size.ramMb,
        ...(exit ? { message: exit.reason } : {}),
      };
    }
    const boot = await files.readBoot();
    const state = await runtime.qmp?.execute<{ status: string }>('query-status').catch(() => undefined);
    const power = state?.status === 'paused' ? 'paused' : 'running';
    const serial = boot ? await readSerialLog(files.serialLog, boot.serialOffset) : '';
    const lastLine = serial.replace(/\r/g, '').trimEnd().split('\n').at(-1);
    return {
      id: files.id,
      power,
      ready: this.readyPattern.test(serial),
      vcpus: boot?.vcpus ?? size.vcpus,
      ramMb: boot?.ramMb ?? size.ramMb,
      ...(boot ? { timeline: boot.timeline } : {}),
      ...(lastLine ? { message: lastLine } : {}),
    };
  }

  private async record(files: GuestFiles): Promise<GuestRecord> {
    const record = await files.readRecord();
    if (!record) throw new GuestNotFoundError(files.id);
    return record;
  }

  private async existing(id: string): Promise<GuestFiles> {
    assertGuestId(id);
    await this.adopted;
    const files = new GuestFiles(this.stateDir, id);
    await this.record(files);
    return files;
  }

  private async guestIds(): Promise<string[]> {
    try {
      return await readdir(join(this.stateDir, 'guests'));
    } catch {
      return [];
    }
  }

  /** Adopts every guest whose QEMU still runs (after a Kumo restart) so its death is noticed and reported. */
  private async adoptAll(): Promise<void> {
    for (const id of await this.guestIds()) {
      const files = new GuestFiles(this.stateDir, id);
      if (await files.readRecord()) await this.runtime(files).catch(() => undefined);
    }
  }

  private async withLock<T>(id: string, work: () => Promise<T>): Promise<T> {
    const previous = this.locks.get(id) ?? Promise.resolve();
    const next = previous.then(work, work);
    const settled = next.catch(() => undefined);
    this.locks.set(id, settled);
    void settled.then(() => {
      if (this.locks.get(id) === settled) this.locks.delete(id);
    });
    return next;
  }
}

/** The network attachment key of a guest's NIC: the guest id for the first, `<id>/nic<i>` for the others. */
function nicKey(id: string, index: number): string {
  return index === 0 ? id : `${id}/nic${index}`;
}
