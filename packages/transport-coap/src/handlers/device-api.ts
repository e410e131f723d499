import {
  BadRequestError,
  MsgType,
  RivuletError,
  attributesResponseText,
  deviceMsg,
  parseAttributes,
  parseKeyList,
  parseTelemetry,
  type DeviceInfo,
  type JsonValue,
  type KvValue,
  type TelemetryGroup,
} from '@rivulet/core';
import { FeatureUnavailableError, parseClaimRequest } from '@rivulet/transport-service';
import type { CoapResponse } from '../coap-endpoint';
import { Code } from '../coap-message';
import { accept, internalError, overTenantPayloadLimit, parsePayload, payloadOptions, produce, reject, type CoapContext } from '../context';

function telemetryOf(ctx: CoapContext, json: JsonValue, device: DeviceInfo): TelemetryGroup[] {
  return parseTelemetry(json, ctx.now(), payloadOptions(ctx, device));
}

function attributesOf(ctx: CoapContext, json: JsonValue, device: DeviceInfo): Record<string, KvValue> {
  return parseAttributes(json, payloadOptions(ctx, device));
}

/** `POST /api/v1/{token}/telemetry`: the device hot path; 2.01 once the queue accepted every message. */
export async function postTelemetry(ctx: CoapContext, res: CoapResponse, device: DeviceInfo, payload: Buffer): Promise<void> {
  if (overTenantPayloadLimit(ctx, res, device, payload)) return;
  const groups = parsePayload(ctx, res, device, payload, telemetryOf);
  if (groups === undefined) return;
  // `[]` has nothing to queue: answered at once
  if (groups.length === 0) return accept(ctx, res, Code.CREATED);
  const msgs = groups.map((g) => deviceMsg(device, MsgType.POST_TELEMETRY_REQUEST, g.ts, g.values));
  if (await produce(ctx, res, device, msgs)) accept(ctx, res, Code.CREATED);
}

/** `POST /api/v1/{token}/attributes`: client attributes. */
export async function postAttributes(ctx: CoapContext, res: CoapResponse, device: DeviceInfo, payload: Buffer): Promise<void> {
  if (overTenantPayloadLimit(ctx, res, device, payload)) return;
  const attributes = parsePayload(ctx, res, device, payload, attributesOf);
  if (attributes === undefined) return;
  if (Object.keys(attributes).length === 0) return accept(ctx, res, Code.CREATED);
  if (await produce(ctx, res, device, [deviceMsg(device, MsgType.POST_ATTRIBUTES_REQUEST, ctx.now(), attributes)])) accept(ctx, res, Code.CREATED);
}

/** The device's attributes, or undefined after answering 4.xx or 5.00. */
export async function readAttributes(ctx: CoapContext, res: CoapResponse, device: DeviceInfo, request: { clientKeys?: string[] | undefined; sharedKeys?: string[] | undefined }) {
  try {
    return await ctx.service.getAttributes(device, request);
  } catch (e) {
    if (e instanceof RivuletError && e.status < 500) {
      reject(ctx, res, e.status === 404 ? 'notFound' : 'badRequest', e.status === 404 ? Code.NOT_FOUND : Code.BAD_REQUEST, e.message);
    } else internalError(ctx, res, e, 'device attributes request failed');
    return undefined;
  }
}

/** `GET /api/v1/{token}/attributes?clientKeys=..&sharedKeys=..` (without Observe). */
export async function getAttributes(ctx: CoapContext, res: CoapResponse, device: DeviceInfo, query: Map<string, string>): Promise<void> {
  const request = { clientKeys: parseKeyList(query.get('clientKeys')), sharedKeys: parseKeyList(query.get('sharedKeys')) };
  const attrs = await readAttributes(ctx, res, device, request);
  if (attrs === undefined) return;
  // ThingsBoard answers 4.04 when nothing was found (its firmware expects that)
  if (attrs.client === undefined && attrs.shared === undefined) {
    return reject(ctx, res, 'notFound', Code.NOT_FOUND, 'No attributes found for the requested keys');
  }
  accept(ctx, res, Code.CONTENT, attributesResponseText(attrs));
}

/** `POST /api/v1/{token}/claim` `{"secretKey":..,"durationMs":..}` (both optional, the payload too): 2.01 (as its other posts) once the claiming service took it. */
export async function claim(ctx: CoapContext, res: CoapResponse, device: DeviceInfo, payload: Buffer): Promise<void> {
  const { service } = ctx;
  if (!service.claimingAvailable) return reject(ctx, res, 'notImplemented', Code.NOT_IMPLEMENTED, new FeatureUnavailableError('claiming').message);
  let request;
  try {
    request = parseClaimRequest(payload.toString('utf8'));
  } catch (e) {
    if (e instanceof BadRequestError) return reject(ctx, res, 'badRequest', Code.BAD_REQUEST, e.message);
    throw e;
  }
  try {
    await service.claimParsed(device, request);
  } catch (e) {
    if (e instanceof RivuletError && e.status < 500) reject(ctx, res, e.status === 404 ? 'notFound' : 'badRequest', e.status === 404 ? Code.NOT_FOUND : Code.BAD_REQUEST, e.message);
    else if (e instanceof FeatureUnavailableError) reject(ctx, res, 'notImplemented', Code.NOT_IMPLEMENTED, e.message);
    else internalError(ctx, res, e, 'device claim failed');
    return;
  }
  accept(ctx, res, Code.CREATED);
}
