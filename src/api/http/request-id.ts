import { randomUUID } from 'node:crypto';

/** The header a request id travels in, both ways. */
export const REQUEST_ID_HEADER = 'x-request-id';

/** Printable ASCII without spaces, bounded, so a client's id can be logged and echoed safely. */
const CLIENT_REQUEST_ID = /^[\x21-\x7e]{1,128}$/;

/**
 * The request id for one request: the client's `X-Request-Id` when it is safe to echo and log, otherwise a new UUID.
 * Used as Fastify's `genReqId`, so `request.id` is the id everywhere (logs, error envelopes, operations).
 */
export function requestIdFrom(header: string | string[] | undefined): string {
  return typeof header === 'string' && CLIENT_REQUEST_ID.test(header) ? header : randomUUID();
}
