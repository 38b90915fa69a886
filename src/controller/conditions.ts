import type { Condition } from '../core/instances/instance.js';

/** The condition every reconciled instance carries: whether its guest is up and serving. */
export const READY = 'Ready';
/** Set False while the instance's host does not answer, so a backoff can measure how long it has been. */
export const HOST_REACHABLE = 'HostReachable';

export type ConditionChange = Pick<Condition, 'type' | 'status' | 'reason' | 'message'>;

/**
 * Returns the conditions with `change` applied: the condition of that type is replaced, and `lastTransitionTime`
 * moves only when the status changes (as in Kubernetes), so it keeps saying since when a condition has held.
 */
export function setCondition(conditions: readonly Condition[], change: ConditionChange, now: Date): Condition[] {
  const existing = conditions.find((condition) => condition.type === change.type);
  const lastTransitionTime =
    existing && existing.status === change.status ? existing.lastTransitionTime : now.toISOString();
  const next: Condition = { ...change, lastTransitionTime };
  return existing
    ? conditions.map((condition) => (condition.type === change.type ? next : condition))
    : [...conditions, next];
}

export function findCondition(conditions: readonly Condition[], type: string): Condition | undefined {
  return conditions.find((condition) => condition.type === type);
}

/** Marks the host reachable again, if it had been recorded as unreachable; otherwise leaves the conditions alone. */
export function clearHostUnreachable(conditions: readonly Condition[], now: Date): Condition[] {
  const reachable = findCondition(conditions, HOST_REACHABLE);
  if (!reachable || reachable.status === 'True') return [...conditions];
  return setCondition(conditions, { type: HOST_REACHABLE, status: 'True', reason: 'HostReachable', message: '' }, now);
}
