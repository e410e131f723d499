import { BadRequestError, MsgType, deviceMsg, parseLenientJson, type DeviceInfo, type JsonValue } from '@rivulet/core';
import type { CoapResponse } from '../coap-endpoint';
import { Code } from '../coap-message';
import { STOPPED, TIMEOUT, accept, overTenantPayloadLimit, parsePayload, produce, reject, type ClientRpcAnswer, type CoapContext } from '../context';

// ---- RPC: replies to server-side commands, client-side requests ----------------------------------

/** Two-way calls of a device that can no longer be answered end with an error for the caller. */
export function failPendingRpc(ctx: CoapContext, deviceId: string, error: string): void {
  for (const call of ctx.rpcIds.drop(deviceId)) {
    if (call.oneway || call.expiresAt <= Date.now()) continue;
    ctx.service.rpcFailed(call.device, call, error);
  }
}

/** `POST /rpc/{id}`: the device's reply to a command it got as a notification. */
export async function rpcReply(ctx: CoapContext, res: CoapResponse, device: DeviceInfo, id: number, payload: Buffer): Promise<void> {
  if (overTenantPayloadLimit(ctx, res, device, payload)) return;
  // any JSON, or the raw text when it is not JSON (ThingsBoard forwards the payload as it is)
  let response: JsonValue;
  const text = payload.toString('utf8');
  try {
    response = text === '' ? null : parseLenientJson(text);
  } catch {
    response = text;
  }
  const call = ctx.rpcIds.take(device.deviceId, id, Date.now());
  if (call === undefined) return reject(ctx, res, 'notFound', Code.NOT_FOUND, `No RPC request ${id} is waiting for a reply (unknown or expired)`);
  if (!call.oneway) ctx.service.rpcReplied(device, call, response);
  accept(ctx, res, Code.CREATED);
}

function clientRpcRequestOf(_ctx: CoapContext, json: JsonValue): { method: string; params: JsonValue } {
  if (typeof json !== 'object' || json === null || Array.isArray(json) || typeof json.method !== 'string' || json.method === '') {
    throw new BadRequestError('Client-side RPC: expected {"method":"...","params":...}');
  }
  return { method: json.method, params: json.params ?? {} };
}

/** `POST /rpc`: client-side RPC, answered 2.05 with the rule chain's reply (downlink.ts), or 5.04. */
export async function clientRpc(ctx: CoapContext, res: CoapResponse, device: DeviceInfo, payload: Buffer): Promise<void> {
  if (overTenantPayloadLimit(ctx, res, device, payload)) return;
  const request = parsePayload(ctx, res, device, payload, clientRpcRequestOf);
  if (request === undefined) return;
  const { pendingRpc, rpcTimeoutMs } = ctx;
  if (pendingRpc.size >= ctx.maxPendingRpc) {
    return reject(ctx, res, 'unavailable', Code.SERVICE_UNAVAILABLE, 'Service unavailable: too many RPC requests waiting', { 'Max-Age': 1 });
  }
  const requestId = String(ctx.nextClientRpcId);
  ctx.nextClientRpcId = ctx.nextClientRpcId >= 0x7fffffff ? 1 : ctx.nextClientRpcId + 1;
  const key = `${device.deviceId}#${requestId}`;
  let timer: NodeJS.Timeout | undefined;
  // registered before producing: the reply may come back before produce() resolves; the device
  // counts as held here while it waits, so the reply is sent to this process
  const release = ctx.service.holdSession(device.deviceId);
  const reply = new Promise<ClientRpcAnswer>((resolve) => {
    pendingRpc.set(key, resolve);
    timer = setTimeout(() => resolve(TIMEOUT), rpcTimeoutMs);
  });
  try {
    const msg = deviceMsg(device, MsgType.TO_SERVER_RPC_REQUEST, ctx.now(), request, { requestId, sessionId: ctx.sessionId });
    if (!(await produce(ctx, res, device, [msg]))) return;
    const body = await reply;
    if (body === TIMEOUT) return reject(ctx, res, 'timeout', Code.GATEWAY_TIMEOUT, `No reply to the RPC request within ${rpcTimeoutMs} ms`);
    if (body === STOPPED) return reject(ctx, res, 'unavailable', Code.SERVICE_UNAVAILABLE, 'Service unavailable: the server is shutting down');
    accept(ctx, res, Code.CONTENT, typeof body === 'string' ? body : JSON.stringify(body));
  } finally {
    clearTimeout(timer);
    pendingRpc.delete(key);
    release();
  }
}
