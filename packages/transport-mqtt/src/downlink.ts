import { AttributeScope, deviceAnswerText, sharedAttributesUpdate, type AttributesEvent, type DeviceInfo, type ToDeviceRpcRequest, type ToServerRpcReply } from '@rivulet/core';
import { qosOf, send, type TransportContext } from './context';
import type { Endpoint, Session } from './session';
import { Feed, Topic } from './topics';

/**
 * Server-to-device traffic. It arrives on the broadcast, sent to the processes holding the device's
 * session (whoever changed an attribute or asked for an RPC may be in another process) and goes out to the sessions of that one device only, through
 * the SessionIndex: never by topic matching.
 */
export function subscribeDownlink(ctx: TransportContext): () => void {
  return ctx.service.subscribeDownlink({
    attributes: (e) => onAttributes(ctx, e),
    rpcRequest: (e) => onRpcRequest(ctx, e),
    toServerReply: (e) => onClientRpcReply(ctx, e),
  });
}

/** Shared-attribute changes (REST or a rule node) to subscribed sessions: `{"k":v}` (a DOUBLE of integral value 1.0), deletions `{"deleted":["k"]}`. */
function onAttributes(ctx: TransportContext, ev: AttributesEvent): void {
  if (ev.scope !== AttributeScope.SHARED_SCOPE) return;
  const endpoints = ctx.index.get(ev.entityId);
  if (endpoints.length === 0) return;
  const update = sharedAttributesUpdate(ev);
  if (update === undefined) return;
  const { body: data, doubles } = update;
  let body: string | undefined;
  for (const e of endpoints) {
    const s = e.session;
    if (e.child) {
      if ((s.feeds & Feed.GATEWAY_ATTRIBUTES) === 0) continue;
      send(s, Topic.GATEWAY_ATTRIBUTES, deviceAnswerText({ device: e.child.name, data }, doubles), qosOf(s, Feed.GATEWAY_ATTRIBUTES));
    } else {
      if ((s.feeds & (Feed.ATTRIBUTES | Feed.ATTRIBUTES_V2)) === 0) continue;
      body ??= deviceAnswerText(data, doubles);
      if ((s.feeds & Feed.ATTRIBUTES) !== 0) send(s, Topic.ATTRIBUTES, body, qosOf(s, Feed.ATTRIBUTES));
      if ((s.feeds & Feed.ATTRIBUTES_V2) !== 0) send(s, Topic.ATTRIBUTES_V2, body, qosOf(s, Feed.ATTRIBUTES_V2));
    }
    ctx.counters.attributeUpdates++;
  }
}

/** Whether this endpoint can take RPC commands: its session subscribed to the RPC topic. */
function takesRpc(e: Endpoint): boolean {
  return e.child ? (e.session.feeds & Feed.GATEWAY_RPC) !== 0 : (e.session.feeds & (Feed.RPC | Feed.RPC_V2)) !== 0;
}

/**
 * A server-side RPC: `{"method":..,"params":..}` on `v1/devices/me/rpc/request/{id}` (or `v2/r/req/{id}`),
 * or `{"device":"A","data":{"id":..,"method":..,"params":..}}` on `v1/gateway/rpc` for a device
 * behind a gateway. The pickup is published at once (device-rpc.ts); a two-way request waits in
 * the session for the device's reply until it expires.
 */
function onRpcRequest(ctx: TransportContext, req: ToDeviceRpcRequest): void {
  const endpoints = ctx.index.get(req.deviceId);
  if (endpoints.length === 0) return;
  if (req.expirationTime <= Date.now()) return;
  let delivered: DeviceInfo | undefined;
  for (const e of endpoints.slice()) {
    if (!takesRpc(e)) continue;
    const s = e.session;
    const id = s.takeRpcId();
    const device = e.child ? e.child.device : s.device;
    if (!req.oneway) {
      // RPC_TIMEOUT at the call's expiry, unless the reply or the session's close clears the timer first
      const call = { requestId: req.requestId, replyTo: req.replyTo };
      const timer = ctx.service.scheduleRpcTimeout(device, call, req.expirationTime, () => s.pendingRpc?.delete(id) === true);
      (s.pendingRpc ??= new Map()).set(id, { ...call, deviceId: req.deviceId, device, timer });
    }
    if (e.child) {
      const body = JSON.stringify({ device: e.child.name, data: { id, method: req.method, params: req.params } });
      send(s, Topic.GATEWAY_RPC, body, qosOf(s, Feed.GATEWAY_RPC));
    } else {
      const body = JSON.stringify({ method: req.method, params: req.params });
      // a device subscribed under both names gets it once, on the v1 name
      if ((s.feeds & Feed.RPC) !== 0) send(s, Topic.RPC_REQUEST + id, body, qosOf(s, Feed.RPC));
      else send(s, Topic.RPC_REQUEST_V2 + id, body, qosOf(s, Feed.RPC_V2));
    }
    ctx.counters.rpcDelivered++;
    delivered ??= device;
  }
  // the pickup for the caller, and RPC_SENT for the rule engine
  if (delivered) ctx.service.rpcSent(delivered, req);
}

/**
 * The rule chain's answer to a device's own RPC request, on `v1/devices/me/rpc/response/{id}` (or
 * `v2/r/res/{id}`, the name family it asked on), to the session that asked.
 */
function onClientRpcReply(ctx: TransportContext, reply: ToServerRpcReply): void {
  const endpoints = ctx.index.get(reply.deviceId);
  if (endpoints.length === 0) return;
  let body: string | undefined;
  for (const e of endpoints.slice()) {
    if (e.child) continue;
    const s: Session = e.session;
    if (reply.sessionId !== undefined && s.id !== reply.sessionId) continue;
    const style = s.takeClientRpc(reply.requestId);
    if (style === undefined) continue;
    body ??= JSON.stringify(reply.body);
    const correlation = s.takeClientRpcCorrelation(reply.requestId);
    if (style === 'v1') send(s, Topic.RPC_RESPONSE + reply.requestId, body, qosOf(s, Feed.RPC_RESPONSE), correlation);
    else send(s, Topic.RPC_RESPONSE_V2 + reply.requestId, body, qosOf(s, Feed.RPC_RESPONSE_V2), correlation);
    ctx.counters.clientRpcReplies++;
  }
}

/** A session closed: its two-way requests end with an error for whoever waits on them. */
export function failPendingRpc(ctx: TransportContext, s: Session): void {
  if (!s.pendingRpc) return;
  for (const p of s.pendingRpc.values()) {
    clearTimeout(p.timer);
    ctx.service.rpcFailed(p.device, p, 'The device disconnected before replying');
  }
  s.pendingRpc.clear();
}
