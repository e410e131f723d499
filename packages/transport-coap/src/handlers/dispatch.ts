import type { IncomingMessage } from 'coap';
import type { DeviceInfo } from '@rivulet/core';
import type { CoapResponse } from '../coap-endpoint';
import { Code } from '../coap-message';
import { internalError, reject, type CoapContext } from '../context';
import { Feature, parseDeviceRoute, uriPath, uriQuery } from '../device-route';
import { claim, getAttributes, postAttributes, postTelemetry } from './device-api';
import { cancelObservation, observeAttributes, observeRpc } from './observe';
import { provision } from './provision';
import { clientRpc, rpcReply } from './rpc';

/** The endpoint's request handler: a request after deduplication (and block-wise reassembly). */
export function onRequest(ctx: CoapContext, req: IncomingMessage, res: CoapResponse): void {
  ctx.counters.requests++;
  // a send failure (or a notification too large to encode) is emitted here; without a listener
  // it would be an uncaught 'error' event
  res.on('error', (e: unknown) => ctx.logger.debug({ err: e }, 'coap response error'));
  const work = handle(ctx, req, res).catch((e: unknown) => internalError(ctx, res, e, 'device request failed'));
  const { inflight } = ctx;
  inflight.add(work);
  void work.finally(() => inflight.delete(work));
}

/**
 * Routes a request by path and method (before authentication, so a wrong method costs no lookup),
 * then authenticates its token and takes its place in the rate limit, then runs its handler.
 */
async function handle(ctx: CoapContext, req: IncomingMessage, res: CoapResponse): Promise<void> {
  if (ctx.stopped) return reject(ctx, res, 'unavailable', Code.SERVICE_UNAVAILABLE, 'Service unavailable: the server is shutting down');
  const { maxPayloadBytes } = ctx;
  if (req.payload.length > maxPayloadBytes) {
    // Size1 tells the client the largest size we take (RFC 7959 §4)
    return reject(ctx, res, 'payloadTooLarge', Code.REQUEST_ENTITY_TOO_LARGE, `Payload too large: the limit is ${maxPayloadBytes} bytes`, { Size1: maxPayloadBytes });
  }
  const route = parseDeviceRoute(uriPath(req));
  if (route.kind === 'not-found') return reject(ctx, res, 'notFound', Code.NOT_FOUND, route.message);
  if (route.kind === 'bad-request') return reject(ctx, res, 'badRequest', Code.BAD_REQUEST, route.message);
  if (route.kind === 'provision') {
    if (req.method !== 'POST') return reject(ctx, res, 'methodNotAllowed', Code.METHOD_NOT_ALLOWED, `Method ${String(req.method)} is not allowed on /api/v1/provision; use POST`);
    return provision(ctx, req, res);
  }
  const method = req.method;
  const observe = req.headers.Observe;
  const { feature, id } = route;

  // method check before authentication, so a wrong method costs no lookup
  let run: ((device: DeviceInfo) => Promise<void>) | undefined;
  if (feature === Feature.TELEMETRY) {
    if (method === 'POST') run = (d) => postTelemetry(ctx, res, d, req.payload);
  } else if (feature === Feature.ATTRIBUTES) {
    if (method === 'POST') run = (d) => postAttributes(ctx, res, d, req.payload);
    else if (method === 'GET') {
      if (observe === 0) run = (d) => observeAttributes(ctx, req, res, d);
      else if (observe === 1) run = (d) => cancelObservation(ctx, req, res, d);
      else run = (d) => getAttributes(ctx, res, d, uriQuery(req));
    }
  } else if (feature === Feature.CLAIM) {
    if (method === 'POST' && id === undefined) run = (d) => claim(ctx, res, d, req.payload);
  } else if (id === undefined) {
    if (method === 'POST') run = (d) => clientRpc(ctx, res, d, req.payload);
    else if (method === 'GET') {
      if (observe === 0) run = (d) => observeRpc(ctx, req, res, d);
      else if (observe === 1) run = (d) => cancelObservation(ctx, req, res, d);
      else return reject(ctx, res, 'badRequest', Code.BAD_REQUEST, 'GET /rpc subscribes to RPC commands: send it with the Observe option');
    }
  } else if (method === 'POST') {
    const n = /^\d{1,10}$/.test(id) ? Number(id) : NaN;
    if (!Number.isSafeInteger(n)) return reject(ctx, res, 'badRequest', Code.BAD_REQUEST, `Invalid RPC request id "${id}": an integer is expected`);
    run = (d) => rpcReply(ctx, res, d, n, req.payload);
  }
  if (run === undefined) {
    const allowed = feature === Feature.TELEMETRY || feature === Feature.CLAIM || id !== undefined ? 'POST' : 'GET, POST';
    return reject(ctx, res, 'methodNotAllowed', Code.METHOD_NOT_ALLOWED, `Method ${String(method)} is not allowed on /api/v1/{token}/${feature}${id === undefined ? '' : '/{id}'}; use ${allowed}`);
  }

  const device = await authenticate(ctx, res, route.token);
  if (device === undefined) return;
  ctx.state.onActivity(device);
  const { limiter } = ctx;
  if (limiter !== undefined) {
    const r = limiter.reserve(device, ctx.now());
    if (!r.ok) {
      // Max-Age: seconds until the client may try again (RFC 8516)
      const who = r.reason === 'device' ? 'the device' : "the device's tenant";
      return reject(ctx, res, 'rateLimited', Code.TOO_MANY_REQUESTS, `Too many requests: ${who} is far over its message rate limit of ${r.limit} per second`, {
        'Max-Age': Math.max(1, Math.ceil(r.retryAfterMs / 1000)),
      });
    }
    if (r.waitMs > 0) {
      ctx.counters.held++;
      await new Promise((resolve) => setTimeout(resolve, r.waitMs));
    }
  }
  await run(device);
}

/** The device of `token`, or undefined after answering 4.01 (unknown token) or 5.00. */
async function authenticate(ctx: CoapContext, res: CoapResponse, token: string): Promise<DeviceInfo | undefined> {
  let device: DeviceInfo | null;
  try {
    device = await ctx.auth.authenticateToken(token);
  } catch (e) {
    internalError(ctx, res, e, 'device authentication failed');
    return undefined;
  }
  if (!device) {
    reject(ctx, res, 'unauthorized', Code.UNAUTHORIZED, 'Authentication failed: invalid device access token');
    return undefined;
  }
  return device;
}
