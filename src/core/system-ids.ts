import { randomBytes, randomUUID } from 'node:crypto';
import type { Clock, Ids } from './ports.js';

const BASE32 = 'abcdefghijklmnopqrstuvwxyz234567';

/**
 * Random bytes for ids, drawn from a buffer refilled 4 KiB at a time: every create takes a dozen or so, and a call
 * into the CSPRNG per id cost more than the rest of the id's making. The bytes are as random as `randomBytes`'.
 */
class RandomPool {
  private buffer = randomBytes(4096);
  private offset = 0;

  take(length: number): Uint8Array {
    if (this.offset + length > this.buffer.length) {
      this.buffer = randomBytes(4096);
      this.offset = 0;
    }
    const bytes = this.buffer.subarray(this.offset, this.offset + length);
    this.offset += length;
    return bytes;
  }
}

const pool = new RandomPool();

/** Lowercase base32 of random bytes: safe in RFC 1035 labels after a letter prefix. */
function randomLabel(length: number): string {
  const bytes = pool.take(length);
  let out = '';
  for (const byte of bytes) out += BASE32[byte & 31];
  return out;
}

/** Milliseconds since the epoch as 9 base32 digits, so operation ids sort by creation time. */
function timePrefix(ms: number): string {
  let out = '';
  let value = ms;
  for (let i = 0; i < 9; i++) {
    out = BASE32[value % 32] + out;
    value = Math.floor(value / 32);
  }
  return out;
}

export class SystemClock implements Clock {
  now(): Date {
    return new Date();
  }
}

export class RandomIds implements Ids {
  uuid(): string {
    return randomUUID();
  }
  operationId(): string {
    return `op-${timePrefix(Date.now())}${randomLabel(10)}`;
  }
  instanceName(): string {
    return `instance-${randomLabel(8)}`;
  }
  macAddress(): string {
    const b = pool.take(3);
    return `52:54:00:${[...b].map((x) => x.toString(16).padStart(2, '0')).join(':')}`;
  }
  secret(): string {
    return randomBytes(24).toString('base64url');
  }
}
