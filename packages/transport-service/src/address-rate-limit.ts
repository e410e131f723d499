/**
 * Requests per source address (provisioning: the request carries its own credentials, the
 * provision key and secret, so nothing else stops a client from trying secrets as fast as it can).
 * GCRA like the device limiter (core/device-rate-limit.ts): `requests` per `periodMs` with a burst
 * of as many. IPv6 addresses count per /64, the block one subscriber gets, so rotating through the
 * addresses of one's own block buys nothing.
 */
export interface AddressRateLimit {
  /** Takes one request of `address` at `now`: 0 when admitted, else the ms until the next one is. */
  take(address: string, now: number): number;
  /** Addresses with a budget not yet full again. */
  readonly tracked: number;
}

export function createAddressRateLimit(o: { requests: number; periodMs: number; maxKeys?: number }): AddressRateLimit {
  const interval = o.periodMs / o.requests;
  const tolerance = interval * Math.max(0, Math.ceil(o.requests) - 1);
  const maxKeys = o.maxKeys ?? 100_000;
  /** Theoretical arrival time per address key, least recently used first. */
  const tat = new Map<string, number>();
  let lastPrune = 0;
  return {
    take(address, now) {
      if (now - lastPrune >= 10_000) {
        lastPrune = now;
        for (const [k, t] of tat) if (t <= now) tat.delete(k);
      }
      const key = addressKey(address);
      const t = Math.max(tat.get(key) ?? now, now);
      const at = t - tolerance;
      if (at > now) return Math.ceil(at - now);
      tat.delete(key);
      if (tat.size >= maxKeys) tat.delete(tat.keys().next().value as string);
      tat.set(key, t + interval);
      return 0;
    },
    get tracked() {
      return tat.size;
    },
  };
}

/** The key an address is counted under: IPv4 (also IPv4-mapped IPv6) as it is, IPv6 by its /64. */
export function addressKey(address: string): string {
  if (!address.includes(':')) return address;
  const lower = address.toLowerCase();
  if (lower.startsWith('::ffff:') && lower.includes('.')) return lower.slice(7);
  const zone = lower.indexOf('%');
  const a = zone === -1 ? lower : lower.slice(0, zone);
  const [head = '', tail] = a.split('::', 2);
  const headParts = head === '' ? [] : head.split(':');
  const tailParts = tail === undefined || tail === '' ? [] : tail.split(':');
  const groups = tail === undefined ? headParts : [...headParts, ...Array<string>(Math.max(0, 8 - headParts.length - tailParts.length)).fill('0'), ...tailParts];
  return `${groups
    .slice(0, 4)
    .map((g) => g.replace(/^0+(?=.)/, ''))
    .join(':')}::/64`;
}
