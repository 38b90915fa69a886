import type { FastifyInstance } from 'fastify';
import type { KumoError } from '../../core/errors.js';
import { classifyError, RequestError } from './request-errors.js';
import type { RouteMethods } from './route-methods.js';

/** A rendered error: status, extra headers, and the body in the dialect's envelope. */
export interface ErrorResponse {
  status: number;
  headers: Record<string, string>;
  body: unknown;
}

/**
 * A dialect's one mapping from errors to its envelope. `null` is an internal error: the renderer must answer with a
 * generic message (the error itself has already been logged with the request id).
 */
export type ErrorRenderer = (error: KumoError | RequestError | null, requestId: string) => ErrorResponse;

/**
 * Installs one error handler and one not-found handler on a Fastify scope, both answering in `render`'s envelope.
 * Every failure goes through here: core errors, schema violations, malformed bodies, unknown routes and methods.
 */
export function installErrorHandling(app: FastifyInstance, render: ErrorRenderer, routes: RouteMethods): void {
  app.setErrorHandler((error, request, reply) => {
    const classified = classifyError(error);
    if (classified === null) {
      request.log.error({ err: error, requestId: request.id, route: request.routeOptions.url }, 'unhandled error');
    }
    const rendered = render(classified, request.id);
    return reply.code(rendered.status).headers(rendered.headers).send(rendered.body);
  });

  app.setNotFoundHandler((request, reply) => {
    const path = request.url.split('?', 1)[0] ?? '/';
    const allowed = routes.allowed(path);
    const error =
      allowed.length > 0
        ? new RequestError(405, 'method-not-allowed', `${request.method} is not allowed here; use ${allowed.join(', ')}`, {
            allow: allowed.join(', '),
          })
        : new RequestError(404, 'route-not-found', 'no such resource or route');
    const rendered = render(error, request.id);
    return reply.code(rendered.status).headers(rendered.headers).send(rendered.body);
  });
}
