/**
 * Test support for this package's tests (not exported): the transport on 127.0.0.1:0 with a real
 * memory queue and broadcast, a token map for authentication, attributes from a map, a recording
 * state reporter and logger; a raw UDP client that sends hand-built datagrams; the coap package's
 * client for everything else.
 */
import { createSocket, type Socket } from 'node:dgram';
import { Agent, request as coapRequest, type IncomingMessage, type ObserveReadStream } from 'coap';
import { expect, vi } from 'vitest';
import { createMemoryBroadcast, type Broadcast, type Channel } from '@rivulet/broadcast';
import { silentLogger, type DeviceAuthenticator, type Msg } from '@rivulet/core';
import { createMemoryQueue, type Queue, type QueueRecord } from '@rivulet/queue';
import {
  consumeRuleEngine,
  mapAuthenticator,
  mapDeviceApi,
  recordingLogger,
  recordingStateReporter,
  testAttributes,
  testTokens,
  type ConsumerGate,
  type DeviceAttributes,
  type LogEntry,
  type StateEvent,
} from '@rivulet/testing';
import { MessageType, decodeMessage, encodeMessage, uintOption, type DecodedMessage } from './coap-message';
import { createTransportService, type TransportServiceOptions } from '@rivulet/transport-service';
import { createCoapTransport, type CoapTransport, type CoapTransportConfig, type CoapTransportOptions } from './coap-transport';

export { DEVICE, OTHER, OTHER_TOKEN, TOKEN, type LogEntry, type StateEvent } from '@rivulet/testing';
export const NOW = 1_700_000_000_000;
export const MAX_PAYLOAD = 4096;

export interface Harness {
  port: number;
  transport: CoapTransport;
  queue: Queue & { produceCalls: Array<{ topic: string; records: ReadonlyArray<QueueRecord<unknown>> }> };
  broadcast: Broadcast;
  /** Messages consumed from the rule-engine topic, in order. */
  consumed: Msg[];
  authCalls: string[];
  attributeRequests: unknown[];
  /** Shared and client attributes per device id, as the storage-backed service answers them. */
  attributes: Map<string, DeviceAttributes>;
  stateEvents: StateEvent[];
  logs: LogEntry[];
  /** Holds the consumer's batches while set. */
  gate: ConsumerGate;
  /** Events published on a channel, recorded from the start. */
  published<T>(channel: Channel<T>): T[];
}

const open: Array<() => Promise<void>> = [];

/** Closes everything the test opened (call from afterEach). */
export async function closeAll(): Promise<void> {
  for (const close of open.splice(0).reverse()) await close();
}

export async function startTransport(
  opts: {
    queue?: Queue;
    consume?: boolean;
    auth?: DeviceAuthenticator;
    config?: Partial<CoapTransportConfig>;
    options?: Partial<Omit<CoapTransportOptions, 'service'>>;
    /** Options of the transport service the harness builds (rate limiter, provisioning, claiming, ...). */
    services?: Partial<TransportServiceOptions>;
  } = {},
): Promise<Harness> {
  const inner = opts.queue ?? createMemoryQueue({ partitions: 2, logger: silentLogger });
  const produceCalls: Harness['queue']['produceCalls'] = [];
  const queue: Harness['queue'] = {
    produceCalls,
    kind: inner.kind,
    produce(topic, records) {
      produceCalls.push({ topic, records });
      return inner.produce(topic, records);
    },
    subscribe: (o) => inner.subscribe(o),
    lag: (t, g) => inner.lag(t, g),
    deadLetter: (r, reason) => inner.deadLetter(r, reason),
    close: () => inner.close(),
  };
  const broadcast = createMemoryBroadcast();
  const recorded = new Map<string, unknown[]>();
  const published = <T>(channel: Channel<T>): T[] => {
    let list = recorded.get(channel.name) as T[] | undefined;
    if (list === undefined) {
      const l: T[] = [];
      list = l;
      recorded.set(channel.name, l);
      broadcast.subscribe(channel, (e) => l.push(e));
    }
    return list;
  };
  const tokenAuth = mapAuthenticator(testTokens());
  const auth: DeviceAuthenticator = opts.auth ?? tokenAuth;
  const attributes = testAttributes();
  const deviceApi = mapDeviceApi(attributes);
  const stateEvents: StateEvent[] = [];
  const logs: LogEntry[] = [];

  const { consumed, gate } = await consumeRuleEngine(inner, { subscribe: opts.consume !== false });
  const service = createTransportService({
    queue,
    auth,
    deviceApi,
    broadcast,
    state: recordingStateReporter(stateEvents),
    logger: recordingLogger(logs),
    now: () => NOW,
    ...opts.services,
  });
  const transport = createCoapTransport({
    service,
    logger: recordingLogger(logs),
    config: { port: 0, host: '127.0.0.1', maxPayloadBytes: MAX_PAYLOAD, ...opts.config },
    ...opts.options,
  });
  const { port } = await transport.start();
  open.push(async () => {
    await transport.stop();
    await queue.close().catch(() => {});
  });
  return {
    port,
    transport,
    queue,
    broadcast,
    consumed,
    authCalls: tokenAuth.calls,
    attributeRequests: deviceApi.requests,
    attributes,
    stateEvents,
    logs,
    gate,
    published,
  };
}

export async function waitForConsumed(h: Harness, n: number): Promise<Msg[]> {
  await vi.waitFor(() => expect(h.consumed).toHaveLength(n), { timeout: 5000, interval: 5 });
  return h.consumed;
}

