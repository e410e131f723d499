import type { IncomingMessage, ServerResponse } from 'node:http';
import {
  BadRequestError,
  EntityType,
  MsgType,
  RivuletError,
  createMsg,
  parseAttributes,
  parseKeyList,
  parseLenientJson,
  parseTelemetry,
  silentLogger,
  type DeviceApiService,
  type DeviceAuthenticator,
  type DeviceInfo,
  type Logger,
  type Msg,
} from '@rivulet/core';
import { Topics, type Queue, type QueueRecord } from '@rivulet/queue';
import { API_PREFIX, Resource, parseDeviceRoute, unsupportedFeature } from './device-route';
import { TbErrorCode, canReply, discardBody, replyError, replyJson, replyOk } from './http-reply';
import { readBody } from './request-body';

export interface HttpTransportOptions {
  queue: Queue;
  /** The server passes a cached one; this transport calls it on every request. */
  auth: DeviceAuthenticator;
  deviceApi: DeviceApiService;
  logger?: Logger;
  /** Largest accepted body; default 64 KiB like ThingsBoard. */
  maxPayloadBytes?: number;
  /** Numeric strings become numbers (ThingsBoard's default, on). */
  typeCasting?: boolean;
  /** Server time for payloads without their own ts. */
  now?: () => number;
}

/** Why a request was not accepted; one counter each. */
export type RejectReason =
  | 'badRequest'
  | 'unauthorized'
  | 'notFound'
  | 'methodNotAllowed'
  | 'payloadTooLarge'
  | 'unavailable'
  | 'internal'
  /** The client went away before sending the whole body. */
  | 'aborted';

export interface HttpTransportStats {
  /** Requests under /api/v1/ taken by the transport. */
  requests: number;
  /** Requests answered 200. */
  acceptedRequests: number;
  /** Messages handed to the queue (one per telemetry ts group, one per attributes post). */
  acceptedMessages: number;
  rejected: Record<RejectReason, number>;
}

export interface HttpTransport {
  /**
   * Serves `req` when its path is under /api/v1/ (ThingsBoard's HTTP device API) and returns true;
   * returns false without touching it otherwise, so the caller routes it elsewhere.
   */
  handle(req: IncomingMessage, res: ServerResponse): boolean;
  stats(): HttpTransportStats;
  /** Stops accepting: every later request is answered 503. Requests already in progress finish. */
  stop(): void;
}

const DEFAULT_MAX_PAYLOAD_BYTES = 64 * 1024;

/**
 * ThingsBoard's HTTP device API on plain node:http (a framework's body parsing would cost more than
 * everything else on this path).
 *
 * Order of checks on a post: a Content-Length over the cap answers 413 before anything else; then
 * the token is checked while the body arrives (ThingsBoard checks the token before the payload), so
 * a bad token answers 401 as soon as it is known and a body passing the cap answers 413 as soon as
 * it does, whichever comes first; then the payload is parsed (400); then the queue (503 if it fails).
 * The answer to an accepted post waits for the queue, so a full queue slows devices down.
 */
