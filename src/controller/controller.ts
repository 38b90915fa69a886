import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import type { AgentDirectory } from '../agent/agent-client.js';
import { consoleLogger, errorDetails, type Logger } from '../agent/logger.js';
import type { Instance } from '../core/instances/instance.js';
import type { WorkNotifier } from '../core/instances/instance-service.js';
import type { CatalogStore, Clock, ControllerStore, CreateLease, InstanceStore } from '../core/ports.js';
import { CatalogCache } from './catalog-cache.js';
import { HostStatusReconciler } from './host-status-reconciler.js';
import { InstanceReconciler, type ReconcilerSettings } from './instance-reconciler.js';
import { LeaseKeeper } from './lease-keeper.js';
import { ObservationWriter } from './observation-writer.js';
import { DEFAULT_STEP_DEADLINES, type StepKind } from './step-deadlines.js';

/** The store as the controller uses it; the PostgreSQL `Store` is one. */
export type ControllerStorePort = ControllerStore &
  Pick<InstanceStore, 'getOperation' | 'getInstanceByUid' | 'mutateInstance'> &
  Pick<CatalogStore, 'getImage' | 'listInstanceTypes' | 'updateImage' | 'createImage'>;

export interface ControllerOptions {
  store: ControllerStorePort;
  agents: AgentDirectory;
  clock?: Clock;
  /** Unique per process (the default is host name, pid and a random suffix): expired leases of a past life are simply taken. */
  owner?: string;
  /** Default 15 s; renewed every third of it while a step runs. */
  leaseMs?: number;
  /** Instances leased per query; default 64. */
  batchSize?: number;
  /** Steps running at once; default 1024 (they mostly wait on drivers). */
  maxInFlight?: number;
  /** The slow sweep behind wake-ups and notifications; default 3 s. */
  sweepIntervalMs?: number;
  /** Per kind of step; defaults in {@link DEFAULT_STEP_DEADLINES} suit QEMU. */
  deadlines?: Partial<Record<StepKind, number>>;
  /** How long a host may stay unreachable before its instances' steps fail with HostLost; default 60 s. */
  hostLostAfterMs?: number;
  /** How long a graceful shutdown may take before the guest is forced off; default 60 s. */
  stopGracefulTimeoutMs?: number;
  /** Record a `started` step for driver calls running longer than this; default 1 s. */
  progressAfterMs?: number;
  /** See {@link HostStatusReconcilerOptions}. */
  resumeGuestsOnStart?: boolean;
  reapOrphans?: boolean;
  logger?: Logger;
}

/** Counters for metrics and tests. */
export interface ControllerStats {
  inFlight: number;
  stepsStarted: number;
  stepsFinished: number;
  leaseQueries: number;
}

/**
 * The reconcile loop, in the style of a Kubernetes controller: lease instances that need a step, take one idempotent
 * step for each (concurrently: they mostly wait on drivers), write the results in batches, and go again at once
 * while work remains. It sleeps only when there is nothing to lease; a commit in this process (`wake()`), a
 * notification from another replica (`subscribeWork`) or the slow sweep wakes it.
 *
 * Several controllers (replicas, each with its own owner id) share one database: leases (`FOR UPDATE SKIP LOCKED`
 * plus expiry) give each instance to one of them at a time. A controller that dies holds its leases until they
 * expire; then another takes them and repeats the step, which is safe because every step is idempotent.
 *
 * `hostStatus` is the sink the agents report to (guest events, status sweeps).
 */
