import type { GuestEvent, GuestStatus } from '../drivers/hypervisor-driver.js';

/**
 * Where an agent reports what its host's guests did, for the control plane to judge against the instances' records.
 * The agent only reports; deciding what a report means (a stopped instance, a guest to reap, a guest to resume) is
 * the control plane's job, so a remote agent would send the same two messages over HTTP.
 */
export interface HostStatusSink {
  /** A guest changed state on its own (crashed, powered itself off, came back). */
  guestEvent(hostId: string, event: GuestEvent): Promise<void>;
  /**
   * Every guest the host's driver knows. `firstReport` is set on the agent's first report after it started, when
   * a guest missing for a running instance means the host (or the simulated driver) restarted.
   */
  guestReport(hostId: string, guests: GuestStatus[], context: { firstReport: boolean }): Promise<void>;
}
