import { createSocket, type RemoteInfo, type Socket } from 'node:dgram';
import { isIPv6 } from 'node:net';
import { createServer, type CoapPacket, type IncomingMessage, type ObserveWriteStream, type OutgoingMessage } from 'coap';
import type { Logger } from '@rivulet/core';
import { BlockAssembler, type BlockStep } from './block-assembler';
import { Code, MessageType, OptionNumber, encodeMessage, parseBlockOption, readHeader, uintOption } from './coap-message';
import type { ExchangeStore } from './exchange-store';

/**
 * The message layer: the coap package's server on a UDP socket we own, with the parts of its
 * message layer that do not hold up under load replaced (this file is the only one that touches
 * the package's internals, written against coap 1.5):
 *
 * - Deduplication (RFC 7252 §4.5) by our bounded ExchangeStore, checked before the package sees a
 *   request. The package's response cache (`_lru`) becomes a sink that only observes what is sent:
 *   the answer's bytes go to the ExchangeStore, and only messages that still need an ACK or RST
 *   (Confirmable separate responses and notifications, observe notifications a client may reset)
 *   are kept, bounded by count and age.
 * - Each sent message arms a RetrySend timer (202 s for ACKs) that keeps the message's whole
 *   response object alive: that timer, not the cache itself, is what pinned ~5 KB per request. It is
 *   cancelled at once for messages that are never retransmitted (ACK, NON).
 * - ACK and RST from clients are handled here (stop a retransmission, cancel an observation).
 * - Malformed datagrams: a Confirmable one is rejected with RST, anything else is ignored
 *   (RFC 7252 §4.2, §4.3); the package's own error path answers 5.00 to 127.0.0.1 instead.
 * - Block-wise requests (RFC 7959) are reassembled by our BlockAssembler (the package matches blocks
 *   by token, which clients may change from block to block); its cache of block-wise responses is
 *   capped in count.
 */

export type CoapResponse = OutgoingMessage | ObserveWriteStream;

export interface CoapEndpointOptions {
  host: string;
  port: number;
  dedup: ExchangeStore;
  /** Largest request payload, also after block-wise reassembly. */
  maxPayloadBytes: number;
  /** Unfinished block-wise transfers kept (the oldest is dropped beyond), and cached block-wise answers. */
  maxBlockTransfers: number;
  /** Unfinished block-wise transfers of one client endpoint (address:port); its oldest is dropped beyond. */
  maxBlockTransfersPerEndpoint: number;
  /**
   * Whether a block-wise transfer to this Uri-Path may start (its access token is valid). Asked at
   * block 0 before anything is kept: a refused one is answered 4.01 and holds no memory, so
   * unauthenticated datagrams cannot evict a device's transfer in progress.
   */
  authorizeBlockTransfer(path: ReadonlyArray<string>): Promise<boolean>;
  /** Sent messages awaiting an ACK or RST kept (the oldest is dropped beyond). */
  maxPendingOutgoing: number;
  /** How long an answer may take before an empty ACK is sent and it goes separately. */
  piggybackReplyMs: number;
  logger: Logger;
  onRequest(req: IncomingMessage, res: CoapResponse): void;
}

export interface CoapEndpointStats {
  datagrams: number;
  /** Datagrams that did not parse (RST to a Confirmable one, others ignored). */
  malformed: number;
  /** Retransmitted requests answered again from the ExchangeStore. */
  duplicatesAnswered: number;
  /** Retransmitted requests dropped because the first copy was still being processed. */
  duplicatesDropped: number;
  /** Empty Confirmable messages (CoAP ping), answered with RST. */
  pings: number;
  /** Requests with a critical option this server does not understand: 4.02 (Confirmable) or ignored (RFC 7252 §5.4.1). */
  badOption: number;
  dedupEntries: number;
  dedupEvicted: number;
  pendingOutgoing: number;
  /** Unfinished block-wise request transfers. */
  blockTransfers: number;
  /** Block-wise transfers refused at block 0 (4.01: the path's token is not a device's). */
  blockTransfersUnauthorized: number;
}

export interface CoapEndpoint {
  /** Binds the socket; resolves with the port. */
  listen(): Promise<number>;
  close(): Promise<void>;
  stats(): CoapEndpointStats;
}

/** The package's buffer of a sent message, with what its send path attaches to it. */
type SentBuffer = Buffer & { sender?: { reset(): void }; response?: { end(): void } };

