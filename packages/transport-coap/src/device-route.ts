import type { IncomingMessage } from 'coap';

/** Resources after `/api/v1/{token}/` (ThingsBoard's CoAP device API). */
export const Feature = {
  TELEMETRY: 'telemetry',
  ATTRIBUTES: 'attributes',
  RPC: 'rpc',
  /** POST: the device may be claimed (`{"secretKey":..,"durationMs":..}`, both optional). */
  CLAIM: 'claim',
} as const;
export type Feature = (typeof Feature)[keyof typeof Feature];

export type DeviceRoute =
  | { readonly kind: 'ok'; readonly token: string; readonly feature: Feature; readonly id: string | undefined }
  /** `POST /api/v1/provision`: no token. */
  | { readonly kind: 'provision' }
  /** 4.00: the path stops before the resource (ThingsBoard: "missing feature type"). */
  | { readonly kind: 'bad-request'; readonly message: string }
  /** 4.04 */
  | { readonly kind: 'not-found'; readonly message: string };

/** Parts of ThingsBoard's CoAP API not served (4.04 saying so rather than "unknown path"). */
const UNSUPPORTED: Record<string, string> = {
  firmware: 'OTA updates',
  software: 'OTA updates',
};

function optionText(v: unknown): string {
  if (typeof v === 'string') return v;
  if (Buffer.isBuffer(v)) return v.toString('utf8');
  return String(v);
}

/**
 * The Uri-Path segments of a request, decoded. CoAP carries each segment in its own option,
 * already unescaped, so a token needs no percent-decoding (and may contain any character).
 */
export function uriPath(req: IncomingMessage): string[] {
  const out: string[] = [];
  for (const o of req._packet.options ?? []) if (o.name === 'Uri-Path') out.push(optionText(o.value));
  return out;
}

/** The Uri-Query options as name -> value (each option is one `name=value`). */
export function uriQuery(req: IncomingMessage): Map<string, string> {
  const out = new Map<string, string>();
  for (const o of req._packet.options ?? []) {
    if (o.name !== 'Uri-Query') continue;
    const text = optionText(o.value);
    const eq = text.indexOf('=');
    if (eq === -1) out.set(text, '');
    else out.set(text.slice(0, eq), text.slice(eq + 1));
  }
  return out;
}

/** `api/v1/{token}/{feature}[/{id}]` */
export function parseDeviceRoute(path: ReadonlyArray<string>): DeviceRoute {
  if (path[0] !== 'api' || path[1] !== 'v1') {
    return { kind: 'not-found', message: `Unknown resource /${path.join('/')}: the device API is under /api/v1/{token}/` };
  }
  const token = path[2];
  const feature = path[3];
  if (token === 'provision' && path.length === 3) return { kind: 'provision' };
  if (token === undefined || token === '') return { kind: 'bad-request', message: 'Missing device access token: use /api/v1/{token}/{resource}' };
  if (feature === undefined || feature === '') return { kind: 'bad-request', message: 'Missing resource: use /api/v1/{token}/telemetry, attributes or rpc' };
  const unsupported = UNSUPPORTED[feature];
  if (unsupported !== undefined) return { kind: 'not-found', message: `${unsupported} over CoAP is not supported yet` };
  if (feature !== Feature.TELEMETRY && feature !== Feature.ATTRIBUTES && feature !== Feature.RPC && feature !== Feature.CLAIM) {
    return { kind: 'not-found', message: `Unknown resource /api/v1/{token}/${feature}` };
  }
  const id = path[4];
  if (path.length > 5 || (id !== undefined && feature !== Feature.RPC)) {
    return { kind: 'not-found', message: `Unknown resource /api/v1/{token}/${path.slice(3).join('/')}` };
  }
  return { kind: 'ok', token, feature, id };
}
