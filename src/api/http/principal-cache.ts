import type { Principal } from '../../core/tenancy/tenancy.js';

/**
 * A short-lived, bounded cache of authenticated principals by token, so a busy client costs one key lookup every few
 * seconds instead of one per request. Only successful lookups are cached; a revoked key keeps working for at most
 * `ttlMs` on this replica — the price of not querying the database on every request.
 */
export class PrincipalCache {
  private readonly entries = new Map<string, { principal: Principal; expiresAt: number }>();

  constructor(
    private readonly ttlMs = 5_000,
    private readonly maxEntries = 10_000,
  ) {}

  get(token: string, now: number): Principal | null {
    const entry = this.entries.get(token);
    if (!entry) return null;
    if (entry.expiresAt <= now) {
      this.entries.delete(token);
      return null;
    }
    return entry.principal;
  }

  set(token: string, principal: Principal, now: number): void {
    if (this.ttlMs <= 0) return;
    // Maps iterate in insertion order: dropping the first entry evicts the oldest.
    if (this.entries.size >= this.maxEntries) {
      const oldest = this.entries.keys().next();
      if (!oldest.done) this.entries.delete(oldest.value);
    }
    this.entries.set(token, { principal, expiresAt: now + this.ttlMs });
  }
}

/** The token of an `Authorization: Bearer <token>` header; undefined for any other scheme or shape. */
export function bearerToken(header: string | undefined): string | undefined {
  if (!header) return undefined;
  const match = /^Bearer[ \t]+([\x21-\x7e]+)[ \t]*$/i.exec(header);
  return match?.[1];
}
