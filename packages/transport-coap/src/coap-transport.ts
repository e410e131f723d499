import { silentLogger, type Logger } from '@rivulet/core';
import { DeviceRpcCalls, type TransportService } from '@rivulet/transport-service';
import { createCoapEndpoint, type CoapEndpointStats } from './coap-endpoint';
import { Code } from './coap-message';
import { STOPPED, newRejected, type CoapContext, type RejectReason } from './context';
import { subscribeDownlink } from './downlink';
import { DEFAULT_DEDUP_MAX_ENTRIES, EXCHANGE_LIFETIME_MS, ExchangeStore } from './exchange-store';
import { onRequest } from './handlers/dispatch';
import { failPendingRpc } from './handlers/rpc';
import { parseDeviceRoute } from './device-route';
import { ObserveRegistry } from './observe-registry';

export type { RejectReason } from './context';

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

/**
 * ThingsBoard's CoAP device API (RFC 7252, observe RFC 7641, block-wise RFC 7959) on the coap
 * package. Order of checks: size (4.13), path (4.04 / 4.00), method (4.05), token (4.01), rate
 * (4.29), payload (4.00), queue (5.03). Posts are acknowledged once the queue accepted every
 * message of the payload, so a full queue slows devices down.
 *
 * One small module per responsibility, each handed the one context built here:
 * handlers/dispatch.ts (a request's route, method, token and rate), handlers/device-api.ts
 * (telemetry, attributes, claim), handlers/provision.ts, handlers/observe.ts (observations),
 * handlers/rpc.ts (RPC replies, client-side RPC); downlink.ts notifies observers from the broadcast.
 */
export function createCoapTransport(options: CoapTransportOptions): CoapTransport {
  const { service, config } = options;
  if (!service.hasDownlink) throw new Error('the CoAP transport needs a transport service with a broadcast (RPC and attribute updates)');
  // the service's own objects, called directly on the hot path
  const { auth, state } = service;
  const logger = (options.logger ?? silentLogger).child({ component: 'transport-coap' });
  const maxPayloadBytes = config.maxPayloadBytes ?? DEFAULT_MAX_PAYLOAD_BYTES;
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
  const ctx: CoapContext = {
    service,
    auth,
    state,
    logger,
    maxPayloadBytes,
    typeCasting: config.typeCasting ?? true,
    rpcTimeoutMs: config.rpcTimeoutMs ?? 10_000,
    maxPendingRpc: config.maxPendingRpc ?? 10_000,
    limiter: service.rateLimit('coap', config.rateLimitMaxWaitMs ?? 10_000),
    registry,
    rpcIds: new DeviceRpcCalls(service, 64),
    pendingRpc: new Map(),
    sessionId: `coap:${globalThis.crypto.randomUUID()}`,
    inflight: new Set(),
    counters: { requests: 0, acceptedRequests: 0, acceptedMessages: 0, notifications: 0, held: 0 },
    rejected: newRejected(),
    nextClientRpcId: 1,
    stopped: false,
    now: service.now,
  };
  const { rpcIds, pendingRpc, inflight } = ctx;

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
    onRequest: (req, res) => onRequest(ctx, req, res),
  });

  // ---- life cycle ------------------------------------------------------------------------------

  return {
    async start() {
      const port = await endpoint.listen();
      unsubscribes.push(subscribeDownlink(ctx));
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
      if (ctx.stopped) return;
      ctx.stopped = true;
      for (const t of timers.splice(0)) clearInterval(t);
      for (const u of unsubscribes.splice(0)) u();
      // Observers learn that the server went away (a 5.03 ends an observation, RFC 7641 §3.2).
      for (const obs of registry.all()) {
        registry.remove(obs);
        obs.close({ code: Code.SERVICE_UNAVAILABLE, message: 'Service unavailable: the server is shutting down' });
        if (obs.kind === 'rpc') failPendingRpc(ctx, obs.device.deviceId, 'The CoAP transport stopped before the device replied');
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
        ...ctx.counters,
        rejected: { ...ctx.rejected },
        observations: registry.size,
        observedDevices: registry.devices,
        pendingRpc: pendingRpc.size,
        ...endpoint.stats(),
      };
    },
  };
}
