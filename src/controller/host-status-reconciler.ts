import type { AgentClient, AgentDirectory } from '../agent/agent-client.js';
import { buildGuestSpec } from '../agent/guest-spec.js';
import type { GuestReport, HostStatusSink } from '../agent/host-status-sink.js';
import { errorDetails, type Logger } from '../agent/logger.js';
import type { Instance } from '../core/instances/instance.js';
import { INSTANCE_PHASES, isTransitional, type InstancePhase } from '../core/instances/lifecycle.js';
import type { Clock, ControllerStore, HostInstanceSummary, InstanceStore } from '../core/ports.js';
import { GUEST_POWER_STATES, GuestNotFoundError, type GuestEvent, type GuestPowerState, type GuestStatus } from '../drivers/hypervisor-driver.js';
import type { CatalogCache } from './catalog-cache.js';
import { guestObservationMutation, type GuestObservation } from './guest-observation.js';

export interface HostStatusReconcilerOptions {
  store: Pick<ControllerStore, 'compareHostGuests'> & Pick<InstanceStore, 'getInstanceByUid' | 'mutateInstance'>;
  agents: AgentDirectory;
  catalog: CatalogCache;
  clock: Clock;
  logger: Logger;
  /**
   * On an agent's first report after it started, create again the guests of running instances the host no longer
   * has (the host rebooted, or the simulated driver's process restarted), as Nova's
   * `resume_guests_state_on_host_boot` does. Default true. Later, a missing guest is an error.
   */
  resumeGuestsOnStart?: boolean;
  /** Destroy guests no live instance owns (left by a deletion finished while the host was unreachable). Default true. */
  reapOrphans?: boolean;
}

/**
 * The control plane's side of the agents' reports: it compares what hosts say their guests do with what the
 * instances' records say, and records what changed on its own (through `mutateInstance`, which locks the row and
 * emits the change event; settled instances hold no lease). It never touches an instance a controller step owns.
 *
 * Reports are racy by nature (the guest list is read before the records), so every change is confirmed: a guest
 * missing from a report is looked up again before anything is recorded, and a recorded change only applies if the
 * instance has not changed since it was read.
 */
export class HostStatusReconciler implements HostStatusSink {
  private readonly resumeGuestsOnStart: boolean;
  private readonly reapOrphans: boolean;

  constructor(private readonly options: HostStatusReconcilerOptions) {
    this.resumeGuestsOnStart = options.resumeGuestsOnStart ?? true;
    this.reapOrphans = options.reapOrphans ?? true;
  }

  async guestEvent(hostId: string, event: GuestEvent): Promise<void> {
    const instance = await this.options.store.getInstanceByUid(event.id);
    if (!instance || instance.hostId !== hostId) return;
    await this.observe(instance, { power: event.power, reason: event.reason, message: event.reason }, false);
  }

  async guestReport(hostId: string, guests: GuestReport, context: { firstReport: boolean }): Promise<void> {
    const agent = this.options.agents.agentFor(hostId);
    // Read after the agent listed its guests: a guest in the list had its instance recorded before it existed.
    const { outOfStep, unownedGuestIds } = await this.options.store.compareHostGuests(hostId, guests.ids, guests.powers, IN_STEP);
    const errors: unknown[] = [];
    const work: Array<() => Promise<void>> = [];
    for (const summary of outOfStep) {
      const action = sweepAction(summary.phase, summary.power as ReportedPower);
      if (action === 'observe') {
        work.push(() => this.withInstance(summary, hostId, (instance) => this.confirmAndObserve(agent, instance)));
      } else if (action === 'guest-missing') {
        const resume = context.firstReport && this.resumeGuestsOnStart && agent !== undefined && summary.launched;
        work.push(() =>
          this.withInstance(summary, hostId, (instance) => (resume && agent ? this.resume(agent, instance) : this.confirmAndObserve(agent, instance))),
        );
      }
    }
    await runLimited(work, 16).catch((error: unknown) => errors.push(error));
    if (this.reapOrphans && agent) {
      const reaps = unownedGuestIds.map((uid) => () => this.reap(agent, uid));
      await runLimited(reaps, 16).catch((error: unknown) => errors.push(error));
    }
    if (errors.length > 0) throw errors[0];
  }

  /** Reads the whole instance the sweep acts on; one that moved meanwhile (another host, another phase) waits for the next sweep. */
  private async withInstance(summary: HostInstanceSummary, hostId: string, act: (instance: Instance) => Promise<void>): Promise<void> {
    const instance = await this.options.store.getInstanceByUid(summary.uid);
    if (!instance || instance.hostId !== hostId || instance.phase !== summary.phase) return;
    await act(instance);
  }

