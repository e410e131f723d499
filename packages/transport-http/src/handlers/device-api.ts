import type { IncomingMessage, ServerResponse } from 'node:http';
import {
  MsgType,
  RivuletError,
  attributesResponseText,
  deviceMsg,
  parseAttributes,
  parseKeyList,
  parseLenientJson,
  parseTelemetry,
  type DeviceInfo,
  type KvValue,
  type TelemetryGroup,
} from '@rivulet/core';
import { FeatureUnavailableError, parseClaimRequest, type ClaimRequest } from '@rivulet/transport-service';
import { accept, internalError, payloadOptions, produce, reject, type HttpContext } from '../context';
import { TbErrorCode, replyJson } from '../http-reply';
import { authenticate, readPost } from './device-request';
import { notImplemented } from './provision';

function telemetryOf(ctx: HttpContext, text: string, device: DeviceInfo): TelemetryGroup[] {
  return parseTelemetry(parseLenientJson(text), ctx.now(), payloadOptions(ctx, device));
}

function attributesOf(ctx: HttpContext, text: string, device: DeviceInfo): Record<string, KvValue> {
  return parseAttributes(parseLenientJson(text), payloadOptions(ctx, device));
}

function claimRequestOf(_ctx: HttpContext, text: string): ClaimRequest {
  return parseClaimRequest(text);
}

/** `POST /api/v1/{token}/telemetry`: the device hot path. */
export async function postTelemetry(ctx: HttpContext, req: IncomingMessage, res: ServerResponse, token: string): Promise<void> {
  const post = await readPost(ctx, req, res, token, telemetryOf);
  if (!post) return;
  const { device, value: groups } = post;
  // `[]` (or nothing left after dropping nulls) has nothing to queue: answer at once, where
  // ThingsBoard never answers (its issue #6746).
  if (groups.length === 0) return accept(ctx, res);
  const msgs = groups.map((g) => deviceMsg(device, MsgType.POST_TELEMETRY_REQUEST, g.ts, g.values));
  await produce(ctx, res, device, msgs);
}

/** `POST /api/v1/{token}/attributes`: client attributes. */
export async function postAttributes(ctx: HttpContext, req: IncomingMessage, res: ServerResponse, token: string): Promise<void> {
  const post = await readPost(ctx, req, res, token, attributesOf);
  if (!post) return;
  const { device, value: attributes } = post;
  if (Object.keys(attributes).length === 0) return accept(ctx, res);
  await produce(ctx, res, device, [deviceMsg(device, MsgType.POST_ATTRIBUTES_REQUEST, ctx.now(), attributes)]);
}

/** `GET /api/v1/{token}/attributes?clientKeys=..&sharedKeys=..`. */
export async function getAttributes(ctx: HttpContext, res: ServerResponse, token: string, query: string): Promise<void> {
  const device = await authenticate(ctx, res, token);
  if (!device) return;
  const params = new URLSearchParams(query);
  const request = { clientKeys: parseKeyList(params.get('clientKeys')), sharedKeys: parseKeyList(params.get('sharedKeys')) };
  let body: string;
  try {
    body = attributesResponseText(await ctx.service.getAttributes(device, request));
  } catch (e) {
    if (e instanceof RivuletError && e.status < 500) {
      const errorCode = e.status === 404 ? TbErrorCode.ITEM_NOT_FOUND : TbErrorCode.BAD_REQUEST_PARAMS;
      reject(ctx, res, e.status === 404 ? 'notFound' : 'badRequest', e.status, errorCode, e.message);
    } else internalError(ctx, res, e, 'device attributes request failed');
    return;
  }
  ctx.counters.acceptedRequests++;
  replyJson(res, 200, body);
}

/** `POST /api/v1/{token}/claim` `{"secretKey":..,"durationMs":..}` (both optional, the body too): 200 once the claiming service took it. */
export async function claim(ctx: HttpContext, req: IncomingMessage, res: ServerResponse, token: string): Promise<void> {
  const post = await readPost(ctx, req, res, token, claimRequestOf);
  if (!post) return;
  if (!ctx.service.claimingAvailable) return notImplemented(ctx, res, new FeatureUnavailableError('claiming'));
  try {
    await ctx.service.claimParsed(post.device, post.value);
  } catch (e) {
    if (e instanceof RivuletError && e.status < 500) reject(ctx, res, e.status === 404 ? 'notFound' : 'badRequest', e.status, e.status === 404 ? TbErrorCode.ITEM_NOT_FOUND : TbErrorCode.BAD_REQUEST_PARAMS, e.message);
    else if (e instanceof FeatureUnavailableError) notImplemented(ctx, res, e);
    else internalError(ctx, res, e, 'device claim failed');
    return;
  }
  accept(ctx, res);
}
