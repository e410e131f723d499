/**
 * Per-device request rate limit: a token bucket per key (`burst` requests at once, refilled at
 * `perSecond`). The map of buckets is bounded: beyond `maxKeys` the least recently used goes (its
 * device starts again with a full bucket, which only ever errs on the side of the device).
 */
export interface RateLimit {
  /** Sustained requests per second per device. */
  perSecond: number;
  /** Requests a device may send at once; default: one second's worth. */
  burst?: number;
}

export class RateLimiter {
  private readonly buckets = new Map<string, { tokens: number; at: number }>();
  private readonly burst: number;

  constructor(
    private readonly limit: RateLimit,
    private readonly maxKeys = 100_000,
  ) {
    if (!(limit.perSecond > 0)) throw new RangeError('perSecond must be positive');
    this.burst = Math.max(1, limit.burst ?? Math.ceil(limit.perSecond));
  }

  /** 0 when the request may go, else how many ms until it would. */
  take(key: string, now: number): number {
    let b = this.buckets.get(key);
    if (b === undefined) {
      if (this.buckets.size >= this.maxKeys) this.buckets.delete(this.buckets.keys().next().value as string);
      b = { tokens: this.burst, at: now };
    } else {
      // re-inserted at the end: the map's order is least recently used first
      this.buckets.delete(key);
      b.tokens = Math.min(this.burst, b.tokens + ((now - b.at) / 1000) * this.limit.perSecond);
      b.at = now;
    }
    this.buckets.set(key, b);
    if (b.tokens >= 1) {
      b.tokens -= 1;
      return 0;
    }
    return Math.ceil(((1 - b.tokens) / this.limit.perSecond) * 1000);
  }

  get size(): number {
    return this.buckets.size;
  }
}
