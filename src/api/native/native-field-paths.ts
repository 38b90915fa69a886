import { ValidationError, type FieldViolation } from '../../core/errors.js';
import { RequestValidationError, type LocatedViolation } from '../http/request-errors.js';

/** Re-addresses a core {@link ValidationError}'s violations in native field paths; other errors pass through. */
export function inNativeTerms(error: unknown, fieldPath: (corePath: string) => string): unknown {
  if (!(error instanceof ValidationError) || error instanceof RequestValidationError) return error;
  const violations = error.violations.map(
    (violation: FieldViolation): LocatedViolation => ({ location: 'body', path: fieldPath(violation.path), message: violation.message }),
  );
  return new RequestValidationError(error.message, violations);
}
