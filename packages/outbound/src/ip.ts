import { isIPv4, isIPv6 } from 'node:net';

/** An address as bytes: 4 for IPv4, 16 for IPv6. */
export type IpBytes = Uint8Array;

function v4Bytes(s: string): IpBytes {
  return Uint8Array.from(s.split('.').map((p) => Number(p)));
}

function v6Bytes(s: string): IpBytes | null {
  let text = s.split('%')[0]!; // zone index (fe80::1%eth0) is not part of the address
  const out = new Uint8Array(16);
  // A trailing dotted quad (::ffff:1.2.3.4) is the last 32 bits.
  let tail: IpBytes | null = null;
  const lastColon = text.lastIndexOf(':');
  if (text.slice(lastColon + 1).includes('.')) {
    const quad = text.slice(lastColon + 1);
    if (!isIPv4(quad)) return null;
    tail = v4Bytes(quad);
    text = `${text.slice(0, lastColon + 1)}0:0`;
  }
  const halves = text.split('::');
  if (halves.length > 2) return null;
  const head = halves[0] ? halves[0].split(':') : [];
  const rest = halves.length === 2 && halves[1] ? halves[1].split(':') : [];
  const groups = halves.length === 2 ? [...head, ...Array<string>(8 - head.length - rest.length).fill('0'), ...rest] : head;
  if (groups.length !== 8) return null;
  for (let i = 0; i < 8; i++) {
    const v = Number.parseInt(groups[i]!, 16);
    if (!/^[0-9a-f]{1,4}$/i.test(groups[i]!) || Number.isNaN(v)) return null;
    out[i * 2] = v >> 8;
    out[i * 2 + 1] = v & 0xff;
  }
  if (tail) out.set(tail, 12);
  return out;
}

/** Bytes of a literal IPv4 or IPv6 address (brackets allowed), or null when it is not one. */
export function parseIp(address: string): IpBytes | null {
  const s = address.startsWith('[') && address.endsWith(']') ? address.slice(1, -1) : address;
  if (isIPv4(s)) return v4Bytes(s);
  if (isIPv6(s)) return v6Bytes(s);
  return null;
}

const isZero = (b: IpBytes, from: number, to: number) => b.subarray(from, to).every((x) => x === 0);

/**
 * The IPv4 address an IPv6 address stands for, when it embeds one that the kernel or a NAT64 gateway
 * would reach: IPv4-mapped ::ffff:a.b.c.d, IPv4-compatible ::a.b.c.d (deprecated), NAT64 64:ff9b::/96.
 * Everything else comes back unchanged, so rules on IPv4 ranges apply to every spelling.
 */
export function canonical(b: IpBytes): IpBytes {
  if (b.length !== 16) return b;
  const mapped = isZero(b, 0, 10) && b[10] === 0xff && b[11] === 0xff;
  // ::a.b.c.d, but not :: and ::1 (those are IPv6's own unspecified and loopback addresses).
  const compatible = isZero(b, 0, 12) && !(isZero(b, 12, 15) && (b[15] === 0 || b[15] === 1));
  const nat64 = b[0] === 0x00 && b[1] === 0x64 && b[2] === 0xff && b[3] === 0x9b && isZero(b, 4, 12);
  return mapped || compatible || nat64 ? b.slice(12) : b;
}

/** Text form: dotted quad, or IPv6 in its compressed form. */
export function formatIp(b: IpBytes): string {
  if (b.length === 4) return [...b].join('.');
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(((b[i]! << 8) | b[i + 1]!).toString(16));
  // Longest run of zero groups becomes '::'.
  let best = -1;
  let bestLen = 0;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== '0') {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === '0') j++;
    if (j - i > bestLen && j - i > 1) {
      best = i;
      bestLen = j - i;
    }
    i = j;
  }
  if (best < 0) return groups.join(':');
  return `${groups.slice(0, best).join(':')}::${groups.slice(best + bestLen).join(':')}`;
}

export interface Cidr {
  readonly bytes: IpBytes;
  readonly prefix: number;
  /** As written in the configuration, for messages. */
  readonly text: string;
}

/** "10.0.0.0/8", "fe80::/10", or a bare address (a /32 or /128); null when it is neither. */
export function parseCidr(text: string): Cidr | null {
  const slash = text.indexOf('/');
  const addr = slash < 0 ? text : text.slice(0, slash);
  const parsed = parseIp(addr);
  if (!parsed) return null;
  const bytes = canonical(parsed);
  const max = parsed.length * 8;
  let prefix = max;
  if (slash >= 0) {
    const p = text.slice(slash + 1);
    if (!/^\d{1,3}$/.test(p) || Number(p) > max) return null;
    prefix = Number(p);
  }
  // An IPv4-mapped range (::ffff:10.0.0.0/104) is the IPv4 range it maps.
  if (bytes.length === 4 && parsed.length === 16) prefix = Math.max(0, prefix - 96);
  return { bytes, prefix, text };
}

export function inCidr(address: IpBytes, cidr: Cidr): boolean {
  if (address.length !== cidr.bytes.length) return false;
  let bits = cidr.prefix;
  for (let i = 0; bits > 0; i++, bits -= 8) {
    const mask = bits >= 8 ? 0xff : (0xff << (8 - bits)) & 0xff;
    if ((address[i]! & mask) !== (cidr.bytes[i]! & mask)) return false;
  }
  return true;
}
