import {
  BadRequestError,
  MsgType,
  attributesResponseText,
  describeJson,
  parseAttributes,
  parseKeyList,
  parseLenientJson,
  parseTelemetry,
  type JsonValue,
} from '@rivulet/core';
import { deviceMsg, payloadOptions, produce, qosOf, send, type TransportContext } from '../context';
import type { Session } from '../session';
import { Feed, Topic, type TopicStyle } from '../topics';

/**
 * Handlers of a device's own topics (v1/devices/me/... and the v2 short names). Each returns
 * undefined when it finished synchronously, or a promise; a BadRequestError means a malformed payload.
 */

function isObject(v: JsonValue): v is Record<string, JsonValue> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** `v1/devices/me/telemetry`, `v2/t`: one POST_TELEMETRY_REQUEST per ts group. */
export function postTelemetry(ctx: TransportContext, session: Session, text: string): Promise<void> | undefined {
  const { device } = session;
  const groups = parseTelemetry(parseLenientJson(text), ctx.now(), payloadOptions(ctx, device));
  if (groups.length === 0) return undefined;
  return produce(
    ctx,
    groups.map((g) => ({ key: device.deviceId, value: deviceMsg(device, MsgType.POST_TELEMETRY_REQUEST, g.ts, g.values) })),
  );
}

/** `v1/devices/me/attributes`, `v2/a`: one POST_ATTRIBUTES_REQUEST. */
export function postAttributes(ctx: TransportContext, session: Session, text: string): Promise<void> | undefined {
  const { device } = session;
  const attributes = parseAttributes(parseLenientJson(text), payloadOptions(ctx, device));
  if (Object.keys(attributes).length === 0) return undefined;
  return produce(ctx, [{ key: device.deviceId, value: deviceMsg(device, MsgType.POST_ATTRIBUTES_REQUEST, ctx.now(), attributes) }]);
}

/** A key list given as "a,b" (ThingsBoard's form) or as an array of names. */
function keyList(v: JsonValue | undefined, name: string): string[] | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v === 'string') return parseKeyList(v);
  if (Array.isArray(v) && v.every((k) => typeof k === 'string')) return v as string[];
  throw new BadRequestError(`"${name}" must be a comma-separated string of keys`);
}

/**
 * `v1/devices/me/attributes/request/{id}`, `v2/a/req/{id}`: `{"clientKeys":"a,b","sharedKeys":"c"}`
 * (both optional, an empty payload asks for everything); the answer goes to
 * `.../attributes/response/{id}` (`v2/a/res/{id}`) as `{"client":{..},"shared":{..}}`.
 */
export async function requestAttributes(ctx: TransportContext, session: Session, text: string, id: string, style: TopicStyle, correlationData?: Buffer): Promise<void> {
  const json = text.trim() === '' ? {} : parseLenientJson(text);
  if (!isObject(json)) throw new BadRequestError(`Attribute request must be a JSON object, got ${describeJson(json)}`);
  const request = { clientKeys: keyList(json.clientKeys, 'clientKeys'), sharedKeys: keyList(json.sharedKeys, 'sharedKeys') };
  const answer = await ctx.service.getAttributes(session.device, request);
  const [topic, feed] = style === 'v1' ? [Topic.ATTRIBUTES_RESPONSE + id, Feed.ATTRIBUTES_RESPONSE] : [Topic.ATTRIBUTES_RESPONSE_V2 + id, Feed.ATTRIBUTES_RESPONSE_V2];
  send(session, topic, attributesResponseText(answer), qosOf(session, feed), correlationData);
}

/** A device's reply body: JSON when it parses (leniently), else the text as a string. */
export function replyBody(text: string): JsonValue {
  try {
    return parseLenientJson(text);
  } catch {
    return text;
  }
}

/**
 * `v1/devices/me/rpc/response/{id}`, `v2/r/res/{id}`: the device answers a server-side RPC; the
 * answer goes back to whoever asked (TO_DEVICE_RESPONSE). An id this session does not wait for is ignored.
 */
