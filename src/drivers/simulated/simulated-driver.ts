import {
  GuestNotFoundError,
  type DriverCapabilities,
  type GuestEvent,
  type GuestPowers,
  type GuestPowerState,
  type GuestSpec,
  type GuestStatus,
  type HostCapacity,
  type HypervisorDriver,
  type SnapshotResult,
  type StopOptions,
} from '../hypervisor-driver.js';
import { createFaultApplies, hostUnreachableError, type SimulatedFaults } from './simulated-faults.js';
import { SimulatedGuest, sharedSize, type GuestSize, type ReadyOptions } from './simulated-guest.js';

export interface SimulatedDriverOptions {
  /** Reported by `capacity()`; default 32 vCPUs, 128 GiB RAM, 2000 GB disk, x86_64, no GPUs. */
  capacity?: HostCapacity;
  /** How long a boot takes from create or start to ready; 0 (default) is ready before `create` resolves. */
  bootDelayMs?: number;
  /** How long a graceful shutdown takes; a stop whose `gracefulTimeoutMs` is shorter forces the guest off. */
  stopDelayMs?: number;
  /** How long a reboot takes to ready; default `bootDelayMs`. */
  rebootDelayMs?: number;
  /** Reported as `capabilities.resizeOnNextBoot`: true (default, like QEMU) or resize applies at once. */
  resizeOnNextBoot?: boolean;
  faults?: SimulatedFaults;
  /** Names the host in error messages. */
  hostName?: string;
}

const DEFAULT_CAPACITY: HostCapacity = { vcpus: 32, ramMb: 128 * 1024, diskGb: 2000, gpus: [], arch: 'x86_64' };
const DEFAULT_GRACEFUL_TIMEOUT_MS = 30_000;

/**
 * An in-process hypervisor: guests are records in memory, boots and shutdowns take the configured delays, and faults
 * are injected on demand. It is the default driver for tests, demos and benchmarks, so with zero delays every call
 * completes within a microtask, and a guest costs a few hundred bytes.
 *
 * Guests live only as long as this object: after a process restart they are gone, and the controller recreates them
 * (create is idempotent, so that is the same path as adoption).
 */
export class SimulatedDriver implements HypervisorDriver {
  readonly name = 'simulated';
  readonly capabilities: DriverCapabilities;

  private readonly guests = new Map<string, SimulatedGuest>();
  private readonly listeners = new Set<{ listener: (event: GuestEvent) => void }>();
  private readonly hostCapacity: HostCapacity;
  private readonly bootDelayMs: number;
  private readonly stopDelayMs: number;
  private readonly rebootDelayMs: number;
  private readonly hostName: string;
  private faults: SimulatedFaults;
  private closed = false;

  constructor(options: SimulatedDriverOptions = {}) {
    this.hostCapacity = options.capacity ?? DEFAULT_CAPACITY;
    this.bootDelayMs = options.bootDelayMs ?? 0;
    this.stopDelayMs = options.stopDelayMs ?? 0;
    this.rebootDelayMs = options.rebootDelayMs ?? this.bootDelayMs;
    this.hostName = options.hostName ?? 'simulated-host';
    this.faults = { ...options.faults };
    this.capabilities = {
      pause: true,
      snapshot: true,
      consoleOutput: true,
      resizeOnNextBoot: options.resizeOnNextBoot ?? true,
    };
  }

  /** Merges faults into the current set; a field set to `undefined` or `false` turns that fault off. */
  setFaults(faults: Partial<SimulatedFaults>): void {
    this.faults = { ...this.faults, ...faults };
  }

  /** The guest dies on its own (power `crashed`), as a kernel panic or a killed QEMU would; listeners are told. */
  crashGuest(id: string, reason = 'Kernel panic - not syncing: Attempted to kill init! (simulated)'): void {
    const guest = this.poweredOn(id, 'crash');
    guest.console.line(`[   42.000000] ${reason}`);
    guest.halt('crashed', reason);
    this.emit({ id, power: 'crashed', reason });
  }

  /** The guest powers itself off (`poweroff` inside the guest): power `shutdown`; listeners are told. */
  powerOffFromGuest(id: string, reason = 'the guest powered itself off'): void {
    const guest = this.poweredOn(id, 'power off');
    guest.console.shutdown();
    guest.halt('shutdown', reason);
    this.emit({ id, power: 'shutdown', reason });
  }

  async capacity(): Promise<HostCapacity> {
    this.reachable('capacity');
    return structuredClone(this.hostCapacity);
  }

