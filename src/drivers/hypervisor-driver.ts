/**
 * The hypervisor driver contract. A driver executes; it never decides: placement, retries and state live in the
 * controller. Every method is safe to repeat. A driver never sees a tenant: it gets a guest spec, not an instance.
 *
 * The same contract suite (`test/drivers/driver-contract.ts`) runs against every implementation.
 */

/** What a guest is booted from, as resolved by the agent from the catalog image. */
export type GuestBootSource =
  | { kind: 'kernel'; kernel: string; initrd: string; cmdline?: string }
  | { kind: 'disk'; disk: string; format: 'qcow2' | 'raw' }
  | { kind: 'none' };

export interface GuestNic {
  macAddress: string;
  /** The address Kumo's IPAM assigned; the guest is configured with exactly this. */
  ipv4Address: string;
  prefixLength: number;
  gatewayIp: string;
}

export interface GuestSpec {
  /** Stable guest id (the instance uid); names every file, process and device the driver makes. */
  id: string;
  hostname: string;
  vcpus: number;
  ramMb: number;
  diskGb: number;
  image: { id: string; boot: GuestBootSource };
  nics: GuestNic[];
  /** OpenSSH public keys, one per entry; the guest authorises exactly these. */
  sshPublicKeys: string[];
  /** User data, delivered through the NoCloud seed and run by the guest as a script when it starts with `#!`. */
  userData: string | null;
  /** NoCloud meta-data extras. */
  metadata: Record<string, string>;
}

export const GUEST_POWER_STATES = ['running', 'paused', 'shutdown', 'crashed'] as const;
export type GuestPowerState = (typeof GUEST_POWER_STATES)[number];

export interface GuestStatus {
  id: string;
  power: GuestPowerState;
  /** True once the guest reported ready (simulated: after its boot delay; QEMU: the guest's ready line). */
  ready: boolean;
  /** The guest spec currently applied (vcpus/RAM may lag a resize until the next boot). */
  vcpus: number;
  ramMb: number;
  /** Boot timeline marks, milliseconds since the driver began the current boot. */
  timeline?: Array<{ step: string; elapsedMs: number }>;
  /** Free text about the guest's condition (a crash reason, the last serial lines). */
  message?: string;
}

/** Every guest's id and power state, index for index. */
export interface GuestPowers {
  ids: string[];
  powers: GuestPowerState[];
}

export interface HostCapacity {
  vcpus: number;
  ramMb: number;
  diskGb: number;
  gpus: Array<{ type: string; count: number }>;
  arch: 'x86_64' | 'aarch64';
}

export interface DriverCapabilities {
  pause: boolean;
  snapshot: boolean;
  consoleOutput: boolean;
  /** Resize takes effect only on the next boot (true) or at once (false). */
  resizeOnNextBoot: boolean;
}

/** A new bootable image made from a guest's disk. */
export interface SnapshotResult {
  boot: GuestBootSource;
  sizeBytes: number;
}

export interface StopOptions {
  /** How long a graceful shutdown may take before the guest is forced off. */
  gracefulTimeoutMs: number;
}

/** Why a guest changed state on its own (died, powered itself off). */
export interface GuestEvent {
  id: string;
  power: GuestPowerState;
  reason: string;
}

export class GuestNotFoundError extends Error {
  constructor(readonly guestId: string) {
    super(`guest ${guestId} does not exist on this host`);
    this.name = 'GuestNotFoundError';
  }
}

/** A guest that did not become ready in time; `detail` carries the serial tail where there is one. */
export class GuestBootTimeoutError extends Error {
  constructor(
    readonly guestId: string,
    readonly detail: string,
  ) {
    super(`guest ${guestId} did not become ready in time${detail ? `: ${detail}` : ''}`);
    this.name = 'GuestBootTimeoutError';
  }
}

export interface HypervisorDriver {
  readonly name: string;
  readonly capabilities: DriverCapabilities;

  /** Total schedulable capacity of this host (before overcommit). */
  capacity(): Promise<HostCapacity>;

  /**
   * Creates the guest and boots it; resolves once it is ready. Creating a guest that already exists adopts it (and
   * waits for it to be ready). A failed create cleans up everything it made before it rejects.
   */
  create(spec: GuestSpec, options?: { readyTimeoutMs?: number; signal?: AbortSignal }): Promise<GuestStatus>;

  /** Powers on a stopped guest and resolves when it is ready. Starting a running guest succeeds. */
  start(id: string, options?: { readyTimeoutMs?: number; signal?: AbortSignal }): Promise<GuestStatus>;

  /** Stops the guest: graceful shutdown, forced off after the timeout. Stopping a stopped guest succeeds. */
  stop(id: string, options?: StopOptions): Promise<GuestStatus>;

  /** Soft reboot through the guest, or hard reset; resolves when it is ready again. */
  reboot(id: string, kind: 'soft' | 'hard', options?: { readyTimeoutMs?: number }): Promise<GuestStatus>;

  /** Freezes the guest's vCPUs. Pausing a paused guest succeeds. */
  pause(id: string): Promise<GuestStatus>;

  /** Resumes a paused guest. Unpausing a running guest succeeds. */
  unpause(id: string): Promise<GuestStatus>;

  /** Records the new size; applied on the next boot when `capabilities.resizeOnNextBoot`. */
  resize(id: string, size: { vcpus: number; ramMb: number; diskGb: number }): Promise<GuestStatus>;

  /** Removes the guest and everything the driver made for it. Destroying a missing guest succeeds. */
  destroy(id: string): Promise<void>;

  /** The guest's current status; throws {@link GuestNotFoundError} when it does not exist. */
  status(id: string): Promise<GuestStatus>;

  /** Every guest this driver knows on the host (after a restart: the ones it adopted); `status` has the timelines. */
  list(): Promise<GuestStatus[]>;

  /**
   * Every guest's id and power as two flat arrays: what a host's status sweep reads, every 30 s. Built from `list`, a
   * sweep of 33,000 guests made 33,000 status objects at once, which lived through the young generation's collections
   * while the array filled and then sat in the old one until a full collection (+10 MB resident for ≈20 s a sweep).
   */
  powers(): Promise<GuestPowers>;

  /** The tail of the guest's serial console, at most `maxLines` lines. */
  consoleOutput(id: string, maxLines?: number): Promise<string>;

  /** Makes a bootable image of the guest's disk, running or not, named `imageId`. */
  snapshot(id: string, imageId: string): Promise<SnapshotResult>;

  /** Subscribes to state changes the guest made on its own; returns an unsubscribe function. */
  onGuestEvent(listener: (event: GuestEvent) => void): () => void;

  /** Releases the driver's own resources (sockets, timers); guests keep running. */
  close(): Promise<void>;
}
