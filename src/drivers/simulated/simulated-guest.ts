import {
  GuestBootTimeoutError,
  type GuestBootSource,
  type GuestPowerState,
  type GuestStatus,
} from '../hypervisor-driver.js';
import { EMPTY_CONSOLE_LOG, SimulatedConsole, sharedKeys, type ConsoleLog, type ConsoleRecord } from './simulated-console.js';

export interface GuestSize {
  vcpus: number;
  ramMb: number;
  diskGb: number;
}

/** The options of the calls that wait for a boot. */
export interface ReadyOptions {
  readyTimeoutMs?: number;
  signal?: AbortSignal;
}

interface Deferred {
  promise: Promise<void>;
  resolve: () => void;
  reject: (error: Error) => void;
}

/** A boot or a graceful shutdown in progress: a timer (frozen while the guest is paused) and everyone waiting on it. */
interface Transition {
  done: Deferred;
  timer: NodeJS.Timeout | undefined;
  /** Time still to run; `Infinity` for a hung boot. */
  remainingMs: number;
  armedAt: number;
  /** When the boot (or shutdown) began, for the boot timeline. */
  startedAt: number;
}

/**
 * One shared, frozen object per distinct size: a fleet of 100,000 guests has a handful of sizes, and a size of its own
 * per guest was 46 bytes each.
 */
const sizes = new Map<string, Readonly<GuestSize>>();
export function sharedSize(size: GuestSize): Readonly<GuestSize> {
  const key = `${size.vcpus}/${size.ramMb}/${size.diskGb}`;
  let shared = sizes.get(key);
  if (!shared) {
    shared = Object.freeze({ vcpus: size.vcpus, ramMb: size.ramMb, diskGb: size.diskGb });
    sizes.set(key, shared);
  }
  return shared;
}

/** What a guest holds only while something is in flight or unusual; an idle guest holds none of it. */
interface Pending {
  /** A resize waiting for the next power-on. */
  nextSize?: Readonly<GuestSize> | undefined;
  message?: string | undefined;
  booting?: Transition | undefined;
  stopping?: Transition | undefined;
}

const POWERS: readonly GuestPowerState[] = ['shutdown', 'running', 'paused', 'crashed'];
const POWER_BITS = 3;
const READY_BIT = 4;
/** Ready times above this many milliseconds (37 hours) are recorded as this: the field is 27 bits wide. */
const MAX_READY_ELAPSED_MS = 2 ** 27 - 2;

/**
 * One simulated guest: its power state and the timers of a boot or shutdown under way. It only moves between states;
 * which moves a driver call makes is the {@link SimulatedDriver}'s business. Kept small on purpose: benchmarks hold
 * 100,000 of them. An idle guest is eight fields (88 bytes; it was 160 with its console a separate object and a
 * field for every transition): power, ready and the boot time share one small integer, the console's state lives
 * here, and what only a guest in flight needs sits in one optional object.
 */
export class SimulatedGuest implements ConsoleRecord {
  consoleLog: ConsoleLog = EMPTY_CONSOLE_LOG;
  readonly sshPublicKeys: readonly string[];
  /**
   * Power (bits 0–1, an index into POWERS), ready (bit 2), and the milliseconds from the start of the last boot to
   * ready, plus one, above them (0: not ready yet). A small integer rather than timestamps: a timestamp does not fit
   * V8's small-integer form and costs a heap number of its own.
   */
  private state = 0;
  private pending: Pending | undefined = undefined;

  constructor(
    readonly id: string,
    readonly boot: GuestBootSource,
    readonly hostname: string,
    sshPublicKeys: readonly string[],
    public size: Readonly<GuestSize>,
  ) {
    this.sshPublicKeys = sharedKeys(sshPublicKeys);
  }

  /** The guest's serial console, a view over the state kept here. */
  get console(): SimulatedConsole {
    return new SimulatedConsole(this);
  }

  get power(): GuestPowerState {
    return POWERS[this.state & POWER_BITS]!;
  }

  set power(power: GuestPowerState) {
    this.state = (this.state & ~POWER_BITS) | POWERS.indexOf(power);
  }

  get ready(): boolean {
    return (this.state & READY_BIT) !== 0;
  }

  set ready(ready: boolean) {
    this.state = ready ? this.state | READY_BIT : this.state & ~READY_BIT;
  }

  /** A resize waiting for the next power-on. */
  get nextSize(): Readonly<GuestSize> | undefined {
    return this.pending?.nextSize;
  }

  set nextSize(size: Readonly<GuestSize> | undefined) {
    this.setPending('nextSize', size);
  }

  get message(): string | undefined {
    return this.pending?.message;
  }

  set message(message: string | undefined) {
    this.setPending('message', message);
  }

  private get readyElapsedMs(): number | undefined {
    const stored = this.state >>> 3;
    return stored === 0 ? undefined : stored - 1;
  }

  private set readyElapsedMs(elapsedMs: number | undefined) {
    const stored = elapsedMs === undefined ? 0 : Math.min(Math.max(0, elapsedMs), MAX_READY_ELAPSED_MS) + 1;
    this.state = (this.state & (POWER_BITS | READY_BIT)) | (stored << 3);
  }

  private get booting(): Transition | undefined {
    return this.pending?.booting;
  }

  private set booting(booting: Transition | undefined) {
    this.setPending('booting', booting);
  }

  private get stopping(): Transition | undefined {
    return this.pending?.stopping;
  }

  private set stopping(stopping: Transition | undefined) {
    this.setPending('stopping', stopping);
  }

