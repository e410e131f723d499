import { AttributeScope, deviceAnswerText, sharedAttributesUpdate, type AttributesEvent, type ToDeviceRpcRequest, type ToServerRpcReply } from '@rivulet/core';
import type { CoapContext } from './context';

/**
 * Server-to-device traffic: it arrives on the broadcast (sent to the processes holding the
 * device's session) and goes out as notifications to the observations of that one device, or
 * answers a client-side RPC waiting here.
 */
export function subscribeDownlink(ctx: CoapContext): () => void {
  return ctx.service.subscribeDownlink({
    attributes: (ev) => onAttributesEvent(ctx, ev),
    rpcRequest: (r) => onToDeviceRpc(ctx, r),
    toServerReply: (r) => onToServerReply(ctx, r),
  });
}

/** A shared-attribute change: a notification to each attributes observation of the device. */
function onAttributesEvent(ctx: CoapContext, ev: AttributesEvent): void {
  if (ev.scope !== AttributeScope.SHARED_SCOPE) return;
  const observers = ctx.registry.forDevice(ev.entityId, 'attributes');
  if (observers.length === 0) return;
  // ThingsBoard's update notification: the changed values (1.0 for a DOUBLE of integral value), deletions under "deleted"
  const update = sharedAttributesUpdate(ev);
  if (update === undefined) return;
  const payload = deviceAnswerText(update.body, update.doubles);
  for (const o of observers) o.send(payload);
}

/** A server-side command: a notification to each RPC observation of the device. */
function onToDeviceRpc(ctx: CoapContext, r: ToDeviceRpcRequest): void {
  const observers = ctx.registry.forDevice(r.deviceId, 'rpc');
  // expirationTime is wall-clock time set by whoever asked
  const t = Date.now();
  if (observers.length === 0 || r.expirationTime <= t) return;
  const device = (observers[0] as (typeof observers)[number]).device;
  const id = ctx.rpcIds.assign(r.deviceId, { requestId: r.requestId, oneway: r.oneway, expiresAt: r.expirationTime, replyTo: r.replyTo, device }, t);
  const payload = JSON.stringify({ id, method: r.method, params: r.params });
  for (const o of observers) o.send(payload);
  // the pickup (core/device-rpc.ts): a one-way call is done with it, a two-way one waits for the reply; RPC_SENT
  ctx.service.rpcSent(device, r);
}

/** The rule chain's reply to a client-side RPC of this process (handlers/rpc.ts). */
function onToServerReply(ctx: CoapContext, r: ToServerRpcReply): void {
  if (r.sessionId !== undefined && r.sessionId !== ctx.sessionId) return;
  ctx.pendingRpc.get(`${r.deviceId}#${r.requestId}`)?.(r.body);
}
