import type { InstanceType } from '../core/catalog/catalog.js';
import type { ResourceClaim } from '../core/hosts.js';
import type { Instance } from '../core/instances/instance.js';
import type { ObservationUpdate } from '../core/ports.js';
import type { PowerSettings } from './provisioning-step.js';
import { StepFailure } from './step-errors.js';
import { phaseForDesiredPower, type StepContext } from './step-context.js';

/**
 * resizing → verify-resize (or straight to running/stopped when the operation auto-confirms, and always for a
 * revert). Three moves, each safe to repeat after a crash:
 *  1. reclaim the new size on the same host, atomically (the store refuses if the host has no room: the instance
 *     goes back to where it was and the operation fails with a capacity reason);
 *  2. tell the driver the new size;
 *  3. on a driver that applies sizes at the next boot, power-cycle a running guest so the user verifies the new size
 *     (as Nova's resize does).
 *
 * Disks only grow: a smaller type keeps the larger boot disk (nothing can shrink a filesystem safely).
 */
export async function resizeInstance(context: StepContext, settings: PowerSettings): Promise<ObservationUpdate[]> {
  const { instance, agent } = context;
  const revert = context.operation?.kind === 'revert-resize';
  const settle = phaseForDesiredPower(instance) === 'stopped' ? 'stopped' : 'running';
  const targetId = instance.pendingInstanceTypeId;
  if (!targetId) throw new StepFailure('nothing-to-resize', 'NoPendingResize', 'no target instance type was recorded', 'desired-power');
  const type = await context.catalog.instanceType(targetId);
  if (!type) throw new StepFailure('unknown-instance-type', 'UnknownInstanceType', `instance type ${targetId} no longer exists`, 'desired-power');

  const size = resizedSize(instance, type);
  const claim: ResourceClaim = { ...size, gpus: type.gpus.reduce((sum, gpu) => sum + gpu.count, 0) };
  // The size goes into the record with the claim: the store adjusts project usage by the difference to the recorded
  // size, so a claim repeated after a crash must find the new size already there.
  const claimed = await context.record({
    reclaim: claim,
    patch: { vcpus: size.vcpus, ramMb: size.ramMb, diskGb: size.diskGb },
    statusMessage: `claiming ${type.id} on host ${agent.hostId}`,
    ...(context.operationId
      ? { operation: { id: context.operationId, status: 'running' as const, steps: [context.step('claim', 'succeeded', `${type.id} claimed on host ${agent.hostId}`)] } }
      : {}),
  });
  if (claimed.kind === 'reclaim-failed') {
    const message = `host ${agent.hostId} has no room for a ${type.id} (${claim.vcpus} vCPUs, ${claim.ramMb} MB RAM, ${claim.diskGb} GB disk)`;
    return context.outcome({
      phase: settle,
      statusMessage: '',
      ready: { status: settle === 'running' ? 'True' : 'False', reason: settle === 'running' ? 'GuestReady' : 'Stopped', message },
      steps: [context.step('claim', 'failed', message)],
      operation: { status: 'failed', error: { code: 'capacity', message } },
      patch: { pendingInstanceTypeId: null, ...(revert ? {} : { previousInstanceTypeId: null }) },
    });
  }

  await context.call('resize', `resizing the guest to ${type.id}`, () => agent.resizeGuest(instance.uid, size));
  const steps = [context.step('resized', 'succeeded', `${type.id}: ${size.vcpus} vCPUs, ${size.ramMb} MB RAM, ${size.diskGb} GB disk`)];
  if (agent.capabilities.resizeOnNextBoot && settle === 'running') {
    await context.call('stop', 'restarting the guest to apply the new size', () =>
      agent.stopGuest(instance.uid, { gracefulTimeoutMs: Math.max(0, Math.min(settings.stopGracefulTimeoutMs, context.remainingMs() / 2)) }),
    );
    await context.call('start', 'starting the guest at its new size', (budget) => agent.startGuest(instance.uid, budget));
    steps.push(context.step('restarted', 'succeeded', 'power-cycled to apply the new size'));
  }

  const confirmed = revert || context.operation?.params.autoConfirm !== false;
  return context.outcome({
    phase: confirmed ? settle : 'verify-resize',
    powerState: settle === 'running' ? 'running' : 'shutdown',
    statusMessage: confirmed ? '' : 'resized; confirm or revert',
    ready: settle === 'running' ? { status: 'True', reason: 'GuestReady' } : { status: 'False', reason: 'Stopped' },
    steps,
    operation: { status: 'succeeded' },
    patch: {
      instanceTypeId: type.id,
      vcpus: size.vcpus,
      ramMb: size.ramMb,
      diskGb: size.diskGb,
      pendingInstanceTypeId: null,
      ...(confirmed ? { previousInstanceTypeId: null } : {}),
    },
  });
}

/**
 * The instance's size as the new type: its vCPUs and RAM, and its disks with the boot disk at the type's size, never
 * less than the disk the instance already has. Computed from the disks as created, so repeating it gives the same.
 */
export function resizedSize(instance: Pick<Instance, 'diskGb' | 'disks'>, type: Pick<InstanceType, 'vcpus' | 'ramMb' | 'diskGb'>) {
  const bootDiskGb = instance.disks.find((disk) => disk.boot)?.sizeGb ?? 0;
  const otherDisksGb = instance.disks.filter((disk) => !disk.boot).reduce((sum, disk) => sum + disk.sizeGb, 0);
  return {
    vcpus: type.vcpus,
    ramMb: type.ramMb,
    diskGb: Math.max(instance.diskGb, otherDisksGb + Math.max(bootDiskGb, type.diskGb)),
  };
}
