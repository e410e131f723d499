import type { RpcCaller } from '@rivulet/broadcast';
import { ErrorCodes, ErrorResponseSchema, idParams, JsonSchema, RpcRequestSchema } from '@rivulet/api-types';
import { ErrorCode, newId, type JsonValue, type ToDeviceRpcRequest } from '@rivulet/core';
import { ApiError, badParam, invalidBody, notFound } from '../api-error';
import { authed, TENANT_ADMIN_ONLY, type ApiDeps } from '../context';
import { parseId } from '../params';
import { ok, type Reply, type RequestContext, type RouteDef } from '../router';
import type { AuthUser } from '../tokens';

/** ThingsBoard's default RPC timeout (RpcController DEFAULT_TIMEOUT). */
export const DEFAULT_RPC_TIMEOUT_MS = 10_000;
/** Longest a REST caller may make the server hold a request open. */
export const MAX_RPC_TIMEOUT_MS = 600_000;

function isObject(v: unknown): v is Record<string, JsonValue> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function gatewayTimeout(message: string): ApiError {
  return new ApiError(ErrorCode.TIMEOUT, ErrorCodes.GENERAL, message);
}

/**
 * Server-side RPC (ThingsBoard's RpcController, v1 paths): `POST /api/rpc/oneway/{deviceId}` and
 * `POST /api/rpc/twoway/{deviceId}` (also under the older `/api/plugins/rpc/...`) with
 * `{"method","params","timeout"}` or an absolute `expirationTime`. The request goes out on the
 * broadcast to whichever transport holds the device's session (core's createRpcCaller). Answers:
 * one-way 200 once a session took it; two-way 200 with the device's reply as the body; 504 when no
 * session took it, when the device did not reply in time, or when it went away before replying.
 */
export function rpcRoutes(deps: ApiDeps, caller: RpcCaller): RouteDef[] {
  const { storage, tokens } = deps;

  async function call(ctx: RequestContext, user: AuthUser, oneway: boolean): Promise<Reply> {
    const deviceId = parseId(ctx.params.deviceId, 'deviceId');
    const body = await ctx.body();
    if (!isObject(body)) throw invalidBody('RPC request must be a JSON object {"method","params","timeout"}');
    if (typeof body.method !== 'string' || body.method.trim() === '') throw invalidBody('RPC request needs a "method" string');
    const now = Date.now();
    let expirationTime: number;
    if (body.expirationTime !== undefined && body.expirationTime !== null) {
      if (typeof body.expirationTime !== 'number' || !Number.isFinite(body.expirationTime)) throw badParam('"expirationTime" must be epoch milliseconds');
      expirationTime = Math.min(body.expirationTime, now + MAX_RPC_TIMEOUT_MS);
    } else {
      const timeout = body.timeout ?? DEFAULT_RPC_TIMEOUT_MS;
      if (typeof timeout !== 'number' || !Number.isFinite(timeout) || timeout <= 0) throw badParam('"timeout" must be a positive number of milliseconds');
      expirationTime = now + Math.min(timeout, MAX_RPC_TIMEOUT_MS);
    }
    if (!(await storage.devices.get(user.tenantId, deviceId))) throw notFound(`Device ${deviceId} not found`);

    const request: ToDeviceRpcRequest = {
      requestId: newId(),
      tenantId: user.tenantId,
      deviceId,
      method: body.method,
      params: body.params ?? {},
      oneway,
      expirationTime,
    };
    const outcome = await caller.call(request);
    switch (outcome.kind) {
      case 'delivered':
        return oneway || outcome.response === undefined ? ok() : ok(outcome.response);
      case 'no-session':
        throw gatewayTimeout(`Device ${deviceId} has no active session that takes RPC requests`);
      case 'timeout':
        throw gatewayTimeout(`Device ${deviceId} did not reply in time`);
      case 'error':
        throw gatewayTimeout(`Device ${deviceId}: ${outcome.error}`);
    }
  }

  const route = (path: string, oneway: boolean): RouteDef => ({
    method: 'POST',
    path,
    summary: oneway ? 'Send a one-way RPC to a device (200 once a session took it)' : "Send a two-way RPC to a device and answer its reply",
    tag: 'RPC',
    params: idParams('deviceId'),
    body: RpcRequestSchema,
    response: oneway ? null : JsonSchema,
    responses: { 504: { description: 'No session took the request, or the device did not reply in time', schema: ErrorResponseSchema } },
    handler: authed(tokens, (ctx, user) => call(ctx, user, oneway), TENANT_ADMIN_ONLY),
  });
  return [
    route('/api/rpc/oneway/{deviceId}', true),
    route('/api/rpc/twoway/{deviceId}', false),
    route('/api/plugins/rpc/oneway/{deviceId}', true),
    route('/api/plugins/rpc/twoway/{deviceId}', false),
  ];
}
