/**
 * Typed, dialect-neutral errors of the domain. Each dialect maps these to its own envelope in exactly one place;
 * anything that is not a {@link KumoError} is an internal error and never reaches a client with its message.
 */
export type ErrorCode =
  | 'validation'
  | 'not-found'
  | 'conflict'
  | 'invalid-state'
  | 'precondition-failed'
  | 'idempotency-mismatch'
  | 'idempotency-in-flight'
  | 'quota-exceeded'
  | 'capacity'
  | 'billing'
  | 'unauthenticated'
  | 'forbidden'
  | 'rate-limited'
  | 'unsupported'
  | 'expired'
  | 'internal';

/** One offending field, addressed by a JSON-pointer-like path (`/nics/0/network`). */
export interface FieldViolation {
  path: string;
  message: string;
}

export abstract class KumoError extends Error {
  abstract readonly code: ErrorCode;
  /** Machine-readable details a dialect may expose; never contains secrets or stack traces. */
  readonly details: Record<string, unknown>;

  constructor(message: string, details: Record<string, unknown> = {}) {
    super(message);
    this.name = new.target.name;
    this.details = details;
  }
}

export class ValidationError extends KumoError {
  readonly code = 'validation' as const;
  readonly violations: FieldViolation[];
  constructor(message: string, violations: FieldViolation[] = []) {
    super(message, { violations });
    this.violations = violations;
  }
}

export class NotFoundError extends KumoError {
  readonly code = 'not-found' as const;
  constructor(
    readonly resource: string,
    readonly id: string,
  ) {
    super(`${resource} ${JSON.stringify(id)} was not found`, { resource, id });
  }
}

/** A uniqueness or concurrent-modification conflict (name taken, address in use). */
export class ConflictError extends KumoError {
  readonly code = 'conflict' as const;
  constructor(message: string, details: Record<string, unknown> = {}) {
    super(message, details);
  }
}

/** An action that the lifecycle table does not allow in the instance's current state. */
export class InvalidStateError extends KumoError {
  readonly code = 'invalid-state' as const;
  constructor(
    readonly action: string,
    readonly state: string,
    readonly allowed: readonly string[],
  ) {
    super(`cannot ${action} an instance that is ${state}; allowed in: ${allowed.join(', ') || 'none'}`, {
      action,
      state,
      allowed,
    });
  }
}

/** An If-Match (or other optimistic-concurrency) precondition did not hold. */
export class PreconditionFailedError extends KumoError {
  readonly code = 'precondition-failed' as const;
  constructor(
    readonly expected: string,
    readonly actual: string,
  ) {
    super(`precondition failed: resource version is ${actual}, not ${expected}`, { expected, actual });
  }
}

export class IdempotencyMismatchError extends KumoError {
  readonly code = 'idempotency-mismatch' as const;
  constructor(readonly key: string) {
    super('this Idempotency-Key was already used with a different request', { key });
  }
}

export class IdempotencyInFlightError extends KumoError {
  readonly code = 'idempotency-in-flight' as const;
  constructor(readonly key: string) {
    super('a request with this Idempotency-Key is still in flight; retry later', { key });
  }
}

export class QuotaExceededError extends KumoError {
  readonly code = 'quota-exceeded' as const;
  constructor(
    readonly resource: string,
    readonly limit: number,
    readonly used: number,
    readonly requested: number,
  ) {
    super(`quota exceeded for ${resource}: limit ${limit}, used ${used}, requested ${requested}`, {
      resource,
      limit,
      used,
      requested,
    });
  }
}

/** What would fit right now instead, so a caller can retry somewhere useful. */
export interface CapacityAlternative {
  zone: string;
  instanceType: string;
}

export class CapacityError extends KumoError {
  readonly code = 'capacity' as const;
  constructor(
    message: string,
    /** How many hosts each filter excluded, by filter name. */
    readonly excludedBy: Record<string, number>,
    readonly fitsNow: CapacityAlternative[],
  ) {
    super(message, { excludedBy, fitsNow });
  }
}

export type BillingStatus = 'active' | 'suspended' | 'past-due' | 'terminated';

export class BillingError extends KumoError {
  readonly code = 'billing' as const;
  constructor(readonly status: Exclude<BillingStatus, 'active'>) {
    super(`the team's billing status is ${status}; resource operations are blocked`, { status });
  }
}

export class UnauthenticatedError extends KumoError {
  readonly code = 'unauthenticated' as const;
  constructor(message = 'missing or invalid credentials') {
    super(message);
  }
}

export class ForbiddenError extends KumoError {
  readonly code = 'forbidden' as const;
  constructor(message = 'the principal may not perform this action') {
    super(message);
  }
}

export class RateLimitedError extends KumoError {
  readonly code = 'rate-limited' as const;
  constructor(readonly retryAfterSeconds: number) {
    super(`rate limit exceeded; retry after ${retryAfterSeconds}s`, { retryAfterSeconds });
  }
}

export class UnsupportedError extends KumoError {
  readonly code = 'unsupported' as const;
  constructor(message: string) {
    super(message);
  }
}

/** What the request points at is gone for good (a stream position older than the events still kept). */
export class ExpiredError extends KumoError {
  readonly code = 'expired' as const;
  constructor(message: string, details: Record<string, unknown> = {}) {
    super(message, details);
  }
}

export function isKumoError(error: unknown): error is KumoError {
  return error instanceof KumoError;
}
