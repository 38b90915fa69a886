import { createHash } from 'node:crypto';

const KEY_TYPES = new Set([
  'ssh-ed25519',
  'ssh-rsa',
  'ecdsa-sha2-nistp256',
  'ecdsa-sha2-nistp384',
  'ecdsa-sha2-nistp521',
  'sk-ssh-ed25519@openssh.com',
  'sk-ecdsa-sha2-nistp256@openssh.com',
]);

export interface ParsedPublicKey {
  type: string;
  /** `type base64 [comment]` on one line. */
  normalized: string;
  /** OpenSSH-style `SHA256:…` fingerprint. */
  fingerprint: string;
  comment: string;
}

/**
 * Parses one OpenSSH public key line. Checks that the base64 blob decodes and names the same key type, so a
 * truncated or pasted-wrong key is refused at the API instead of silently locking the user out of the guest.
 */
export function parsePublicKey(line: string): ParsedPublicKey | null {
  const parts = line.trim().split(/\s+/);
  const [type, blob, ...rest] = parts;
  if (!type || !blob || !KEY_TYPES.has(type) || !/^[A-Za-z0-9+/]+={0,2}$/.test(blob)) return null;
  const raw = Buffer.from(blob, 'base64');
  if (raw.length < 4) return null;
  const nameLength = raw.readUInt32BE(0);
  if (nameLength + 4 > raw.length || raw.subarray(4, 4 + nameLength).toString('latin1') !== type) return null;
  const comment = rest.join(' ');
  const fingerprint = `SHA256:${createHash('sha256').update(raw).digest('base64').replace(/=+$/, '')}`;
  return { type, normalized: comment ? `${type} ${blob} ${comment}` : `${type} ${blob}`, fingerprint, comment };
}
