import type { IncomingMessage, ServerResponse } from 'node:http';
import {
  AttributeScope,
  BadRequestError,
  MsgType,
  RivuletError,
  attributesResponseText,
  deviceAnswerText,
  deviceMsg,
  parseAttributes,
  parseKeyList,
  parseLenientJson,
  parseTelemetry,
  sharedAttributesUpdate,
  silentLogger,
  type AttributesEvent,
  type DeviceInfo,
  type JsonValue,
  type Logger,
  type Msg,
  type ToDeviceRpcRequest,
  type ToServerRpcReply,
  type PayloadOptions,
} from '@rivulet/core';
import type { QueueRecord } from '@rivulet/queue';
import { DeviceRpcCalls, FeatureUnavailableError, ProvisionRateLimitError, parseClaimRequest, type TransportService } from '@rivulet/transport-service';
import { API_PREFIX, PROVISION, Resource, parseDeviceRoute, unsupportedFeature } from './device-route';
import { Waiters } from './long-poll';
import { TbErrorCode, canReply, discardBody, replyError, replyJson, replyOk } from './http-reply';
import { readBody } from './request-body';

export interface HttpTransportOptions {
  /**
   * What the three transports share (authentication, limits, producing, attribute requests, RPC,
   * the session registry, device state, provisioning and claiming): the server builds one and hands
   * it to each. Without a broadcast in it, the RPC and attribute-update long polls answer 404.
   * Its rate limiter applies to every authenticated device request; one over the device's or its
   * tenant's rate is answered 429 with Retry-After at once (HTTP holds nothing).
   */
  service: TransportService;
  /** Long polls without `?timeout=` wait this long, and a client-side RPC waits this long for its reply; default 60 s (ThingsBoard's). */
  requestTimeoutMs?: number;
  /** Longest `?timeout=` honoured; default 5 minutes. */
  maxLongPollMs?: number;
  /**
   * Long polls of one kind (RPC, attribute updates) one device may hold open at once; a new one past
   * it replaces the oldest, which is answered 408 (as a poll that timed out). Default 4; 0: no limit.
   */
  maxLongPollsPerDevice?: number;
  /**
   * Told of each long poll as it starts to wait, with a function that answers it now (408 as a
   * timeout, then the connection closes): the server's connection cap uses it to end the oldest
   * long poll when every connection is in use, so waiting requests cannot lock out new clients.
   */
  onLongPoll?: (res: ServerResponse, endNow: () => void) => void;
  logger?: Logger;
  /** Largest accepted body; default 64 KiB like ThingsBoard. */
  maxPayloadBytes?: number;
  /** Numeric strings become numbers (ThingsBoard's default, on). */
  typeCasting?: boolean;
  /**
   * The client's address, for the per-address provisioning limit: the server's resolver believes
   * X-Forwarded-For from its trusted proxies only (RIVULET_TRUSTED_PROXIES). Default: the socket's peer.
   */
  clientAddress?: (req: IncomingMessage) => string | undefined;
}

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

export interface HttpTransportStats {
  /** Requests under /api/v1/ taken by the transport. */
  requests: number;
  /** Requests answered 200. */
  acceptedRequests: number;
  /** Messages handed to the queue (one per telemetry ts group, one per attributes post). */
  acceptedMessages: number;
  rejected: Record<RejectReason, number>;
  /** Long polls (RPC commands, attribute updates) and client-side RPCs waiting now. */
  waiting: number;
}

export interface HttpTransport {
  /**
   * Serves `req` when its path is under /api/v1/ (ThingsBoard's HTTP device API) and returns true;
   * returns false without touching it otherwise, so the caller routes it elsewhere.
   */
  handle(req: IncomingMessage, res: ServerResponse): boolean;
  stats(): HttpTransportStats;
  /**
   * Stops accepting: every later request is answered 503, and so are the long polls and client-side
   * RPCs waiting. Requests already in progress finish.
   */
  stop(): void;
}

