import { createHash } from 'node:crypto';
import type { InstanceOrder, ListCursor } from '../../core/ports.js';

const ORDERS: readonly InstanceOrder[] = ['createdAt', '-createdAt', 'name', '-name'];
const UID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Why a page token was refused. */
export class PageTokenError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PageTokenError';
  }
}

function checksum(payload: string): string {
  return createHash('sha256').update(payload).digest('base64url').slice(0, 10);
}

/**
 * An opaque page token: base64url of the keyset cursor plus a checksum. The checksum catches truncated or edited
 * tokens; it is not a secret (a forged cursor can only move the start of a page the caller may read anyway), which
 * keeps tokens valid across replicas without shared keys.
 */
export function encodePageToken(cursor: ListCursor): string {
  const payload = JSON.stringify([cursor.order, cursor.value, cursor.uid]);
  return `${Buffer.from(payload).toString('base64url')}.${checksum(payload)}`;
}

/**
 * The cursor of a page token, checked for shape and for the list order it was issued under.
 * @throws PageTokenError
 */
export function decodePageToken(token: string, order: InstanceOrder): ListCursor {
  const [encoded = '', sum = '', extra] = token.split('.');
  if (extra !== undefined || !/^[A-Za-z0-9_-]+$/.test(encoded)) throw new PageTokenError('malformed page token');
  const payload = Buffer.from(encoded, 'base64url').toString('utf8');
  if (checksum(payload) !== sum) throw new PageTokenError('malformed page token');
  let parsed: unknown;
  try {
    parsed = JSON.parse(payload);
  } catch {
    throw new PageTokenError('malformed page token');
  }
  if (!Array.isArray(parsed) || parsed.length !== 3) throw new PageTokenError('malformed page token');
  const [tokenOrder, value, uid] = parsed as unknown[];
  if (
    typeof tokenOrder !== 'string' ||
    !ORDERS.includes(tokenOrder as InstanceOrder) ||
    typeof value !== 'string' ||
    value.length > 256 ||
    typeof uid !== 'string' ||
    !UID.test(uid)
  ) {
    throw new PageTokenError('malformed page token');
  }
  if (tokenOrder !== order) throw new PageTokenError(`the page token was issued for orderBy=${tokenOrder}, not ${order}`);
  return { order: tokenOrder as InstanceOrder, value, uid };
}
