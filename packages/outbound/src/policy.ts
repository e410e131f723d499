import { lookup as dnsLookup, type LookupAddress, type LookupOptions } from 'node:dns';
import { OutboundDeniedError } from '@rivulet/rule-engine';
import { canonical, formatIp, inCidr, parseCidr, parseIp, type Cidr } from './ip';

/**
 * Ranges no outbound call may reach unless an allow entry says so: the host itself, the networks it
 * sits in, cloud metadata services (169.254.169.254, fd00:ec2::254) and addresses that are not
 * destinations. IPv4-mapped, IPv4-compatible and NAT64 IPv6 spellings are checked as the IPv4
 * address they carry (ip.ts `canonical`), so they need no entries of their own.
 */
export const DEFAULT_DENIED: ReadonlyArray<readonly [string, string]> = [
  ['0.0.0.0/8', 'unspecified ("this network")'],
  ['10.0.0.0/8', 'private'],
  ['100.64.0.0/10', 'carrier-grade NAT'],
  ['127.0.0.0/8', 'loopback'],
  ['169.254.0.0/16', 'link-local (cloud metadata)'],
  ['172.16.0.0/12', 'private'],
  ['192.0.0.0/24', 'IETF protocol assignments'],
  ['192.0.2.0/24', 'documentation'],
  ['192.168.0.0/16', 'private'],
  ['198.18.0.0/15', 'benchmarking'],
  ['198.51.100.0/24', 'documentation'],
  ['203.0.113.0/24', 'documentation'],
  ['224.0.0.0/4', 'multicast'],
  ['240.0.0.0/4', 'reserved'],
  ['255.255.255.255/32', 'broadcast'],
  ['::/128', 'unspecified'],
  ['::1/128', 'loopback'],
  ['100::/64', 'discard'],
  ['2001:db8::/32', 'documentation'],
  ['fc00::/7', 'unique local (private)'],
  ['fe80::/10', 'link-local'],
  ['fec0::/10', 'site-local'],
  ['ff00::/8', 'multicast'],
];

const DEFAULTS: ReadonlyArray<{ cidr: Cidr; label: string }> = DEFAULT_DENIED.map(([text, label]) => ({ cidr: parseCidr(text)!, label }));

type Entry = { kind: 'cidr'; cidr: Cidr } | { kind: 'name'; name: string; wildcard: boolean; text: string };

