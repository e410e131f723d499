import type { IncomingMessage } from 'node:http';
import { BlockList, isIP } from 'node:net';

/** Who is calling, by network address: the socket's peer, or a client named by a trusted proxy. */
export type ClientAddressResolver = (req: IncomingMessage) => string;

/** An IPv4 client seen on a dual-stack socket as ::ffff:a.b.c.d is a.b.c.d. */
function normalize(address: string): string {
  const a = address.trim();
  return a.toLowerCase().startsWith('::ffff:') && isIP(a.slice(7)) === 4 ? a.slice(7) : a;
}

/**
 * `trustedProxies`: addresses or CIDR ranges ("10.0.0.0/8", "::1") of reverse proxies whose
 * X-Forwarded-For is believed. From any other peer the header is ignored, since anybody can send it.
 * Behind trusted proxies, the client is the right-most X-Forwarded-For entry that is not itself a
 * trusted proxy (entries further left were written by the client and prove nothing).
 */
export function createClientAddressResolver(trustedProxies: readonly string[] = []): ClientAddressResolver {
  const trusted = new BlockList();
  let any = false;
  for (const raw of trustedProxies) {
    const entry = raw.trim();
    if (entry === '') continue;
    const [addr = '', bits] = entry.split('/');
    const family = isIP(addr);
    if (family === 0 || (bits !== undefined && !/^\d+$/.test(bits))) throw new Error(`Not an IP address or CIDR range: "${entry}"`);
    const type = family === 4 ? 'ipv4' : 'ipv6';
    if (bits === undefined) trusted.addAddress(addr, type);
    else trusted.addSubnet(addr, Number(bits), type);
    any = true;
  }
  const isTrusted = (a: string): boolean => {
    const family = isIP(a);
    return family !== 0 && trusted.check(a, family === 4 ? 'ipv4' : 'ipv6');
  };

  return (req) => {
    const peer = normalize(req.socket.remoteAddress ?? 'unknown');
    if (!any || !isTrusted(peer)) return peer;
    const header = req.headers['x-forwarded-for'];
    const hops = (Array.isArray(header) ? header.join(',') : (header ?? '')).split(',').map(normalize).filter((h) => h !== '');
    for (let i = hops.length - 1; i >= 0; i--) {
      const hop = hops[i] as string;
      if (isIP(hop) === 0) return peer; // a malformed entry: fall back to what the socket proves
      if (!isTrusted(hop)) return hop;
    }
    return hops[0] ?? peer;
  };
}