  /**
   * Adopting an existing guest is `start` (the spec is not compared: the driver executes, the controller decides).
   * Faults apply only to a guest this call makes; when its wait fails (timeout, abort, crash) the guest is removed.
   */
  async create(spec: GuestSpec, options: ReadyOptions = {}): Promise<GuestStatus> {
    this.reachable('create');
    if (this.guests.has(spec.id)) return this.start(spec.id, options);
    if (createFaultApplies(this.faults.failCreate, spec)) {
      throw new Error(`create of guest ${spec.id} failed on host ${this.hostName} (injected failCreate fault)`);
    }
    options.signal?.throwIfAborted();
    const size = sharedSize({ vcpus: spec.vcpus, ramMb: spec.ramMb, diskGb: spec.diskGb });
    const guest = new SimulatedGuest(spec.id, spec.image.boot, spec.hostname, spec.sshPublicKeys, size);
    this.guests.set(spec.id, guest);
    guest.beginBoot(createFaultApplies(this.faults.hangCreate, spec) ? Infinity : this.bootDelayMs);
    try {
      return await guest.awaitReady(options);
    } catch (error) {
      if (this.guests.get(guest.id) === guest) this.remove(guest);
      throw error;
    }
  }

  /**
   * Boots a guest that is shut down or crashed, applying a pending resize. A running guest (booting or ready) and a
   * paused one are left as they are; the call still waits for ready.
   */
  async start(id: string, options: ReadyOptions = {}): Promise<GuestStatus> {
    this.reachable('start');
    const guest = this.guest(id);
    if (guest.shuttingDown) {
      await guest.shuttingDown;
      return this.start(id, options);
    }
    if (guest.power === 'shutdown' || guest.power === 'crashed') {
      if (guest.nextSize) guest.size = guest.nextSize;
      guest.nextSize = undefined;
      guest.beginBoot(this.bootDelayMs);
    }
    return guest.awaitReady(options);
  }

  /**
   * Graceful shutdown taking `stopDelayMs`, forced off when that exceeds `gracefulTimeoutMs`. A paused guest cannot
   * answer the power button, so it is forced off at once; a crashed one is cleared to `shutdown`.
   */
  async stop(id: string, options?: StopOptions): Promise<GuestStatus> {
    this.reachable('stop');
    const guest = this.guest(id);
    if (guest.shuttingDown) {
      await guest.shuttingDown;
      return this.stop(id, options);
    }
    if (guest.power === 'shutdown') return guest.status();
    guest.failBoot(new Error(`guest ${id} was stopped before it became ready`));
    if (guest.power === 'crashed') {
      guest.powerOff(guest.message);
      return guest.status();
    }
    if (guest.power === 'paused') {
      guest.powerOff('forced off: a paused guest cannot shut down gracefully');
      return guest.status();
    }
    const gracefulTimeoutMs = options?.gracefulTimeoutMs ?? DEFAULT_GRACEFUL_TIMEOUT_MS;
    const forced = this.stopDelayMs > gracefulTimeoutMs;
    await guest.shutDown(Math.min(this.stopDelayMs, gracefulTimeoutMs), () => {
      if (!forced) guest.console.shutdown();
      guest.powerOff(forced ? `forced off after the ${gracefulTimeoutMs} ms graceful timeout` : undefined);
    });
    // The guest may have crashed or powered itself off mid-shutdown; stopping again settles it to `shutdown`.
    const status = guest.status();
    return status.power === 'shutdown' ? status : this.stop(id, options);
  }

  /**
   * A soft reboot goes through the guest (its shutdown lines, then a boot); a guest that cannot take one (paused,
   * still booting, off or crashed) gets a hard reset instead, as Nova's libvirt driver does. Either way the guest ends
   * running and the call waits for ready. A reboot is not a power cycle: a pending resize still waits for `start`.
   */
  async reboot(id: string, kind: 'soft' | 'hard', options: ReadyOptions = {}): Promise<GuestStatus> {
    this.reachable('reboot');
    const guest = this.guest(id);
    if (guest.shuttingDown) {
      await guest.shuttingDown;
      return this.reboot(id, kind, options);
    }
    if (kind === 'soft' && guest.power === 'running' && guest.ready) guest.console.restart();
    guest.beginBoot(this.rebootDelayMs);
    return guest.awaitReady(options);
  }

  /** Freezes the guest, including a boot in progress (it resumes on unpause). Only a powered-on guest can pause. */
  async pause(id: string): Promise<GuestStatus> {
    this.reachable('pause');
    const guest = this.guest(id);
    if (guest.power === 'paused') return guest.status();
    if (guest.power !== 'running' || guest.shuttingDown) throw notPoweredOn(guest, 'pause');
    guest.freezeBoot();
    guest.power = 'paused';
    return guest.status();
  }

