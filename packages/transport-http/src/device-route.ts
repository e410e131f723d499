/** The prefix ThingsBoard's HTTP device API lives under: `/api/v1/{token}/{resource}`. */
export const API_PREFIX = '/api/v1/';

/** Resources this transport serves (after `/api/v1/{token}/`). */
export const Resource = {
  TELEMETRY: 'telemetry',
  ATTRIBUTES: 'attributes',
  /** Long poll for shared attribute updates. */
  ATTRIBUTE_UPDATES: 'attributes/updates',
  /** GET: long poll for a command; POST: client-side RPC; POST rpc/{id}: reply to a command. */
  RPC: 'rpc',
  /** POST: the device may be claimed (`{"secretKey":..,"durationMs":..}`, both optional). */
  CLAIM: 'claim',
} as const;

/** `POST /api/v1/provision` has no token: "provision" lands where the token goes. */
export const PROVISION = 'provision';

export interface DeviceRoute {
  /** The access token, URL-decoded; null when its percent-encoding is invalid. */
  readonly token: string | null;
  /** What follows the token, e.g. "telemetry", "rpc/5"; "" when nothing does. */
  readonly resource: string;
  /** The query string without "?", "" when absent. */
  readonly query: string;
}

/**
 * Splits a request target under API_PREFIX by hand: `new URL()` costs more than the rest of a
 * small telemetry post.
 */
export function parseDeviceRoute(url: string): DeviceRoute {
  const q = url.indexOf('?', API_PREFIX.length);
  const path = q === -1 ? url.slice(API_PREFIX.length) : url.slice(API_PREFIX.length, q);
  const query = q === -1 ? '' : url.slice(q + 1);
  const slash = path.indexOf('/');
  const rawToken = slash === -1 ? path : path.slice(0, slash);
  const resource = slash === -1 ? '' : path.slice(slash + 1);
  return { token: decodeToken(rawToken), resource, query };
}

function decodeToken(raw: string): string | null {
  if (!raw.includes('%')) return raw;
  try {
    return decodeURIComponent(raw);
  } catch {
    return null;
  }
}

/**
 * Parts of ThingsBoard's HTTP device API not served (404 saying so, rather than "unknown path"). RPC
 * and attribute-update long polls are served when the transport has a broadcast to take them from.
 */
export function unsupportedFeature(route: DeviceRoute): string | undefined {
  const r = route.resource;
  if (r === 'rpc' || r.startsWith('rpc/')) return 'RPC';
  if (r === 'attributes/updates') return 'Shared attribute updates';
  if (r === 'firmware' || r === 'software') return 'OTA updates';
  return undefined;
}
