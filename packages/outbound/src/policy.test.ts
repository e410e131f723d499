import { describe, expect, it } from 'vitest';
import { canonical, formatIp, parseIp } from './ip';
import { createOutboundPolicy, parseOutboundEntry } from './policy';

const denied = (p: ReturnType<typeof createOutboundPolicy>, address: string, host?: string) => !p.verdict(address, host).allowed;

describe('outbound policy', () => {
  const p = createOutboundPolicy();

  it('denies loopback, unspecified, link-local (metadata), private, CGNAT, multicast by default; allows public addresses', () => {
    for (const a of ['127.0.0.1', '127.255.255.254', '0.0.0.0', '0.1.2.3', '169.254.169.254', '10.0.0.1', '172.16.0.1', '172.31.255.255', '192.168.1.1', '100.64.0.1', '100.127.255.255', '224.0.0.1', '239.255.255.250', '255.255.255.255', '::1', '::', 'fe80::1', 'fe80::1%eth0', 'fc00::1', 'fd00:ec2::254', 'ff02::1']) {
      expect(denied(p, a), a).toBe(true);
    }
    for (const a of ['8.8.8.8', '1.1.1.1', '172.32.0.1', '100.128.0.1', '192.169.0.1', '2606:4700:4700::1111']) expect(denied(p, a), a).toBe(false);
  });

  it('checks every IPv6 spelling of an IPv4 address as that address (mapped, compatible, NAT64)', () => {
    for (const a of ['::ffff:127.0.0.1', '::ffff:7f00:1', '0:0:0:0:0:ffff:7f00:0001', '::ffff:169.254.169.254', '::ffff:10.0.0.1', '::127.0.0.1', '64:ff9b::7f00:1', '64:ff9b::10.0.0.1']) {
      expect(denied(p, a), a).toBe(true);
    }
    expect(denied(p, '::ffff:8.8.8.8')).toBe(false);
    expect(p.verdict('::ffff:7f00:1')).toEqual({ allowed: false, reason: '127.0.0.1 is loopback (127.0.0.0/8), denied by default' });
    expect(formatIp(canonical(parseIp('[::ffff:127.0.0.1]')!))).toBe('127.0.0.1');
    expect(formatIp(parseIp('2001:db8:0:0:1:0:0:1')!)).toBe('2001:db8::1:0:0:1');
  });

  it('an allow entry overrides the default denies; the most specific entry wins, deny on a tie', () => {
    const q = createOutboundPolicy({ allow: ['127.0.0.2/32', '10.0.0.0/8', '::ffff:192.168.5.0/120'], deny: ['10.0.0.5', '10.9.0.0/16'] });
    expect(denied(q, '127.0.0.2')).toBe(false);
    expect(denied(q, '::ffff:127.0.0.2')).toBe(false);
    expect(denied(q, '127.0.0.1')).toBe(true);
    expect(denied(q, '10.1.2.3')).toBe(false);
    expect(q.verdict('10.0.0.5')).toEqual({ allowed: false, reason: 'matches deny entry 10.0.0.5' });
    expect(denied(q, '10.9.1.1')).toBe(true);
    expect(denied(q, '192.168.5.7')).toBe(false);
    expect(denied(q, '192.168.6.7')).toBe(true);
    expect(denied(createOutboundPolicy({ allow: ['10.0.0.0/8'], deny: ['10.0.0.0/8'] }), '10.1.1.1')).toBe(true);
    // Allowing everything turns the default ranges off; a deny list can then close public ranges.
    const open = createOutboundPolicy({ allow: ['0.0.0.0/0', '::/0'], deny: ['8.8.8.0/24'] });
    expect(denied(open, '127.0.0.1')).toBe(false);
    expect(denied(open, '8.8.8.8')).toBe(true);
  });

  it('host name entries match the name asked for, before any address range', () => {
    const q = createOutboundPolicy({ allow: ['internal.example', '*.corp.example'], deny: ['evil.example', '*.bad.corp.example', '0.0.0.0/0'] });
    expect(denied(q, '10.0.0.7', 'internal.example')).toBe(false);
    expect(denied(q, '10.0.0.7', 'INTERNAL.example.')).toBe(false);
    expect(denied(q, '10.0.0.7', 'api.corp.example')).toBe(false);
    expect(denied(q, '10.0.0.7', 'corp.example')).toBe(true);
    expect(denied(q, '10.0.0.7', 'x.bad.corp.example')).toBe(true);
    expect(denied(q, '8.8.8.8', 'evil.example')).toBe(true);
    expect(denied(q, '8.8.8.8', 'other.example')).toBe(true);
    // A name entry never matches a literal address passed as the host.
    expect(denied(createOutboundPolicy({ allow: ['localhost'] }), '127.0.0.1', '127.0.0.1')).toBe(true);
  });

  it('prechecks without DNS where it can', () => {
    const q = createOutboundPolicy({ allow: ['hooks.example'], deny: ['*.evil.example'] });
    expect(q.precheck('[::ffff:127.0.0.1]')).toEqual({ allowed: false, reason: '127.0.0.1 is loopback (127.0.0.0/8), denied by default' });
    expect(q.precheck('8.8.8.8')).toEqual({ allowed: true });
    expect(q.precheck('hooks.example')).toEqual({ allowed: true });
    expect(q.precheck('a.evil.example')).toEqual({ allowed: false, reason: 'host name matches deny entry *.evil.example' });
    expect(q.precheck('localhost')).toBeNull();
  });

  it('parses entries and refuses what is none', () => {
    expect(parseOutboundEntry('10.0.0.0/8')).toMatchObject({ kind: 'cidr', cidr: { prefix: 8 } });
    expect(parseOutboundEntry('fd00::/8')).toMatchObject({ kind: 'cidr', cidr: { prefix: 8 } });
    expect(parseOutboundEntry('[::1]')).toMatchObject({ kind: 'cidr', cidr: { prefix: 128 } });
    expect(parseOutboundEntry('cafe.de')).toMatchObject({ kind: 'name', name: 'cafe.de' });
    expect(parseOutboundEntry('*.example.com')).toMatchObject({ kind: 'name', name: 'example.com', wildcard: true });
    for (const bad of ['10.0.0.300', '10.0.0.0/33', 'fd00::/129', 'a..b', 'http://x', '*', 'ex ample.com']) expect(parseOutboundEntry(bad), bad).toBeNull();
    expect(() => createOutboundPolicy({ allow: ['10.0.0.0/8', 'nope/'] })).toThrow(/not a CIDR, address or host name: "nope\/"/);
  });

  it('resolves names through the system resolver and keeps only allowed addresses', async () => {
    await expect(p.resolve('localhost')).rejects.toThrow(/^outbound call to localhost \((127\.0\.0\.1|::1)\) denied by RIVULET_OUTBOUND_\* policy/);
    // localhost is 127.0.0.1 and ::1 here: with only 127.0.0.1 allowed, ::1 is never handed out.
    const q = createOutboundPolicy({ allow: ['127.0.0.1/32'] });
    expect((await q.resolve('localhost')).map((a) => a.address)).toEqual(['127.0.0.1']);
    await expect(p.resolve('[::ffff:127.0.0.1]')).rejects.toThrow(/outbound call to ::ffff:127\.0\.0\.1 denied/);
  });
});