  async unpause(id: string): Promise<GuestStatus> {
    this.reachable('unpause');
    const guest = this.guest(id);
    if (guest.power === 'running') return guest.status();
    if (guest.power !== 'paused') throw notPoweredOn(guest, 'unpause');
    guest.power = 'running';
    guest.resumeBoot();
    return guest.status();
  }

  async resize(id: string, size: GuestSize): Promise<GuestStatus> {
    this.reachable('resize');
    const guest = this.guest(id);
    if (!(size.vcpus >= 1 && size.ramMb >= 1 && size.diskGb >= 1)) {
      throw new RangeError(`invalid size for guest ${id}: ${JSON.stringify(size)}`);
    }
    if (this.capabilities.resizeOnNextBoot) {
      guest.nextSize = sharedSize(size);
    } else {
      guest.size = sharedSize(size);
    }
    return guest.status();
  }

  async destroy(id: string): Promise<void> {
    this.reachable('destroy');
    const guest = this.guests.get(id);
    if (guest) this.remove(guest);
  }

  async status(id: string): Promise<GuestStatus> {
    this.reachable('status');
    return this.guest(id).status();
  }

  async list(): Promise<GuestStatus[]> {
    this.reachable('list');
    // Without boot timelines: a host's status sweep lists every guest every 30 s and compares only power.
    return Array.from(this.guests.values(), (guest) => guest.status(false));
  }

  async powers(): Promise<GuestPowers> {
    this.reachable('powers');
    const ids = new Array<string>(this.guests.size);
    const powers = new Array<GuestPowerState>(this.guests.size);
    let index = 0;
    for (const guest of this.guests.values()) {
      ids[index] = guest.id;
      powers[index] = guest.power;
      index += 1;
    }
    return { ids, powers };
  }

  async consoleOutput(id: string, maxLines?: number): Promise<string> {
    this.reachable('consoleOutput');
    return this.guest(id).console.tail(maxLines);
  }

  /** The snapshot boots like the guest's image; its size is the part of the disk a fresh guest has written (1/16). */
  async snapshot(id: string, imageId: string): Promise<SnapshotResult> {
    this.reachable(`snapshot ${imageId}`);
    const guest = this.guest(id);
    return { boot: { ...guest.boot }, sizeBytes: Math.round((guest.size.diskGb * 1024 ** 3) / 16) };
  }

  /** Listeners are called synchronously; one that throws does not stop the others, and its error is rethrown later. */
  onGuestEvent(listener: (event: GuestEvent) => void): () => void {
    const entry = { listener };
    this.listeners.add(entry);
    return () => {
      this.listeners.delete(entry);
    };
  }

  /**
   * Clears the driver's timers: calls still waiting for a boot or a shutdown reject, guests stay in the state they
   * had. Any call after close rejects.
   */
  async close(): Promise<void> {
    this.closed = true;
    this.listeners.clear();
    for (const guest of this.guests.values()) {
      guest.failBoot(new Error(`simulated driver closed while guest ${guest.id} was booting`));
      guest.cancelShutDown(new Error(`simulated driver closed while guest ${guest.id} was stopping`));
    }
  }

  private reachable(operation: string): void {
    if (this.closed) throw new Error(`simulated driver is closed: ${operation} refused`);
    if (this.faults.hostLost) throw hostUnreachableError(this.hostName, operation);
  }

  private guest(id: string): SimulatedGuest {
    const guest = this.guests.get(id);
    if (!guest) throw new GuestNotFoundError(id);
    return guest;
  }

  private poweredOn(id: string, action: string): SimulatedGuest {
    const guest = this.guest(id);
    if (guest.power !== 'running' && guest.power !== 'paused') throw notPoweredOn(guest, action);
    return guest;
  }

  private remove(guest: SimulatedGuest): void {
    this.guests.delete(guest.id);
    guest.failBoot(new Error(`guest ${guest.id} was destroyed before it became ready`));
    guest.cancelShutDown(new GuestNotFoundError(guest.id));
  }

  private emit(event: GuestEvent): void {
    for (const { listener } of [...this.listeners]) {
      try {
        listener(event);
      } catch (error) {
        queueMicrotask(() => {
          throw error;
        });
      }
    }
  }
}

function notPoweredOn(guest: SimulatedGuest, action: string): Error {
  const state = guest.shuttingDown ? 'shutting down' : guest.power;
  return new Error(`cannot ${action} guest ${guest.id}: it is ${state}`);
}
