import type { Instance, PowerState } from '../core/instances/instance.js';
import { canControllerMove, isTransitional } from '../core/instances/lifecycle.js';
import type { InstanceMutation } from '../core/ports.js';
import type { GuestPowerState } from '../drivers/hypervisor-driver.js';
import { READY, setCondition } from './conditions.js';

/** What a host saw a guest do, outside any controller step. */
export interface GuestObservation {
  power: GuestPowerState | 'missing';
  reason: string;
  message: string;
}

/**
 * The change an observation of a guest makes to its settled instance; the hypervisor is the authority on power. A
 * guest that died or powered itself off moves a running (or paused) instance to stopped, with the desired power
 * following it as Nova's power sync does: nothing restarts it behind the owner's back. A guest found running moves
 * a stopped instance to running. A guest gone from a running host is an error (GuestNotFound): rebooting the
 * instance creates it again.
 *
 * Instances in a transitional phase belong to the controller step under way, and are left alone (an empty change).
 */
export function guestObservationMutation(current: Instance, observation: GuestObservation, now: Date): InstanceMutation {
  const none: InstanceMutation = { patch: {}, operation: null };
  if (isTransitional(current.phase) || current.phase === 'deleted') return none;
  const { power } = observation;
  if (power === 'missing') {
    if (current.phase !== 'running' && current.phase !== 'paused') return none;
    return move(current, 'error', 'unknown', current.desiredPower, { status: 'False', reason: 'GuestNotFound' }, observation, now);
  }
  if ((power === 'shutdown' || power === 'crashed') && (current.phase === 'running' || current.phase === 'paused')) {
    const reason = power === 'crashed' ? 'GuestCrashed' : 'GuestPoweredOff';
    return move(current, 'stopped', power, 'stopped', { status: 'False', reason }, observation, now);
  }
  if (power === 'running' && current.phase === 'stopped') {
    return move(current, 'running', 'running', 'running', { status: 'True', reason: 'GuestStarted' }, observation, now);
  }
  // Otherwise only the power state is news (a running instance whose guest froze, say); the phase stays.
  const onPhase = current.phase === 'running' || current.phase === 'paused';
  return onPhase && current.powerState !== power ? { patch: { powerState: power }, operation: null } : none;
}

function move(
  current: Instance,
  phase: Instance['phase'],
  powerState: PowerState,
  desiredPower: Instance['desiredPower'],
  ready: { status: 'True' | 'False'; reason: string },
  observation: GuestObservation,
  now: Date,
): InstanceMutation {
  if (!canControllerMove(current.phase, phase)) return { patch: {}, operation: null };
  const message = observation.message || observation.reason;
  return {
    patch: {
      phase,
      powerState,
      desiredPower,
      statusMessage: message,
      conditions: setCondition(current.conditions, { type: READY, ...ready, message }, now),
    },
    operation: null,
  };
}
