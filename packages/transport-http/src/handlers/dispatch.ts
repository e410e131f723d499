import type { IncomingMessage, ServerResponse } from 'node:http';
import { internalError, rejectEarly, type HttpContext } from '../context';
import { API_PREFIX, PROVISION, Resource, parseDeviceRoute, unsupportedFeature } from '../device-route';
import { TbErrorCode } from '../http-reply';
import { clientRpc } from './client-rpc';
import { claim, getAttributes, postAttributes, postTelemetry } from './device-api';
import { pollAttributeUpdates, pollRpc, replyRpc } from './long-polls';
import { provision } from './provision';

/** Runs an async handler; a bug in it answers 500 instead of becoming an unhandled rejection. */
function run(ctx: HttpContext, res: ServerResponse, work: Promise<void>): void {
  work.catch((e: unknown) => internalError(ctx, res, e, 'device request failed'));
}

function methodNotAllowed(ctx: HttpContext, req: IncomingMessage, res: ServerResponse, allow: string): void {
  rejectEarly(ctx, req, res, 'methodNotAllowed', 405, TbErrorCode.GENERAL, `Method ${req.method ?? ''} is not allowed here; use ${allow}`, { allow });
}

/**
 * Routes a request under /api/v1/ to its handler by resource and method and returns true; returns
 * false without touching a request outside it.
 */
export function dispatch(ctx: HttpContext, req: IncomingMessage, res: ServerResponse): boolean {
  const url = req.url;
  if (url === undefined || !url.startsWith(API_PREFIX)) return false;
  ctx.counters.requests++;
  if (ctx.stopped) {
    rejectEarly(ctx, req, res, 'unavailable', 503, TbErrorCode.GENERAL, 'Service unavailable: the server is shutting down', { connection: 'close' });
    return true;
  }
  const route = parseDeviceRoute(url);
  const { token } = route;
  if (token === null) {
    rejectEarly(ctx, req, res, 'badRequest', 400, TbErrorCode.BAD_REQUEST_PARAMS, 'Invalid percent-encoding in the device access token');
    return true;
  }
  const method = req.method;
  const { downlink } = ctx;
  if (route.resource === Resource.TELEMETRY) {
    if (method === 'POST') run(ctx, res, postTelemetry(ctx, req, res, token));
    else methodNotAllowed(ctx, req, res, 'POST');
  } else if (route.resource === Resource.ATTRIBUTES) {
    if (method === 'POST') run(ctx, res, postAttributes(ctx, req, res, token));
    else if (method === 'GET') run(ctx, res, getAttributes(ctx, res, token, route.query));
    else methodNotAllowed(ctx, req, res, 'GET, POST');
  } else if (downlink && route.resource === Resource.ATTRIBUTE_UPDATES) {
    if (method === 'GET') run(ctx, res, pollAttributeUpdates(ctx, res, token, route.query));
    else methodNotAllowed(ctx, req, res, 'GET');
  } else if (downlink && route.resource === Resource.RPC) {
    if (method === 'GET') run(ctx, res, pollRpc(ctx, res, token, route.query));
    else if (method === 'POST') run(ctx, res, clientRpc(ctx, req, res, token));
    else methodNotAllowed(ctx, req, res, 'GET, POST');
  } else if (downlink && route.resource.startsWith(`${Resource.RPC}/`) && !route.resource.includes('/', Resource.RPC.length + 1)) {
    if (method === 'POST') run(ctx, res, replyRpc(ctx, req, res, token, route.resource.slice(Resource.RPC.length + 1)));
    else methodNotAllowed(ctx, req, res, 'POST');
  } else if (route.resource === Resource.CLAIM) {
    if (method === 'POST') run(ctx, res, claim(ctx, req, res, token));
    else methodNotAllowed(ctx, req, res, 'POST');
  } else if (route.resource === '' && token === PROVISION) {
    if (method === 'POST') run(ctx, res, provision(ctx, req, res));
    else methodNotAllowed(ctx, req, res, 'POST');
  } else {
    const feature = unsupportedFeature(route);
    const message = feature
      ? `${feature} over the HTTP device API is not supported yet`
      : `Unknown device API path: ${API_PREFIX}{token}/${route.resource}`;
    rejectEarly(ctx, req, res, 'notFound', 404, TbErrorCode.ITEM_NOT_FOUND, message);
  }
  return true;
}
