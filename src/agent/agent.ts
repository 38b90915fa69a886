import { hostname } from 'node:os';
import type { Host, HostState } from '../core/hosts.js';
import type { Clock, HostStore } from '../core/ports.js';
import type { GuestEvent, HypervisorDriver } from '../drivers/hypervisor-driver.js';
import type { HostStatusSink } from './host-status-sink.js';
import { LocalAgent } from './local-agent.js';
import { errorDetails, silentLogger, type Logger } from './logger.js';

/** Who a host is, from configuration; capacity and architecture come from the driver. */
export interface AgentHostConfig {
  id: string;
  /** Default: the id. */
  name?: string;
  regionId: string;
  zoneId: string;
  /** Overcommit ratios (Nova's defaults: 4.0 CPU, 1.0 RAM, 1.0 disk). */
  cpuAllocationRatio?: number;
  ramAllocationRatio?: number;
  diskAllocationRatio?: number;
}

export interface AgentOptions {
  host: AgentHostConfig;
  driver: HypervisorDriver;
  store: Pick<HostStore, 'upsertHost' | 'listHosts' | 'setHostState' | 'heartbeat'>;
  /** Where guest events and status sweeps go; without one the agent only registers and heartbeats. */
  statusSink?: HostStatusSink;
  clock?: Clock;
  /** Default 10 s. */
  heartbeatIntervalMs?: number;
  /**
   * Who runs this agent: stable across restarts of the same Kumo (machine and data directory), different between
   * processes, so a second process cannot take over a host whose owner still heartbeats. Default: host name and pid.
   */
  owner?: string;
  /** How often every guest's status is reported; default 30 s. */
  sweepIntervalMs?: number;
  /** Delay of the first periodic report after the one at start, so that agents sharing a process sweep apart; default 0. */
  sweepOffsetMs?: number;
  /** Called when the host record changed (registered, went down or up): the scheduler's `invalidate`. */
  onHostChanged?: () => void;
  /** Close the driver on `stop()` (the agent owns it); default true. */
  closeDriverOnStop?: boolean;
  logger?: Logger;
}

/** How often an agent reports every guest's status unless told otherwise. */
export const DEFAULT_SWEEP_INTERVAL_MS = 30_000;

