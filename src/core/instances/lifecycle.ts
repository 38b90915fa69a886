import { InvalidStateError } from '../errors.js';

/**
 * The one canonical lifecycle of an instance. Every dialect maps these (Nova vm_state/task_state, Strettch states,
 * k0rdent lifecycle.status, the plain API's lowercase states); nothing else invents states.
 */
export const INSTANCE_PHASES = [
  'provisioning',
  'running',
  'stopping',
  'stopped',
  'starting',
  'rebooting',
  'pausing',
  'paused',
  'unpausing',
  'resizing',
  'verify-resize',
  'snapshotting',
  'deleting',
  'deleted',
  'error',
] as const;
export type InstancePhase = (typeof INSTANCE_PHASES)[number];

/** Phases in which the controller still has a step to take. */
export const TRANSITIONAL_PHASES: ReadonlySet<InstancePhase> = new Set([
  'provisioning',
  'stopping',
  'starting',
  'rebooting',
  'pausing',
  'unpausing',
  'resizing',
  'snapshotting',
  'deleting',
]);

export type InstanceAction =
  | 'start'
  | 'stop'
  | 'reboot'
  | 'pause'
  | 'unpause'
  | 'resize'
  | 'confirm-resize'
  | 'revert-resize'
  | 'snapshot'
  | 'delete';

/**
 * The transition table: for each user action, the phases it is allowed from and the phase it moves the instance to.
 * An action from any other phase is an {@link InvalidStateError} (409 in every dialect).
 */
export const ACTION_TRANSITIONS: Readonly<Record<InstanceAction, { from: readonly InstancePhase[]; to: InstancePhase }>> = {
  start: { from: ['stopped'], to: 'starting' },
  stop: { from: ['running', 'paused', 'error'], to: 'stopping' },
  reboot: { from: ['running', 'error'], to: 'rebooting' },
  pause: { from: ['running'], to: 'pausing' },
  unpause: { from: ['paused'], to: 'unpausing' },
  resize: { from: ['running', 'stopped'], to: 'resizing' },
  'confirm-resize': { from: ['verify-resize'], to: 'running' },
  'revert-resize': { from: ['verify-resize'], to: 'resizing' },
  snapshot: { from: ['running', 'stopped', 'paused'], to: 'snapshotting' },
  // Deletion may interrupt anything, even a step in progress: the controller's lease is fenced off.
  delete: { from: INSTANCE_PHASES.filter((phase) => phase !== 'deleting' && phase !== 'deleted'), to: 'deleting' },
};

/** Phases the controller may move an instance to from each phase (besides user actions). */
export const CONTROLLER_TRANSITIONS: Readonly<Record<InstancePhase, readonly InstancePhase[]>> = {
  provisioning: ['running', 'error'],
  running: ['stopped', 'error'],
  stopping: ['stopped', 'error'],
  stopped: ['running', 'error'],
  starting: ['running', 'error'],
  rebooting: ['running', 'error'],
  pausing: ['paused', 'error'],
  paused: ['stopped', 'error'],
  unpausing: ['running', 'error'],
  resizing: ['verify-resize', 'running', 'stopped', 'error'],
  'verify-resize': ['running', 'error'],
  snapshotting: ['running', 'stopped', 'paused', 'error'],
  deleting: ['deleted', 'error'],
  deleted: [],
  error: ['running', 'stopped', 'deleted'],
};

/** Returns the phase an action leads to, or throws {@link InvalidStateError}. */
export function phaseAfterAction(action: InstanceAction, current: InstancePhase): InstancePhase {
  const rule = ACTION_TRANSITIONS[action];
  if (!rule.from.includes(current)) throw new InvalidStateError(action, current, rule.from);
  return rule.to;
}

export function isTransitional(phase: InstancePhase): boolean {
  return TRANSITIONAL_PHASES.has(phase);
}

/** True when the controller is allowed to record this observed transition. */
export function canControllerMove(from: InstancePhase, to: InstancePhase): boolean {
  return from === to || CONTROLLER_TRANSITIONS[from].includes(to);
}
