import type { IncomingMessage } from 'node:http';
import { describe, expect, it } from 'vitest';
import { createClientAddressResolver } from './client-address';
import { createLoginThrottle } from './login-throttle';

/** Pure logic on a clock the test moves; the HTTP behaviour is in auth-lockout.test.ts. */
describe('createLoginThrottle', () => {
  function clock() {
    let t = 1_000_000;
    return { now: () => t, advance: (ms: number) => void (t += ms) };
  }

  it('locks an account on the Nth failure in a row and unlocks it after the lockout', () => {
    const c = clock();
    const th = createLoginThrottle({ maxFailures: 3, lockoutSeconds: 60, addressMaxFailures: 100 }, c.now);
    expect(th.admit('a', 'u').failed()).toBe('counted');
    expect(th.admit('b', 'u').failed()).toBe('counted');
    expect(th.admit('c', 'u').failed()).toBe('account_locked');
    expect(() => th.admit('d', 'u')).toThrow(/locked due to security policy/);
    c.advance(60_001);
    const a = th.admit('d', 'u');
    a.succeeded();
    // The count started again: two more failures do not lock.
    th.admit('d', 'u').failed();
    expect(th.admit('d', 'u').failed()).toBe('counted');
  });

  it('forgets failures older than the lockout period, and a success resets the account count', () => {
    const c = clock();
    const th = createLoginThrottle({ maxFailures: 2, lockoutSeconds: 10, addressMaxFailures: 100 }, c.now);
    th.admit('a', 'u').failed();
    c.advance(10_001);
    expect(th.admit('a', 'u').failed()).toBe('counted');
    th.admit('a', 'u').succeeded();
    expect(th.admit('a', 'u').failed()).toBe('counted');
  });

  it('throttles an address with 429 after its failures, whatever the accounts', () => {
    const c = clock();
    const th = createLoginThrottle({ maxFailures: 100, lockoutSeconds: 30, addressMaxFailures: 3 }, c.now);
    th.admit('x', 'u1').failed();
    th.admit('x', 'u2').failed();
    expect(th.admit('x', 'u3').failed()).toBe('address_locked');
    let err: unknown;
    try {
      th.admit('x', 'u4');
    } catch (e) {
      err = e;
    }
    expect(err).toMatchObject({ status: 429, errorCode: 33, message: 'Too many failed login attempts from this address: try again in 30 s' });
    expect(() => th.admit('y', 'u4')).not.toThrow();
  });

  it('bounds attempts in flight per address and per account, and frees them when they end', () => {
    const th = createLoginThrottle({ maxFailures: 2, lockoutSeconds: 30, addressMaxFailures: 100, maxPendingPerAddress: 2 });
    const a1 = th.admit('x', 'u1');
    const a2 = th.admit('x', 'u2');
    expect(() => th.admit('x', 'u3')).toThrow(/at once/);
    a1.abandon();
    expect(() => th.admit('x', 'u3').abandon()).not.toThrow();
    // Two attempts in flight on an account that may fail twice: a third would slip past the lock.
    const b1 = th.admit('p', 'acct');
    const b2 = th.admit('q', 'acct');
    expect(() => th.admit('r', 'acct')).toThrow(/for this account at once/);
    b1.abandon();
    b2.abandon();
    a2.abandon();
    expect(() => a2.abandon()).toThrow(/already ended/);
  });

  it('runs at most maxConcurrentHashes at once, failing addresses after the others', async () => {
    const th = createLoginThrottle({ maxConcurrentHashes: 1, addressMaxFailures: 100, maxFailures: 100 });
    th.admit('bad', 'x').failed();
    const order: string[] = [];
    let release: () => void = () => undefined;
    const first = th.hash(() => new Promise<void>((r) => (release = r)));
    const fromBad = th.admit('bad', 'y');
    const fromGood = th.admit('good', 'z');
    const p1 = fromBad.hash(async () => void order.push('bad'));
    const p2 = fromGood.hash(async () => void order.push('good'));
    await new Promise((r) => setTimeout(r, 10));
    expect(order).toEqual([]);
    release();
    await Promise.all([first, p1, p2]);
    expect(order).toEqual(['good', 'bad']);
  });
});

describe('createClientAddressResolver', () => {
  const req = (remoteAddress: string, xff?: string) => ({ socket: { remoteAddress }, headers: xff === undefined ? {} : { 'x-forwarded-for': xff } }) as unknown as IncomingMessage;

  it('uses the socket address and ignores X-Forwarded-For without trusted proxies', () => {
    const r = createClientAddressResolver();
    expect(r(req('127.0.0.5', '1.2.3.4'))).toBe('127.0.0.5');
    expect(r(req('::ffff:10.1.2.3'))).toBe('10.1.2.3');
  });

  it('believes X-Forwarded-For from trusted proxies only, taking the right-most untrusted hop', () => {
    const r = createClientAddressResolver(['10.0.0.0/8', '::1']);
    expect(r(req('10.0.0.2', '203.0.113.9'))).toBe('203.0.113.9');
    // The client wrote the left entry itself; the proxy chain appended the real one.
    expect(r(req('10.0.0.2', '6.6.6.6, 203.0.113.9, 10.0.0.7'))).toBe('203.0.113.9');
    expect(r(req('::1', '203.0.113.10'))).toBe('203.0.113.10');
    expect(r(req('192.0.2.1', '203.0.113.9'))).toBe('192.0.2.1');
    expect(r(req('10.0.0.2', 'garbage'))).toBe('10.0.0.2');
    expect(r(req('10.0.0.2'))).toBe('10.0.0.2');
  });

  it('refuses a malformed trusted proxy entry', () => {
    expect(() => createClientAddressResolver(['not-an-ip'])).toThrow(/Not an IP address/);
  });
});

describe('createLoginThrottle memory', () => {
  it('forgets expired entries when many accounts have been tried', () => {
    let t = 0;
    const th = createLoginThrottle({ maxFailures: 5, lockoutSeconds: 1, addressMaxFailures: 1_000_000, maxPendingPerAddress: 1_000_000 }, () => t);
    for (let i = 0; i < 25_000; i++) {
      th.admit(`10.0.${i % 250}.1`, `user${i}@x`).failed();
      t += 1;
    }
    // 25,000 accounts tried, one a millisecond: entries older than the 1 s lockout were swept on the way.
    expect(th.tracked().accounts).toBeLessThanOrEqual(10_000);
    expect(th.tracked().addresses).toBe(250);
  });
});
