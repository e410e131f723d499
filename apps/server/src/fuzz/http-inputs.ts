/**
 * HTTP inputs for the fuzzer: well-formed requests with random methods, paths (the device API under
 * /api/v1/{token}/..., every REST route of the server's own OpenAPI document with its parameters
 * filled in at random), headers and bodies, sent with fetch; and malformed requests written raw to
 * a TCP socket (request lines, headers, content-length that lies, chunked garbage, invalid UTF-8).
 */
import { deepJson, mutateBytes, randomJson, type Rng } from '@rivulet/testing';

const METHODS = ['GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'HEAD', 'OPTIONS'];
const DEVICE_RESOURCES = ['telemetry', 'attributes', 'rpc', 'rpc/1', 'rpc/abc', 'claim', 'provision', 'attributes/updates', 'firmware', '', '..', 'telemetry/x'];
/** Routes that would end the fuzzer's own login or its password: left out, they test nothing but the fuzzer. */
const SKIPPED_PATHS = new Set(['/api/auth/logout', '/api/auth/changePassword']);

export interface FuzzTargets {
  token: string;
  deviceId: string;
  jwt: string;
  /** REST routes from GET /api/openapi.json: method and path template, e.g. ['GET', '/api/device/{deviceId}']. */
  restRoutes: Array<[string, string]>;
}

export interface HttpCase {
  method: string;
  path: string;
  headers: Record<string, string>;
  body: Buffer | undefined;
  /** What the case is, for the tolerated outcomes (see http.fuzz.test.ts). */
  kind: 'device' | 'rest' | 'random';
  deepJson: boolean;
}

function segment(rng: Rng, t: FuzzTargets): string {
  return rng.pick([t.deviceId, globalThis.crypto.randomUUID(), rng.string(rng.int(1, 20), 'abcdef0123456789-'), '%00', '%ff%fe', '..', encodeURIComponent(rng.string(rng.length(60))), 'SHARED_SCOPE', 'SERVER_SCOPE', String(rng.int(-5, 1e6)), 'x'.repeat(3000)]);
}

function path(rng: Rng, t: FuzzTargets): { path: string; kind: HttpCase['kind']; method?: string } {
  const r = rng.int(0, 9);
  if (r <= 3) {
    const token = rng.chance(0.8) ? t.token : segment(rng, t);
    const query = rng.chance(0.3) ? `?timeout=${rng.pick(['1', '5', '0', '-1', 'abc', '99999999999999999999'])}` : rng.chance(0.1) ? `?${encodeURIComponent(rng.string(rng.length(40)))}` : '';
    return { path: `/api/v1/${token}/${rng.pick(DEVICE_RESOURCES)}${query}`, kind: 'device' };
  }
  if (r <= 8 && t.restRoutes.length > 0) {
    const [method, template] = rng.pick(t.restRoutes);
    const p = template.replace(/\{[^}]+\}/g, () => segment(rng, t));
    const query = rng.chance(0.4) ? `?${['keys', 'limit', 'page', 'pageSize', 'startTs', 'endTs', 'textSearch', 'sortProperty', 'sortOrder', 'interval', 'agg', 'scope'].filter(() => rng.chance(0.3)).map((k) => `${k}=${encodeURIComponent(rng.pick([String(rng.int(-10, 1e15)), rng.string(rng.length(20)), '', '1e999', 'NaN']))}`).join('&')}` : '';
    // mostly the route's own method, so requests reach its handler
    return { path: p + query, kind: 'rest', ...(rng.chance(0.8) ? { method } : {}) };
  }
  return { path: `/api/${Array.from({ length: rng.int(0, 5) }, () => segment(rng, t)).join('/')}`, kind: 'random' };
}

function body(rng: Rng): { body: Buffer | undefined; deep: boolean } {
  const r = rng.int(0, 19);
  if (r <= 11) return { body: Buffer.from(JSON.stringify(randomJson(rng, 4)) ?? ''), deep: false };
  if (r <= 12) return { body: Buffer.from(deepJson(rng.pick([50, 150, 1000, 30_000]), rng.chance(0.5) ? 'array' : 'object')), deep: true };
  if (r <= 15) return { body: rng.bytes(rng.length(3000)), deep: false }; // invalid UTF-8 for the most part
  if (r <= 17) return { body: mutateBytes(rng, Buffer.from(JSON.stringify({ temperature: 21, name: 'x', type: 'y', additionalInfo: {} }))), deep: false };
  return { body: undefined, deep: false };
}

