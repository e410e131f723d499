import { ObserveWriteStream } from 'coap';
import {
  BadRequestError,
  parseLenientJson,
  type DeviceAuthenticator,
  type DeviceInfo,
  type DeviceStateReporter,
  type JsonValue,
  type Logger,
  type Msg,
  type PayloadOptions,
  type TransportRateLimit,
} from '@rivulet/core';
import type { QueueRecord } from '@rivulet/queue';
import type { DeviceRpcCalls, TransportService } from '@rivulet/transport-service';
import type { CoapResponse } from './coap-endpoint';
import { Code } from './coap-message';
import type { ObserveRegistry } from './observe-registry';

/** Why a request was not accepted; one counter each. */
export type RejectReason =
  | 'badRequest'
  | 'unauthorized'
  | 'notFound'
  | 'methodNotAllowed'
  | 'payloadTooLarge'
  | 'rateLimited'
  | 'unavailable'
  | 'timeout'
  | 'internal'
  /** Provisioning or claiming asked of a server without that service: 5.01. */
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
    notImplemented: 0,
  };
}

export interface Counters {
  requests: number;
  acceptedRequests: number;
  acceptedMessages: number;
  notifications: number;
  /** Requests whose answer was held back by the rate limit. */
  held: number;
}

/** A client-side RPC's reply did not come within rpcTimeoutMs. */
export const TIMEOUT = Symbol('timeout');
/** The transport stopped before a client-side RPC's reply came. */
export const STOPPED = Symbol('stopped');
export type ClientRpcAnswer = JsonValue | typeof TIMEOUT | typeof STOPPED;

export const JSON_FORMAT = 'application/json';

/**
 * What every handler shares, built once by createCoapTransport and passed to each (no closure per
 * request). auth, state and limiter are the transport service's own objects, kept here so the hot
 * path calls them directly, as before.
 */
export interface CoapContext {
  readonly service: TransportService;
  readonly auth: DeviceAuthenticator;
  readonly state: DeviceStateReporter;
  readonly logger: Logger;
  readonly maxPayloadBytes: number;
  readonly typeCasting: boolean;
  /** How long a client-side RPC (POST /rpc) waits for the rule chain's reply. */
  readonly rpcTimeoutMs: number;
  /** Client-side RPCs waiting for a reply; beyond, 5.03. */
  readonly maxPendingRpc: number;
  /** The shared device and tenant message rates (the service's one limiter); undefined: no limit. */
  readonly limiter: TransportRateLimit | undefined;
  /** Observations (attribute updates, RPC commands) by key and by device. */
  readonly registry: ObserveRegistry;
  /**
   * Commands sent to observers, by the id the device answers with; a two-way one not answered by
   * its expirationTime gives RPC_TIMEOUT then (the service's timer).
   */
  readonly rpcIds: DeviceRpcCalls;
  /** Client-side RPCs waiting for the rule chain, by `${deviceId}#${requestId}`. */
  readonly pendingRpc: Map<string, (body: ClientRpcAnswer) => void>;
  /** Client-side RPC requests carry it as sessionId, so the rule chain's reply comes back here only. */
  readonly sessionId: string;
  /** Requests in progress, which stop() waits for. */
  readonly inflight: Set<Promise<void>>;
  readonly counters: Counters;
  readonly rejected: Record<RejectReason, number>;
  /** The next client-side RPC's requestId. */
  nextClientRpcId: number;
  stopped: boolean;
  now(): number;
}

/** The parsers' options for the device's tenant (its key limits). */
export function payloadOptions(ctx: CoapContext, device: DeviceInfo): PayloadOptions {
  return ctx.service.payloadOptions(device, ctx.typeCasting);
}

// ---- answers -----------------------------------------------------------------------------------

/**
 * One answer to a request. An observe request (Observe=0) gets an ObserveWriteStream; answering
 * it once, without the Observe option, establishes nothing (non-2.xx answers carry no Observe
 * option, RFC 7641 §4.2).
 */
