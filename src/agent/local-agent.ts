import type {
  DriverCapabilities,
  GuestSpec,
  GuestStatus,
  HypervisorDriver,
  SnapshotResult,
  StopOptions,
} from '../drivers/hypervisor-driver.js';
import type { AgentClient, ReadyWaitOptions } from './agent-client.js';

/**
 * The in-process {@link AgentClient}: each call goes straight to the host's driver. `reboot` has no abort signal in
 * the driver contract, so a reboot is waited for until its ready timeout.
 */
export class LocalAgent implements AgentClient {
  constructor(
    readonly hostId: string,
    private readonly driver: HypervisorDriver,
  ) {}

  get capabilities(): DriverCapabilities {
    return this.driver.capabilities;
  }

  createGuest(spec: GuestSpec, options?: ReadyWaitOptions): Promise<GuestStatus> {
    return this.driver.create(spec, options);
  }

  startGuest(uid: string, options?: ReadyWaitOptions): Promise<GuestStatus> {
    return this.driver.start(uid, options);
  }

  stopGuest(uid: string, options?: StopOptions): Promise<GuestStatus> {
    return this.driver.stop(uid, options);
  }

  rebootGuest(uid: string, kind: 'soft' | 'hard', options?: ReadyWaitOptions): Promise<GuestStatus> {
    return this.driver.reboot(uid, kind, options?.readyTimeoutMs === undefined ? undefined : { readyTimeoutMs: options.readyTimeoutMs });
  }

  pauseGuest(uid: string): Promise<GuestStatus> {
    return this.driver.pause(uid);
  }

  unpauseGuest(uid: string): Promise<GuestStatus> {
    return this.driver.unpause(uid);
  }

  resizeGuest(uid: string, size: { vcpus: number; ramMb: number; diskGb: number }): Promise<GuestStatus> {
    return this.driver.resize(uid, size);
  }

  destroyGuest(uid: string): Promise<void> {
    return this.driver.destroy(uid);
  }

  guestStatus(uid: string): Promise<GuestStatus> {
    return this.driver.status(uid);
  }

  snapshotGuest(uid: string, imageId: string): Promise<SnapshotResult> {
    return this.driver.snapshot(uid, imageId);
  }

  consoleOutput(uid: string, maxLines: number): Promise<string> {
    return this.driver.consoleOutput(uid, maxLines);
  }
}