interface BlockCache {
  _cache: Map<string, unknown>;
  remove(key: string): boolean;
}

/** The private members of the package's CoAPServer this file relies on (checked at creation). */
interface ServerInternals {
  _handle(packet: CoapPacket, rsinfo: RemoteInfo): void;
  _sendError(payload: Buffer, rsinfo: RemoteInfo, packet?: CoapPacket, code?: string): void;
  _lru: unknown;
  _block2Cache: BlockCache;
}

function checkInternals(server: object): ServerInternals {
  const s = server as Partial<ServerInternals>;
  const ok =
    typeof s._handle === 'function' &&
    typeof s._sendError === 'function' &&
    '_lru' in s &&
    s._block2Cache?._cache instanceof Map;
  if (!ok) throw new Error('The coap package changed its internals: @rivulet/transport-coap is written against coap 1.5.x');
  return s as ServerInternals;
}

/** Critical options (odd numbers, RFC 7252 §5.4.1) this server understands. */
const UNDERSTOOD_CRITICAL = new Set(['Uri-Host', 'Uri-Port', 'Uri-Path', 'Uri-Query', 'Accept', 'Block2', 'Block1']);
/** Critical options coap-packet names but this server does not implement (conditional requests, OSCORE, Q-Block, proxying). */
const NAMED_CRITICAL = new Set(['If-Match', 'If-None-Match', 'OSCORE', 'Q-Block1', 'Q-Block2', 'Proxy-Uri', 'Proxy-Scheme', 'OCF-Accept-Content-Format-Version', 'OCF-Content-Format-Version']);

/** The first critical option of a request that this server does not understand, by name or number. */
export function unrecognizedCriticalOption(options: ReadonlyArray<{ name: string | number }>): string | undefined {
  for (const o of options) {
    const name = String(o.name);
    if (UNDERSTOOD_CRITICAL.has(name)) continue;
    if (NAMED_CRITICAL.has(name)) return name;
    // coap-packet names options it does not know by their number
    if (/^\d+$/.test(name) && Number(name) % 2 === 1) return name;
  }
  return undefined;
}

export const endpointOf = (r: { address: string; port: number }): string => `${r.address}:${r.port}`;

