import type { FastifyError } from 'fastify';
import { isKumoError, ValidationError, type FieldViolation, type KumoError } from '../../core/errors.js';

/** Where an offending value was found. */
export type ViolationLocation = 'body' | 'query' | 'path' | 'header';

/** A field violation the HTTP layer found; `path` is a JSON pointer (`/nics/0/network`) within `location`. */
export interface LocatedViolation extends FieldViolation {
  location: ViolationLocation;
}

/** A {@link ValidationError} raised at the edge (schemas, headers, query syntax), with each violation's location. */
export class RequestValidationError extends ValidationError {
  constructor(message: string, violations: LocatedViolation[]) {
    super(message, violations);
  }
}

/** Shorthand for one located violation. */
export function invalidField(location: ViolationLocation, path: string, message: string): RequestValidationError {
  return new RequestValidationError(`invalid ${location === 'header' ? 'header' : 'request'}: ${path} ${message}`, [
    { location, path, message },
  ]);
}

/** Why a request failed before it reached a route: the protocol-level failures no core error describes. */
export type RequestFailure =
  | 'malformed-body'
  | 'payload-too-large'
  | 'unsupported-media-type'
  | 'route-not-found'
  | 'method-not-allowed'
  | 'bad-request';

/** An HTTP-level failure (body not JSON, too large, no such route); each dialect renders it in its envelope. */
export class RequestError extends Error {
  constructor(
    readonly status: number,
    readonly failure: RequestFailure,
    message: string,
    /** Response headers the failure calls for (`Allow` on 405). */
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
    this.name = 'RequestError';
  }
}

const AJV_LOCATIONS: Record<string, ViolationLocation> = {
  body: 'body',
  querystring: 'query',
  params: 'path',
  headers: 'header',
};

interface AjvIssue {
  keyword: string;
  instancePath: string;
  message?: string;
  params: Record<string, unknown>;
}

/** Turns one ajv error into a violation addressed at the offending field, not at its parent object. */
function violationOf(issue: AjvIssue, location: ViolationLocation): LocatedViolation {
  const child = (name: unknown) => `${issue.instancePath}/${String(name).replaceAll('~', '~0').replaceAll('/', '~1')}`;
  switch (issue.keyword) {
    case 'required':
      return { location, path: child(issue.params.missingProperty), message: 'is required' };
    case 'additionalProperties':
      return { location, path: child(issue.params.additionalProperty), message: 'is not a known field' };
    case 'propertyNames':
      return { location, path: child(issue.params.propertyName), message: 'is not a valid key' };
    default:
      return { location, path: issue.instancePath || '/', message: issue.message ?? 'is invalid' };
  }
}

/** Fastify's own client errors, by code, with a fixed message so nothing of the raw input is echoed. */
const FASTIFY_FAILURES: Record<string, { status: number; failure: RequestFailure; message: string }> = {
  FST_ERR_CTP_BODY_TOO_LARGE: { status: 413, failure: 'payload-too-large', message: 'the request body is too large' },
  FST_ERR_CTP_INVALID_MEDIA_TYPE: {
    status: 415,
    failure: 'unsupported-media-type',
    message: 'unsupported Content-Type; send application/json',
  },
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: { status: 400, failure: 'bad-request', message: 'Content-Length does not match the body' },
  FST_ERR_CTP_EMPTY_JSON_BODY: { status: 400, failure: 'malformed-body', message: 'the request body is empty; send a JSON object' },
  FST_ERR_CTP_INVALID_JSON_BODY: { status: 400, failure: 'malformed-body', message: 'the request body is not valid JSON' },
};

/**
 * Classifies anything thrown while serving a request: a core {@link KumoError} as it is, a Fastify client error as a
 * {@link RequestError} or {@link RequestValidationError}, and everything else as `null` — an internal error whose
 * message must not reach the client.
 */
export function classifyError(error: unknown): KumoError | RequestError | null {
  if (isKumoError(error) || error instanceof RequestError) return error;
  if (typeof error !== 'object' || error === null) return null;
  const fastifyError = error as Partial<FastifyError> & { validation?: AjvIssue[]; validationContext?: string };
  if (Array.isArray(fastifyError.validation)) {
    const location = AJV_LOCATIONS[fastifyError.validationContext ?? 'body'] ?? 'body';
    return new RequestValidationError(
      'the request is invalid',
      fastifyError.validation.map((issue) => violationOf(issue, location)),
    );
  }
  const known = fastifyError.code ? FASTIFY_FAILURES[fastifyError.code] : undefined;
  if (known) return new RequestError(known.status, known.failure, known.message);
  const status = fastifyError.statusCode;
  // JSON.parse and the prototype-poisoning guard throw SyntaxErrors that Fastify tags with a 400.
  if (error instanceof SyntaxError && status === 400) {
    return new RequestError(400, 'malformed-body', 'the request body is not valid JSON');
  }
  if (typeof status === 'number' && status >= 400 && status < 500 && fastifyError.code?.startsWith('FST_')) {
    return new RequestError(status, 'bad-request', 'the request could not be processed');
  }
  return null;
}
