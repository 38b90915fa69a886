import type { Operation, OperationStatus } from '../../../core/instances/instance.js';
import { instanceLink, operationLink, rfc3339 } from '../native-uris.js';
import type { OperationView } from './schemas.js';

const STATUS: Readonly<Record<OperationStatus, OperationView['status']>> = {
  pending: 'PENDING',
  running: 'RUNNING',
  succeeded: 'DONE',
  failed: 'FAILED',
};

/**
 * The native view of an operation. Operations carry no region, so links use the region the caller addressed (the
 * operation's instance lives there). Dates may be strings when the operation comes from a change event's JSON.
 */
export function operationView(operation: Operation, region: string): OperationView {
  return {
    id: operation.id,
    selfLink: operationLink(region, operation.projectId, operation.id),
    kind: operation.kind,
    target: instanceLink(region, operation.projectId, operation.targetName),
    targetUid: operation.targetUid,
    status: STATUS[operation.status] ?? 'PENDING',
    error: operation.error ? { code: operation.error.code, message: operation.error.message } : null,
    steps: operation.steps.map((step) => ({
      name: step.name,
      status: step.status.toUpperCase(),
      at: rfc3339(step.at),
      ...(step.elapsedMs !== undefined ? { elapsedMs: step.elapsedMs } : {}),
      ...(step.message ? { message: step.message } : {}),
    })),
    createdAt: rfc3339(operation.createdAt),
    updatedAt: rfc3339(operation.updatedAt),
    completedAt: operation.completedAt ? rfc3339(operation.completedAt) : null,
  };
}