export function createHttpTransport(options: HttpTransportOptions): HttpTransport {
  const { queue, auth, deviceApi } = options;
  const logger = (options.logger ?? silentLogger).child({ component: 'transport-http' });
  const maxPayloadBytes = options.maxPayloadBytes ?? DEFAULT_MAX_PAYLOAD_BYTES;
  const typeCasting = options.typeCasting ?? true;
  const now = options.now ?? Date.now;
  const payloadOptions = { typeCasting };

  let stopped = false;
  const counters = { requests: 0, acceptedRequests: 0, acceptedMessages: 0 };
  const rejected: Record<RejectReason, number> = {
    badRequest: 0,
    unauthorized: 0,
    notFound: 0,
    methodNotAllowed: 0,
    payloadTooLarge: 0,
    unavailable: 0,
    internal: 0,
    aborted: 0,
  };

  /** Answers with an error unless already answered; counts it once. */
  function reject(
    res: ServerResponse,
    reason: RejectReason,
    status: number,
    errorCode: TbErrorCode,
    message: string,
    headers?: Record<string, string>,
  ): void {
    if (!canReply(res)) return;
    rejected[reason]++;
    logger.debug({ reason, status, message }, 'device request rejected');
    replyError(res, status, errorCode, message, headers);
  }

  /** An answer given before the body was read: the rest of the body is dropped. */
  function rejectEarly(
    req: IncomingMessage,
    res: ServerResponse,
    reason: RejectReason,
    status: number,
    errorCode: TbErrorCode,
    message: string,
    headers?: Record<string, string>,
  ): void {
    reject(res, reason, status, errorCode, message, headers);
    discardBody(req);
  }

  function tooLarge(res: ServerResponse): void {
    reject(res, 'payloadTooLarge', 413, TbErrorCode.BAD_REQUEST_PARAMS, `Payload too large: the limit is ${maxPayloadBytes} bytes`);
  }

  function internalError(res: ServerResponse, e: unknown, what: string): void {
    logger.error({ err: e }, what);
    reject(res, 'internal', 500, TbErrorCode.GENERAL, 'Internal server error');
  }

  /** The device of `token`, or undefined after answering 401 (unknown token) or 500 (auth failed). */
  async function authenticate(res: ServerResponse, token: string): Promise<DeviceInfo | undefined> {
    let device: DeviceInfo | null;
    try {
      device = token === '' ? null : await auth.authenticateToken(token);
    } catch (e) {
      internalError(res, e, 'device authentication failed');
      return undefined;
    }
    if (!device) {
      reject(res, 'unauthorized', 401, TbErrorCode.AUTHENTICATION, 'Authentication failed: invalid device access token');
      return undefined;
    }
    return device;
  }

  /**
   * Reads the body of a post (413 as soon as it passes the cap) while the token is checked, then
   * parses it with `parse`; undefined after any error answer.
   */
  async function readPost<T>(
    req: IncomingMessage,
    res: ServerResponse,
    token: string,
    parse: (text: string) => T,
  ): Promise<{ device: DeviceInfo; value: T } | undefined> {
    const declared = Number(req.headers['content-length']);
    if (declared > maxPayloadBytes) {
      tooLarge(res);
      discardBody(req);
      return undefined;
    }
    const body = readBody(req, maxPayloadBytes).then((b) => {
      if (b.kind === 'too-large') tooLarge(res);
      // counted unless already answered (an early 401 or 413 is the request's outcome)
      else if (b.kind === 'aborted' && !res.headersSent) {
        rejected.aborted++;
        logger.debug({}, 'device request aborted');
      }
      return b;
    });
    const device = await authenticate(res, token);
    const b = await body;
    if (!device || b.kind !== 'ok' || !canReply(res)) return undefined;
    try {
      return { device, value: parse(b.text) };
    } catch (e) {
      if (e instanceof BadRequestError) {
        reject(res, 'badRequest', 400, TbErrorCode.INVALID_ARGUMENTS, e.message);
      } else internalError(res, e, 'device payload parsing failed');
      return undefined;
    }
  }

  /** Hands the messages of one request to the queue in one call; 200 once it accepted them all. */
  async function produce(res: ServerResponse, device: DeviceInfo, msgs: Msg[]): Promise<void> {
    const records: Array<QueueRecord<Msg>> = msgs.map((value) => ({ key: device.deviceId, value }));
    try {
      await queue.produce(Topics.RULE_ENGINE, records);
    } catch (e) {
      logger.warn({ err: e, tenantId: device.tenantId, deviceId: device.deviceId }, 'queue rejected device messages');
      reject(res, 'unavailable', 503, TbErrorCode.GENERAL, 'Service unavailable: the message queue did not accept the payload, retry later', {
        'retry-after': '1',
      });
      return;
    }
    counters.acceptedMessages += msgs.length;
    accept(res);
  }

  function accept(res: ServerResponse): void {
    counters.acceptedRequests++;
    replyOk(res);
  }

  function deviceMsg(device: DeviceInfo, type: string, ts: number, data: Msg['data']): Msg {
    return createMsg({
      type,
      originator: { entityType: EntityType.DEVICE, id: device.deviceId },
      tenantId: device.tenantId,
      metadata: { deviceName: device.deviceName, deviceType: device.deviceType, ts: String(ts) },
      data,
      ts,
    });
  }

  async function postTelemetry(req: IncomingMessage, res: ServerResponse, token: string): Promise<void> {
    const post = await readPost(req, res, token, (text) => parseTelemetry(parseLenientJson(text), now(), payloadOptions));
    if (!post) return;
    const { device, value: groups } = post;
    // `[]` (or nothing left after dropping nulls) has nothing to queue: answer at once, where
    // ThingsBoard never answers (its issue #6746).
    if (groups.length === 0) return accept(res);
    const msgs = groups.map((g) => deviceMsg(device, MsgType.POST_TELEMETRY_REQUEST, g.ts, g.values));
    await produce(res, device, msgs);
  }

  async function postAttributes(req: IncomingMessage, res: ServerResponse, token: string): Promise<void> {
    const post = await readPost(req, res, token, (text) => parseAttributes(parseLenientJson(text), payloadOptions));
    if (!post) return;
    const { device, value: attributes } = post;
    if (Object.keys(attributes).length === 0) return accept(res);
    await produce(res, device, [deviceMsg(device, MsgType.POST_ATTRIBUTES_REQUEST, now(), attributes)]);
  }

  async function getAttributes(res: ServerResponse, token: string, query: string): Promise<void> {
    const device = await authenticate(res, token);
    if (!device) return;
    const params = new URLSearchParams(query);
    const request = { clientKeys: parseKeyList(params.get('clientKeys')), sharedKeys: parseKeyList(params.get('sharedKeys')) };
    let body: string;
    try {
      body = JSON.stringify(await deviceApi.getAttributes(device, request));
    } catch (e) {
      if (e instanceof RivuletError && e.status < 500) {
        const errorCode = e.status === 404 ? TbErrorCode.ITEM_NOT_FOUND : TbErrorCode.BAD_REQUEST_PARAMS;
        reject(res, e.status === 404 ? 'notFound' : 'badRequest', e.status, errorCode, e.message);
      } else internalError(res, e, 'device attributes request failed');
      return;
    }
    counters.acceptedRequests++;
    replyJson(res, 200, body);
  }

  /** Runs an async handler; a bug in it answers 500 instead of becoming an unhandled rejection. */
  function run(res: ServerResponse, work: Promise<void>): void {
    work.catch((e: unknown) => internalError(res, e, 'device request failed'));
  }

  function methodNotAllowed(req: IncomingMessage, res: ServerResponse, allow: string): void {
    rejectEarly(req, res, 'methodNotAllowed', 405, TbErrorCode.GENERAL, `Method ${req.method ?? ''} is not allowed here; use ${allow}`, { allow });
  }

  return {
    handle(req, res) {
      const url = req.url;
      if (url === undefined || !url.startsWith(API_PREFIX)) return false;
      counters.requests++;
      if (stopped) {
        rejectEarly(req, res, 'unavailable', 503, TbErrorCode.GENERAL, 'Service unavailable: the server is shutting down', { connection: 'close' });
        return true;
      }
      const route = parseDeviceRoute(url);
      const { token } = route;
      if (token === null) {
        rejectEarly(req, res, 'badRequest', 400, TbErrorCode.BAD_REQUEST_PARAMS, 'Invalid percent-encoding in the device access token');
        return true;
      }
      const method = req.method;
      if (route.resource === Resource.TELEMETRY) {
        if (method === 'POST') run(res, postTelemetry(req, res, token));
        else methodNotAllowed(req, res, 'POST');
      } else if (route.resource === Resource.ATTRIBUTES) {
        if (method === 'POST') run(res, postAttributes(req, res, token));
        else if (method === 'GET') run(res, getAttributes(res, token, route.query));
        else methodNotAllowed(req, res, 'GET, POST');
      } else {
        const feature = unsupportedFeature(route);
        const message = feature
          ? `${feature} over the HTTP device API is not supported yet`
          : `Unknown device API path: ${API_PREFIX}{token}/${route.resource}`;
        rejectEarly(req, res, 'notFound', 404, TbErrorCode.ITEM_NOT_FOUND, message);
      }
      return true;
    },

    stats() {
      return { ...counters, rejected: { ...rejected } };
    },

    stop() {
      stopped = true;
    },
  };
}