const NETWORK_ERROR_CODES = new Set(['EHOSTUNREACH', 'ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'ENETUNREACH', 'EPIPE']);

/**
 * One per hypervisor host: owns the host's driver, registers the host (capacity from the driver; zone, name and
 * ratios from configuration), heartbeats, and reports what guests do on their own (driver events, a periodic sweep
 * of every guest's status) to a {@link HostStatusSink}. The controller reaches the host through {@link client}.
 *
 * A heartbeat probes the driver: when the host stops answering, the agent marks it `down` so the scheduler stops
 * placing there, and `up` again when it answers. An operator's `disabled` is never overridden.
 */
export class Agent {
  readonly client: LocalAgent;
  private readonly options: Required<Pick<AgentOptions, 'heartbeatIntervalMs' | 'sweepIntervalMs' | 'closeDriverOnStop'>> &
    AgentOptions;
  private readonly logger: Logger;
  private readonly clock: Clock;
  private timers: NodeJS.Timeout[] = [];
  private unsubscribe: (() => void) | null = null;
  private reportedOnce = false;
  private state: HostState = 'up';
  private sweeping: Promise<void> | null = null;

  constructor(options: AgentOptions) {
    this.options = { heartbeatIntervalMs: 10_000, sweepIntervalMs: DEFAULT_SWEEP_INTERVAL_MS, closeDriverOnStop: true, ...options };
    this.logger = options.logger ?? silentLogger;
    this.clock = options.clock ?? { now: () => new Date() };
    this.client = new LocalAgent(options.host.id, options.driver);
  }

  get hostId(): string {
    return this.options.host.id;
  }

  /** Registers (or re-registers) the host, subscribes to guest events, reports every guest once, then keeps going. */
  async start(): Promise<Host> {
    const host = await this.register();
    const sink = this.options.statusSink;
    if (sink) {
      this.unsubscribe = this.options.driver.onGuestEvent((event) => this.forwardEvent(sink, event));
      await this.sweep();
    }
    this.timers.push(setInterval(() => void this.heartbeat(), this.options.heartbeatIntervalMs).unref());
    if (sink) {
      const sweepPeriodically = () => this.timers.push(setInterval(() => void this.sweep(), this.options.sweepIntervalMs).unref());
      const offsetMs = this.options.sweepOffsetMs ?? 0;
      if (offsetMs > 0) {
        this.timers.push(
          setTimeout(() => {
            void this.sweep();
            sweepPeriodically();
          }, offsetMs).unref(),
        );
      } else {
        sweepPeriodically();
      }
    }
    return host;
  }

  /** Stops heartbeats and reports; guests keep running. */
  async stop(): Promise<void> {
    for (const timer of this.timers) clearTimeout(timer);
    this.timers = [];
    this.unsubscribe?.();
    this.unsubscribe = null;
    await this.sweeping;
    if (this.options.closeDriverOnStop) await this.options.driver.close();
  }

  /** Probes the driver and records a heartbeat, or marks the host down when the driver does not answer. */
  async heartbeat(): Promise<void> {
    try {
      await this.options.driver.capacity();
    } catch (error) {
      if (isNetworkError(error)) await this.moveTo('down', error);
      else this.logger.warn({ hostId: this.hostId, ...errorDetails(error) }, 'host capacity probe failed');
      return;
    }
    try {
      if (this.state === 'down') await this.moveTo('up', null);
      await this.options.store.heartbeat(this.hostId, this.clock.now());
    } catch (error) {
      this.logger.warn({ hostId: this.hostId, ...errorDetails(error) }, 'heartbeat failed');
    }
  }

  /** Reports every guest's status to the sink; one sweep at a time. */
  sweep(): Promise<void> {
    const sink = this.options.statusSink;
    if (!sink) return Promise.resolve();
    this.sweeping ??= this.runSweep(sink).finally(() => {
      this.sweeping = null;
    });
    return this.sweeping;
  }

  private async runSweep(sink: HostStatusSink): Promise<void> {
    try {
      const guests = await this.options.driver.powers();
      const firstReport = !this.reportedOnce;
      await sink.guestReport(this.hostId, guests, { firstReport });
      this.reportedOnce = true;
    } catch (error) {
      this.logger.warn({ hostId: this.hostId, ...errorDetails(error) }, 'guest status sweep failed');
    }
  }

  private async register(): Promise<Host> {
    const { host, driver, store } = this.options;
    const capacity = await driver.capacity();
    const existing = (await store.listHosts()).find((candidate) => candidate.id === host.id);
    // A restart must not undo an operator's `disabled`.
    this.state = existing?.state === 'disabled' ? 'disabled' : 'up';
    const registered = await store.upsertHost({
      id: host.id,
      name: host.name ?? host.id,
      regionId: host.regionId,
      zoneId: host.zoneId,
      driver: driver.name,
      state: this.state,
      arch: capacity.arch,
      vcpus: capacity.vcpus,
      ramMb: capacity.ramMb,
      diskGb: capacity.diskGb,
      gpus: capacity.gpus,
      cpuAllocationRatio: host.cpuAllocationRatio ?? 4,
      ramAllocationRatio: host.ramAllocationRatio ?? 1,
      diskAllocationRatio: host.diskAllocationRatio ?? 1,
      heartbeatAt: this.clock.now(),
    }, this.options.owner ?? `${hostname()}:${process.pid}`, this.options.heartbeatIntervalMs * 3);
    this.options.onHostChanged?.();
    return registered;
  }

  private async moveTo(state: 'up' | 'down', cause: unknown): Promise<void> {
    if (this.state === state) return;
    const current = (await this.options.store.listHosts()).find((host) => host.id === this.hostId);
    if (current?.state === 'disabled') {
      this.state = 'disabled';
      return;
    }
    await this.options.store.setHostState(this.hostId, state);
    this.state = state;
    this.logger.warn({ hostId: this.hostId, state, ...(cause ? errorDetails(cause) : {}) }, `host is ${state}`);
    this.options.onHostChanged?.();
  }

  private forwardEvent(sink: HostStatusSink, event: GuestEvent): void {
    sink.guestEvent(this.hostId, event).catch((error: unknown) => {
      this.logger.warn({ hostId: this.hostId, guest: event.id, ...errorDetails(error) }, 'recording a guest event failed');
    });
  }
}

/** An error a call to an unreachable host fails with (as an HTTP client or the simulated `hostLost` fault reports). */
export function isNetworkError(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' && NETWORK_ERROR_CODES.has(code);
}
