import { createHash } from 'node:crypto';
import type { FastifyRequest } from 'fastify';
import type { IdempotencyContext } from '../../core/ports.js';
import { invalidField } from './request-errors.js';
import './fastify-types.js';

/** The header clients send to make a mutation safe to retry. */
export const IDEMPOTENCY_KEY_HEADER = 'idempotency-key';
/** Set on a response that replays the recorded result of an earlier request with the same key. */
export const IDEMPOTENT_REPLAYED_HEADER = 'Idempotent-Replayed';

const KEY = /^[\x20-\x7e]{1,255}$/;

/** The Idempotency-Key of a request: null when absent; 1–255 printable ASCII characters, else a 400. */
export function parseIdempotencyKey(header: string | string[] | undefined): string | null {
  if (header === undefined) return null;
  if (typeof header !== 'string' || !KEY.test(header)) {
    throw invalidField('header', '/Idempotency-Key', 'must be 1-255 printable ASCII characters');
  }
  return header;
}

/**
 * JSON with object keys sorted at every depth, so two bodies that differ only in key order (or in absent vs.
 * `undefined` members) fingerprint the same.
 */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  if (Array.isArray(value)) return `[${value.map((item) => (item === undefined ? 'null' : canonicalJson(item))).join(',')}]`;
  const record = value as Record<string, unknown>;
  const members = Object.keys(record)
    .filter((key) => record[key] !== undefined)
    .sort()
    .map((key) => `${JSON.stringify(key)}:${canonicalJson(record[key])}`);
  return `{${members.join(',')}}`;
}

/** sha-256 (hex) of the canonical JSON of a request body; an absent body hashes like `null`. */
export function requestFingerprint(body: unknown): string {
  return createHash('sha256').update(canonicalJson(body ?? null)).digest('hex');
}

/**
 * The core's idempotency context for a request, or null without an Idempotency-Key. The scope is method, route
 * pattern and path parameters, so one key can never replay a response of another resource or route.
 */
export function idempotencyContext(request: FastifyRequest): IdempotencyContext | null {
  const key = parseIdempotencyKey(request.headers[IDEMPOTENCY_KEY_HEADER]);
  if (key === null || !request.principal) return null;
  return {
    principalId: request.principal.id,
    scope: `${request.method} ${request.routeOptions.url ?? request.url} ${JSON.stringify(request.params ?? {})}`,
    key,
    fingerprint: requestFingerprint(request.body),
  };
}
