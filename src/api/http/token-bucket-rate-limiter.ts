/** How fast each principal may call, and how large a burst it may send at once. */
export interface RateLimitOptions {
  ratePerSecond: number;
  burst: number;
}

/** Generous enough that a benchmark is never throttled; operators and tests set their own. */
export const DEFAULT_RATE_LIMIT: RateLimitOptions = { ratePerSecond: 2_000, burst: 4_000 };

export type RateDecision = { allowed: true } | { allowed: false; retryAfterSeconds: number };

interface Bucket {
  tokens: number;
  updatedAt: number;
}

/**
 * A token bucket per key (a principal, or a client address before authentication), in memory per process: with N
 * replicas a client gets up to N times the rate, which is fine for protecting a replica, not for billing.
 */
export class TokenBucketRateLimiter {
  private readonly buckets = new Map<string, Bucket>();
  private lastSweep = 0;

  constructor(
    private readonly options: RateLimitOptions = DEFAULT_RATE_LIMIT,
    private readonly maxKeys = 100_000,
  ) {
    if (!(options.ratePerSecond > 0) || !(options.burst >= 1)) throw new RangeError('rate limit needs ratePerSecond > 0 and burst >= 1');
  }

  /** Takes one token for `key` at `nowMs`, or says how long until one is available. */
  take(key: string, nowMs: number): RateDecision {
    const { ratePerSecond, burst } = this.options;
    let bucket = this.buckets.get(key);
    if (!bucket) {
      if (this.buckets.size >= this.maxKeys) this.sweep(nowMs, true);
      bucket = { tokens: burst, updatedAt: nowMs };
      this.buckets.set(key, bucket);
    } else {
      const elapsed = Math.max(0, nowMs - bucket.updatedAt) / 1000;
      bucket.tokens = Math.min(burst, bucket.tokens + elapsed * ratePerSecond);
      bucket.updatedAt = nowMs;
    }
    if (nowMs - this.lastSweep > 60_000) this.sweep(nowMs, false);
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1;
      return { allowed: true };
    }
    return { allowed: false, retryAfterSeconds: Math.max(1, Math.ceil((1 - bucket.tokens) / ratePerSecond)) };
  }

  /** Forgets buckets that have refilled completely (they behave exactly like new ones); under pressure, all of them. */
  private sweep(nowMs: number, force: boolean): void {
    this.lastSweep = nowMs;
    const fullAfterMs = (this.options.burst / this.options.ratePerSecond) * 1000;
    for (const [key, bucket] of this.buckets) {
      if (force || nowMs - bucket.updatedAt >= fullAfterMs) this.buckets.delete(key);
    }
  }
}
