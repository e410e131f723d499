import { ObserveWriteStream, type IncomingMessage } from 'coap';
import {
  AttributeScope,
  BadRequestError,
  MsgType,
  RivuletError,
  attributesResponseText,
  deviceAnswerText,
  deviceMsg,
  noopDeviceStateReporter,
  parseAttributes,
  parseKeyList,
  parseLenientJson,
  parseTelemetry,
  sharedAttributesUpdate,
  silentLogger,
  type AttributesEvent,
  type DeviceApiService,
  type DeviceAuthenticator,
  type DeviceInfo,
  type DeviceRateLimiter,
  type DeviceStateReporter,
  type JsonValue,
  type Logger,
  type Msg,
  type ToDeviceRpcRequest,
  type ToDeviceRpcResponse,
  type ToServerRpcReply,
  type PayloadOptions,
  type TenantLimitsSource,
  keyLimits,
} from '@rivulet/core';
import { Topics, type Queue, type QueueRecord } from '@rivulet/queue';
import { createCoapEndpoint, endpointOf, type CoapEndpointStats, type CoapResponse } from './coap-endpoint';
import { Code } from './coap-message';
import { DeviceRpcCalls, FeatureUnavailableError, ProvisionRateLimitError, parseClaimRequest, type TransportService } from '@rivulet/transport-service';
import { Feature, parseDeviceRoute, uriPath, uriQuery } from './device-route';
import { DEFAULT_DEDUP_MAX_ENTRIES, EXCHANGE_LIFETIME_MS, ExchangeStore } from './exchange-store';
import { ObserveRegistry, type ObserveKind, type Observation } from './observe-registry';

export interface CoapTransportConfig {
  /** UDP port; 0 picks a free one (start() says which). */
  port: number;
  /** Address to bind; default 0.0.0.0 (an IPv6 address binds udp6). */
  host?: string;
  /** Largest request payload, also after block-wise reassembly; default 64 KiB like ThingsBoard. */
  maxPayloadBytes?: number;
  /** Numeric strings become numbers (ThingsBoard's default, on). */
  typeCasting?: boolean;
  /** Exchanges remembered for deduplication (count bound); default 100,000. */
  dedupMaxEntries?: number;
  /** How long an exchange is remembered (age bound); default EXCHANGE_LIFETIME, 247 s. */
  dedupLifetimeMs?: number;
  /** Answers taking longer go as an empty ACK plus a separate response; default 1,000 ms (< ACK_TIMEOUT). */
  piggybackReplyMs?: number;
  /** How long a client-side RPC (POST /rpc) waits for the rule chain's reply; default 10 s. */
  rpcTimeoutMs?: number;
  /** Observations in total; beyond, a registration is answered 5.03. Default 10,000. */
  maxObservations?: number;
  /** Observations per device; beyond, its oldest goes. Default 8. */
  maxObservationsPerDevice?: number;
  /** Unfinished block-wise transfers kept (authenticated ones only: block 0 is authorized first); default 256. */
  maxBlockTransfers?: number;
  /** Unfinished block-wise transfers of one client endpoint (address:port); its oldest goes beyond. Default 4. */
  maxBlockTransfersPerEndpoint?: number;
  /** Sent messages awaiting an ACK or RST kept; default 10,000. */
  maxPendingOutgoing?: number;
  /** Client-side RPCs waiting for a reply; beyond, 5.03. Default 10,000. */
  maxPendingRpc?: number;
  /** Longest an answer is held back by the device or tenant rate limit; a request further ahead gets 4.29 with Max-Age. Default 10 s. */
  rateLimitMaxWaitMs?: number;
  /** How often devices holding an observation are reported active; default 60 s. */
  activityIntervalMs?: number;
  /** Longest stop() waits for requests in progress; default 5 s. */
  stopTimeoutMs?: number;
}

export interface CoapTransportOptions {
  /**
   * What the three transports share (authentication, tenant limits, the one rate limiter,
   * producing, attribute requests, RPC, the session registry, device state, provisioning and
   * claiming): the server builds one and hands it to each. It needs a broadcast (the downlink) for CoAP.
   */
  service: TransportService;
  logger?: Logger;
  config: CoapTransportConfig;
}

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