/** A well-formed request (fetch can send it). */
export function httpCase(rng: Rng, t: FuzzTargets): HttpCase {
  let p = path(rng, t);
  while (SKIPPED_PATHS.has(p.path.split('?')[0] as string)) p = path(rng, t);
  const method = p.method ?? rng.pick(METHODS);
  const headers: Record<string, string> = {};
  if (rng.chance(0.8)) headers['x-authorization'] = rng.chance(0.9) ? `Bearer ${t.jwt}` : `Bearer ${rng.string(rng.length(200))}`;
  if (rng.chance(0.8)) headers['content-type'] = rng.pick(['application/json', 'application/json; charset=latin1', 'text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', rng.string(rng.length(30), 'abcdefghijklmnopqrstuvwxyz/;=-+ ')]);
  if (rng.chance(0.1)) headers['accept-encoding'] = rng.pick(['gzip', 'br', '*', 'identity;q=0']);
  const b = method === 'GET' || method === 'HEAD' ? { body: undefined, deep: false } : body(rng);
  return { method, path: p.path, headers, body: b.body, kind: p.kind, deepJson: b.deep };
}

const CRLF = '\r\n';

/** A request with something wrong in its framing, as bytes for a raw socket (with what its body and path are). */
export function rawHttpRequest(rng: Rng, t: FuzzTargets): { bytes: Buffer; kind: HttpCase['kind']; deepJson: boolean } {
  const c = httpCase(rng, t);
  const payload = c.body ?? Buffer.from(JSON.stringify(randomJson(rng)) ?? '');
  const method = rng.chance(0.85) ? c.method : rng.pick(['G ET', 'get', '', rng.string(rng.length(20)), 'PRI', 'CONNECT', 'TRACE']);
  const version = rng.chance(0.8) ? 'HTTP/1.1' : rng.pick(['HTTP/1.0', 'HTTP/2.0', 'HTTP/9.9', 'HTTP/1.1 extra', '', 'http/1.1']);
  const target = rng.chance(0.9) ? c.path : rng.pick(['*', '', ' ', 'http://evil/api/v1/x/telemetry', `/api/v1/${t.token}/telemetry#frag`, '/api/v1/\u00ff\u0000/telemetry']);
  const headers: string[] = [`Host: 127.0.0.1`];
  for (const [k, v] of Object.entries(c.headers)) headers.push(`${k}: ${v}`);
  let bodyBytes: Buffer = payload;
  switch (rng.int(0, 7)) {
    case 0: // content-length larger than the body: the server waits, then the client goes away
      headers.push(`Content-Length: ${payload.length + rng.int(1, 1000)}`);
      break;
    case 1: // smaller: the rest is read as the next request
      headers.push(`Content-Length: ${Math.max(0, payload.length - rng.int(1, 20))}`);
      break;
    case 2: // two that disagree, or not a number
      headers.push(`Content-Length: ${payload.length}`, `Content-Length: ${rng.pick([payload.length + 1, '-1', 'abc', '1e3', '99999999999999999999'])}`);
      break;
    case 3: // chunked garbage
      headers.push('Transfer-Encoding: chunked');
      bodyBytes = Buffer.from(rng.pick([`zz${CRLF}abc${CRLF}0${CRLF}${CRLF}`, `ffffffffffffffff${CRLF}x`, `5${CRLF}abcdefghij${CRLF}0${CRLF}${CRLF}`, `3;ext=${'x'.repeat(5000)}${CRLF}abc${CRLF}0${CRLF}${CRLF}`, `${payload.length.toString(16)}${CRLF}${payload.toString('latin1')}${CRLF}0${CRLF}${CRLF}`]), 'latin1');
      break;
    case 4: // chunked and content-length together (request smuggling shape)
      headers.push('Transfer-Encoding: chunked', `Content-Length: ${payload.length}`);
      break;
    case 5: // odd header lines
      headers.push(rng.pick([`X-Long: ${'a'.repeat(rng.int(1, 20_000))}`, 'Bad Header: x', ': empty name', 'X-Folded: a\r\n b', `X-Bin: ${rng.bytes(20).toString('latin1')}`, 'Transfer-Encoding: gzip, chunked', 'Expect: 100-continue']), `Content-Length: ${payload.length}`);
      break;
    default:
      headers.push(`Content-Length: ${payload.length}`);
  }
  const text = Buffer.concat([Buffer.from(`${method} ${target} ${version}${CRLF}${headers.join(CRLF)}${CRLF}${CRLF}`, 'latin1'), bodyBytes]);
  return { bytes: rng.chance(0.2) ? mutateBytes(rng, text) : text, kind: c.kind, deepJson: c.deepJson };
}