// ---- raw UDP ---------------------------------------------------------------------------------

export const Opt = { OBSERVE: 6, URI_PATH: 11, CONTENT_FORMAT: 12, URI_QUERY: 15, BLOCK1: 27, SIZE1: 60, REQUEST_TAG: 292 } as const;

export interface RawRequest {
  method?: 'GET' | 'POST' | 'PUT' | 'DELETE';
  path: string;
  query?: string[];
  payload?: string | Buffer;
  messageId: number;
  token?: Buffer;
  confirmable?: boolean;
  observe?: number;
  options?: Array<[number, Buffer]>;
}

const METHOD_CODES = { GET: '0.01', POST: '0.02', PUT: '0.03', DELETE: '0.04' } as const;

export function rawRequest(r: RawRequest): Buffer {
  const options: Array<[number, Buffer]> = [];
  for (const seg of r.path.split('/').filter(Boolean)) options.push([Opt.URI_PATH, Buffer.from(seg)]);
  for (const q of r.query ?? []) options.push([Opt.URI_QUERY, Buffer.from(q)]);
  if (r.observe !== undefined) options.push([Opt.OBSERVE, uintOption(r.observe)]);
  options.push(...(r.options ?? []));
  return encodeMessage({
    type: r.confirmable === false ? MessageType.NON : MessageType.CON,
    code: METHOD_CODES[r.method ?? 'POST'],
    messageId: r.messageId,
    token: r.token ?? Buffer.from([0x5a, r.messageId & 0xff]),
    options,
    ...(r.payload === undefined ? {} : { payload: Buffer.isBuffer(r.payload) ? r.payload : Buffer.from(r.payload) }),
  });
}

/** A UDP socket that records every datagram it receives, decoded. */
export interface RawClient {
  readonly socket: Socket;
  readonly port: number;
  readonly received: DecodedMessage[];
  send(datagram: Buffer): Promise<void>;
  /** Waits for the received message number `index` (0-based). */
  nth(index: number): Promise<DecodedMessage>;
  /** Sends and waits for the next message. */
  exchange(datagram: Buffer): Promise<DecodedMessage>;
  /** Waits for a received message with this message id. */
  answerTo(messageId: number): Promise<DecodedMessage>;
}

export async function rawClient(serverPort: number): Promise<RawClient> {
  const socket = createSocket('udp4');
  const received: DecodedMessage[] = [];
  socket.on('message', (m) => {
    const d = decodeMessage(m);
    if (d) received.push(d);
  });
  await new Promise<void>((r) => socket.bind(0, '127.0.0.1', () => r()));
  open.push(async () => void (await new Promise<void>((r) => socket.close(() => r()))));
  const client: RawClient = {
    socket,
    port: socket.address().port,
    received,
    send: (datagram) => new Promise<void>((r, j) => socket.send(datagram, serverPort, '127.0.0.1', (e) => (e ? j(e) : r()))),
    async nth(index) {
      await vi.waitFor(() => expect(received.length).toBeGreaterThan(index), { timeout: 5000, interval: 2 });
      return received[index] as DecodedMessage;
    },
    async answerTo(messageId) {
      await vi.waitFor(() => expect(received.some((m) => m.messageId === messageId)).toBe(true), { timeout: 5000, interval: 2 });
      return received.find((m) => m.messageId === messageId) as DecodedMessage;
    },
    async exchange(datagram) {
      const index = received.length;
      await client.send(datagram);
      return client.nth(index);
    },
  };
  return client;
}

// ---- the coap package's client ---------------------------------------------------------------

export interface CoapReply {
  code: string;
  payload: string;
  headers: IncomingMessage['headers'];
}

/** One request with the coap package's client, on an agent of its own. */
export function coapCall(
  port: number,
  params: { method?: 'GET' | 'POST' | 'PUT' | 'DELETE'; pathname: string; query?: string; payload?: string; confirmable?: boolean },
): Promise<CoapReply> {
  const agent = new Agent({ type: 'udp4' });
  open.push(async () => void agent.close());
  return new Promise((resolve, reject) => {
    const req = coapRequest({
      hostname: '127.0.0.1',
      port,
      method: params.method ?? 'POST',
      pathname: params.pathname,
      ...(params.query === undefined ? {} : { query: params.query }),
      confirmable: params.confirmable ?? true,
      agent,
    });
    req.on('response', (res: IncomingMessage) => resolve({ code: res.code, payload: res.payload.toString('utf8'), headers: res.headers }));
    req.on('error', reject);
    req.end(params.payload);
  });
}

/** An observation with the coap package's client: every notification's payload, in order. */
export async function coapObserve(port: number, pathname: string): Promise<{ code: string; notifications: string[]; stream: ObserveReadStream; agent: Agent }> {
  const agent = new Agent({ type: 'udp4' });
  open.push(async () => void agent.close());
  const notifications: string[] = [];
  return new Promise((resolve, reject) => {
    const req = coapRequest({ hostname: '127.0.0.1', port, method: 'GET', pathname, observe: true, agent });
    req.on('response', (res: ObserveReadStream) => {
      res.on('data', (chunk: Buffer) => notifications.push(chunk.toString('utf8')));
      resolve({ code: res.code, notifications, stream: res, agent });
    });
    req.on('error', reject);
    req.end();
  });
}
