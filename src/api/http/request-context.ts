import type { FastifyRequest } from 'fastify';
import { UnauthenticatedError } from '../../core/errors.js';
import type { RequestContext } from '../../core/instances/instance-requests.js';
import type { Principal } from '../../core/tenancy/tenancy.js';
import { idempotencyContext } from './idempotency.js';
import './fastify-types.js';

/** The authenticated principal of a request; routes that are not public always have one. */
export function principalOf(request: FastifyRequest): Principal {
  if (!request.principal) throw new UnauthenticatedError();
  return request.principal;
}

/** The core's request context for a mutating request: principal, idempotency, request id and dialect. */
export function requestContext(request: FastifyRequest, via: string): RequestContext {
  return {
    principal: principalOf(request),
    idempotency: idempotencyContext(request),
    requestId: request.id,
    via,
  };
}
