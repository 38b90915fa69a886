import { ValidationError } from '../errors.js';
import type { InstanceMutation } from '../ports.js';
import type { DesiredPower, Instance, Operation } from './instance.js';
import type { InstanceActionRequest, UpdateInstanceRequest } from './instance-requests.js';
import { phaseAfterAction, type InstanceAction } from './lifecycle.js';

/**
 * Pure functions from (current instance, request) to the change the store applies under the row lock. Keeping them
 * pure keeps the transition rules in the core and testable without a database.
 */

export function buildUpdateMutation(current: Instance, request: UpdateInstanceRequest, operation: Operation, now: Date): InstanceMutation {
  if (current.phase === 'deleting' || current.phase === 'deleted') {
    throw new ValidationError('a deleted instance cannot be updated', []);
  }
  const patch: Partial<Instance> = {};
  if (request.displayName !== undefined) patch.displayName = request.displayName;
  if (request.description !== undefined) patch.description = request.description;
  if (request.labels !== undefined) patch.labels = request.labels;
  if (request.tags !== undefined) patch.tags = request.tags;
  if (request.metadata !== undefined) patch.metadata = request.metadata;
  if (request.instanceMetadata !== undefined) patch.instanceMetadata = request.instanceMetadata;
  return {
    patch,
    operation: {
      ...operation,
      status: 'succeeded',
      steps: [...operation.steps, { name: 'updated', status: 'succeeded', at: now.toISOString(), elapsedMs: 0 }],
      completedAt: now,
    },
  };
}

const DESIRED_POWER: Partial<Record<InstanceAction, DesiredPower>> = {
  start: 'running',
  stop: 'stopped',
  reboot: 'running',
  pause: 'paused',
  unpause: 'running',
};

const STATUS_MESSAGES: Record<InstanceAction, string> = {
  start: 'starting the instance',
  stop: 'stopping the instance',
  reboot: 'rebooting the instance',
  pause: 'pausing the instance',
  unpause: 'resuming the instance',
  resize: 'resizing the instance',
  'confirm-resize': 'resize confirmed',
  'revert-resize': 'reverting the resize',
  snapshot: 'taking a snapshot',
  delete: 'deleting the instance',
};

/** The change an action makes: the next phase from the transition table, the desired power, and the operation. */
export function buildActionMutation(
  current: Instance,
  request: InstanceActionRequest | { action: 'delete' },
  operation: Operation,
  now: Date,
): InstanceMutation {
  // Deleting an instance that is already being deleted answers with the deletion already under way.
  if (request.action === 'delete' && current.phase === 'deleting') return { patch: {}, operation: null };
  const next = phaseAfterAction(request.action, current.phase);
  const patch: Partial<Instance> = {
    phase: next,
    statusMessage: STATUS_MESSAGES[request.action],
    generation: current.generation + 1,
    currentOperationId: operation.id,
  };
  const desired = DESIRED_POWER[request.action];
  if (desired) patch.desiredPower = desired;

  switch (request.action) {
    case 'resize':
      if (request.instanceTypeId === current.instanceTypeId) {
        throw new ValidationError(`the instance already is a ${current.instanceTypeId}`, [
          { path: 'instanceTypeId', message: 'must differ from the current type' },
        ]);
      }
      patch.pendingInstanceTypeId = request.instanceTypeId;
      patch.previousInstanceTypeId = current.instanceTypeId;
      break;
    case 'revert-resize':
      patch.pendingInstanceTypeId = current.previousInstanceTypeId;
      break;
    case 'confirm-resize':
      // Nothing for a host to do: the new size is already in effect. Settle at the power state the user wants.
      patch.phase = current.desiredPower === 'stopped' ? 'stopped' : 'running';
      patch.previousInstanceTypeId = null;
      patch.currentOperationId = null;
      patch.statusMessage = '';
      return {
        patch,
        operation: { ...operation, status: 'succeeded', completedAt: now, steps: [...operation.steps, { name: 'confirmed', status: 'succeeded', at: now.toISOString(), elapsedMs: 0 }] },
      };
    case 'delete':
      patch.desiredPower = 'stopped';
      break;
    default:
      break;
  }
  return { patch, operation };
}
