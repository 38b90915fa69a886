import type { ObservationUpdate } from '../core/ports.js';
import { GuestNotFoundError, type GuestStatus } from '../drivers/hypervisor-driver.js';
import { createGuest, type PowerSettings } from './provisioning-step.js';
import { StepFailure } from './step-errors.js';
import { timelineSteps, type StepContext } from './step-context.js';

/** stopping → stopped. A guest that is already gone is as stopped as it gets. */
export async function stopInstance(context: StepContext, settings: PowerSettings): Promise<ObservationUpdate[]> {
  const { instance, agent } = context;
  const force = context.operation?.params.force === true;
  const gracefulTimeoutMs = force ? 0 : Math.max(0, Math.min(settings.stopGracefulTimeoutMs, context.remainingMs() - 1_000));
  const guest = await context
    .call('stop', force ? 'powering the instance off' : 'shutting the instance down', () => agent.stopGuest(instance.uid, { gracefulTimeoutMs }))
    .catch(ignoreMissingGuest);
  return context.outcome({
    phase: 'stopped',
    powerState: 'shutdown',
    statusMessage: '',
    ready: { status: 'False', reason: 'Stopped', message: guest?.message ?? '' },
    steps: [context.step('stopped', 'succeeded', guest ? guest.message : 'the guest no longer existed')],
    operation: { status: 'succeeded' },
  });
}

/** starting → running. A guest that is gone (a host that lost it) is created again from the image. */
export async function startInstance(context: StepContext): Promise<ObservationUpdate[]> {
  const { instance, agent } = context;
  const startedAt = context.now();
  const guest = await context
    .call('start', 'starting the instance', (budget) => agent.startGuest(instance.uid, budget))
    .catch((error: unknown) => recreateMissing(context, error));
  return running(context, guest, startedAt, 'started');
}

/** rebooting → running (soft or hard per the operation). A guest that is gone is created again. */
export async function rebootInstance(context: StepContext): Promise<ObservationUpdate[]> {
  const { instance, agent } = context;
  const kind = context.operation?.params.kind === 'hard' ? 'hard' : 'soft';
  const startedAt = context.now();
  const guest = await context
    .call('reboot', `${kind} rebooting the instance`, (budget) => agent.rebootGuest(instance.uid, kind, budget))
    .catch((error: unknown) => recreateMissing(context, error));
  return running(context, guest, startedAt, `${kind} rebooted`);
}

/** pausing → paused. A driver without pause support fails the operation (the table leaves error as the only exit). */
export async function pauseInstance(context: StepContext): Promise<ObservationUpdate[]> {
  const { instance, agent } = context;
  if (!agent.capabilities.pause) {
    throw new StepFailure('unsupported', 'PauseUnsupported', `the ${agent.hostId} hypervisor cannot pause guests`);
  }
  await context.call('pause', 'pausing the instance', () => agent.pauseGuest(instance.uid));
  return context.outcome({
    phase: 'paused',
    powerState: 'paused',
    statusMessage: '',
    ready: { status: 'False', reason: 'Paused' },
    steps: [context.step('paused', 'succeeded')],
    operation: { status: 'succeeded' },
  });
}

/** unpausing → running. */
export async function unpauseInstance(context: StepContext): Promise<ObservationUpdate[]> {
  const { instance, agent } = context;
  const guest = await context.call('unpause', 'resuming the instance', () => agent.unpauseGuest(instance.uid));
  return running(context, guest, context.now(), 'resumed');
}

function running(context: StepContext, guest: GuestStatus, bootStartedAt: Date, what: string): ObservationUpdate[] {
  return context.outcome({
    phase: 'running',
    powerState: 'running',
    statusMessage: '',
    ready: { status: 'True', reason: 'GuestReady' },
    steps: [...timelineSteps(context, guest.timeline, bootStartedAt), context.step('running', 'succeeded', what)],
    operation: { status: 'succeeded' },
  });
}

/**
 * A start or reboot of a guest the host no longer has creates it again from the image (the host restarted, or the
 * simulated driver's process did). Only for an instance that was once created: one whose create failed had its
 * claim released and must not come back without one.
 */
async function recreateMissing(context: StepContext, error: unknown): Promise<GuestStatus> {
  if (!(error instanceof GuestNotFoundError)) throw error;
  if (context.instance.launchedAt === null) {
    throw new StepFailure('never-created', 'GuestNeverCreated', 'the instance was never created on its host; delete it and create a new one');
  }
  return createGuest(context);
}

function ignoreMissingGuest(error: unknown): null {
  if (error instanceof GuestNotFoundError) return null;
  throw error;
}
