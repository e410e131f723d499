import {
  BadRequestError,
  MsgType,
  describeJson,
  deviceAnswerText,
  parseAttributes,
  parseLenientJson,
  parseTelemetry,
  type AttributesResponse,
  type DeviceInfo,
  type JsonValue,
  type KvValue,
  type Msg,
} from '@rivulet/core';
import type { QueueRecord } from '@rivulet/queue';
import { FeatureUnavailableError, claimRequestOf, type ClaimRequest } from '@rivulet/transport-service';
import { deviceMsg, payloadOptions, produce, qosOf, send, type TransportContext } from '../context';
import type { ChildDevice, Session } from '../session';
import { Feed, Topic } from '../topics';
import { replyBody } from './device-topics';

/**
 * ThingsBoard's gateway API (v1/gateway/...): one connection speaks for many devices, named in the
 * payloads. A device is created under the gateway's tenant on first sight and, from then on, is
 * "connected" through this session: shared-attribute updates and RPC for it arrive on the gateway's
 * topics. Only devices flagged as gateways get here (publish-handler checks).
 */

/** Devices one gateway session may speak for; past it a new name is a malformed payload. */
export const MAX_DEVICES_PER_GATEWAY = 10_000;
const DEFAULT_DEVICE_TYPE = 'default';

function isObject(v: JsonValue): v is Record<string, JsonValue> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function parseObject(text: string, what: string): Record<string, JsonValue> {
  const json = parseLenientJson(text);
  if (!isObject(json)) throw new BadRequestError(`${what} must be a JSON object, got ${describeJson(json)}`);
  return json;
}

function deviceName(v: JsonValue | undefined): string {
  if (typeof v !== 'string' || v.trim() === '') throw new BadRequestError('Gateway payload must name its device: "device" is a non-empty string');
  return v;
}

/** The device `name` behind this gateway, created on first sight and registered with the session. */
export async function ensureChild(ctx: TransportContext, session: Session, name: string, type = DEFAULT_DEVICE_TYPE): Promise<ChildDevice> {
  const known = session.children?.get(name);
  if (known) return known;
  if (!ctx.gateway) throw new Error('gateway devices are not available: no GatewayDeviceService was given');
  if ((session.children?.size ?? 0) >= MAX_DEVICES_PER_GATEWAY) {
    throw new BadRequestError(`A gateway session may speak for at most ${MAX_DEVICES_PER_GATEWAY} devices`);
  }
  const device: DeviceInfo = await ctx.gateway.getOrCreateDevice(session.device, name, type);
  // another publish of this session may have registered it meanwhile
  const again = session.children?.get(name);
  if (again) return again;
  const endpoint: { session: Session; child?: ChildDevice } = { session };
  const child: ChildDevice = { name, device, endpoint };
  endpoint.child = child;
  // a session closed meanwhile registers nothing (its close already disconnected its devices)
  if (!session.open) return child;
  (session.children ??= new Map()).set(name, child);
  ctx.index.add(device.deviceId, endpoint);
  ctx.state.onConnect(device);
  return child;
}

/** Ends a device's presence behind this gateway (v1/gateway/disconnect, or the gateway's session closed). */
export function disconnectChild(ctx: TransportContext, session: Session, child: ChildDevice): void {
  session.children?.delete(child.name);
  ctx.index.remove(child.device.deviceId, child.endpoint);
  ctx.state.onDisconnect(child.device);
}

/** `v1/gateway/connect` `{"device":"A","type":"t"}`. */
export async function gatewayConnect(ctx: TransportContext, session: Session, text: string): Promise<void> {
  const json = parseObject(text, 'Gateway connect');
  const type = typeof json.type === 'string' && json.type !== '' ? json.type : DEFAULT_DEVICE_TYPE;
  await ensureChild(ctx, session, deviceName(json.device), type);
}

/** `v1/gateway/disconnect` `{"device":"A"}`. */
export function gatewayDisconnect(ctx: TransportContext, session: Session, text: string): undefined {
  const name = deviceName(parseObject(text, 'Gateway disconnect').device);
  const child = session.children?.get(name);
  if (child) disconnectChild(ctx, session, child);
  return undefined;
}

/** Resolves every device named in a gateway payload, then builds its messages; one produce for all. */
async function perDevice(
  ctx: TransportContext,
  session: Session,
  json: Record<string, JsonValue>,
  build: (child: ChildDevice, value: JsonValue) => Msg[],
): Promise<void> {
  const records: Array<QueueRecord<Msg>> = [];
  for (const name of Object.keys(json)) {
    if (name === '') continue;
    const child = await ensureChild(ctx, session, name);
    for (const value of build(child, json[name] as JsonValue)) records.push({ key: child.device.deviceId, value });
    ctx.state.onActivity(child.device);
  }
  await produce(ctx, records);
}

/** `v1/gateway/telemetry` `{"A":[{"ts":..,"values":{..}}],"B":{"k":v}}`. */
export function gatewayTelemetry(ctx: TransportContext, session: Session, text: string): Promise<void> {
  const json = parseObject(text, 'Gateway telemetry');
  const now = ctx.now();
  // parse everything before creating any device: a malformed payload has no side effect
  const parsed = new Map<string, ReturnType<typeof parseTelemetry>>();
  // the gateway's tenant is every sub-device's tenant: its key limits apply per device
  const opts = payloadOptions(ctx, session.device);
  for (const name of Object.keys(json)) parsed.set(name, parseTelemetry(json[name] as JsonValue, now, opts));
  return perDevice(ctx, session, json, (child) =>
    (parsed.get(child.name) ?? []).map((g) => deviceMsg(child.device, MsgType.POST_TELEMETRY_REQUEST, g.ts, g.values)),
  );
}

