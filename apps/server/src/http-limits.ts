import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { Logger } from '@rivulet/core';

export interface HttpLimits {
  /** Connections at once (plain HTTP; HTTPS has its own count). */
  readonly maxConnections: number;
  /** Time a connection has to send a request's headers (also an idle connection's first request). */
  readonly headersTimeoutMs: number;
  /** Time a whole request (headers and body) may take. */
  readonly requestTimeoutMs: number;
  /** Idle time of a keep-alive connection between requests. */
  readonly keepAliveTimeoutMs: number;
  /** Requests on one keep-alive connection before the server closes it; 0: no limit. */
  readonly maxRequestsPerSocket: number;
}

export interface HttpConnectionStats {
  /** Connections open now. */
  open: number;
  /** New connections closed at once because every slot held a request in progress. */
  refused: number;
  /** Idle connections (no request in progress: header-less, slow headers, keep-alive) closed to make room for a new one. */
  evictedIdle: number;
  /** Device long polls answered early (408, then closed) to make room for a new connection when none was idle. */
  endedLongPolls: number;
}

/** How often a source address that keeps being refused is logged again. */
const LOG_PERIOD_MS = 60_000;
/** Addresses remembered for "logged once per period"; past it the memory starts over. */
const MAX_LOGGED_ADDRESSES = 10_000;

/** Node's timer that enforces headersTimeout / requestTimeout ticks this often (its default, 30 s, would let them overrun by that much). */
export function connectionsCheckingInterval(limits: Pick<HttpLimits, 'headersTimeoutMs' | 'requestTimeoutMs'>): number {
  return Math.max(50, Math.min(1000, Math.floor(Math.min(limits.headersTimeoutMs, limits.requestTimeoutMs) / 4)));
}

/** Logs a refusal once per source address per LOG_PERIOD_MS (not once per connection). */
function oncePerAddress(logger: Logger, msg: string): (address: string | undefined, fields: Record<string, unknown>) => void {
  const last = new Map<string, number>();
  return (address, fields) => {
    const key = address ?? '';
    const now = Date.now();
    const at = last.get(key);
    if (at !== undefined && now - at < LOG_PERIOD_MS) return;
    if (last.size >= MAX_LOGGED_ADDRESSES) last.clear();
    last.set(key, now);
    logger.warn({ remoteAddress: address, ...fields, note: `logged once per address per ${LOG_PERIOD_MS / 1000} s; counted in the connection stats` }, msg);
  };
}

/**
 * A request Node's parser refused, answered in HTTP's terms before the connection closes: 408 when
 * the headers or the request did not arrive in time, 431 for headers over Node's size limit, 400
 * for anything else that is not HTTP.
 */
export function answerClientError(err: Error & { code?: string }, socket: Duplex): void {
  if (!socket.writable) {
    socket.destroy();
    return;
  }
  const status =
    err.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? '408 Request Timeout' : err.code === 'HPE_HEADER_OVERFLOW' ? '431 Request Header Fields Too Large' : '400 Bad Request';
  socket.end(`HTTP/1.1 ${status}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
}

/** Timeouts and keep-alive limits of a node:http (or https) server. */
export function applyHttpTimeouts(server: Server, limits: HttpLimits): void {
  server.headersTimeout = limits.headersTimeoutMs;
  server.requestTimeout = limits.requestTimeoutMs;
  server.keepAliveTimeout = limits.keepAliveTimeoutMs;
  server.maxRequestsPerSocket = limits.maxRequestsPerSocket;
}

export interface HttpConnections {
  stats(): HttpConnectionStats;
  /** A device long poll on one of this server's connections, which may be ended (endNow) to make room; others are ignored. */
  parkLongPoll(res: ServerResponse, endNow: () => void): void;
}

/**
 * The HTTP server's connection cap, with room kept for clients that send requests. A connection
 * that has no request in progress (it sent no headers yet, is sending them slowly, or idles between
 * keep-alive requests) is "idle". When a new connection would pass maxConnections, the oldest idle
 * one is closed to make room; with none idle, the oldest device long poll (a request that waits by
 * design, registered with parkLongPoll) is answered 408 and its connection closed; only when every
 * connection has another request in progress (or is an upgraded WebSocket) is the new one closed at
 * once. So neither header-less sockets nor parked long polls (of any number of devices of one
 * tenant) can lock other clients out. So a flood of header-less sockets can hold at
 * most maxConnections descriptors, and cannot lock out a client that sends its request: it only
 * evicts itself. Header-less sockets also end at headersTimeout (Node answers 408).
 */
export function limitHttpConnections(
  server: Server,
  limits: HttpLimits,
  logger: Logger,
  /** 'secureConnection' for HTTPS: its requests come on the TLS socket, not the TCP one. */
  connectionEvent: 'connection' | 'secureConnection' = 'connection',
): HttpConnections {
  /** Insertion order = age; idle connections move to the end when they go idle again. */
  const idle = new Set<Socket>();
  const busy = new Map<Socket, number>();
  /** Long polls in progress, oldest first, each with what answers it now. */
  const longPolls = new Map<Socket, () => void>();
  let refused = 0;
  let evictedIdle = 0;
  let endedLongPolls = 0;
  const logRefused = oncePerAddress(logger, 'http connection refused: connection limit reached');
  const logEvicted = oncePerAddress(logger, 'http idle connection closed: connection limit reached');
  const logEndedPoll = oncePerAddress(logger, 'http long poll ended early: connection limit reached');

  const open = (): number => idle.size + busy.size;

  server.on(connectionEvent, (socket: Socket) => {
    socket.once('close', () => {
      idle.delete(socket);
      busy.delete(socket);
      longPolls.delete(socket);
    });
    if (open() >= limits.maxConnections) {
      const oldest = idle.values().next();
      const poll = oldest.done ? longPolls.entries().next() : undefined;
      if (poll && !poll.done) {
        // its answer closes that connection: the new one is admitted now, one over the cap until then
        const [pollSocket, endNow] = poll.value;
        longPolls.delete(pollSocket);
        endedLongPolls++;
        logEndedPoll(pollSocket.remoteAddress, { maxConnections: limits.maxConnections });
        endNow();
        idle.add(socket);
        return;
      }
      if (oldest.done) {
        refused++;
        logRefused(socket.remoteAddress, { maxConnections: limits.maxConnections });
        socket.destroy();
        return;
      }
      idle.delete(oldest.value);
      evictedIdle++;
      logEvicted(oldest.value.remoteAddress, { maxConnections: limits.maxConnections });
      oldest.value.destroy();
    }
    idle.add(socket);
  });

  const start = (socket: Socket): void => {
    if (!idle.delete(socket) && !busy.has(socket)) return; // closed meanwhile
    busy.set(socket, (busy.get(socket) ?? 0) + 1);
  };
  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    const socket = req.socket;
    start(socket);
    res.once('close', () => {
      longPolls.delete(socket);
      const n = busy.get(socket);
      if (n === undefined) return;
      if (n > 1) busy.set(socket, n - 1);
      else {
        busy.delete(socket);
        if (!socket.destroyed) idle.add(socket);
      }
    });
  });
  // an upgraded connection (WebSocket API, MQTT over WebSocket) is in use for as long as it lives
  server.prependListener('upgrade', (req: IncomingMessage) => start(req.socket));

  return {
    stats: () => ({ open: open(), refused, evictedIdle, endedLongPolls }),
    parkLongPoll(res, endNow) {
      if (busy.has(res.socket as Socket)) longPolls.set(res.socket as Socket, endNow);
    },
  };
}