export function rpcResponse(ctx: TransportContext, session: Session, text: string, id: string): undefined {
  const n = Number(id);
  const pending = Number.isInteger(n) ? session.pendingRpc?.get(n) : undefined;
  if (!pending) {
    ctx.logger.debug({ deviceId: session.device.deviceId, id }, 'mqtt rpc response for no pending request');
    return undefined;
  }
  session.pendingRpc?.delete(n);
  clearTimeout(pending.timer);
  ctx.counters.rpcReplied++;
  ctx.service.rpcReplied(pending.device, pending, replyBody(text));
  return undefined;
}

/**
 * `v1/devices/me/rpc/request/{id}`, `v2/r/req/{id}`: client-side RPC `{"method":..,"params":..}`,
 * a TO_SERVER_RPC_REQUEST for the rule chain with the request id and this session's id in the
 * metadata (ThingsBoard's requestId / sessionId), answered by its RPC reply node.
 */
export function rpcRequest(ctx: TransportContext, session: Session, text: string, id: string, style: TopicStyle, correlationData?: Buffer): Promise<void> | undefined {
  const json = parseLenientJson(text);
  if (!isObject(json) || typeof json.method !== 'string' || json.method === '') {
    throw new BadRequestError('RPC request must be a JSON object with a "method" string');
  }
  if (json.method === SESSION_LIMITS_METHOD) return answerSessionLimits(ctx, session, id, style, correlationData);
  const data = { method: json.method, params: json.params ?? {} };
  session.rememberClientRpc(id, style, correlationData);
  const { device } = session;
  const msg = deviceMsg(device, MsgType.TO_SERVER_RPC_REQUEST, ctx.now(), data, { requestId: id, sessionId: session.id });
  return produce(ctx, [{ key: device.deviceId, value: msg }]);
}

/**
 * `v1/devices/me/claim` `{"secretKey":"...","durationMs":60000}` (both optional): the device may be
 * claimed (ThingsBoard's claiming API), handed to the claiming service; PUBACK once it took it.
 * Without one the publish is refused (3.1.1: connection closed, MQTT 5: PUBACK 0x83), never acknowledged and dropped.
 */
export async function claimDevice(ctx: TransportContext, session: Session, text: string): Promise<void> {
  ctx.counters.claimRequests++;
  await ctx.service.claim(session.device, text);
}

/** ThingsBoard's client-side RPC the MQTT transport answers itself, never handed to the rule engine. */
export const SESSION_LIMITS_METHOD = 'getSessionLimits';

/**
 * Publishes received and not yet acknowledged before a connection stops reading: the MQTT 5
 * endpoint's bound (mqtt5/endpoint.ts MAX_UNACKED); on 3.1.1 aedes reads one batch at a time and
 * holds its PUBACKs, the same order of magnitude, told to devices as the same number.
 */
export const MAX_INFLIGHT_MESSAGES = 64;

/**
 * `{"method":"getSessionLimits"}` on `v1/devices/me/rpc/request/{id}` (or `v2/r/req/{id}`), answered
 * on the matching response topic by the transport (as ThingsBoard's MqttTransportHandler) with
 * `{"maxPayloadSize":..,"maxInflightMessages":..,"rateLimits":{"messages":"n:s","telemetryMessages":"n:s","telemetryDataPoints":"n:s"}}`
 * from this device's real limits.
 */
function answerSessionLimits(ctx: TransportContext, session: Session, id: string, style: TopicStyle, correlationData?: Buffer): undefined {
  const limits = ctx.service.sessionLimits(session.device, { maxPayloadBytes: ctx.maxPayloadBytes, maxInflightMessages: MAX_INFLIGHT_MESSAGES });
  const [topic, feed] = style === 'v1' ? [Topic.RPC_RESPONSE + id, Feed.RPC_RESPONSE] : [Topic.RPC_RESPONSE_V2 + id, Feed.RPC_RESPONSE_V2];
  send(session, topic, JSON.stringify(limits), qosOf(session, feed), correlationData);
  ctx.counters.clientRpcReplies++;
  return undefined;
}
