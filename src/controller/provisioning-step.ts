import { buildGuestSpec } from '../agent/guest-spec.js';
import type { ObservationUpdate } from '../core/ports.js';
import type { GuestStatus } from '../drivers/hypervisor-driver.js';
import { StepFailure } from './step-errors.js';
import { timelineSteps, type StepContext } from './step-context.js';

/** Settings of the steps that power guests off. */
export interface PowerSettings {
  /** How long a graceful shutdown may take before the guest is forced off. */
  stopGracefulTimeoutMs: number;
}

/**
 * provisioning → running: creates (or adopts) the guest on the host the scheduler placed the instance on and waits
 * for it to be ready. An instance created stopped is created, recorded running, then stopped, in one write (the
 * lifecycle table has no provisioning → stopped edge).
 *
 * A failed create is not retried on another host: the instance ends in error and its claim and addresses are
 * released (the failure handling does that for provisioning). Re-placing would mean a new claim outside the create
 * transaction; the simpler contract is that the user sees the error and deletes or recreates.
 */
export async function provisionInstance(context: StepContext, settings: PowerSettings): Promise<ObservationUpdate[]> {
  const { instance, agent } = context;
  const guest = await createGuest(context);
  const bootStartedAt = new Date(context.now().getTime() - readyElapsed(guest));
  const running = context.outcome({
    phase: 'running',
    powerState: 'running',
    statusMessage: '',
    ready: { status: 'True', reason: 'GuestReady' },
    steps: [...timelineSteps(context, guest.timeline, bootStartedAt), context.step('running', 'succeeded', `running on host ${agent.hostId}`)],
    operation: instance.desiredPower === 'stopped' ? null : { status: 'succeeded' },
    launchedAt: context.now(),
  });
  if (instance.desiredPower !== 'stopped') return running;
  await context.call('stop', 'stopping the new instance', () =>
    agent.stopGuest(instance.uid, { gracefulTimeoutMs: settings.stopGracefulTimeoutMs }),
  );
  return [
    ...running,
    ...context.outcome({
      phase: 'stopped',
      powerState: 'shutdown',
      statusMessage: '',
      ready: { status: 'False', reason: 'Stopped', message: 'created stopped, as requested' },
      steps: [context.step('stopped', 'succeeded')],
      operation: { status: 'succeeded' },
    }),
  ];
}

/** Creates the instance's guest from its image, or adopts it when it already exists (the driver contract). */
export async function createGuest(context: StepContext): Promise<GuestStatus> {
  const { instance, agent } = context;
  const image = await context.catalog.image(instance.imageId);
  if (!image) throw new StepFailure('image-not-found', 'ImageNotFound', `image ${instance.imageId} no longer exists`);
  const spec = buildGuestSpec(instance, image);
  return context.call('create', `creating the guest on host ${agent.hostId}`, (budget) => agent.createGuest(spec, budget));
}

/** How long ago the current boot began, from the driver's timeline (0 without one). */
function readyElapsed(guest: GuestStatus): number {
  const ready = guest.timeline?.find((mark) => mark.step === 'ready');
  return ready?.elapsedMs ?? 0;
}