const HOST_NAME = /^(\*\.)?([a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?)(\.[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?)*$/;

const normalizeName = (host: string) => host.trim().toLowerCase().replace(/\.$/, '');

/**
 * One entry of RIVULET_OUTBOUND_ALLOW / _DENY: a CIDR ("10.1.0.0/16", "fd00::/8"), an address
 * ("10.1.2.3", a /32), a host name ("api.example.com") or every name under a domain
 * ("*.example.com"). Null when it is none of these.
 */
export function parseOutboundEntry(text: string): Entry | null {
  const t = text.trim();
  if (t === '') return null;
  if (/^[0-9a-f:.[\]]+(\/\d+)?$/i.test(t) && (t.includes(':') || /^[\d.]+(\/\d+)?$/.test(t))) {
    const cidr = parseCidr(t.replace(/^\[|\](?=\/|$)/g, ''));
    return cidr ? { kind: 'cidr', cidr } : null;
  }
  const name = normalizeName(t);
  if (!HOST_NAME.test(name)) return null;
  const wildcard = name.startsWith('*.');
  return { kind: 'name', name: wildcard ? name.slice(2) : name, wildcard, text: t };
}

export type Verdict = { allowed: true } | { allowed: false; reason: string };

export interface OutboundPolicyOptions {
  /** Entries that are allowed even inside a denied range. */
  allow?: readonly string[];
  /** Entries denied on top of the default ranges. */
  deny?: readonly string[];
}

export interface OutboundPolicy {
  /**
   * Whether a connection to `address` (a literal IP) may be made, `host` being the name it was
   * resolved from. The most specific matching entry decides: a host name before any address range,
   * an exact name before a wildcard, a longer prefix before a shorter one, deny on a tie. When no
   * entry matches, the default ranges are denied and everything else is allowed.
   */
  verdict(address: string, host?: string): Verdict;
  /** Without DNS: the verdict for a literal address or a name a list entry names; null otherwise. */
  precheck(host: string): Verdict | null;
  /** Throws OutboundDeniedError when verdict() denies. */
  assertAllowed(address: string, host?: string): void;
  /**
   * The allowed addresses of a host (a literal, or a name through the system resolver, as a
   * connection would resolve it). Rejects with OutboundDeniedError when none is allowed.
   */
  resolve(host: string, family?: 0 | 4 | 6): Promise<LookupAddress[]>;
  /** dns.lookup's shape, for net.connect / tls.connect: yields allowed addresses only. */
  lookup(hostname: string, options: LookupOptions, callback: (err: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void): void;
}

/** Throws an Error naming each bad entry. */
export function createOutboundPolicy(options: OutboundPolicyOptions = {}): OutboundPolicy {
  const rules: Array<{ entry: Entry; allow: boolean }> = [];
  const bad: string[] = [];
  for (const [list, allow] of [
    [options.allow ?? [], true],
    [options.deny ?? [], false],
  ] as const) {
    for (const text of list) {
      if (text.trim() === '') continue;
      const entry = parseOutboundEntry(text);
      if (entry) rules.push({ entry, allow });
      else bad.push(text);
    }
  }
  if (bad.length) throw new Error(`not a CIDR, address or host name: ${bad.map((b) => JSON.stringify(b)).join(', ')}`);

  /** Higher is more specific; -1: no match. */
  function nameScore(entry: Entry, host: string): number {
    if (entry.kind !== 'name') return -1;
    if (!entry.wildcard) return entry.name === host ? 10_000 : -1;
    return host.endsWith(`.${entry.name}`) ? entry.name.length : -1;
  }

  function decide(score: (e: Entry) => number): { allow: boolean; text: string } | null {
    let best: { allow: boolean; text: string; score: number } | null = null;
    for (const r of rules) {
      const s = score(r.entry);
      if (s < 0) continue;
      if (!best || s > best.score || (s === best.score && !r.allow)) {
        best = { allow: r.allow, text: r.entry.kind === 'cidr' ? r.entry.cidr.text : r.entry.text, score: s };
      }
    }
    return best;
  }

  function verdict(address: string, host?: string): Verdict {
    if (host !== undefined && parseIp(host) === null) {
      const name = normalizeName(host);
      const byName = decide((e) => nameScore(e, name));
      if (byName) return byName.allow ? { allowed: true } : { allowed: false, reason: `host name matches deny entry ${byName.text}` };
    }
    const parsed = parseIp(address);
    if (!parsed) return { allowed: false, reason: `${address} is not an IP address` };
    const ip = canonical(parsed);
    const byRange = decide((e) => (e.kind === 'cidr' && inCidr(ip, e.cidr) ? e.cidr.prefix : -1));
    if (byRange) return byRange.allow ? { allowed: true } : { allowed: false, reason: `matches deny entry ${byRange.text}` };
    const def = DEFAULTS.find((d) => inCidr(ip, d.cidr));
    if (def) return { allowed: false, reason: `${formatIp(ip)} is ${def.label} (${def.cidr.text}), denied by default` };
    return { allowed: true };
  }

  function assertAllowed(address: string, host?: string): void {
    const v = verdict(address, host);
    if (!v.allowed) throw new OutboundDeniedError({ host: host ?? address, address: stripBrackets(address), reason: v.reason });
  }

  async function resolve(host: string, family: 0 | 4 | 6 = 0): Promise<LookupAddress[]> {
    const h = stripBrackets(host);
    const literal = parseIp(h);
    if (literal) {
      assertAllowed(h, h);
      return [{ address: h, family: literal.length === 4 ? 4 : 6 }];
    }
    if (h === '') throw new OutboundDeniedError({ host, address: '(empty host)', reason: 'no host given' });
    const found = await new Promise<LookupAddress[]>((res, rej) => dnsLookup(h, { all: true, family, verbatim: true }, (err, addrs) => (err ? rej(err) : res(addrs))));
    // Only allowed addresses are handed to the connection: a name that also resolves to an internal
    // address (DNS rebinding, split answers) cannot reach it.
    const allowed = found.filter((a) => verdict(a.address, h).allowed);
    if (allowed.length === 0) {
      const first = found[0];
      const v = first ? verdict(first.address, h) : { allowed: false as const, reason: 'no address' };
      throw new OutboundDeniedError({ host: h, address: first?.address ?? h, reason: v.allowed ? 'no address' : v.reason });
    }
    return allowed;
  }

  function precheck(host: string): Verdict | null {
    const h = stripBrackets(host);
    if (parseIp(h)) return verdict(h, h);
    const byName = decide((e) => nameScore(e, normalizeName(h)));
    if (!byName) return null;
    return byName.allow ? { allowed: true } : { allowed: false, reason: `host name matches deny entry ${byName.text}` };
  }

  return {
    verdict,
    precheck,
    assertAllowed,
    resolve,
    lookup(hostname, options, callback) {
      const family = options.family === 4 || options.family === 6 ? options.family : 0;
      resolve(hostname, family).then(
        (addrs) => (options.all ? callback(null, addrs) : callback(null, addrs[0]!.address, addrs[0]!.family)),
        (err: NodeJS.ErrnoException) => callback(err, ''),
      );
    },
  };
}

export function stripBrackets(host: string): string {
  return host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
}
