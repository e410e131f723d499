import type { IncomingMessage, ServerResponse } from 'node:http';
import { parseLenientJson, type DeviceInfo, type JsonValue } from '@rivulet/core';
import { accept, reject, rejectEarly, type HttpContext } from '../context';
import { TbErrorCode, canReply } from '../http-reply';
import type { Waiters } from '../long-poll';
import { authenticate, readPost } from './device-request';

// ---- long polls and RPC replies (ThingsBoard's DeviceApiController) ------------------------------

/** `?timeout=` in ms: absent or 0 means requestTimeoutMs; capped at maxLongPollMs; undefined after a 400. */
function pollTimeout(ctx: HttpContext, res: ServerResponse, query: string): number | undefined {
  const raw = new URLSearchParams(query).get('timeout');
  if (raw === null || raw === '' || raw === '0') return ctx.requestTimeoutMs;
  const ms = Number(raw);
  if (!Number.isSafeInteger(ms) || ms < 0) {
    reject(ctx, res, 'badRequest', 400, TbErrorCode.BAD_REQUEST_PARAMS, `Invalid timeout "${raw}": milliseconds expected`);
    return undefined;
  }
  return Math.min(ms, ctx.maxLongPollMs);
}

export function timedOut(ctx: HttpContext, what: string): (res: ServerResponse) => void {
  return (res) => reject(ctx, res, 'timeout', 408, TbErrorCode.GENERAL, `Timeout: no ${what} within the request's timeout`);
}

/** The answer of a long poll a newer one of the same device replaced: 408 as a timeout, so the device simply polls again. */
function replacedPoll(ctx: HttpContext, what: string, device: { tenantId: string; deviceId: string }): (res: ServerResponse) => void {
  return (res) => {
    const { loggedReplaced, maxLongPollsPerDevice } = ctx;
    if (!loggedReplaced.has(device.deviceId)) {
      if (loggedReplaced.size >= 100_000) loggedReplaced.clear();
      loggedReplaced.add(device.deviceId);
      ctx.logger.warn({ tenantId: device.tenantId, deviceId: device.deviceId, maxLongPollsPerDevice, note: 'logged once per device; counted in rejected.longPollReplaced' }, 'http long poll replaced by a newer one of the same device');
    }
    reject(ctx, res, 'longPollReplaced', 408, TbErrorCode.GENERAL, `Timeout: no ${what} before a newer long poll of this device replaced this one (at most ${maxLongPollsPerDevice} per device)`);
  };
}

/** Waits a long poll, and offers it to the server's connection cap to end early. */
function park(ctx: HttpContext, waiters: Waiters, device: DeviceInfo, res: ServerResponse, timeout: number, what: string): void {
  const waiter = waiters.add(device.deviceId, res, timeout, timedOut(ctx, what), replacedPoll(ctx, what, device), device);
  ctx.onLongPoll?.(res, () =>
    waiter.settle((r) => {
      if (!r.headersSent) r.setHeader('Connection', 'close');
      reject(ctx, r, 'longPollEnded', 408, TbErrorCode.GENERAL, `Timeout: no ${what} before the server needed this connection for a new client; poll again`);
    }),
  );
}

/** `GET /rpc?timeout=`: answered with the next server-side command for the device (downlink.ts), or 408. */
export async function pollRpc(ctx: HttpContext, res: ServerResponse, token: string, query: string): Promise<void> {
  const device = await authenticate(ctx, res, token);
  if (!device) return;
  const timeout = pollTimeout(ctx, res, query);
  if (timeout === undefined || !canReply(res)) return;
  park(ctx, ctx.rpcWaiters, device, res, timeout, 'RPC command');
}

/** `GET /attributes/updates?timeout=`: answered with the next shared attribute change (downlink.ts), or 408. */
export async function pollAttributeUpdates(ctx: HttpContext, res: ServerResponse, token: string, query: string): Promise<void> {
  const device = await authenticate(ctx, res, token);
  if (!device) return;
  const timeout = pollTimeout(ctx, res, query);
  if (timeout === undefined || !canReply(res)) return;
  park(ctx, ctx.attributeWaiters, device, res, timeout, 'shared attribute update');
}

/** Any JSON, or the text as it is when it is not JSON (ThingsBoard forwards the payload unparsed). */
function rpcResponseOf(_ctx: HttpContext, text: string): JsonValue {
  if (text === '') return null;
  try {
    return parseLenientJson(text);
  } catch {
    return text;
  }
}

/** `POST /rpc/{id}`: the device's reply to a command it took from a long poll. */
export async function replyRpc(ctx: HttpContext, req: IncomingMessage, res: ServerResponse, token: string, rawId: string): Promise<void> {
  const id = /^\d{1,10}$/.test(rawId) ? Number(rawId) : NaN;
  if (!Number.isSafeInteger(id)) {
    rejectEarly(ctx, req, res, 'badRequest', 400, TbErrorCode.BAD_REQUEST_PARAMS, `Invalid RPC request id "${rawId}": an integer is expected`);
    return;
  }
  const post = await readPost(ctx, req, res, token, rpcResponseOf);
  if (!post) return;
  const call = ctx.rpcIds.take(post.device.deviceId, id, Date.now());
  if (call === undefined) {
    reject(ctx, res, 'notFound', 404, TbErrorCode.ITEM_NOT_FOUND, `No RPC request ${id} is waiting for a reply (unknown or expired)`);
    return;
  }
  if (!call.oneway) ctx.service.rpcReplied(post.device, call, post.value);
  accept(ctx, res);
}