const DEFAULT_MAX_PAYLOAD_BYTES = 64 * 1024;
const TIMEOUT = Symbol('timeout');
const GONE = Symbol('gone');

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
  const { service } = options;
  // the service's own objects, called directly on the hot path
  const { auth, state } = service;
  const logger = (options.logger ?? silentLogger).child({ component: 'transport-http' });
  const maxPayloadBytes = options.maxPayloadBytes ?? DEFAULT_MAX_PAYLOAD_BYTES;
  const typeCasting = options.typeCasting ?? true;
  const clientAddress = options.clientAddress ?? ((req: IncomingMessage) => req.socket.remoteAddress);
  const now = service.now;
  /** The parsers' options for the device's tenant (its key limits). */
  const payloadOptions = (device: DeviceInfo): PayloadOptions => service.payloadOptions(device, typeCasting);
  const downlink = service.hasDownlink;
  const requestTimeoutMs = options.requestTimeoutMs ?? 60_000;
  const maxLongPollMs = options.maxLongPollMs ?? 300_000;
  const maxLongPollsPerDevice = options.maxLongPollsPerDevice ?? 4;
  const hold = (deviceId: string): (() => void) => service.holdSession(deviceId);
  const rpcWaiters = new Waiters(maxLongPollsPerDevice, hold);
  const attributeWaiters = new Waiters(maxLongPollsPerDevice, hold);
  // commands taken by polls, by the id the device answers with; a two-way one not answered by its
  // expirationTime gives RPC_TIMEOUT then (the service's timer)
  const rpcIds = new DeviceRpcCalls(service, 64);
  /** Client-side RPCs waiting for the rule chain's reply, by `${deviceId}#${requestId}`. */
  const pendingRpc = new Map<string, (body: JsonValue | typeof TIMEOUT | typeof GONE) => void>();
  /** Sent as sessionId with client-side RPC requests, so the rule chain's reply comes back here only. */
  const sessionId = `http:${globalThis.crypto.randomUUID()}`;
  let nextRpcId = 1;
  const limiter = service.rateLimit('http', 0);

  let stopped = false;
  const counters = { requests: 0, acceptedRequests: 0, acceptedMessages: 0 };
  const rejected: Record<RejectReason, number> = {
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

  function tooLarge(res: ServerResponse, limit = maxPayloadBytes): void {
    reject(res, 'payloadTooLarge', 413, TbErrorCode.BAD_REQUEST_PARAMS, `Payload too large: the limit is ${limit} bytes`);
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
    state.onActivity(device);
    if (limiter !== undefined) {
      // before the payload is parsed: a refused request costs no parsing and produces nothing
      const r = limiter.reserve(device, Date.now());
      if (!r.ok) {
        const seconds = Math.max(1, Math.ceil(r.retryAfterMs / 1000));
        const who = r.reason === 'device' ? 'this device' : "this device's tenant";
        reject(res, 'rateLimited', 429, TbErrorCode.TOO_MANY_REQUESTS, `Too many requests: ${who} is over its message rate limit of ${r.limit} per second; retry after ${seconds} s`, {
          'retry-after': String(seconds),
        });
        return undefined;
      }
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
    parse: (text: string, device: DeviceInfo) => T,
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
    // The tenant's own payload limit, known only now: below the process-wide one it refuses more.
    const limit = service.payloadLimit(device, maxPayloadBytes);
    if (limit < maxPayloadBytes && Buffer.byteLength(b.text) > limit) {
      tooLarge(res, limit);
      return undefined;
    }
    try {
      return { device, value: parse(b.text, device) };
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
      await service.produce(records);
    } catch {
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

  async function postTelemetry(req: IncomingMessage, res: ServerResponse, token: string): Promise<void> {
    const post = await readPost(req, res, token, (text, device) => parseTelemetry(parseLenientJson(text), now(), payloadOptions(device)));
    if (!post) return;
    const { device, value: groups } = post;
    // `[]` (or nothing left after dropping nulls) has nothing to queue: answer at once, where
    // ThingsBoard never answers (its issue #6746).
    if (groups.length === 0) return accept(res);
    const msgs = groups.map((g) => deviceMsg(device, MsgType.POST_TELEMETRY_REQUEST, g.ts, g.values));
    await produce(res, device, msgs);
  }

  async function postAttributes(req: IncomingMessage, res: ServerResponse, token: string): Promise<void> {
    const post = await readPost(req, res, token, (text, device) => parseAttributes(parseLenientJson(text), payloadOptions(device)));
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
      body = attributesResponseText(await service.getAttributes(device, request));
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

  // ---- long polls and RPC (ThingsBoard's DeviceApiController) ------------------------------------

  /** `?timeout=` in ms: absent or 0 means requestTimeoutMs; capped at maxLongPollMs; undefined after a 400. */
  function pollTimeout(res: ServerResponse, query: string): number | undefined {
    const raw = new URLSearchParams(query).get('timeout');
    if (raw === null || raw === '' || raw === '0') return requestTimeoutMs;
    const ms = Number(raw);
    if (!Number.isSafeInteger(ms) || ms < 0) {
      reject(res, 'badRequest', 400, TbErrorCode.BAD_REQUEST_PARAMS, `Invalid timeout "${raw}": milliseconds expected`);
      return undefined;
    }
    return Math.min(ms, maxLongPollMs);
  }

  function timedOut(what: string): (res: ServerResponse) => void {
    return (res) => reject(res, 'timeout', 408, TbErrorCode.GENERAL, `Timeout: no ${what} within the request's timeout`);
  }

  /** The answer of a long poll a newer one of the same device replaced: 408 as a timeout, so the device simply polls again. */
  function replacedPoll(what: string, device: { tenantId: string; deviceId: string }): (res: ServerResponse) => void {
    return (res) => {
      if (!loggedReplaced.has(device.deviceId)) {
        if (loggedReplaced.size >= 100_000) loggedReplaced.clear();
        loggedReplaced.add(device.deviceId);
        logger.warn({ tenantId: device.tenantId, deviceId: device.deviceId, maxLongPollsPerDevice, note: 'logged once per device; counted in rejected.longPollReplaced' }, 'http long poll replaced by a newer one of the same device');
      }
      reject(res, 'longPollReplaced', 408, TbErrorCode.GENERAL, `Timeout: no ${what} before a newer long poll of this device replaced this one (at most ${maxLongPollsPerDevice} per device)`);
    };
  }
  const loggedReplaced = new Set<string>();

  /** Waits a long poll, and offers it to the server's connection cap to end early. */
  function park(waiters: Waiters, device: DeviceInfo, res: ServerResponse, timeout: number, what: string): void {
    const waiter = waiters.add(device.deviceId, res, timeout, timedOut(what), replacedPoll(what, device), device);
    options.onLongPoll?.(res, () =>
      waiter.settle((r) => {
        if (!r.headersSent) r.setHeader('Connection', 'close');
        reject(r, 'longPollEnded', 408, TbErrorCode.GENERAL, `Timeout: no ${what} before the server needed this connection for a new client; poll again`);
      }),
    );
  }

  /** `GET /rpc?timeout=`: answered with the next server-side command for the device, or 408. */
  async function pollRpc(res: ServerResponse, token: string, query: string): Promise<void> {
    const device = await authenticate(res, token);
    if (!device) return;
    const timeout = pollTimeout(res, query);
    if (timeout === undefined || !canReply(res)) return;
    park(rpcWaiters, device, res, timeout, 'RPC command');
  }

  /** `GET /attributes/updates?timeout=`: answered with the next shared attribute change, or 408. */
  async function pollAttributeUpdates(res: ServerResponse, token: string, query: string): Promise<void> {
    const device = await authenticate(res, token);
    if (!device) return;
    const timeout = pollTimeout(res, query);
    if (timeout === undefined || !canReply(res)) return;
    park(attributeWaiters, device, res, timeout, 'shared attribute update');
  }

  /** `POST /rpc/{id}`: the device's reply to a command it took from a long poll. */
  async function replyRpc(req: IncomingMessage, res: ServerResponse, token: string, rawId: string): Promise<void> {
    const id = /^\d{1,10}$/.test(rawId) ? Number(rawId) : NaN;
    if (!Number.isSafeInteger(id)) {
      rejectEarly(req, res, 'badRequest', 400, TbErrorCode.BAD_REQUEST_PARAMS, `Invalid RPC request id "${rawId}": an integer is expected`);
      return;
    }
    // any JSON, or the text as it is when it is not JSON (ThingsBoard forwards the payload unparsed)
    const post = await readPost(req, res, token, (text): JsonValue => {
      if (text === '') return null;
      try {
        return parseLenientJson(text);
      } catch {
        return text;
      }
    });
    if (!post) return;
    const call = rpcIds.take(post.device.deviceId, id, Date.now());
    if (call === undefined) {
      reject(res, 'notFound', 404, TbErrorCode.ITEM_NOT_FOUND, `No RPC request ${id} is waiting for a reply (unknown or expired)`);
      return;
    }
    if (!call.oneway) service.rpcReplied(post.device, call, post.value);
    accept(res);
  }

  /** `POST /rpc`: client-side RPC, answered with the rule chain's reply, or 408. */
  async function clientRpc(req: IncomingMessage, res: ServerResponse, token: string): Promise<void> {
    const post = await readPost(req, res, token, (text) => {
      const json = parseLenientJson(text);
      if (typeof json !== 'object' || json === null || Array.isArray(json) || typeof json.method !== 'string' || json.method === '') {
        throw new BadRequestError('Client-side RPC: expected {"method":"...","params":...}');
      }
      return { method: json.method, params: json.params ?? {} };
    });
    if (!post) return;
    const { device, value } = post;
    const requestId = String(nextRpcId);
    nextRpcId = nextRpcId >= 0x7fffffff ? 1 : nextRpcId + 1;
    const key = `${device.deviceId}#${requestId}`;
    let timer: NodeJS.Timeout | undefined;
    let onClose: (() => void) | undefined;
    // registered before producing: the reply may come back before produce() resolves; the device
    // counts as held here while it waits, so the reply is sent to this process
    const release = hold(device.deviceId);
    const reply = new Promise<JsonValue | typeof TIMEOUT | typeof GONE>((resolve) => {
      pendingRpc.set(key, resolve);
      timer = setTimeout(() => resolve(TIMEOUT), requestTimeoutMs);
      onClose = () => resolve(GONE);
      res.on('close', onClose);
    });
    try {
      const records: Array<QueueRecord<Msg>> = [{ key: device.deviceId, value: deviceMsg(device, MsgType.TO_SERVER_RPC_REQUEST, now(), value, { requestId, sessionId }) }];
      try {
        await service.produce(records);
      } catch {
        reject(res, 'unavailable', 503, TbErrorCode.GENERAL, 'Service unavailable: the message queue did not accept the request, retry later', { 'retry-after': '1' });
        return;
      }
      counters.acceptedMessages++;
      const body = await reply;
      if (body === TIMEOUT) timedOut('reply to the RPC request')(res);
      else if (body === GONE) reject(res, 'unavailable', 503, TbErrorCode.GENERAL, 'Service unavailable: the server is shutting down');
      else {
        counters.acceptedRequests++;
        replyJson(res, 200, JSON.stringify(body));
      }
    } finally {
      clearTimeout(timer);
      if (onClose) res.off('close', onClose);
      pendingRpc.delete(key);
      release();
    }
  }

  // ---- provisioning and claiming (through the transport service) ---------------------------------

  function notImplemented(res: ServerResponse, e: FeatureUnavailableError): void {
    reject(res, 'notImplemented', 501, TbErrorCode.GENERAL, e.message);
  }

  /**
   * `POST /api/v1/provision` `{"deviceName":..,"provisionDeviceKey":..,"provisionDeviceSecret":..}`:
   * answered 200 with ThingsBoard's JSON, a refusal (`"status":"NOT_FOUND"`) included; 429 past the
   * per-address rate, 400 for a body that is not JSON, 501 without a provisioning service.
   */
  async function provision(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (!service.provisioningAvailable) {
      rejectEarly(req, res, 'notImplemented', 501, TbErrorCode.GENERAL, new FeatureUnavailableError('provisioning').message);
      return;
    }
    const declared = Number(req.headers['content-length']);
    if (declared > maxPayloadBytes) {
      tooLarge(res);
      discardBody(req);
      return;
    }
    const b = await readBody(req, maxPayloadBytes);
    if (b.kind === 'too-large') return tooLarge(res);
    if (b.kind !== 'ok') return;
    try {
      const answer = await service.provision(b.text, 'HTTP', clientAddress(req));
      counters.acceptedRequests++;
      replyJson(res, 200, JSON.stringify(answer));
    } catch (e) {
      if (e instanceof ProvisionRateLimitError) {
        reject(res, 'rateLimited', 429, TbErrorCode.TOO_MANY_REQUESTS, e.message, { 'retry-after': String(Math.max(1, Math.ceil(e.retryAfterMs / 1000))) });
      } else if (e instanceof BadRequestError) reject(res, 'badRequest', 400, TbErrorCode.INVALID_ARGUMENTS, e.message);
      else if (e instanceof FeatureUnavailableError) notImplemented(res, e);
      else internalError(res, e, 'device provisioning failed');
    }
  }

  /** `POST /api/v1/{token}/claim` `{"secretKey":..,"durationMs":..}` (both optional, the body too): 200 once the claiming service took it. */
  async function claim(req: IncomingMessage, res: ServerResponse, token: string): Promise<void> {
    const post = await readPost(req, res, token, (text) => parseClaimRequest(text));
    if (!post) return;
    if (!service.claimingAvailable) return notImplemented(res, new FeatureUnavailableError('claiming'));
    try {
      await service.claimParsed(post.device, post.value);
    } catch (e) {
      if (e instanceof RivuletError && e.status < 500) reject(res, e.status === 404 ? 'notFound' : 'badRequest', e.status, e.status === 404 ? TbErrorCode.ITEM_NOT_FOUND : TbErrorCode.BAD_REQUEST_PARAMS, e.message);
      else if (e instanceof FeatureUnavailableError) notImplemented(res, e);
      else internalError(res, e, 'device claim failed');
      return;
    }
    accept(res);
  }

  function onToDeviceRpc(r: ToDeviceRpcRequest): void {
    const t = Date.now();
    if (r.expirationTime <= t) return;
    // one command per poll: the oldest waiting poll of the device takes it
    const waiter = rpcWaiters.of(r.deviceId).find((w) => canReply(w.res) && w.device !== undefined);
    if (waiter?.device === undefined) return;
    const id = rpcIds.assign(r.deviceId, { requestId: r.requestId, oneway: r.oneway, expiresAt: r.expirationTime, replyTo: r.replyTo, device: waiter.device }, t);
    counters.acceptedRequests++;
    waiter.settle((res) => replyJson(res, 200, JSON.stringify({ id, method: r.method, params: r.params })));
    // the pickup (core/device-rpc.ts): a one-way call is done with it, a two-way one waits for the reply; RPC_SENT
    service.rpcSent(waiter.device, r);
  }

  function onAttributesEvent(ev: AttributesEvent): void {
    if (ev.scope !== AttributeScope.SHARED_SCOPE) return;
    const waiting = attributeWaiters.of(ev.entityId);
    if (waiting.length === 0) return;
    // ThingsBoard's update notification: the changed values (1.0 for a DOUBLE of integral value), deletions under "deleted"
    const update = sharedAttributesUpdate(ev);
    if (update === undefined) return;
    const text = deviceAnswerText(update.body, update.doubles);
    for (const w of waiting) {
      counters.acceptedRequests++;
      w.settle((res) => replyJson(res, 200, text));
    }
  }

  function onToServerReply(r: ToServerRpcReply): void {
    if (r.sessionId !== undefined && r.sessionId !== sessionId) return;
    pendingRpc.get(`${r.deviceId}#${r.requestId}`)?.(r.body);
  }

  const unsubscribes = downlink ? [service.subscribeDownlink({ rpcRequest: onToDeviceRpc, attributes: onAttributesEvent, toServerReply: onToServerReply })] : [];
  const pruneTimer = downlink ? setInterval(() => rpcIds.prune(Date.now()), 60_000) : undefined;
  pruneTimer?.unref();

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
      } else if (downlink && route.resource === Resource.ATTRIBUTE_UPDATES) {
        if (method === 'GET') run(res, pollAttributeUpdates(res, token, route.query));
        else methodNotAllowed(req, res, 'GET');
      } else if (downlink && route.resource === Resource.RPC) {
        if (method === 'GET') run(res, pollRpc(res, token, route.query));
        else if (method === 'POST') run(res, clientRpc(req, res, token));
        else methodNotAllowed(req, res, 'GET, POST');
      } else if (downlink && route.resource.startsWith(`${Resource.RPC}/`) && !route.resource.includes('/', Resource.RPC.length + 1)) {
        if (method === 'POST') run(res, replyRpc(req, res, token, route.resource.slice(Resource.RPC.length + 1)));
        else methodNotAllowed(req, res, 'POST');
      } else if (route.resource === Resource.CLAIM) {
        if (method === 'POST') run(res, claim(req, res, token));
        else methodNotAllowed(req, res, 'POST');
      } else if (route.resource === '' && token === PROVISION) {
        if (method === 'POST') run(res, provision(req, res));
        else methodNotAllowed(req, res, 'POST');
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
      return { ...counters, rejected: { ...rejected }, waiting: rpcWaiters.size + attributeWaiters.size + pendingRpc.size };
    },

    stop() {
      stopped = true;
      for (const u of unsubscribes.splice(0)) u();
      clearInterval(pruneTimer);
      rpcIds.clear();
      const shuttingDown = (res: ServerResponse): void =>
        reject(res, 'unavailable', 503, TbErrorCode.GENERAL, 'Service unavailable: the server is shutting down', { connection: 'close' });
      for (const w of [...rpcWaiters.all(), ...attributeWaiters.all()]) w.settle(shuttingDown);
      for (const resolve of pendingRpc.values()) resolve(GONE);
    },
  };
}