/** `v1/gateway/attributes` `{"A":{"k":v}}`. */
export function gatewayAttributes(ctx: TransportContext, session: Session, text: string): Promise<void> {
  const json = parseObject(text, 'Gateway attributes');
  const parsed = new Map<string, Record<string, KvValue>>();
  const opts = payloadOptions(ctx, session.device);
  for (const name of Object.keys(json)) parsed.set(name, parseAttributes(json[name] as JsonValue, opts));
  const now = ctx.now();
  return perDevice(ctx, session, json, (child) => {
    const attributes = parsed.get(child.name) ?? {};
    return Object.keys(attributes).length === 0 ? [] : [deviceMsg(child.device, MsgType.POST_ATTRIBUTES_REQUEST, now, attributes)];
  });
}

/**
 * `v1/gateway/attributes/request`, answered on `v1/gateway/attributes/response`. Two forms:
 * `{"id":1,"device":"A","client":true,"key":"k"}` (or `"keys":[..]`; `client` false: shared) gets
 * `{"id":1,"device":"A","value":v}` for one key asked (`key`, or `keys` of one), `{"id":1,"device":"A","values":{..}}`
 * for several (those found); nothing found: neither field, as ThingsBoard's JsonConverter;
 * the current docs' `{"id":1,"device":"A","client":["a"],"shared":["b"]}` gets
 * `{"id":1,"device":"A","client":{..},"shared":{..}}` (empty sections left out).
 */
export async function gatewayAttributesRequest(ctx: TransportContext, session: Session, text: string): Promise<void> {
  const json = parseObject(text, 'Gateway attribute request');
  const name = deviceName(json.device);
  const stringArray = (v: JsonValue | undefined): string[] | undefined =>
    Array.isArray(v) && v.every((k) => typeof k === 'string') ? (v as string[]) : undefined;
  const body: Record<string, unknown> = { id: json.id ?? null, device: name };
  const clientKeys = stringArray(json.client);
  const sharedKeys = stringArray(json.shared);
  let answer: AttributesResponse;
  if (clientKeys || sharedKeys) {
    const child = await ensureChild(ctx, session, name);
    answer = await ctx.service.getAttributes(child.device, { clientKeys, sharedKeys });
    if (answer.client) body.client = answer.client;
    if (answer.shared) body.shared = answer.shared;
  } else {
    const single = typeof json.key === 'string' ? json.key : undefined;
    const keys = single !== undefined ? [single] : stringArray(json.keys);
    if (!keys) throw new BadRequestError('Gateway attribute request needs "key", "keys", "client" or "shared"');
    const client = json.client === true;
    const child = await ensureChild(ctx, session, name);
    answer = await ctx.service.getAttributes(child.device, client ? { clientKeys: keys } : { sharedKeys: keys });
    const values = (client ? answer.client : answer.shared) ?? {};
    // ThingsBoard's JsonConverter.addValues: one name asked ("key", or "keys" of one) and found gets
    // "value"; several names asked get "values" with those found; nothing found, neither field.
    const found = Object.keys(values);
    if (found.length === 1 && keys.length === 1) body.value = values[found[0]!];
    else if (found.length > 0) body.values = values;
  }
  // a DOUBLE of integral value (a JsonDouble) prints 1.0, as ThingsBoard's Gson prints a Double
  send(session, Topic.GATEWAY_ATTRIBUTES_RESPONSE, deviceAnswerText(body, answer.doubles), qosOf(session, Feed.GATEWAY_ATTRIBUTES_RESPONSE));
}

/** `v1/gateway/rpc` `{"device":"A","id":1,"data":{..}}`: a device's reply to a server-side RPC, relayed by its gateway. */
export function gatewayRpc(ctx: TransportContext, session: Session, text: string): undefined {
  const json = parseObject(text, 'Gateway RPC');
  const name = deviceName(json.device);
  const id = typeof json.id === 'number' ? json.id : typeof json.id === 'string' ? Number(json.id) : NaN;
  const pending = Number.isInteger(id) ? session.pendingRpc?.get(id) : undefined;
  const child = session.children?.get(name);
  if (!pending || !child || pending.deviceId !== child.device.deviceId) {
    ctx.logger.debug({ deviceId: session.device.deviceId, device: name, id: json.id }, 'mqtt gateway rpc response for no pending request');
    return undefined;
  }
  session.pendingRpc?.delete(id);
  clearTimeout(pending.timer);
  ctx.counters.rpcReplied++;
  const data = json.data === undefined ? null : typeof json.data === 'string' ? replyBody(json.data) : json.data;
  ctx.service.rpcReplied(pending.device, pending, data);
  return undefined;
}

/**
 * `v1/gateway/claim` `{"Device A":{"secretKey":"...","durationMs":60000}}`: devices behind the
 * gateway may be claimed. Every entry is parsed before any device is created or claimed.
 */
export async function gatewayClaim(ctx: TransportContext, session: Session, text: string): Promise<void> {
  const json = parseObject(text, 'Gateway claim');
  if (!ctx.service.claimingAvailable) throw new FeatureUnavailableError('claiming');
  const requests: Array<[string, ClaimRequest]> = [];
  for (const name of Object.keys(json)) {
    if (name === '') throw new BadRequestError('Gateway claim: a device name is empty');
    requests.push([name, claimRequestOf(json[name] as JsonValue, `Gateway claim of "${name}"`)]);
  }
  for (const [name, request] of requests) {
    const child = await ensureChild(ctx, session, name);
    ctx.counters.claimRequests++;
    await ctx.service.claimParsed(child.device, request);
  }
}
