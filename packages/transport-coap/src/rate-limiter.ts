/**
 * Per-device request rate, as the MQTT transport does it: GCRA (a token bucket kept as one number
 * per device), `perSecond` requests per second with a burst of as many. Over the rate a request is
 * not refused but held: its answer waits (the client gets an empty ACK after piggybackReplyMs and
 * the answer later), so a fast device is slowed down and loses nothing. Only a device so far ahead
 * that it would wait longer than `maxHoldMs` is refused (4.29), which bounds what is held per device.
 * The map is bounded: devices back within their rate are pruned, and beyond `maxKeys` the least
 * recently seen goes (it starts again with a full burst).
 */
export type Reservation = { readonly ok: true; readonly waitMs: number } | { readonly ok: false; readonly retryAfterMs: number };

export class RateLimiter {
  private readonly tat = new Map<string, number>();
  private readonly interval: number;
  private readonly tolerance: number;

  constructor(
    perSecond: number,
    private readonly maxHoldMs: number,
    private readonly maxKeys = 100_000,
  ) {
    if (!(perSecond > 0)) throw new RangeError('perSecond must be positive');
    this.interval = 1000 / perSecond;
    // burst tolerance: `perSecond` requests back to back
    this.tolerance = this.interval * Math.max(0, Math.ceil(perSecond) - 1);
  }

  reserve(key: string, now: number): Reservation {
    const t = Math.max(this.tat.get(key) ?? now, now);
    const waitMs = Math.max(0, t - this.tolerance - now);
    if (waitMs > this.maxHoldMs) return { ok: false, retryAfterMs: waitMs - this.maxHoldMs };
    // re-inserted at the end: the map's order is least recently seen first
    this.tat.delete(key);
    if (this.tat.size >= this.maxKeys) this.tat.delete(this.tat.keys().next().value as string);
    this.tat.set(key, t + this.interval);
    return { ok: true, waitMs };
  }

  /** Forgets devices whose budget is full again. */
  prune(now: number): void {
    for (const [key, t] of this.tat) if (t <= now) this.tat.delete(key);
  }

  get size(): number {
    return this.tat.size;
  }
}
