import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, it } from 'node:test';
import { decodePageToken, encodePageToken, PageTokenError } from '../../../src/api/native/page-token.js';

const cursor = { order: 'createdAt' as const, value: '2026-01-01T00:00:00.000Z', uid: '3c90c3cc-0d44-4b50-8888-8dd25736052a' };

describe('page token', () => {
  it('round-trips a cursor as an opaque URL-safe string', () => {
    const token = encodePageToken(cursor);
    assert.match(token, /^[A-Za-z0-9_.-]+$/);
    assert.deepEqual(decodePageToken(token, 'createdAt'), cursor);
  });

  it('refuses a token issued for another order', () => {
    assert.throws(() => decodePageToken(encodePageToken(cursor), '-name'), /issued for orderBy=createdAt/);
  });

  it('refuses tampered, truncated and garbage tokens', () => {
    const token = encodePageToken(cursor);
    const [payload = '', sum = ''] = token.split('.');
    const forged = Buffer.from(JSON.stringify(['createdAt', 'x', cursor.uid])).toString('base64url');
    for (const bad of [`${forged}.${sum}`, token.slice(0, -2), payload, 'garbage', '..', `${token}.x`, '%%%', `${payload}.${'A'.repeat(10)}`]) {
      assert.throws(() => decodePageToken(bad, 'createdAt'), PageTokenError, bad);
    }
  });

  it('refuses a well-formed token with a hostile payload', () => {
    const payload = JSON.stringify(['createdAt', 'v', 'not-a-uuid']);
    const sum = createHash('sha256').update(payload).digest('base64url').slice(0, 10);
    assert.throws(() => decodePageToken(`${Buffer.from(payload).toString('base64url')}.${sum}`, 'createdAt'), PageTokenError);
  });
});
