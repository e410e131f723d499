import type { IncomingMessage, ServerResponse } from 'node:http';
import type { DeviceAuthenticator, DeviceInfo, DeviceStateReporter, JsonValue, Logger, Msg, PayloadOptions, TransportRateLimit } from '@rivulet/core';
import type { QueueRecord } from '@rivulet/queue';
import type { DeviceRpcCalls, TransportService } from '@rivulet/transport-service';
import { TbErrorCode, canReply, discardBody, replyError, replyOk } from './http-reply';
import type { Waiters } from './long-poll';

/** Why a request was not accepted; one counter each. */
export type RejectReason =
  | 'badRequest'
  | 'unauthorized'
  | 'notFound'
  | 'methodNotAllowed'
  | 'payloadTooLarge'
  /** Over the device's or its tenant's message rate: 429 with Retry-After. */
  | 'rateLimited'
  | 'unavailable'
  /** A long poll or client-side RPC answered 408: nothing came in time. */
  | 'timeout'
  | 'internal'
  /** The client went away before sending the whole body. */
  | 'aborted'
  /** A long poll answered 408 because a newer long poll of the same device took its place (maxLongPollsPerDevice). */
  | 'longPollReplaced'
  /** A long poll answered 408 early to free its connection for a new client (the server's connection cap). */
  | 'longPollEnded'
  /** Provisioning or claiming asked of a server without that service: 501. */
  | 'notImplemented';

export function newRejected(): Record<RejectReason, number> {
  return {
    badRequest: 0,
    unauthorized: 0,
    notFound: 0,
    methodNotAllowed: 0,
    payloadTooLarge: 0,
    rateLimited: 0,
    unavailable: 0,
    timeout: 0,
    internal: 0,
    aborted: 0,
    longPollReplaced: 0,
    longPollEnded: 0,
    notImplemented: 0,
  };
}

export interface Counters {
  requests: number;
  acceptedRequests: number;
  acceptedMessages: number;
}

/** A client-side RPC's reply did not come within requestTimeoutMs. */
export const TIMEOUT = Symbol('timeout');
/** A client-side RPC's connection closed, or the transport stopped, before its reply came. */
export const GONE = Symbol('gone');
export type ClientRpcAnswer = JsonValue | typeof TIMEOUT | typeof GONE;

/**
 * What every handler shares, built once by createHttpTransport and passed to each (no closure per
 * request). auth, state and limiter are the transport service's own objects, kept here so the hot
 * path calls them directly, as before.
 */
export interface HttpContext {
  readonly service: TransportService;
  readonly auth: DeviceAuthenticator;
  readonly state: DeviceStateReporter;
  readonly logger: Logger;
  readonly maxPayloadBytes: number;
  readonly typeCasting: boolean;
  /** Whether the service has a downlink: without one, the RPC and attribute-update paths answer 404. */
  readonly downlink: boolean;
  /** Long polls without `?timeout=` wait this long, and a client-side RPC waits this long for its reply. */
  readonly requestTimeoutMs: number;
  readonly maxLongPollMs: number;
  readonly maxLongPollsPerDevice: number;
  readonly clientAddress: (req: IncomingMessage) => string | undefined;
  readonly onLongPoll: ((res: ServerResponse, endNow: () => void) => void) | undefined;
  /** The shared device and tenant message rates (the service's one limiter); undefined: no limit. */
  readonly limiter: TransportRateLimit | undefined;
  readonly rpcWaiters: Waiters;
  readonly attributeWaiters: Waiters;
  /**
   * Commands taken by polls, by the id the device answers with; a two-way one not answered by its
   * expirationTime gives RPC_TIMEOUT then (the service's timer).
   */
  readonly rpcIds: DeviceRpcCalls;
  /** Client-side RPCs waiting for the rule chain's reply, by `${deviceId}#${requestId}`. */
  readonly pendingRpc: Map<string, (body: ClientRpcAnswer) => void>;
  /** Sent as sessionId with client-side RPC requests, so the rule chain's reply comes back here only. */
  readonly sessionId: string;
  /** Devices whose replaced long poll was logged (once each). */
  readonly loggedReplaced: Set<string>;
  readonly counters: Counters;
  readonly rejected: Record<RejectReason, number>;
  /** The next client-side RPC's requestId. */
  nextRpcId: number;
  stopped: boolean;
  now(): number;
}

/** The parsers' options for the device's tenant (its key limits). */
export function payloadOptions(ctx: HttpContext, device: DeviceInfo): PayloadOptions {
  return ctx.service.payloadOptions(device, ctx.typeCasting);
}

/** Answers with an error unless already answered; counts it once. */
export function reject(
  ctx: HttpContext,
  res: ServerResponse,
  reason: RejectReason,
  status: number,
  errorCode: TbErrorCode,
  message: string,
  headers?: Record<string, string>,
): void {
  if (!canReply(res)) return;
  ctx.rejected[reason]++;
  ctx.logger.debug({ reason, status, message }, 'device request rejected');
  replyError(res, status, errorCode, message, headers);
}

/** An answer given before the body was read: the rest of the body is dropped. */
export function rejectEarly(
  ctx: HttpContext,
  req: IncomingMessage,
  res: ServerResponse,
  reason: RejectReason,
  status: number,
  errorCode: TbErrorCode,
  message: string,
  headers?: Record<string, string>,
): void {
  reject(ctx, res, reason, status, errorCode, message, headers);
  discardBody(req);
}

export function tooLarge(ctx: HttpContext, res: ServerResponse, limit = ctx.maxPayloadBytes): void {
  reject(ctx, res, 'payloadTooLarge', 413, TbErrorCode.BAD_REQUEST_PARAMS, `Payload too large: the limit is ${limit} bytes`);
}

export function internalError(ctx: HttpContext, res: ServerResponse, e: unknown, what: string): void {
  ctx.logger.error({ err: e }, what);
  reject(ctx, res, 'internal', 500, TbErrorCode.GENERAL, 'Internal server error');
}

export function accept(ctx: HttpContext, res: ServerResponse): void {
  ctx.counters.acceptedRequests++;
  replyOk(res);
}

/** Hands the messages of one request to the queue in one call; 200 once it accepted them all. */
export async function produce(ctx: HttpContext, res: ServerResponse, device: DeviceInfo, msgs: Msg[]): Promise<void> {
  const records: Array<QueueRecord<Msg>> = msgs.map((value) => ({ key: device.deviceId, value }));
  try {
    await ctx.service.produce(records);
  } catch {
    reject(ctx, res, 'unavailable', 503, TbErrorCode.GENERAL, 'Service unavailable: the message queue did not accept the payload, retry later', {
      'retry-after': '1',
    });
    return;
  }
  ctx.counters.acceptedMessages += msgs.length;
  accept(ctx, res);
}