  /** Looks the guest up again (the report may be stale) and records what is true now. */
  private async confirmAndObserve(agent: AgentClient | undefined, instance: Instance): Promise<void> {
    if (!agent) return;
    let observation: GuestObservation;
    try {
      const guest = await agent.guestStatus(instance.uid);
      observation = { power: guest.power, reason: reasonFor(guest.power), message: guest.message ?? '' };
    } catch (error) {
      if (!(error instanceof GuestNotFoundError)) throw error;
      observation = { power: 'missing', reason: 'GuestNotFound', message: `the guest is gone from host ${agent.hostId}; reboot the instance to create it again` };
    }
    await this.observe(instance, observation, true);
  }

  private async observe(instance: Instance, observation: GuestObservation, sameVersionOnly: boolean): Promise<void> {
    const now = this.options.clock.now();
    if (Object.keys(guestObservationMutation(instance, observation, now).patch).length === 0) return;
    await this.options.store.mutateInstance(
      { projectId: instance.projectId, id: instance.uid },
      (current) =>
        sameVersionOnly && current.resourceVersion !== instance.resourceVersion
          ? { patch: {}, operation: null }
          : guestObservationMutation(current, observation, now),
      { idempotency: null, expectedVersion: null },
    );
    this.options.logger.info({ uid: instance.uid, power: observation.power, reason: observation.reason }, 'recorded a guest state change');
  }

  /** Creates the guest of a running instance again after its host restarted (and pauses it again if it was paused). */
  private async resume(agent: AgentClient, instance: Instance): Promise<void> {
    try {
      const image = await this.options.catalog.image(instance.imageId);
      if (!image) throw new Error(`image ${instance.imageId} no longer exists`);
      await agent.createGuest(buildGuestSpec(instance, image));
      if (instance.phase === 'paused') await agent.pauseGuest(instance.uid);
      this.options.logger.info({ uid: instance.uid, hostId: agent.hostId }, 'resumed a guest after its host restarted');
    } catch (error) {
      this.options.logger.warn({ uid: instance.uid, hostId: agent.hostId, ...errorDetails(error) }, 'could not resume a guest');
      await this.confirmAndObserve(agent, instance);
    }
  }

  private async reap(agent: AgentClient, uid: string): Promise<void> {
    // The instance may have been created on this host after the records were read: only reap what is truly unowned.
    const instance = await this.options.store.getInstanceByUid(uid);
    if (instance && instance.hostId === agent.hostId && instance.phase !== 'deleted') return;
    await agent.destroyGuest(uid);
    this.options.logger.warn({ uid, hostId: agent.hostId }, 'destroyed a guest no instance owns');
  }
}

/** A guest's power as a sweep sees it, `'missing'` when the host has no guest for the instance. */
type ReportedPower = GuestPowerState | 'missing';
const REPORTED_POWERS: readonly ReportedPower[] = [...GUEST_POWER_STATES, 'missing'];

/**
 * What a sweep does about a settled instance and its guest: nothing while they agree, confirms and records the
 * guest's power when it disagrees with the phase, and looks for (or, after a host restart, re-creates) a guest
 * missing under an instance that should have one. An instance a controller step owns is left to the step.
 */
function sweepAction(phase: InstancePhase, power: ReportedPower): 'none' | 'observe' | 'guest-missing' {
  if (isTransitional(phase)) return 'none';
  if (power === 'missing') return phase === 'running' || phase === 'paused' ? 'guest-missing' : 'none';
  switch (phase) {
    case 'running':
      return power !== 'running' ? 'observe' : 'none';
    case 'paused':
      return power !== 'paused' ? 'observe' : 'none';
    case 'stopped':
      return power === 'running' ? 'observe' : 'none';
    default:
      return 'none';
  }
}

/** Every (phase, power) pair a sweep leaves alone: the database returns only the others. */
const IN_STEP: ReadonlyArray<readonly [InstancePhase, string]> = INSTANCE_PHASES.flatMap((phase) =>
  REPORTED_POWERS.filter((power) => sweepAction(phase, power) === 'none').map((power) => [phase, power] as const),
);

function reasonFor(power: GuestStatus['power']): string {
  return power === 'crashed' ? 'GuestCrashed' : power === 'shutdown' ? 'GuestPoweredOff' : `Guest${power.charAt(0).toUpperCase()}${power.slice(1)}`;
}

/** Runs the tasks at most `limit` at a time; a failing task does not stop the others (the first error is rethrown). */
async function runLimited(tasks: Array<() => Promise<void>>, limit: number): Promise<void> {
  const errors: unknown[] = [];
  let next = 0;
  const worker = async () => {
    while (next < tasks.length) {
      const task = tasks[next++];
      await task?.().catch((error: unknown) => errors.push(error));
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, tasks.length) }, worker));
  if (errors.length > 0) throw errors[0];
}