export class Controller implements WorkNotifier {
  readonly owner: string;
  readonly hostStatus: HostStatusReconciler;
  private readonly store: ControllerStorePort;
  private readonly agents: AgentDirectory;
  private readonly reconciler: InstanceReconciler;
  private readonly writer: ObservationWriter;
  private readonly leases: LeaseKeeper;
  private readonly logger: Logger;
  private readonly leaseMs: number;
  private readonly batchSize: number;
  private readonly maxInFlight: number;
  private readonly sweepIntervalMs: number;
  private readonly inFlight = new Map<string, AbortController>();
  /** Instances leased again while their previous step still ran: stepped again, from a fresh read, once it ends. */
  private readonly leasedAgain = new Set<string>();
  private readonly steps = new Set<Promise<void>>();
  private readonly counters = { stepsStarted: 0, stepsFinished: 0, leaseQueries: 0 };
  private running = false;
  private loop: Promise<void> | null = null;
  private wakePending = false;
  private wakeWaiter: (() => void) | null = null;
  private sweepTimer: NodeJS.Timeout | null = null;
  private readonly requeueTimers = new Set<NodeJS.Timeout>();
  private unsubscribe: (() => void) | null = null;

  constructor(options: ControllerOptions) {
    const clock = options.clock ?? { now: () => new Date() };
    this.store = options.store;
    this.owner = options.owner ?? `controller-${hostname()}-${process.pid}-${randomUUID().slice(0, 8)}`;
    this.logger = options.logger ?? consoleLogger;
    this.leaseMs = options.leaseMs ?? 15_000;
    this.batchSize = options.batchSize ?? 64;
    this.maxInFlight = options.maxInFlight ?? 1024;
    this.sweepIntervalMs = options.sweepIntervalMs ?? 3_000;
    this.agents = options.agents;
    const catalog = new CatalogCache(options.store);
    this.writer = new ObservationWriter(options.store, this.owner);
    this.leases = new LeaseKeeper(options.store, this.owner, this.leaseMs, (error) =>
      this.logger.warn(errorDetails(error), 'renewing leases failed'),
    );
    const settings: ReconcilerSettings = {
      deadlines: { ...DEFAULT_STEP_DEADLINES, ...options.deadlines },
      hostLostAfterMs: options.hostLostAfterMs ?? 60_000,
      stopGracefulTimeoutMs: options.stopGracefulTimeoutMs ?? 60_000,
      minRetryMs: 250,
      maxRetryMs: 10_000,
      progressAfterMs: options.progressAfterMs ?? 1_000,
      deadlineGraceMs: 1_000,
    };
    this.reconciler = new InstanceReconciler({
      store: options.store,
      agents: options.agents,
      catalog,
      writer: this.writer,
      clock,
      logger: this.logger,
      settings,
      startedAt: clock.now(),
      onRequeue: (afterMs) => this.wakeAfter(afterMs),
    });
    this.hostStatus = new HostStatusReconciler({
      store: options.store,
      agents: options.agents,
      catalog,
      clock,
      logger: this.logger,
      ...(options.resumeGuestsOnStart !== undefined ? { resumeGuestsOnStart: options.resumeGuestsOnStart } : {}),
      ...(options.reapOrphans !== undefined ? { reapOrphans: options.reapOrphans } : {}),
    });
  }

  /** Starts the loop; it runs at once (catching up on whatever is due) and then whenever woken. */
  start(): void {
    if (this.running) return;
    this.running = true;
    this.wakePending = true;
    this.unsubscribe = this.store.subscribeWork(() => this.wake());
    this.sweepTimer = setInterval(() => this.wake(), this.sweepIntervalMs).unref();
    this.leases.start();
    this.loop = this.run();
  }

  /**
   * Stops leasing, abandons the steps under way (their driver calls are aborted where the driver allows) and
   * releases their leases, so another controller can repeat them at once instead of after the lease expires.
   */
  async stop(): Promise<void> {
    if (!this.running) return;
    this.running = false;
    this.unsubscribe?.();
    this.unsubscribe = null;
    if (this.sweepTimer) clearInterval(this.sweepTimer);
    for (const timer of this.requeueTimers) clearTimeout(timer);
    this.requeueTimers.clear();
    this.wakeWaiter?.();
    for (const abort of this.inFlight.values()) abort.abort();
    await this.loop;
    await Promise.all(this.steps);
    await this.writer.idle();
    this.leases.stop();
  }