export function send(ctx: CoapContext, res: CoapResponse, code: Code, payload?: string, opts: { json?: boolean; options?: Record<string, number> } = {}): void {
  try {
    res.statusCode = code;
    if (opts.json === true) res.setOption('Content-Format', JSON_FORMAT);
    for (const [name, value] of Object.entries(opts.options ?? {})) res.setOption(name as 'Size1', value);
    const body = payload === undefined || payload === '' ? undefined : Buffer.from(payload, 'utf8');
    if (res instanceof ObserveWriteStream) {
      res.setOption('Observe', []);
      res._doSend(body);
    } else res.end(body);
  } catch (e) {
    // the socket closed under us (stop), or the package could not encode the message
    ctx.logger.debug({ err: e }, 'coap answer not sent');
  }
}

export function reject(ctx: CoapContext, res: CoapResponse, reason: RejectReason, code: Code, message: string, options?: Record<string, number>): void {
  ctx.rejected[reason]++;
  ctx.logger.debug({ reason, code, message }, 'device request rejected');
  send(ctx, res, code, message, options ? { options } : {});
}

export function accept(ctx: CoapContext, res: CoapResponse, code: Code, payload?: string): void {
  ctx.counters.acceptedRequests++;
  send(ctx, res, code, payload, { json: payload !== undefined && payload !== '' });
}

export function internalError(ctx: CoapContext, res: CoapResponse, e: unknown, what: string): void {
  ctx.logger.error({ err: e }, what);
  reject(ctx, res, 'internal', Code.INTERNAL_SERVER_ERROR, 'Internal server error');
}

// ---- payloads ----------------------------------------------------------------------------------

/** 4.13 for a payload over the tenant's own limit (below the transport's; the endpoint enforced that one); false otherwise. */
export function overTenantPayloadLimit(ctx: CoapContext, res: CoapResponse, device: DeviceInfo, payload: Buffer): boolean {
  const { maxPayloadBytes } = ctx;
  const tenantMax = ctx.service.payloadLimit(device, maxPayloadBytes);
  if (tenantMax >= maxPayloadBytes || payload.length <= tenantMax) return false;
  reject(ctx, res, 'payloadTooLarge', Code.REQUEST_ENTITY_TOO_LARGE, `Payload too large: the limit is ${tenantMax} bytes`, { Size1: tenantMax });
  return true;
}

/** Turns a device's JSON payload into a value; throws BadRequestError (answered 4.00). A module-level function, so a request allocates no parser. */
export type PayloadParser<T> = (ctx: CoapContext, json: JsonValue, device: DeviceInfo) => T;

/** The payload as JSON, or undefined after answering 4.00. */
export function parsePayload<T>(ctx: CoapContext, res: CoapResponse, device: DeviceInfo, payload: Buffer, parse: PayloadParser<T>): T | undefined {
  try {
    if (payload.length === 0) throw new BadRequestError('Empty payload: a JSON payload is expected');
    return parse(ctx, parseLenientJson(payload.toString('utf8')), device);
  } catch (e) {
    if (e instanceof BadRequestError) reject(ctx, res, 'badRequest', Code.BAD_REQUEST, e.message);
    else internalError(ctx, res, e, 'device payload parsing failed');
    return undefined;
  }
}

/** Hands the messages of one request to the queue in one call; false after answering 5.03. */
export async function produce(ctx: CoapContext, res: CoapResponse, device: DeviceInfo, msgs: Msg[]): Promise<boolean> {
  const records: Array<QueueRecord<Msg>> = msgs.map((value) => ({ key: device.deviceId, value }));
  try {
    await ctx.service.produce(records);
  } catch {
    reject(ctx, res, 'unavailable', Code.SERVICE_UNAVAILABLE, 'Service unavailable: the message queue did not accept the payload, retry later', { 'Max-Age': 1 });
    return false;
  }
  ctx.counters.acceptedMessages += msgs.length;
  return true;
}
