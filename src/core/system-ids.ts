import { randomBytes, randomUUID } from 'node:crypto';
import type { Clock, Ids } from './ports.js';

const BASE32 = 'abcdefghijklmnopqrstuvwxyz234567';

/** Lowercase base32 of random bytes: safe in RFC 1035 labels after a letter prefix. */
function randomLabel(length: number): string {
  const bytes = randomBytes(length);
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
    const b = randomBytes(3);
    return `52:54:00:${[...b].map((x) => x.toString(16).padStart(2, '0')).join(':')}`;
  }
  secret(): string {
    return randomBytes(24).toString('base64url');
  }
}
