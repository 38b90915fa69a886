import { existsSync } from 'node:fs';

import type { GuestEvent } from '../hypervisor-driver.js';
import { GuestFiles } from './guest-files.js';
import { isGuestProcess, readPidFile, waitForProcessExit, type SpawnedQemu } from './guest-process.js';
import { QmpClient, type QmpEvent } from './qmp-client.js';
import { serialLogSize } from './serial-console.js';

/** One live QEMU process the driver watches. */
export interface Runtime {
  pid: number;
  qmp: QmpClient | undefined;
  spawned: SpawnedQemu | undefined;
  /** Set when the driver itself ends the process, so the exit is not reported as the guest's own doing. */
  stopping: boolean;
  gone: boolean;
  lastShutdown: QmpEvent | undefined;
}

export interface GuestRuntimesOptions {
  stateDir: string;
  /** How often watched processes are checked for having died. */
  monitorIntervalMs: number;
  /** Hears every exit the driver did not cause (the guest powered off, or QEMU died). */
  onGuestEvent: (event: GuestEvent) => void;
}

/**
 * The QEMU processes of a driver: the ones it spawned, and the ones it adopts after a restart (pid alive, not a
 * zombie, `-name guest=<id>` in its command line) with QMP reconnected. It notices every exit (QMP closing, the
 * spawned child's exit, or the periodic monitor), records the ones the driver did not cause in `exit.json` and
 * reports them. It never starts or stops a guest on its own.
 */
export class GuestRuntimes {
  private readonly runtimes = new Map<string, Runtime>();
  private readonly monitor: NodeJS.Timeout;
  private closed = false;

  constructor(private readonly options: GuestRuntimesOptions) {
    this.monitor = setInterval(() => void this.checkAll().catch(() => undefined), options.monitorIntervalMs);
    this.monitor.unref();
  }

  /** Starts watching a QEMU process just spawned for guest `id`. */
  track(id: string, spawned: SpawnedQemu): Runtime {
    const runtime: Runtime = { pid: spawned.pid, qmp: undefined, spawned, stopping: false, gone: false, lastShutdown: undefined };
    this.runtimes.set(id, runtime);
    void spawned.exited.then(() => this.onExit(id, runtime)).catch(() => undefined);
    return runtime;
  }

  /** The runtime being watched for guest `id`, alive or not yet known to be dead. */
  get(id: string): Runtime | undefined {
    return this.runtimes.get(id);
  }

  /** The live runtime of a guest: the one being watched, or one adopted from its boot record or pidfile. */
  async live(files: GuestFiles): Promise<Runtime | undefined> {
    const known = this.runtimes.get(files.id);
    if (known && !known.gone && (await isGuestProcess(known.pid, files.id))) {
      if (!known.qmp) await this.connectQmp(files, known).catch(() => undefined);
      return known;
    }
    if (known) await this.onExit(files.id, known);
    const pid = (await files.readBoot())?.pid ?? (await readPidFile(files.pidFile));
    if (pid === undefined || !(await isGuestProcess(pid, files.id))) return undefined;
    const adopted: Runtime = { pid, qmp: undefined, spawned: undefined, stopping: false, gone: false, lastShutdown: undefined };
    this.runtimes.set(files.id, adopted);
    await this.connectQmp(files, adopted).catch(() => undefined);
    return adopted;
  }

  /** Connects QMP to a runtime: `SHUTDOWN` events are remembered, `RESET` starts a new boot, a close means exit. */
  async connectQmp(files: GuestFiles, runtime: Runtime): Promise<void> {
    const qmp = await QmpClient.connect(files.qmpSocket);
    if (runtime.gone || this.closed) {
      qmp.close();
      return;
    }
    runtime.qmp = qmp;
    qmp.on('event', (event) => {
      if (event.event === 'SHUTDOWN') runtime.lastShutdown = event;
      // Best effort: the guest's directory may be going away (a failed create, a destroy) while it resets.
      if (event.event === 'RESET') void markNewBoot(files, runtime.pid, 'reset').catch(() => undefined);
    });
    qmp.on('close', () => {
      if (runtime.qmp === qmp) runtime.qmp = undefined;
      void waitForProcessExit(runtime.pid, 3000)
        .then((exited) => (exited ? this.onExit(files.id, runtime) : undefined))
        .catch(() => undefined);
    });
  }

  /** Ends the process: QMP `quit`, then SIGKILL if it lingers. */
  async kill(runtime: Runtime): Promise<void> {
    await runtime.qmp?.execute('quit').catch(() => undefined);
    if (!(await waitForProcessExit(runtime.pid, 5000))) {
      try {
        process.kill(runtime.pid, 'SIGKILL');
      } catch {
        /* already gone */
      }
      await waitForProcessExit(runtime.pid, 5000);
    }
    if (runtime.spawned) await Promise.race([runtime.spawned.exited, delay(2000)]);
  }

  /** Stops watching a runtime the driver ended itself. */
  forget(id: string, runtime: Runtime): void {
    runtime.gone = true;
    runtime.qmp?.close();
    if (this.runtimes.get(id) === runtime) this.runtimes.delete(id);
  }

  /** Stops watching everything and closes QMP; the processes keep running for the next driver to adopt. */
  close(): void {
    this.closed = true;
    clearInterval(this.monitor);
    for (const runtime of this.runtimes.values()) {
      runtime.gone = true;
      runtime.qmp?.close();
    }
    this.runtimes.clear();
  }

  /** Handles the end of a QEMU process once; reports it when the driver did not cause it. */
  private async onExit(id: string, runtime: Runtime): Promise<void> {
    if (runtime.gone) return;
    runtime.gone = true;
    runtime.qmp?.close();
    if (this.runtimes.get(id) === runtime) this.runtimes.delete(id);
    if (runtime.stopping || this.closed) return;
    const files = new GuestFiles(this.options.stateDir, id);
    const byGuest = runtime.lastShutdown?.data?.guest === true;
    const event: GuestEvent = byGuest
      ? { id, power: 'shutdown', reason: 'the guest powered itself off' }
      : { id, power: 'crashed', reason: `qemu exited unexpectedly (${String(runtime.lastShutdown?.data?.reason ?? 'no shutdown event')})` };
    if (existsSync(files.dir)) await files.writeExit({ power: event.power, reason: event.reason }).catch(() => undefined);
    this.options.onGuestEvent(event);
  }

  private async checkAll(): Promise<void> {
    for (const [id, runtime] of this.runtimes) {
      if (!runtime.gone && !(await isGuestProcess(runtime.pid, id))) await this.onExit(id, runtime);
    }
  }
}

/** Starts a new boot in the boot record: readiness is looked for after the current end of the serial log. */
export async function markNewBoot(files: GuestFiles, pid: number, step: string): Promise<void> {
  const boot = await files.readBoot();
  if (!boot || boot.pid !== pid) return;
  const startedAt = Date.now();
  await files.writeBoot({ ...boot, startedAt, serialOffset: await serialLogSize(files.serialLog), timeline: [{ step, elapsedMs: 0 }] });
}

export function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
