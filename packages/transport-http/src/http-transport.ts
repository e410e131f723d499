import type { IncomingMessage, ServerResponse } from 'node:http';
import { silentLogger, type Logger } from '@rivulet/core';
import { DeviceRpcCalls, type TransportService } from '@rivulet/transport-service';
import { GONE, newRejected, reject, type HttpContext, type RejectReason } from './context';
import { subscribeDownlink } from './downlink';
import { dispatch } from './handlers/dispatch';
import { TbErrorCode } from './http-reply';
import { Waiters } from './long-poll';

export type { RejectReason } from './context';

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

/**
 * ThingsBoard's HTTP device API on plain node:http (a framework's body parsing would cost more than
 * everything else on this path). One small module per responsibility, each handed the one context
 * built here: handlers/dispatch.ts routes a request by path and method; handlers/device-api.ts
 * (telemetry, attributes, claim), handlers/provision.ts, handlers/long-polls.ts (RPC and attribute
 * update polls, RPC replies) and handlers/client-rpc.ts serve it; downlink.ts answers the waiting
 * requests from the broadcast.
 *
 * Order of checks on a post: a Content-Length over the cap answers 413 before anything else; then
 * the token is checked while the body arrives (ThingsBoard checks the token before the payload), so
 * a bad token answers 401 as soon as it is known and a body passing the cap answers 413 as soon as
 * it does, whichever comes first; then the payload is parsed (400); then the queue (503 if it fails).
 * The answer to an accepted post waits for the queue, so a full queue slows devices down.
 */
export function createHttpTransport(options: HttpTransportOptions): HttpTransport {
  const { service } = options;
  const maxLongPollsPerDevice = options.maxLongPollsPerDevice ?? 4;
  const hold = (deviceId: string): (() => void) => service.holdSession(deviceId);
  const ctx: HttpContext = {
    service,
    // the service's own objects, called directly on the hot path
    auth: service.auth,
    state: service.state,
    logger: (options.logger ?? silentLogger).child({ component: 'transport-http' }),
    maxPayloadBytes: options.maxPayloadBytes ?? DEFAULT_MAX_PAYLOAD_BYTES,
    typeCasting: options.typeCasting ?? true,
    downlink: service.hasDownlink,
    requestTimeoutMs: options.requestTimeoutMs ?? 60_000,
    maxLongPollMs: options.maxLongPollMs ?? 300_000,
    maxLongPollsPerDevice,
    clientAddress: options.clientAddress ?? ((req: IncomingMessage) => req.socket.remoteAddress),
    onLongPoll: options.onLongPoll,
    limiter: service.rateLimit('http', 0),
    rpcWaiters: new Waiters(maxLongPollsPerDevice, hold),
    attributeWaiters: new Waiters(maxLongPollsPerDevice, hold),
    rpcIds: new DeviceRpcCalls(service, 64),
    pendingRpc: new Map(),
    sessionId: `http:${globalThis.crypto.randomUUID()}`,
    loggedReplaced: new Set(),
    counters: { requests: 0, acceptedRequests: 0, acceptedMessages: 0 },
    rejected: newRejected(),
    nextRpcId: 1,
    stopped: false,
    now: service.now,
  };
  const { rpcIds, rpcWaiters, attributeWaiters, pendingRpc } = ctx;

  const unsubscribes = ctx.downlink ? [subscribeDownlink(ctx)] : [];
  const pruneTimer = ctx.downlink ? setInterval(() => rpcIds.prune(Date.now()), 60_000) : undefined;
  pruneTimer?.unref();

  return {
    handle(req, res) {
      return dispatch(ctx, req, res);
    },

    stats() {
      return { ...ctx.counters, rejected: { ...ctx.rejected }, waiting: rpcWaiters.size + attributeWaiters.size + pendingRpc.size };
    },

    stop() {
      ctx.stopped = true;
      for (const u of unsubscribes.splice(0)) u();
      clearInterval(pruneTimer);
      rpcIds.clear();
      const shuttingDown = (res: ServerResponse): void =>
        reject(ctx, res, 'unavailable', 503, TbErrorCode.GENERAL, 'Service unavailable: the server is shutting down', { connection: 'close' });
      for (const w of [...rpcWaiters.all(), ...attributeWaiters.all()]) w.settle(shuttingDown);
      for (const resolve of pendingRpc.values()) resolve(GONE);
    },
  };
}
