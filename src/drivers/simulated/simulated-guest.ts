import {
  GuestBootTimeoutError,
  type GuestBootSource,
  type GuestPowerState,
  type GuestStatus,
} from '../hypervisor-driver.js';
import type { SimulatedConsole } from './simulated-console.js';

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

/**
 * One simulated guest: its power state and the timers of a boot or shutdown under way. It only moves between states;
 * which moves a driver call makes is the {@link SimulatedDriver}'s business. Kept small on purpose: benchmarks hold
 * 100k of them, and a guest with nothing in flight is a handful of fields.
 */
export class SimulatedGuest {
  power: GuestPowerState = 'shutdown';
  ready = false;
  /** A resize waiting for the next power-on. */
  nextSize: Readonly<GuestSize> | undefined = undefined;
  message: string | undefined = undefined;
  /**
   * Milliseconds from the start of the last boot to ready. A small integer rather than two timestamps: a timestamp
   * does not fit V8's small-integer form and costs a heap number of its own, twice per guest.
   */
  private readyElapsedMs: number | undefined = undefined;
  private booting: Transition | undefined = undefined;
  private stopping: Transition | undefined = undefined;

  constructor(
    readonly id: string,
    readonly boot: GuestBootSource,
    readonly console: SimulatedConsole,
    public size: Readonly<GuestSize>,
  ) {}

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