export interface CoapTransportStats extends CoapEndpointStats {
  /** Requests handed to the transport (after deduplication). */
  requests: number;
  /** Requests answered with success. */
  acceptedRequests: number;
  /** Messages handed to the queue. */
  acceptedMessages: number;
  rejected: Record<RejectReason, number>;
  /** Requests whose answer was held back by the rate limit. */
  held: number;
  observations: number;
  observedDevices: number;
  notifications: number;
  pendingRpc: number;
}

export interface CoapTransport {
  start(): Promise<{ port: number }>;
  /** Stops accepting (5.03), ends observations, waits for requests in progress, closes the socket. */
  stop(): Promise<void>;
  stats(): CoapTransportStats;
}

const DEFAULT_MAX_PAYLOAD_BYTES = 64 * 1024;
const TIMEOUT = Symbol('timeout');
const STOPPED = Symbol('stopped');
const JSON_FORMAT = 'application/json';

/**
 * ThingsBoard's CoAP device API (RFC 7252, observe RFC 7641, block-wise RFC 7959) on the coap
 * package. Order of checks: size (4.13), path (4.04 / 4.00), method (4.05), token (4.01), rate
 * (4.29), payload (4.00), queue (5.03). Posts are acknowledged once the queue accepted every
 * message of the payload, so a full queue slows devices down.
 */