  /** Sets one pending field; the object goes once nothing is pending, so an idle guest holds none. */
  private setPending<K extends keyof Pending>(key: K, value: Pending[K]): void {
    if (value === undefined) {
      if (!this.pending) return;
      this.pending[key] = undefined;
      const { nextSize, message, booting, stopping } = this.pending;
      if (nextSize === undefined && message === undefined && booting === undefined && stopping === undefined) this.pending = undefined;
      return;
    }
    (this.pending ??= {})[key] = value;
  }

  /** Whether a graceful shutdown is under way; resolves when it ends, rejects if the guest goes away first. */
  get shuttingDown(): Promise<void> | undefined {
    return this.stopping?.done.promise;
  }

  /**
   * Starts (or restarts) a boot that ends ready after `delayMs`, never for `Infinity` (a hung boot). Waiters of a boot
   * already under way keep waiting for this one.
   */
  beginBoot(delayMs: number): void {
    this.power = 'running';
    this.ready = false;
    this.message = undefined;
    this.readyElapsedMs = undefined;
    this.console.boot();
    const booting = this.booting ?? { done: deferred(), timer: undefined, remainingMs: 0, armedAt: 0, startedAt: 0 };
    clearTimeout(booting.timer);
    booting.timer = undefined;
    booting.remainingMs = delayMs;
    booting.startedAt = Date.now();
    this.booting = booting;
    this.resumeBoot();
  }

  /** Freezes a boot under way (the guest was paused). */
  freezeBoot(): void {
    const booting = this.booting;
    if (!booting?.timer) return;
    clearTimeout(booting.timer);
    booting.timer = undefined;
    booting.remainingMs = Math.max(0, booting.remainingMs - (Date.now() - booting.armedAt));
  }

  /** Runs a boot under way on to ready; with no time left, synchronously. */
  resumeBoot(): void {
    const booting = this.booting;
    if (!booting || booting.timer || booting.remainingMs === Infinity) return;
    if (booting.remainingMs <= 0) {
      this.finishBoot(booting);
      return;
    }
    booting.armedAt = Date.now();
    booting.timer = setTimeout(() => this.finishBoot(booting), booting.remainingMs);
  }

  /** Abandons a boot under way; whoever waits for it rejects with `error`. */
  failBoot(error: Error): void {
    const booting = this.booting;
    if (!booting) return;
    clearTimeout(booting.timer);
    this.booting = undefined;
    booting.done.reject(error);
  }

  /** Shuts down after `delayMs`, then `finish` runs; concurrent callers await {@link shuttingDown}. */
  async shutDown(delayMs: number, finish: () => void): Promise<void> {
    this.ready = false;
    if (delayMs <= 0) {
      finish();
      return;
    }
    const now = Date.now();
    const stopping: Transition = { done: deferred(), timer: undefined, remainingMs: delayMs, armedAt: now, startedAt: now };
    stopping.timer = setTimeout(() => {
      this.stopping = undefined;
      finish();
      stopping.done.resolve();
    }, delayMs);
    this.stopping = stopping;
    await stopping.done.promise;
  }

  /** Ends a shutdown under way early: its waiters resolve, or reject with `error`. */
  cancelShutDown(error?: Error): void {
    const stopping = this.stopping;
    if (!stopping) return;
    clearTimeout(stopping.timer);
    this.stopping = undefined;
    if (error) stopping.done.reject(error);
    else stopping.done.resolve();
  }

  powerOff(message: string | undefined): void {
    this.power = 'shutdown';
    this.ready = false;
    this.message = message;
  }

  /** A crash or a power-off the guest made itself: a boot under way fails, a stop under way has its answer. */
  halt(power: 'crashed' | 'shutdown', reason: string): void {
    this.failBoot(new Error(`guest ${this.id} went ${power} before it became ready: ${reason}`));
    this.power = power;
    this.ready = false;
    this.message = reason;
    this.cancelShutDown();
  }

  /** Resolves once the guest is ready: at once when it is, or when the boot under way ends, times out or aborts. */
  async awaitReady({ readyTimeoutMs, signal }: ReadyOptions): Promise<GuestStatus> {
    const booting = this.booting;
    if (this.ready || !booting) return this.status();
    signal?.throwIfAborted();
    await new Promise<void>((resolve, reject) => {
      const onAbort = (): void => finish(signal?.reason as Error);
      const timer =
        readyTimeoutMs === undefined
          ? undefined
          : setTimeout(() => finish(new GuestBootTimeoutError(this.id, this.console.tail(3))), readyTimeoutMs);
      function finish(error?: Error): void {
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        if (error) reject(error);
        else resolve();
      }
      signal?.addEventListener('abort', onAbort, { once: true });
      booting.done.promise.then(() => finish(), finish);
    });
    return this.status();
  }

  status(withTimeline = true): GuestStatus {
    const status: GuestStatus = {
      id: this.id,
      power: this.power,
      ready: this.ready,
      vcpus: this.size.vcpus,
      ramMb: this.size.ramMb,
    };
    if (withTimeline && this.power !== 'shutdown') {
      status.timeline = [{ step: 'boot', elapsedMs: 0 }];
      if (this.readyElapsedMs !== undefined) status.timeline.push({ step: 'ready', elapsedMs: this.readyElapsedMs });
    }
    if (this.stopping) status.message = 'shutting down';
    else if (this.message !== undefined) status.message = this.message;
    return status;
  }

  private finishBoot(booting: Transition): void {
    this.booting = undefined;
    this.ready = true;
    // `| 0`: a difference of two doubles stays a heap number unless made an integer.
    this.readyElapsedMs = (Date.now() - booting.startedAt) | 0;
    this.console.ready();
    booting.done.resolve();
  }
}

function deferred(): Deferred {
  let resolve!: () => void;
  let reject!: (error: Error) => void;
  const promise = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  // Waiters observe a rejection through their own handlers; a boot nobody waits for may fail unobserved.
  promise.catch(() => undefined);
  return { promise, resolve, reject };
}
