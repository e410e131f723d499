import { describe, expect, it } from 'vitest';
import { RateLimiter } from './rate-limiter';

describe('RateLimiter (GCRA, as the MQTT transport)', () => {
  it('a burst of perSecond requests goes at once; the next ones are held 1/perSecond apart; per device', () => {
    const r = new RateLimiter(4, 10_000);
    expect([0, 0, 0, 0].map(() => r.reserve('d', 0))).toEqual(Array(4).fill({ ok: true, waitMs: 0 }));
    expect(r.reserve('d', 0)).toEqual({ ok: true, waitMs: 250 });
    expect(r.reserve('d', 0)).toEqual({ ok: true, waitMs: 500 });
    expect(r.reserve('other', 0)).toEqual({ ok: true, waitMs: 0 });
    // a second later four more slots have come, two of them already taken by the held requests
    expect([1, 2, 3].map(() => r.reserve('d', 1000))).toEqual([
      { ok: true, waitMs: 0 },
      { ok: true, waitMs: 0 },
      { ok: true, waitMs: 250 },
    ]);
  });

  it('refuses (without reserving) what would be held longer than maxHoldMs', () => {
    const r = new RateLimiter(1, 1500);
    expect(r.reserve('d', 0)).toEqual({ ok: true, waitMs: 0 });
    expect(r.reserve('d', 0)).toEqual({ ok: true, waitMs: 1000 });
    expect(r.reserve('d', 0)).toEqual({ ok: false, retryAfterMs: 500 });
    expect(r.reserve('d', 500)).toEqual({ ok: true, waitMs: 1500 });
  });

  it('prunes devices back within their rate; holds at most maxKeys', () => {
    const r = new RateLimiter(1, 0, 10);
    for (let i = 0; i < 100; i++) r.reserve(`d${i}`, 0);
    expect(r.size).toBe(10);
    r.prune(999);
    expect(r.size).toBe(10);
    r.prune(1000);
    expect(r.size).toBe(0);
  });
});
