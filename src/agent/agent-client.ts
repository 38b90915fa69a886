import type {
  DriverCapabilities,
  GuestSpec,
  GuestStatus,
  SnapshotResult,
  StopOptions,
} from '../drivers/hypervisor-driver.js';

/** Options of the calls that wait for a guest to become ready. */
export interface ReadyWaitOptions {
  readyTimeoutMs?: number;
  /** Aborts the wait (the controller is stopping or the step's deadline passed). */
  signal?: AbortSignal;
}

/**
 * What the controller asks of one host. In-process it is a {@link LocalAgent} over the host's driver; in a fleet it
 * would be an HTTP client of `kumo agent`, so every method takes and returns plain data and is safe to repeat (a
 * request retried after a lost response does no harm). Errors keep the driver's types: `GuestNotFoundError`,
 * `GuestBootTimeoutError`, and errors with a network `code` (EHOSTUNREACH, ECONNREFUSED…) for an unreachable host.
 */
export interface AgentClient {
  readonly hostId: string;
  readonly capabilities: DriverCapabilities;
  createGuest(spec: GuestSpec, options?: ReadyWaitOptions): Promise<GuestStatus>;
  startGuest(uid: string, options?: ReadyWaitOptions): Promise<GuestStatus>;
  stopGuest(uid: string, options?: StopOptions): Promise<GuestStatus>;
  rebootGuest(uid: string, kind: 'soft' | 'hard', options?: ReadyWaitOptions): Promise<GuestStatus>;
  pauseGuest(uid: string): Promise<GuestStatus>;
  unpauseGuest(uid: string): Promise<GuestStatus>;
  resizeGuest(uid: string, size: { vcpus: number; ramMb: number; diskGb: number }): Promise<GuestStatus>;
  destroyGuest(uid: string): Promise<void>;
  guestStatus(uid: string): Promise<GuestStatus>;
  snapshotGuest(uid: string, imageId: string): Promise<SnapshotResult>;
  consoleOutput(uid: string, maxLines: number): Promise<string>;
}

/** Finds the agent of a host; `undefined` when no agent for it is known (yet) to this process. */
export interface AgentDirectory {
  agentFor(hostId: string): AgentClient | undefined;
  /** The hosts whose agents this process reaches: the controller leases only their instances. */
  hostIds(): string[];
}