export function createCoapTransport(options: CoapTransportOptions): CoapTransport {
  const { service, config } = options;
  if (!service.hasDownlink) throw new Error('the CoAP transport needs a transport service with a broadcast (RPC and attribute updates)');
  // the service's own objects, called directly on the hot path
  const { auth, state } = service;
  const logger = (options.logger ?? silentLogger).child({ component: 'transport-coap' });
  const now = service.now;
  const maxPayloadBytes = config.maxPayloadBytes ?? DEFAULT_MAX_PAYLOAD_BYTES;
  const typeCasting = config.typeCasting ?? true;
  /** The parsers' options for the device's tenant (its key limits). */
  const payloadOptions = (device: DeviceInfo): PayloadOptions => service.payloadOptions(device, typeCasting);
  /** 4.13 for a payload over the tenant's own limit (below the transport's; the endpoint enforced that one); false otherwise. */
  function overTenantPayloadLimit(res: CoapResponse, device: DeviceInfo, payload: Buffer): boolean {
    const tenantMax = service.payloadLimit(device, maxPayloadBytes);
    if (tenantMax >= maxPayloadBytes || payload.length <= tenantMax) return false;
    reject(res, 'payloadTooLarge', Code.REQUEST_ENTITY_TOO_LARGE, `Payload too large: the limit is ${tenantMax} bytes`, { Size1: tenantMax });
    return true;
  }
  const rpcTimeoutMs = config.rpcTimeoutMs ?? 10_000;
  const maxPendingRpc = config.maxPendingRpc ?? 10_000;

  const counters = { requests: 0, acceptedRequests: 0, acceptedMessages: 0, notifications: 0, held: 0 };
  /** Client-side RPC requests carry it as sessionId, so the rule chain's reply comes back here only. */
  const sessionId = `coap:${globalThis.crypto.randomUUID()}`;
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
    notImplemented: 0,
  };
  let stopped = false;
  const inflight = new Set<Promise<void>>();
  const timers: NodeJS.Timeout[] = [];
  const unsubscribes: Array<() => void> = [];

  const dedup = new ExchangeStore({
    maxEntries: config.dedupMaxEntries ?? DEFAULT_DEDUP_MAX_ENTRIES,
    lifetimeMs: config.dedupLifetimeMs ?? EXCHANGE_LIFETIME_MS,
  });
  /** Session holds (the broadcast's session registry) of the devices with an observation. */
  const observedHolds = new Map<string, () => void>();
  const registry = new ObserveRegistry(
    { maxTotal: config.maxObservations ?? 10_000, maxPerDevice: config.maxObservationsPerDevice ?? 8 },
    (device, connected) => {
      if (connected) {
        if (!observedHolds.has(device.deviceId)) observedHolds.set(device.deviceId, service.holdSession(device.deviceId));
        state.onConnect(device);
      } else {
        observedHolds.get(device.deviceId)?.();
        observedHolds.delete(device.deviceId);
        state.onDisconnect(device);
      }
    },
  );
  // commands sent to observers, by the id the device answers with; a two-way one not answered by
  // its expirationTime gives RPC_TIMEOUT then (the service's timer)
  const rpcIds = new DeviceRpcCalls(service, 64);
  const limiter = service.rateLimit('coap', config.rateLimitMaxWaitMs ?? 10_000);
  /** Client-side RPCs waiting for the rule chain, by `${deviceId}#${requestId}`. */
  const pendingRpc = new Map<string, (body: JsonValue | typeof TIMEOUT | typeof STOPPED) => void>();
  let nextClientRpcId = 1;

  const endpoint = createCoapEndpoint({
    host: config.host ?? '0.0.0.0',
    port: config.port,
    dedup,
    maxPayloadBytes,
    maxBlockTransfers: config.maxBlockTransfers ?? 256,
    maxBlockTransfersPerEndpoint: config.maxBlockTransfersPerEndpoint ?? 4,
    // a transfer is kept only for a device API path whose token is a device's (the cached lookup every request makes)
    async authorizeBlockTransfer(path) {
      const route = parseDeviceRoute(path);
      return route.kind === 'ok' && (await auth.authenticateToken(route.token)) !== null;
    },
    maxPendingOutgoing: config.maxPendingOutgoing ?? 10_000,
    piggybackReplyMs: config.piggybackReplyMs ?? 1_000,
    logger,
    onRequest,
  });

  // ---- answers ---------------------------------------------------------------------------------

  /**
   * One answer to a request. An observe request (Observe=0) gets an ObserveWriteStream; answering
   * it once, without the Observe option, establishes nothing (non-2.xx answers carry no Observe
   * option, RFC 7641 §4.2).
   */
  function send(res: CoapResponse, code: Code, payload?: string, opts: { json?: boolean; options?: Record<string, number> } = {}): void {
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
      logger.debug({ err: e }, 'coap answer not sent');
    }
  }

  function reject(res: CoapResponse, reason: RejectReason, code: Code, message: string, options?: Record<string, number>): void {
    rejected[reason]++;
    logger.debug({ reason, code, message }, 'device request rejected');
    send(res, code, message, options ? { options } : {});
  }

  function accept(res: CoapResponse, code: Code, payload?: string): void {
    counters.acceptedRequests++;
    send(res, code, payload, { json: payload !== undefined && payload !== '' });
  }

  function internalError(res: CoapResponse, e: unknown, what: string): void {
    logger.error({ err: e }, what);
    reject(res, 'internal', Code.INTERNAL_SERVER_ERROR, 'Internal server error');
  }

  // ---- requests --------------------------------------------------------------------------------

  function onRequest(req: IncomingMessage, res: CoapResponse): void {
    counters.requests++;
    // a send failure (or a notification too large to encode) is emitted here; without a listener
    // it would be an uncaught 'error' event
    res.on('error', (e: unknown) => logger.debug({ err: e }, 'coap response error'));
    const work = handle(req, res).catch((e: unknown) => internalError(res, e, 'device request failed'));
    inflight.add(work);
    void work.finally(() => inflight.delete(work));
  }

  async function handle(req: IncomingMessage, res: CoapResponse): Promise<void> {
    if (stopped) return reject(res, 'unavailable', Code.SERVICE_UNAVAILABLE, 'Service unavailable: the server is shutting down');
    if (req.payload.length > maxPayloadBytes) {
      // Size1 tells the client the largest size we take (RFC 7959 §4)
      return reject(res, 'payloadTooLarge', Code.REQUEST_ENTITY_TOO_LARGE, `Payload too large: the limit is ${maxPayloadBytes} bytes`, { Size1: maxPayloadBytes });
    }
    const route = parseDeviceRoute(uriPath(req));
    if (route.kind === 'not-found') return reject(res, 'notFound', Code.NOT_FOUND, route.message);
    if (route.kind === 'bad-request') return reject(res, 'badRequest', Code.BAD_REQUEST, route.message);
    if (route.kind === 'provision') {
      if (req.method !== 'POST') return reject(res, 'methodNotAllowed', Code.METHOD_NOT_ALLOWED, `Method ${String(req.method)} is not allowed on /api/v1/provision; use POST`);
      return provision(req, res);
    }
    const method = req.method;
    const observe = req.headers.Observe;
    const { feature, id } = route;

    // method check before authentication, so a wrong method costs no lookup
    let run: ((device: DeviceInfo) => Promise<void>) | undefined;
    if (feature === Feature.TELEMETRY) {
      if (method === 'POST') run = (d) => postTelemetry(res, d, req.payload);
    } else if (feature === Feature.ATTRIBUTES) {
      if (method === 'POST') run = (d) => postAttributes(res, d, req.payload);
      else if (method === 'GET') {
        if (observe === 0) run = (d) => observeAttributes(req, res, d);
        else if (observe === 1) run = (d) => cancelObservation(req, res, d);
        else run = (d) => getAttributes(res, d, uriQuery(req));
      }
    } else if (feature === Feature.CLAIM) {
      if (method === 'POST' && id === undefined) run = (d) => claim(res, d, req.payload);
    } else if (id === undefined) {
      if (method === 'POST') run = (d) => clientRpc(res, d, req.payload);
      else if (method === 'GET') {
        if (observe === 0) run = (d) => observeRpc(req, res, d);
        else if (observe === 1) run = (d) => cancelObservation(req, res, d);
        else return reject(res, 'badRequest', Code.BAD_REQUEST, 'GET /rpc subscribes to RPC commands: send it with the Observe option');
      }
    } else if (method === 'POST') {
      const n = /^\d{1,10}$/.test(id) ? Number(id) : NaN;
      if (!Number.isSafeInteger(n)) return reject(res, 'badRequest', Code.BAD_REQUEST, `Invalid RPC request id "${id}": an integer is expected`);
      run = (d) => rpcReply(res, d, n, req.payload);
    }
    if (run === undefined) {
      const allowed = feature === Feature.TELEMETRY || feature === Feature.CLAIM || id !== undefined ? 'POST' : 'GET, POST';
      return reject(res, 'methodNotAllowed', Code.METHOD_NOT_ALLOWED, `Method ${String(method)} is not allowed on /api/v1/{token}/${feature}${id === undefined ? '' : '/{id}'}; use ${allowed}`);
    }

    const device = await authenticate(res, route.token);
    if (device === undefined) return;
    state.onActivity(device);
    if (limiter !== undefined) {
      const r = limiter.reserve(device, now());
      if (!r.ok) {
        // Max-Age: seconds until the client may try again (RFC 8516)
        const who = r.reason === 'device' ? 'the device' : "the device's tenant";
        return reject(res, 'rateLimited', Code.TOO_MANY_REQUESTS, `Too many requests: ${who} is far over its message rate limit of ${r.limit} per second`, {
          'Max-Age': Math.max(1, Math.ceil(r.retryAfterMs / 1000)),
        });
      }
      if (r.waitMs > 0) {
        counters.held++;
        await new Promise((resolve) => setTimeout(resolve, r.waitMs));
      }
    }
    await run(device);
  }

  // ---- provisioning and claiming (through the transport service) ---------------------------------

  /**
   * `POST /api/v1/provision` `{"deviceName":..,"provisionDeviceKey":..,"provisionDeviceSecret":..}`:
   * 2.05 with ThingsBoard's JSON answer, a refusal included; 4.29 with Max-Age past the per-address
   * rate, 4.00 for a payload that is not JSON, 5.01 without a provisioning service.
   */
  async function provision(req: IncomingMessage, res: CoapResponse): Promise<void> {
    if (!service.provisioningAvailable) return reject(res, 'notImplemented', Code.NOT_IMPLEMENTED, new FeatureUnavailableError('provisioning').message);
    try {
      const answer = await service.provision(req.payload.toString('utf8'), 'COAP', req.rsinfo.address);
      accept(res, Code.CONTENT, JSON.stringify(answer));
    } catch (e) {
      if (e instanceof ProvisionRateLimitError) reject(res, 'rateLimited', Code.TOO_MANY_REQUESTS, e.message, { 'Max-Age': Math.max(1, Math.ceil(e.retryAfterMs / 1000)) });
      else if (e instanceof BadRequestError) reject(res, 'badRequest', Code.BAD_REQUEST, e.message);
      else if (e instanceof FeatureUnavailableError) reject(res, 'notImplemented', Code.NOT_IMPLEMENTED, e.message);
      else internalError(res, e, 'device provisioning failed');
    }
  }

  /** `POST /api/v1/{token}/claim` `{"secretKey":..,"durationMs":..}` (both optional, the payload too): 2.01 (as its other posts) once the claiming service took it. */
  async function claim(res: CoapResponse, device: DeviceInfo, payload: Buffer): Promise<void> {
    if (!service.claimingAvailable) return reject(res, 'notImplemented', Code.NOT_IMPLEMENTED, new FeatureUnavailableError('claiming').message);
    let request;
    try {
      request = parseClaimRequest(payload.toString('utf8'));
    } catch (e) {
      if (e instanceof BadRequestError) return reject(res, 'badRequest', Code.BAD_REQUEST, e.message);
      throw e;
    }
    try {
      await service.claimParsed(device, request);
    } catch (e) {
      if (e instanceof RivuletError && e.status < 500) reject(res, e.status === 404 ? 'notFound' : 'badRequest', e.status === 404 ? Code.NOT_FOUND : Code.BAD_REQUEST, e.message);
      else if (e instanceof FeatureUnavailableError) reject(res, 'notImplemented', Code.NOT_IMPLEMENTED, e.message);
      else internalError(res, e, 'device claim failed');
      return;
    }
    accept(res, Code.CREATED);
  }

  /** The device of `token`, or undefined after answering 4.01 (unknown token) or 5.00. */
  async function authenticate(res: CoapResponse, token: string): Promise<DeviceInfo | undefined> {
    let device: DeviceInfo | null;
    try {
      device = await auth.authenticateToken(token);
    } catch (e) {
      internalError(res, e, 'device authentication failed');
      return undefined;
    }
    if (!device) {
      reject(res, 'unauthorized', Code.UNAUTHORIZED, 'Authentication failed: invalid device access token');
      return undefined;
    }
    return device;
  }

  /** The payload as JSON, or undefined after answering 4.00. */
  function parsePayload<T>(res: CoapResponse, payload: Buffer, parse: (json: JsonValue) => T): T | undefined {
    try {
      if (payload.length === 0) throw new BadRequestError('Empty payload: a JSON payload is expected');
      return parse(parseLenientJson(payload.toString('utf8')));
    } catch (e) {
      if (e instanceof BadRequestError) reject(res, 'badRequest', Code.BAD_REQUEST, e.message);
      else internalError(res, e, 'device payload parsing failed');
      return undefined;
    }
  }

  /** Hands the messages of one request to the queue in one call; false after answering 5.03. */
  async function produce(res: CoapResponse, device: DeviceInfo, msgs: Msg[]): Promise<boolean> {
    const records: Array<QueueRecord<Msg>> = msgs.map((value) => ({ key: device.deviceId, value }));
    try {
      await service.produce(records);
    } catch {
      reject(res, 'unavailable', Code.SERVICE_UNAVAILABLE, 'Service unavailable: the message queue did not accept the payload, retry later', { 'Max-Age': 1 });
      return false;
    }
    counters.acceptedMessages += msgs.length;
    return true;
  }

  async function postTelemetry(res: CoapResponse, device: DeviceInfo, payload: Buffer): Promise<void> {
    if (overTenantPayloadLimit(res, device, payload)) return;
    const groups = parsePayload(res, payload, (json) => parseTelemetry(json, now(), payloadOptions(device)));
    if (groups === undefined) return;
    // `[]` has nothing to queue: answered at once
    if (groups.length === 0) return accept(res, Code.CREATED);
    const msgs = groups.map((g) => deviceMsg(device, MsgType.POST_TELEMETRY_REQUEST, g.ts, g.values));
    if (await produce(res, device, msgs)) accept(res, Code.CREATED);
  }

  async function postAttributes(res: CoapResponse, device: DeviceInfo, payload: Buffer): Promise<void> {
    if (overTenantPayloadLimit(res, device, payload)) return;
    const attributes = parsePayload(res, payload, (json) => parseAttributes(json, payloadOptions(device)));
    if (attributes === undefined) return;
    if (Object.keys(attributes).length === 0) return accept(res, Code.CREATED);
    if (await produce(res, device, [deviceMsg(device, MsgType.POST_ATTRIBUTES_REQUEST, now(), attributes)])) accept(res, Code.CREATED);
  }

  async function readAttributes(res: CoapResponse, device: DeviceInfo, request: { clientKeys?: string[] | undefined; sharedKeys?: string[] | undefined }) {
    try {
      return await service.getAttributes(device, request);
    } catch (e) {
      if (e instanceof RivuletError && e.status < 500) {
        reject(res, e.status === 404 ? 'notFound' : 'badRequest', e.status === 404 ? Code.NOT_FOUND : Code.BAD_REQUEST, e.message);
      } else internalError(res, e, 'device attributes request failed');
      return undefined;
    }
  }

  async function getAttributes(res: CoapResponse, device: DeviceInfo, query: Map<string, string>): Promise<void> {
    const request = { clientKeys: parseKeyList(query.get('clientKeys')), sharedKeys: parseKeyList(query.get('sharedKeys')) };
    const attrs = await readAttributes(res, device, request);
    if (attrs === undefined) return;
    // ThingsBoard answers 4.04 when nothing was found (its firmware expects that)
    if (attrs.client === undefined && attrs.shared === undefined) {
      return reject(res, 'notFound', Code.NOT_FOUND, 'No attributes found for the requested keys');
    }
    accept(res, Code.CONTENT, attributesResponseText(attrs));
  }

  // ---- observations ----------------------------------------------------------------------------

  function observationKey(req: IncomingMessage): string {
    return `${endpointOf(req.rsinfo)}|${(req._packet.token ?? Buffer.alloc(0)).toString('hex')}`;
  }

  /**
   * Registers an observation and answers the registration with `first` (code and payload).
   * Notifications arriving before that answer went out are held and sent after it, so the first
   * message the device gets is the registration answer.
   */
  async function observe(
    req: IncomingMessage,
    res: CoapResponse,
    device: DeviceInfo,
    kind: ObserveKind,
    first: () => Promise<{ code: Code; payload: string } | undefined>,
  ): Promise<void> {
    if (!(res instanceof ObserveWriteStream)) return internalError(res, new Error('observe request without an observe stream'), 'coap observe failed');
    const stream = res;
    const key = observationKey(req);
    if (!registry.hasRoomFor(key)) {
      return reject(res, 'unavailable', Code.SERVICE_UNAVAILABLE, 'Service unavailable: too many observations on this server', { 'Max-Age': 60 });
    }
    let ready = false;
    const held: string[] = [];
    const write = (payload: string, code: Code = Code.CONTENT): void => {
      if (stream.writableEnded || stream.destroyed) return;
      stream.statusCode = code;
      stream.write(Buffer.from(payload, 'utf8'));
    };
    const obs: Observation = {
      key,
      device,
      kind,
      send(payload) {
        counters.notifications++;
        if (ready) write(payload);
        else held.push(payload);
      },
      close(final) {
        if (stream.writableEnded) return;
        if (final !== undefined && ready) {
          // a non-2.xx notification, without the Observe option, ends the observation at the
          // client (RFC 7641 §3.2); the stream is left as it is, ending it would send once more
          stream.statusCode = final.code;
          stream.setOption('Observe', []);
          stream._doSend(Buffer.from(final.message, 'utf8'));
          return;
        }
        // ending after a notification sends nothing more; the client notices on its next one
        stream.end();
      },
    };
    registry.add(obs);
    // A RST to a notification ends the stream (coap-endpoint): the device rejected it and will not
    // answer what it was sent. Our own close() (cancel, replace, evict) unregisters first.
    stream.once('finish', () => {
      if (registry.remove(obs) && kind === 'rpc' && registry.forDevice(device.deviceId, 'rpc').length === 0) {
        failPendingRpc(device.deviceId, 'The device cancelled its RPC subscription before replying');
      }
    });
    const answer = await first();
    if (answer === undefined) {
      // refused after all (first() answered): nothing to observe
      registry.remove(obs);
      return;
    }
    stream.setOption('Content-Format', JSON_FORMAT);
    counters.acceptedRequests++;
    write(answer.payload, answer.code);
    ready = true;
    for (const p of held.splice(0)) write(p);
  }

  async function observeAttributes(req: IncomingMessage, res: CoapResponse, device: DeviceInfo): Promise<void> {
    // the registration answer carries the current shared attributes, as an update would
    await observe(req, res, device, 'attributes', async () => {
      const attrs = await readAttributes(res, device, {});
      return attrs === undefined ? undefined : { code: Code.CONTENT, payload: deviceAnswerText(attrs.shared ?? {}, attrs.doubles) };
    });
  }

  async function observeRpc(req: IncomingMessage, res: CoapResponse, device: DeviceInfo): Promise<void> {
    // ThingsBoard answers an RPC subscription 2.03 Valid, without a payload
    await observe(req, res, device, 'rpc', async () => ({ code: Code.VALID, payload: '' }));
  }

  async function cancelObservation(req: IncomingMessage, res: CoapResponse, device: DeviceInfo): Promise<void> {
    const obs = registry.get(observationKey(req));
    if (obs !== undefined && obs.device.deviceId === device.deviceId) {
      registry.remove(obs);
      obs.close();
    }
    // ThingsBoard answers a deregistration 2.02 Deleted, known or not
    accept(res, Code.DELETED);
  }

  function onAttributesEvent(ev: AttributesEvent): void {
    if (ev.scope !== AttributeScope.SHARED_SCOPE) return;
    const observers = registry.forDevice(ev.entityId, 'attributes');
    if (observers.length === 0) return;
    // ThingsBoard's update notification: the changed values (1.0 for a DOUBLE of integral value), deletions under "deleted"
    const update = sharedAttributesUpdate(ev);
    if (update === undefined) return;
    const payload = deviceAnswerText(update.body, update.doubles);
    for (const o of observers) o.send(payload);
  }

  // ---- RPC -------------------------------------------------------------------------------------

  function onToDeviceRpc(r: ToDeviceRpcRequest): void {
    const observers = registry.forDevice(r.deviceId, 'rpc');
    // expirationTime is wall-clock time set by whoever asked
    const t = Date.now();
    if (observers.length === 0 || r.expirationTime <= t) return;
    const device = (observers[0] as (typeof observers)[number]).device;
    const id = rpcIds.assign(r.deviceId, { requestId: r.requestId, oneway: r.oneway, expiresAt: r.expirationTime, replyTo: r.replyTo, device }, t);
    const payload = JSON.stringify({ id, method: r.method, params: r.params });
    for (const o of observers) o.send(payload);
    // the pickup (core/device-rpc.ts): a one-way call is done with it, a two-way one waits for the reply; RPC_SENT
    service.rpcSent(device, r);
  }

  /** Two-way calls of a device that can no longer be answered end with an error for the caller. */
  function failPendingRpc(deviceId: string, error: string): void {
    for (const call of rpcIds.drop(deviceId)) {
      if (call.oneway || call.expiresAt <= Date.now()) continue;
      service.rpcFailed(call.device, call, error);
    }
  }

  async function rpcReply(res: CoapResponse, device: DeviceInfo, id: number, payload: Buffer): Promise<void> {
    if (overTenantPayloadLimit(res, device, payload)) return;
    // any JSON, or the raw text when it is not JSON (ThingsBoard forwards the payload as it is)
    let response: JsonValue;
    const text = payload.toString('utf8');
    try {
      response = text === '' ? null : parseLenientJson(text);
    } catch {
      response = text;
    }
    const call = rpcIds.take(device.deviceId, id, Date.now());
    if (call === undefined) return reject(res, 'notFound', Code.NOT_FOUND, `No RPC request ${id} is waiting for a reply (unknown or expired)`);
    if (!call.oneway) service.rpcReplied(device, call, response);
    accept(res, Code.CREATED);
  }

  async function clientRpc(res: CoapResponse, device: DeviceInfo, payload: Buffer): Promise<void> {
    if (overTenantPayloadLimit(res, device, payload)) return;
    const request = parsePayload(res, payload, (json) => {
      if (typeof json !== 'object' || json === null || Array.isArray(json) || typeof json.method !== 'string' || json.method === '') {
        throw new BadRequestError('Client-side RPC: expected {"method":"...","params":...}');
      }
      return { method: json.method, params: json.params ?? {} };
    });
    if (request === undefined) return;
    if (pendingRpc.size >= maxPendingRpc) {
      return reject(res, 'unavailable', Code.SERVICE_UNAVAILABLE, 'Service unavailable: too many RPC requests waiting', { 'Max-Age': 1 });
    }
    const requestId = String(nextClientRpcId);
    nextClientRpcId = nextClientRpcId >= 0x7fffffff ? 1 : nextClientRpcId + 1;
    const key = `${device.deviceId}#${requestId}`;
    let timer: NodeJS.Timeout | undefined;
    // registered before producing: the reply may come back before produce() resolves; the device
    // counts as held here while it waits, so the reply is sent to this process
    const release = service.holdSession(device.deviceId);
    const reply = new Promise<JsonValue | typeof TIMEOUT | typeof STOPPED>((resolve) => {
      pendingRpc.set(key, resolve);
      timer = setTimeout(() => resolve(TIMEOUT), rpcTimeoutMs);
    });
    try {
      const msg = deviceMsg(device, MsgType.TO_SERVER_RPC_REQUEST, now(), request, { requestId, sessionId });
      if (!(await produce(res, device, [msg]))) return;
      const body = await reply;
      if (body === TIMEOUT) return reject(res, 'timeout', Code.GATEWAY_TIMEOUT, `No reply to the RPC request within ${rpcTimeoutMs} ms`);
      if (body === STOPPED) return reject(res, 'unavailable', Code.SERVICE_UNAVAILABLE, 'Service unavailable: the server is shutting down');
      accept(res, Code.CONTENT, typeof body === 'string' ? body : JSON.stringify(body));
    } finally {
      clearTimeout(timer);
      pendingRpc.delete(key);
      release();
    }
  }

  function onToServerReply(r: ToServerRpcReply): void {
    if (r.sessionId !== undefined && r.sessionId !== sessionId) return;
    pendingRpc.get(`${r.deviceId}#${r.requestId}`)?.(r.body);
  }

  // ---- life cycle ------------------------------------------------------------------------------

  return {
    async start() {
      const port = await endpoint.listen();
      unsubscribes.push(service.subscribeDownlink({ attributes: onAttributesEvent, rpcRequest: onToDeviceRpc, toServerReply: onToServerReply }));
      const activity = setInterval(() => {
        for (const d of registry.observedDevices()) state.onActivity(d);
        rpcIds.prune(Date.now());
        dedup.prune();
      }, config.activityIntervalMs ?? 60_000);
      activity.unref();
      timers.push(activity);
      logger.info({ port }, 'coap transport listening');
      return { port };
    },

    async stop() {
      if (stopped) return;
      stopped = true;
      for (const t of timers.splice(0)) clearInterval(t);
      for (const u of unsubscribes.splice(0)) u();
      // Observers learn that the server went away (a 5.03 ends an observation, RFC 7641 §3.2).
      for (const obs of registry.all()) {
        registry.remove(obs);
        obs.close({ code: Code.SERVICE_UNAVAILABLE, message: 'Service unavailable: the server is shutting down' });
        if (obs.kind === 'rpc') failPendingRpc(obs.device.deviceId, 'The CoAP transport stopped before the device replied');
      }
      rpcIds.clear();
      for (const resolve of pendingRpc.values()) resolve(STOPPED);
      // Requests in progress finish (their posts reach the queue and are answered).
      let deadline: NodeJS.Timeout | undefined;
      await Promise.race([
        Promise.allSettled([...inflight]),
        new Promise<void>((r) => {
          deadline = setTimeout(r, config.stopTimeoutMs ?? 5_000);
        }),
      ]);
      clearTimeout(deadline);
      await endpoint.close();
      logger.info({}, 'coap transport stopped');
    },

    stats() {
      return {
        ...counters,
        rejected: { ...rejected },
        observations: registry.size,
        observedDevices: registry.devices,
        pendingRpc: pendingRpc.size,
        ...endpoint.stats(),
      };
    },
  };
}
