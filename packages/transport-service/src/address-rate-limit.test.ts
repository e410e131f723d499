import { describe, expect, it } from 'vitest';
import { addressKey, createAddressRateLimit } from './address-rate-limit';

describe('address rate limit', () => {
  it('admits a burst of `requests`, then one per period/requests', () => {
    const l = createAddressRateLimit({ requests: 3, periodMs: 3000 });
    expect([l.take('10.0.0.1', 0), l.take('10.0.0.1', 0), l.take('10.0.0.1', 0)]).toEqual([0, 0, 0]);
    expect(l.take('10.0.0.1', 0)).toBe(1000);
    // another address has its own budget
    expect(l.take('10.0.0.2', 0)).toBe(0);
    expect(l.take('10.0.0.1', 999)).toBe(1);
    expect(l.take('10.0.0.1', 1000)).toBe(0);
    expect(l.take('10.0.0.1', 1000)).toBe(1000);
  });

  it('refused requests reserve nothing: hammering does not push the next slot further', () => {
    const l = createAddressRateLimit({ requests: 1, periodMs: 1000 });
    expect(l.take('a', 0)).toBe(0);
    for (let i = 0; i < 100; i++) expect(l.take('a', 10)).toBe(990);
    expect(l.take('a', 1000)).toBe(0);
  });

  it('counts IPv6 per /64 and IPv4-mapped addresses as IPv4', () => {
    expect(addressKey('2001:db8:1:2:aaaa::1')).toBe('2001:db8:1:2::/64');
    expect(addressKey('2001:0db8:0001:0002:ffff:1:2:3')).toBe('2001:db8:1:2::/64');
    expect(addressKey('::1')).toBe('0:0:0:0::/64');
    expect(addressKey('fe80::1%eth0')).toBe('fe80:0:0:0::/64');
    expect(addressKey('::ffff:192.0.2.7')).toBe('192.0.2.7');
    const l = createAddressRateLimit({ requests: 1, periodMs: 1000 });
    expect(l.take('2001:db8:1:2::1', 0)).toBe(0);
    expect(l.take('2001:db8:1:2::2', 0)).toBeGreaterThan(0);
    expect(l.take('2001:db8:1:3::1', 0)).toBe(0);
  });

  it('forgets the least recently seen address past maxKeys', () => {
    const l = createAddressRateLimit({ requests: 1, periodMs: 1000, maxKeys: 2 });
    l.take('a', 0);
    l.take('b', 0);
    l.take('c', 0);
    expect(l.tracked).toBe(2);
    expect(l.take('a', 1)).toBe(0);
  });
});
