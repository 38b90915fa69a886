import type { ObservationUpdate } from '../core/ports.js';
import type { StepContext } from './step-context.js';

/**
 * deleting → deleted, finalizer-style: the guest is destroyed first (destroying a missing guest succeeds), then the
 * store releases the claim and addresses and marks the instance deleted, in one transaction.
 */
export async function deleteInstance(context: StepContext): Promise<ObservationUpdate[]> {
  const { instance, agent } = context;
  await context.call('destroy', `destroying the guest on host ${agent.hostId}`, () => agent.destroyGuest(instance.uid));
  return finalizeDeletion(context, 'guest destroyed');
}

/**
 * Marks the instance deleted without touching a host: when it never reached one, or its host has been unreachable
 * for longer than the host-lost limit (the host's agent reaps the orphaned guest when it comes back).
 */
export function finalizeDeletion(context: StepContext, message: string): ObservationUpdate[] {
  return context.outcome({
    phase: 'deleted',
    powerState: 'shutdown',
    statusMessage: '',
    ready: { status: 'False', reason: 'Deleted' },
    steps: [context.step('deleted', 'succeeded', message)],
    operation: { status: 'succeeded' },
    finalizeDelete: true,
  });
}