export function createCoapEndpoint(options: CoapEndpointOptions): CoapEndpoint {
  const { dedup, logger } = options;
  const counters = { datagrams: 0, malformed: 0, duplicatesAnswered: 0, duplicatesDropped: 0, pings: 0, badOption: 0, blockTransfersUnauthorized: 0 };
  /** Addresses already logged for a refused request (once each; the counters count every one). */
  const loggedRefusals = new Set<string>();
  function logRefusalOnce(address: string, fields: Record<string, unknown>, msg: string): void {
    const key = `${msg}|${address}`;
    if (loggedRefusals.has(key)) return;
    if (loggedRefusals.size >= 10_000) loggedRefusals.clear();
    loggedRefusals.add(key);
    logger.warn({ remoteAddress: address, ...fields, note: 'logged once per address; see the transport stats for counts' }, msg);
  }
  /** Our messages awaiting an ACK/RST, by `${endpoint}#${messageId}`; insertion order is age order. */
  const pendingOut = new Map<string, { at: number; buf: SentBuffer }>();
  /** The Block1 option to echo in the answer to a reassembled request (RFC 7959 §2.3). */
  const block1Echo = new WeakMap<object, Buffer>();
  const blocks = new BlockAssembler({
    maxBytes: options.maxPayloadBytes,
    maxTransfers: options.maxBlockTransfers,
    maxTransfersPerEndpoint: options.maxBlockTransfersPerEndpoint,
    lifetimeMs: dedup.lifetimeMs,
  });
  let socket: Socket | undefined;
  /** Datagrams handed to the socket and not yet sent: close() lets them go out first. */
  let unsent = 0;
  let onFlushed: (() => void) | undefined;
  /** The datagram being handled: the package's pipeline runs synchronously from our listener. */
  let current: { raw: Buffer; rsinfo: RemoteInfo; parsed: boolean } | undefined;
  let dispatched = false;

  const server = createServer({
    piggybackReplyMs: options.piggybackReplyMs,
    sendAcksForNonConfirmablePackets: true,
    // sent-message keys start with this (see onSent); the package's default, pinned
    clientIdentifier: (req) => endpointOf(req.rsinfo),
  });
  const internals = checkInternals(server);

  function sendRaw(bytes: Buffer, to: { address: string; port: number }): void {
    try {
      socket?.send(bytes, to.port, to.address);
    } catch (e) {
      // the socket is closing: nothing to answer any more
      logger.debug({ err: e }, 'coap send failed');
    }
  }

  function dropPending(key: string): { at: number; buf: SentBuffer } | undefined {
    const p = pendingOut.get(key);
    if (p !== undefined) pendingOut.delete(key);
    return p;
  }

  function prunePending(now: number): void {
    const limit = now - dedup.lifetimeMs;
    for (const [key, p] of pendingOut) {
      if (p.at > limit) break;
      pendingOut.delete(key);
      p.buf.sender?.reset();
    }
  }

  /** Every message the package sends passes here (it stores it in what it takes for its cache). */
  function onSent(key: string, buf: SentBuffer): void {
    const slash = key.indexOf('/');
    const endpoint = slash === -1 ? key : key.slice(0, slash);
    const h = readHeader(buf);
    if (h === undefined) return;
    if (h.type === MessageType.ACK) dedup.recordReply(endpoint, h.messageId, buf);
    else if (h.type === MessageType.NON) dedup.recordReply(endpoint, h.messageId, buf, h.token);
    if (h.type === MessageType.CON || (h.type === MessageType.NON && buf.response !== undefined)) {
      const pkey = `${endpoint}#${h.messageId}`;
      dropPending(pkey)?.buf.sender?.reset();
      if (pendingOut.size >= options.maxPendingOutgoing) {
        const [oldestKey, oldest] = pendingOut.entries().next().value as [string, { buf: SentBuffer }];
        pendingOut.delete(oldestKey);
        oldest.buf.sender?.reset();
      }
      pendingOut.set(pkey, { at: Date.now(), buf });
    }
    // The package attaches the sender and arms its timers right after this call returns.
    if (h.type !== MessageType.CON) queueMicrotask(() => buf.sender?.reset());
  }

  internals._lru = {
    pruneTimer: undefined as NodeJS.Timeout | undefined,
    // Requests reach the package only when our ExchangeStore found them new, and ACK/RST never do,
    // so its lookups must find nothing.
    peek: () => undefined,
    get: () => undefined,
    has: () => false,
    set(key: string, buf: SentBuffer) {
      onSent(key, buf);
      return this;
    },
    delete: () => false,
    clear: () => undefined,
    // called by the package's prune timer (every ~2 minutes)
    purgeStale() {
      const now = Date.now();
      dedup.prune(now);
      prunePending(now);
      return false;
    },
  };

  /** An answer of our own to `packet`: piggybacked on the ACK of a CON, NON otherwise. */
  function answer(packet: CoapPacket, to: RemoteInfo, code: string, diagnostic: string, opts: ReadonlyArray<readonly [number, Buffer]> = []): void {
    const messageId = packet.messageId ?? 0;
    const bytes = encodeMessage({
      type: packet.confirmable === true ? MessageType.ACK : MessageType.NON,
      code,
      messageId,
      ...(packet.token ? { token: packet.token } : {}),
      options: opts,
      payload: Buffer.from(diagnostic),
    });
    dedup.recordReply(endpointOf(to), messageId, bytes);
    sendRaw(bytes, to);
  }

  /** Rejects a Confirmable message with RST (RFC 7252 §4.2); anything else is ignored. */
  function reject(raw: Buffer | undefined, to: RemoteInfo): void {
    const h = raw !== undefined ? readHeader(raw) : undefined;
    if (h?.type === MessageType.CON) sendRaw(encodeMessage({ type: MessageType.RST, code: '0.00', messageId: h.messageId }), to);
  }

  function onAckOrReset(endpoint: string, packet: CoapPacket): void {
    const p = dropPending(`${endpoint}#${packet.messageId ?? -1}`);
    if (p === undefined) return;
    p.buf.sender?.reset();
    // RST to a notification cancels the observation (RFC 7641 §3.6)
    if (packet.reset === true) p.buf.response?.end();
  }

  function optionValue(o: { value: unknown }): Buffer {
    return Buffer.isBuffer(o.value) ? o.value : Buffer.alloc(0);
  }

  /**
   * A block of a block-wise request: answered here until the last one, which goes on with the whole
   * payload (returns true) and the Block1 option to echo.
   */
  function onBlock1(packet: CoapPacket, rsinfo: RemoteInfo, endpoint: string): boolean {
    const packetOptions = packet.options ?? [];
    const i = packetOptions.findIndex((o) => o.name === 'Block1');
    if (i === -1) return true;
    const value = optionValue(packetOptions[i] as { value: unknown });
    const block = parseBlockOption(value);
    if (block === undefined) {
      answer(packet, rsinfo, Code.BAD_REQUEST, 'Invalid Block1 option');
      return false;
    }
    let path = '';
    const segments: string[] = [];
    let tag = '';
    let declared: number | undefined;
    for (const o of packetOptions) {
      if (o.name === 'Uri-Path') {
        path += `/${optionValue(o).toString('latin1')}`;
        segments.push(optionValue(o).toString('utf8'));
      } else if (o.name === 'Size1') declared = optionValue(o).reduce((n, b) => n * 256 + b, 0);
      // Request-Tag (RFC 9175) has no name in coap-packet
      else if (o.name === '292' || o.name === 292) tag = optionValue(o).toString('hex');
    }
    const add = (): BlockStep => blocks.add(`${endpoint}|${path}|${tag}`, block, packet.payload ?? Buffer.alloc(0), declared);
    if (block.num === 0 && block.more) {
      // a transfer would start: only for a valid token (answered when the check is done)
      options.authorizeBlockTransfer(segments).then(
        (ok) => {
          if (ok) return continueBlock(packet, rsinfo, value, add());
          counters.blockTransfersUnauthorized++;
          logRefusalOnce(rsinfo.address, {}, 'coap block-wise transfer refused: not authorized');
          answer(packet, rsinfo, Code.UNAUTHORIZED, 'Unauthorized: a block-wise transfer needs a valid access token in its path');
        },
        (e: unknown) => {
          logger.warn({ err: e }, 'coap block-wise transfer authorization failed');
          answer(packet, rsinfo, Code.SERVICE_UNAVAILABLE, 'Service unavailable: try again later');
        },
      );
      return false;
    }
    return continueBlock(packet, rsinfo, value, add());
  }

  /** Answers a block step of our own (2.31, 4.xx), or returns true for the last block (whole payload on the packet). */
  function continueBlock(packet: CoapPacket, rsinfo: RemoteInfo, value: Buffer, step: BlockStep): boolean {
    switch (step.kind) {
      case 'continue':
        answer(packet, rsinfo, Code.CONTINUE, '', [[OptionNumber.BLOCK1, value]]);
        return false;
      case 'too-large':
        answer(packet, rsinfo, Code.REQUEST_ENTITY_TOO_LARGE, `Payload too large: the limit is ${options.maxPayloadBytes} bytes`, [[OptionNumber.SIZE1, uintOption(options.maxPayloadBytes)]]);
        return false;
      case 'incomplete':
        answer(packet, rsinfo, Code.REQUEST_ENTITY_INCOMPLETE, 'Block-wise transfer incomplete: send it again from block 0');
        return false;
      case 'bad':
        answer(packet, rsinfo, Code.BAD_REQUEST, 'A block other than the last must carry exactly the block size');
        return false;
      case 'complete':
        packet.options = (packet.options ?? []).filter((o) => o.name !== 'Block1' && o.name !== 'Size1');
        packet.payload = step.payload;
        block1Echo.set(packet, value);
        return true;
    }
  }

  function trimBlock2Cache(): void {
    const cache = internals._block2Cache;
    while (cache._cache.size > options.maxBlockTransfers) cache.remove(cache._cache.keys().next().value as string);
  }

  const originalHandle = internals._handle.bind(server);
  internals._handle = (packet, rsinfo) => {
    const raw = current?.raw;
    if (current !== undefined) current.parsed = true;
    const endpoint = endpointOf(rsinfo);
    if (packet.ack === true || packet.reset === true) return onAckOrReset(endpoint, packet);
    if (packet.code === '0.00') {
      // an empty Confirmable message is a ping: answered with RST (RFC 7252 §4.3)
      counters.pings++;
      return reject(raw, rsinfo);
    }
    // a response sent to a server is not ours to answer
    if (typeof packet.code !== 'string' || !packet.code.startsWith('0.')) return;
    const messageId = packet.messageId ?? 0;
    const begun = dedup.begin(endpoint, messageId, packet.token ?? Buffer.alloc(0));
    if (begun.kind === 'answered') {
      counters.duplicatesAnswered++;
      return sendRaw(begun.reply, rsinfo);
    }
    if (begun.kind === 'in-flight') {
      counters.duplicatesDropped++;
      return;
    }
    // RFC 7252 §5.4.1: an unrecognized critical option makes a Confirmable request answer 4.02 and
    // a Non-confirmable one be rejected (ignored here), never processed as if it were not there
    const critical = unrecognizedCriticalOption(packet.options ?? []);
    if (critical !== undefined) {
      counters.badOption++;
      logRefusalOnce(rsinfo.address, { option: critical }, 'coap request refused: unrecognized critical option');
      if (packet.confirmable === true) return answer(packet, rsinfo, Code.BAD_OPTION, `Unrecognized critical option ${critical}`);
      return dedup.forget(endpoint, messageId);
    }
    if (!onBlock1(packet, rsinfo, endpoint)) return;
    dispatched = false;
    try {
      originalHandle(packet, rsinfo);
    } catch (e) {
      logger.warn({ err: e }, 'coap request handling failed');
      answer(packet, rsinfo, Code.INTERNAL_SERVER_ERROR, 'Internal server error');
    } finally {
      trimBlock2Cache();
    }
    // handled without reaching us and without an answer: a retransmission should be processed
    if (!dispatched) dedup.forget(endpoint, messageId);
  };

  internals._sendError = (payload, rsinfo) => {
    const cur = current;
    if (cur === undefined || !cur.parsed) {
      // the datagram did not parse
      counters.malformed++;
      return reject(cur?.raw, rsinfo);
    }
    // a request the package refused before handing it over (Observe on a POST, FETCH without format)
    const h = readHeader(cur.raw);
    if (h !== undefined) {
      answer({ confirmable: h.type === MessageType.CON, messageId: h.messageId, token: h.token }, rsinfo, Code.BAD_REQUEST, payload.toString('utf8'));
    }
  };

  server.on('request', (req: IncomingMessage, res: CoapResponse) => {
    dispatched = true;
    const echo = block1Echo.get(req._packet);
    if (echo !== undefined) res.setOption('Block1', echo);
    options.onRequest(req, res);
  });
  server.on('error', (e: unknown) => logger.warn({ err: e }, 'coap socket error'));

  return {
    listen() {
      return new Promise<number>((resolve, reject) => {
        const sock = createSocket({ type: isIPv6(options.host) ? 'udp6' : 'udp4', reuseAddr: false });
        const onError = (e: Error): void => {
          sock.close();
          reject(e);
        };
        sock.once('error', onError);
        sock.bind(options.port, options.host, () => {
          sock.off('error', onError);
          // registered before the package's listener, so it runs first for every datagram
          sock.on('message', (raw: Buffer, rsinfo: RemoteInfo) => {
            counters.datagrams++;
            current = { raw, rsinfo, parsed: false };
          });
          // count sends in progress (ours and the package's), so close() does not drop answers
          const send = sock.send.bind(sock) as (...args: unknown[]) => void;
          sock.send = ((...args: unknown[]) => {
            const callback = typeof args[args.length - 1] === 'function' ? (args.pop() as (...r: unknown[]) => void) : undefined;
            unsent++;
            send(...args, (...r: unknown[]) => {
              unsent--;
              if (unsent === 0) onFlushed?.();
              callback?.(...r);
            });
          }) as Socket['send'];
          socket = sock;
          server.listen(sock);
          resolve(sock.address().port);
        });
      });
    },

    async close() {
      if (unsent > 0) {
        let timer: NodeJS.Timeout | undefined;
        await new Promise<void>((r) => {
          onFlushed = r;
          timer = setTimeout(r, 1_000);
        });
        clearTimeout(timer);
      }
      server.close();
      for (const p of pendingOut.values()) p.buf.sender?.reset();
      pendingOut.clear();
      dedup.clear();
      blocks.clear();
      const sock = socket;
      socket = undefined;
      if (sock) await new Promise<void>((r) => sock.close(() => r()));
    },

    stats() {
      return {
        ...counters,
        dedupEntries: dedup.size,
        dedupEvicted: dedup.evicted,
        pendingOutgoing: pendingOut.size,
        blockTransfers: blocks.size,
      };
    },
  };
}
