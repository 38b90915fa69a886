import type { GuestSpec } from '../hypervisor-driver.js';

/** A create fault: on for every create (`true`), off (`false`/absent), or on for the specs a predicate picks. */
export type CreateFault = boolean | ((spec: GuestSpec) => boolean);

/**
 * Faults the {@link SimulatedDriver} injects, so tests can drive the controller through the failures real hosts have.
 * Set them at construction or at runtime with `setFaults`; setting a field to `undefined` or `false` clears it.
 */
export interface SimulatedFaults {
  /** A create of a new guest rejects at once and leaves nothing behind (an adopting create is unaffected). */
  failCreate?: CreateFault;
  /**
   * A create of a new guest never becomes ready: it rejects with `GuestBootTimeoutError` after `readyTimeoutMs`, or
   * with the abort reason when its `signal` aborts, and removes the guest it made either way.
   */
  hangCreate?: CreateFault;
  /** Every driver call rejects as it would against an unreachable host (`code: 'EHOSTUNREACH'`); guests keep state. */
  hostLost?: boolean;
}

/** Whether a create fault applies to this spec. */
export function createFaultApplies(fault: CreateFault | undefined, spec: GuestSpec): boolean {
  return typeof fault === 'function' ? fault(spec) : fault === true;
}

/** The error a call to a lost host fails with: a network error, as the agent's HTTP client would see it. */
export function hostUnreachableError(host: string, operation: string): Error {
  return Object.assign(new Error(`host ${host} is unreachable: ${operation} failed (connect EHOSTUNREACH)`), {
    code: 'EHOSTUNREACH',
  });
}
