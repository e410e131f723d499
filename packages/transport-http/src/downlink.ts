import { AttributeScope, deviceAnswerText, sharedAttributesUpdate, type AttributesEvent, type ToDeviceRpcRequest, type ToServerRpcReply } from '@rivulet/core';
import type { HttpContext } from './context';
import { canReply, replyJson } from './http-reply';

/**
 * Server-to-device traffic for the long polls and client-side RPCs waiting in this process: it
 * arrives on the broadcast (sent to the processes holding the device's session) and answers the
 * waiting requests of that one device.
 */
export function subscribeDownlink(ctx: HttpContext): () => void {
  return ctx.service.subscribeDownlink({
    rpcRequest: (r) => onToDeviceRpc(ctx, r),
    attributes: (ev) => onAttributesEvent(ctx, ev),
    toServerReply: (r) => onToServerReply(ctx, r),
  });
}

/** A server-side command: to the device's oldest waiting `GET /rpc` poll. */
function onToDeviceRpc(ctx: HttpContext, r: ToDeviceRpcRequest): void {
  const t = Date.now();
  if (r.expirationTime <= t) return;
  // one command per poll: the oldest waiting poll of the device takes it
  const waiter = ctx.rpcWaiters.of(r.deviceId).find((w) => canReply(w.res) && w.device !== undefined);
  if (waiter?.device === undefined) return;
  const id = ctx.rpcIds.assign(r.deviceId, { requestId: r.requestId, oneway: r.oneway, expiresAt: r.expirationTime, replyTo: r.replyTo, device: waiter.device }, t);
  ctx.counters.acceptedRequests++;
  waiter.settle((res) => replyJson(res, 200, JSON.stringify({ id, method: r.method, params: r.params })));
  // the pickup (core/device-rpc.ts): a one-way call is done with it, a two-way one waits for the reply; RPC_SENT
  ctx.service.rpcSent(waiter.device, r);
}

/** A shared-attribute change: to every waiting `GET /attributes/updates` poll of the device. */
function onAttributesEvent(ctx: HttpContext, ev: AttributesEvent): void {
  if (ev.scope !== AttributeScope.SHARED_SCOPE) return;
  const waiting = ctx.attributeWaiters.of(ev.entityId);
  if (waiting.length === 0) return;
  // ThingsBoard's update notification: the changed values (1.0 for a DOUBLE of integral value), deletions under "deleted"
  const update = sharedAttributesUpdate(ev);
  if (update === undefined) return;
  const text = deviceAnswerText(update.body, update.doubles);
  for (const w of waiting) {
    ctx.counters.acceptedRequests++;
    w.settle((res) => replyJson(res, 200, text));
  }
}

/** The rule chain's reply to a client-side RPC of this process (handlers/client-rpc.ts). */
function onToServerReply(ctx: HttpContext, r: ToServerRpcReply): void {
  if (r.sessionId !== undefined && r.sessionId !== ctx.sessionId) return;
  ctx.pendingRpc.get(`${r.deviceId}#${r.requestId}`)?.(r.body);
}
