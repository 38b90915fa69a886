import { Type, type Static } from 'typebox';
import type { ErrorCode, KumoError } from '../../core/errors.js';
import type { ErrorResponse } from '../http/error-handling.js';
import { RequestError, type LocatedViolation, type RequestFailure } from '../http/request-errors.js';

/** One offending field of a request. */
export const FieldViolationView = Type.Object(
  {
    field: Type.String({ description: 'JSON pointer to the field within `location`, e.g. `/nics/0/network`.' }),
    location: Type.Union([Type.Literal('body'), Type.Literal('query'), Type.Literal('path'), Type.Literal('header')]),
    message: Type.String(),
  },
  { additionalProperties: false },
);

/** The native error envelope: every non-2xx answer of the native API has exactly this shape. */
export const ErrorEnvelope = Type.Object(
  {
    error: Type.Object(
      {
        code: Type.String({ description: 'Stable, machine-readable code (see the error table).' }),
        message: Type.String(),
        status: Type.Integer({ description: 'The HTTP status, repeated for clients that lose it.' }),
        requestId: Type.String({ description: 'Echoes X-Request-Id; quote it when reporting a problem.' }),
        details: Type.Array(FieldViolationView),
        info: Type.Optional(
          Type.Record(Type.String(), Type.Unknown(), {
            description: 'Machine-readable context: state and allowed states, quota numbers, capacity alternatives…',
          }),
        ),
      },
      { additionalProperties: false },
    ),
  },
  { additionalProperties: false },
);
export type ErrorEnvelope = Static<typeof ErrorEnvelope>;

/** Response schemas every native route shares for its failures. */
export const ERROR_RESPONSES = { '4xx': ErrorEnvelope, '5xx': ErrorEnvelope } as const;

/**
 * The one mapping table from core error codes to native status and code. Documented in src/api/native/README.md;
 * change both together.
 */
export const NATIVE_ERROR_TABLE: Readonly<Record<ErrorCode, { status: number; code: string }>> = {
  validation: { status: 400, code: 'INVALID_ARGUMENT' },
  unauthenticated: { status: 401, code: 'UNAUTHENTICATED' },
  billing: { status: 402, code: 'BILLING_BLOCKED' },
  forbidden: { status: 403, code: 'PERMISSION_DENIED' },
  'quota-exceeded': { status: 403, code: 'QUOTA_EXCEEDED' },
  'not-found': { status: 404, code: 'NOT_FOUND' },
  conflict: { status: 409, code: 'CONFLICT' },
  'invalid-state': { status: 409, code: 'INVALID_STATE' },
  'idempotency-in-flight': { status: 409, code: 'IDEMPOTENCY_KEY_IN_USE' },
  expired: { status: 410, code: 'EXPIRED' },
  'precondition-failed': { status: 412, code: 'PRECONDITION_FAILED' },
  'idempotency-mismatch': { status: 422, code: 'IDEMPOTENCY_KEY_REUSED' },
  'rate-limited': { status: 429, code: 'RATE_LIMITED' },
  internal: { status: 500, code: 'INTERNAL' },
  unsupported: { status: 501, code: 'UNSUPPORTED' },
  capacity: { status: 503, code: 'INSUFFICIENT_CAPACITY' },
};

/** Protocol-level failures (no core error describes them). */
export const NATIVE_REQUEST_FAILURES: Readonly<Record<RequestFailure, string>> = {
  'malformed-body': 'MALFORMED_REQUEST',
  'bad-request': 'BAD_REQUEST',
  'payload-too-large': 'PAYLOAD_TOO_LARGE',
  'unsupported-media-type': 'UNSUPPORTED_MEDIA_TYPE',
  'route-not-found': 'NOT_FOUND',
  'method-not-allowed': 'METHOD_NOT_ALLOWED',
};

function violations(error: KumoError): ErrorEnvelope['error']['details'] {
  const list = (error.details as { violations?: Array<Partial<LocatedViolation>> }).violations;
  if (!Array.isArray(list)) return [];
  return list.map((violation) => {
    const path = violation.path ?? '';
    return {
      field: path.startsWith('/') ? path : `/${path}`,
      location: violation.location ?? 'body',
      message: violation.message ?? 'is invalid',
    };
  });
}

/** Renders any failure in the native envelope; `null` (an internal error) becomes a generic 500. */
export function renderNativeError(error: KumoError | RequestError | null, requestId: string): ErrorResponse {
  if (error === null) {
    return envelope(500, 'INTERNAL', 'an internal error occurred; quote the request id when reporting it', requestId, [], {});
  }
  if (error instanceof RequestError) {
    return envelope(error.status, NATIVE_REQUEST_FAILURES[error.failure], error.message, requestId, [], error.headers);
  }
  const kumoError = error;
  const mapped = NATIVE_ERROR_TABLE[kumoError.code];
  const headers: Record<string, string> = {};
  if (kumoError.code === 'unauthenticated') headers['www-authenticate'] = 'Bearer';
  if (kumoError.code === 'rate-limited') {
    headers['retry-after'] = String((kumoError.details as { retryAfterSeconds?: number }).retryAfterSeconds ?? 1);
  }
  const rendered = envelope(mapped.status, mapped.code, kumoError.message, requestId, violations(kumoError), headers);
  const { violations: _omitted, ...info } = kumoError.details;
  if (Object.keys(info).length > 0) (rendered.body as ErrorEnvelope).error.info = info;
  return rendered;
}

function envelope(
  status: number,
  code: string,
  message: string,
  requestId: string,
  details: ErrorEnvelope['error']['details'],
  headers: Record<string, string>,
): ErrorResponse {
  return { status, headers, body: { error: { code, message, status, requestId, details } } satisfies ErrorEnvelope };
}
