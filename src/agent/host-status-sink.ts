import type { GuestEvent, GuestPowers } from '../drivers/hypervisor-driver.js';

/**
 * A host's guests as a status sweep reports them: ids and power states, index for index, as the driver lists them
 * (the driver's `powers`). Two flat arrays rather than an object per guest: the report outlives a database
 * round trip, and 33,000 objects a host outlived the young generation on every sweep and stayed in the old one until
 * a full collection.
 */
export type GuestReport = GuestPowers;

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
  guestReport(hostId: string, guests: GuestReport, context: { firstReport: boolean }): Promise<void>;
}