  /** Asks for a pass soon; cheap and safe to call on every commit (wake-ups while a pass runs collapse into one). */
  wake(): void {
    this.wakePending = true;
    const waiter = this.wakeWaiter;
    this.wakeWaiter = null;
    waiter?.();
  }

  leaseForCreate(): CreateLease | null {
    // Leave headroom: a create offered here must be dispatchable at once, or it would sit leased until expiry.
    if (!this.running || this.inFlight.size >= this.maxInFlight - this.batchSize) return null;
    return { owner: this.owner, leaseMs: this.leaseMs, hostIds: this.agents.hostIds() };
  }

  created(instance: Instance, leased: boolean): void {
    if (leased) this.dispatch(instance);
    else this.wake();
  }

  stats(): ControllerStats {
    return { inFlight: this.inFlight.size, ...this.counters };
  }

  private async run(): Promise<void> {
    while (this.running) {
      if (!this.wakePending) {
        await new Promise<void>((resolve) => {
          this.wakeWaiter = resolve;
        });
        continue;
      }
      this.wakePending = false;
      try {
        await this.drain();
      } catch (error) {
        this.logger.error(errorDetails(error), 'leasing work failed; retrying');
        await new Promise((resolve) => setTimeout(resolve, 500).unref());
        this.wakePending = true;
      }
    }
  }

  /** Leases and dispatches until a lease query comes back short or every slot is busy. */
  private async drain(): Promise<void> {
    while (this.running) {
      const free = this.maxInFlight - this.inFlight.size;
      // Full: the next step to finish wakes the loop.
      if (free <= 0) return;
      const limit = Math.min(this.batchSize, free);
      this.counters.leaseQueries += 1;
      const leased = await this.store.leaseInstances(this.owner, limit, this.leaseMs, this.agents.hostIds());
      for (const instance of leased) this.dispatch(instance);
      if (leased.length < limit) return;
    }
  }

  private dispatch(instance: Instance): void {
    if (!this.running) return;
    // Our own lease came back while the instance's step still runs: its lease lapsed, or a user's action dropped it
    // (and the running step's write will be refused, its generation being stale). Either way, step it again from a
    // fresh read once the running step ends; the new lease is ours already.
    if (this.inFlight.has(instance.uid)) {
      this.leasedAgain.add(instance.uid);
      return;
    }
    const abort = new AbortController();
    this.inFlight.set(instance.uid, abort);
    this.leases.hold(instance.uid);
    this.counters.stepsStarted += 1;
    const step: Promise<void> = this.reconciler
      .reconcile(instance, abort.signal)
      .catch((error: unknown) => this.logger.error({ uid: instance.uid, ...errorDetails(error) }, 'controller step crashed'))
      .finally(() => {
        this.inFlight.delete(instance.uid);
        this.steps.delete(step);
        this.leases.release(instance.uid);
        this.counters.stepsFinished += 1;
        if (this.leasedAgain.delete(instance.uid)) this.stepAgain(instance.uid);
        if (this.inFlight.size === this.maxInFlight - 1) this.wake();
      });
    this.steps.add(step);
  }

  private stepAgain(uid: string): void {
    void this.store
      .getInstanceByUid(uid)
      .then((fresh) => {
        if (fresh) this.dispatch(fresh);
      })
      // Unread, the lease simply lapses and a later pass takes the instance.
      .catch((error: unknown) => this.logger.warn({ uid, ...errorDetails(error) }, 'could not read an instance to step it again'));
  }

  private wakeAfter(ms: number): void {
    if (!this.running) return;
    const timer = setTimeout(() => {
      this.requeueTimers.delete(timer);
      this.wake();
    }, ms + 5).unref();
    this.requeueTimers.add(timer);
  }
}
