import { DeviceChannel, RpcChannel, respondToCaller, type Broadcast } from '@rivulet/broadcast';
import {
  keyLimits,
  noopDeviceStateReporter,
  parseLenientJson,
  silentLogger,
  type AttributesEvent,
  type DeviceApiService,
  type DeviceAuthenticator,
  type DeviceClaimingService,
  type DeviceInfo,
  type DeviceProvisioningService,
  type DeviceRateLimiter,
  type DeviceStateReporter,
  type GatewayDeviceService,
  type JsonValue,
  type Logger,
  type Msg,
  type PayloadOptions,
  type ProvisionResponse,
  type ProvisionTransport,
  type TenantLimitsSource,
  type ToDeviceRpcRequest,
  type ToDeviceRpcResponse,
  type ToServerRpcReply,
  type TransportRateLimit,
} from '@rivulet/core';
import { Topics, type Queue, type QueueRecord } from '@rivulet/queue';
import { createAddressRateLimit, type AddressRateLimit } from './address-rate-limit';
import { parseClaimRequest, type ClaimRequest } from './claim-request';
import { FeatureUnavailableError, ProvisionRateLimitError, QueueRejectedError } from './errors';
import { createRpcEvents, type RpcEvents } from './rpc-events';

export interface TransportServiceOptions {
  /** Where device messages go (the rule-engine topic). */
  queue: Queue;
  /** The server passes a cached one: every transport authenticates through it. */
  auth: DeviceAuthenticator;
  /** A device's own attributes (attribute requests). */
  deviceApi: DeviceApiService;
  /**
   * Server-to-device traffic (shared attribute changes, RPC) comes in on it, RPC answers go out on
   * it, and it is the session registry (holdSession). Without it there is no downlink (HTTP: its
   * long polls answer 404; MQTT and CoAP need it).
   */
  broadcast?: Broadcast;
  /** Device state: connect, disconnect, activity (none by default). */
  state?: DeviceStateReporter;
  /** Devices behind gateways; without it the gateway API creates nothing. */
  gateway?: GatewayDeviceService;
  /** Each tenant's key and payload limits; none: no limits. */
  tenantLimits?: TenantLimitsSource;
  /** The one device and tenant message rate limiter of every transport; none: no limit. */
  rateLimiter?: DeviceRateLimiter;
  /** Device provisioning (core's DeviceProvisioningService); absent: every transport refuses provisioning. */
  provisioning?: DeviceProvisioningService;
  /** Device claiming (core's DeviceClaimingService); absent: every transport refuses claiming. */
  claiming?: DeviceClaimingService;
  /** Provisioning requests per source address per minute, all transports together; default 10, 0: no limit. */
  provisionRequestsPerMinute?: number;
  /** RPC lifecycle messages (RPC_SENT, RPC_DELIVERED, RPC_SUCCESSFUL, RPC_TIMEOUT, RPC_FAILED) to the rule engine; default on. */
  rpcEvents?: boolean;
  logger?: Logger;
  /** Server time for payloads without their own ts and for the messages the service makes. */
  now?: () => number;
}

export interface TransportServiceStats {
  /** Rule-engine messages the queue accepted, and produce calls it refused. */
  produced: number;
  queueRejected: number;
  provision: { requests: number; rateLimited: number; unavailable: number };
  claim: { requests: number; unavailable: number };
  /** RPC lifecycle messages (RPC_SENT, ...) produced to the rule engine. */
  rpcEvents: number;
}

/** ThingsBoard's getSessionLimits answer. */
export interface SessionLimits {
  maxPayloadSize: number;
  maxInflightMessages: number;
  rateLimits: { messages: string; telemetryMessages: string; telemetryDataPoints: string };
}

/**
 * A rate in messages per second in ThingsBoard's rate limit form "count:seconds" ("" for none): an
 * integer rate is "n:1"; a fractional one the smallest whole window that holds a whole count.
 */
export function rateLimitString(perSecond: number): string {
  if (!(perSecond > 0)) return '';
  for (const seconds of [1, 2, 3, 4, 5, 10, 15, 20, 30, 60, 120, 300, 600, 3600]) {
    const count = perSecond * seconds;
    if (Math.abs(count - Math.round(count)) < 1e-9) return `${Math.round(count)}:${seconds}`;
  }
  return `${Math.max(1, Math.round(perSecond * 3600))}:3600`;
}

/** Downlink handlers a transport registers (each for its own sessions). */
export interface DownlinkHandlers {
  /** A shared-attribute change (or deletion) of some device. */
  attributes?(ev: AttributesEvent): void;
  /** A server-side RPC for some device. */
  rpcRequest?(req: ToDeviceRpcRequest): void;
  /** The rule chain's reply to a device's client-side RPC. */
  toServerReply?(reply: ToServerRpcReply): void;
}

/** A server-side RPC a transport handed to a device and (two-way) waits to be answered. */
export interface PendingRpcCall {
  readonly requestId: string;
  /** The caller's process (ToDeviceRpcRequest.replyTo): where the answer goes. */
  readonly replyTo?: string | undefined;
}

/**
 * What HTTP, MQTT and CoAP share behind their protocols (ThingsBoard's TransportService): device
 * authentication (the server's cached authenticator), payload limits and parsing options, producing
 * to the rule engine, the one rate limiter, attribute requests, RPC in both directions with its
 * lifecycle messages, the session registry, device state, gateway devices, and provisioning and
 * claiming delegated to core's services. Each transport keeps only its protocol (topics, paths,
 * codes, sessions of its own kind) and holds this one object. It touches no storage: the server
 * hands it its services. The hot path (a cached authentication, the rate limit, produce) calls the
 * same objects as before, once each.
 */
export interface TransportService {
  /** The server's (cached) device authenticator. */
  readonly auth: DeviceAuthenticator;
  readonly state: DeviceStateReporter;
  readonly gateway: GatewayDeviceService | undefined;
  /** Whether a downlink (RPC, attribute updates) exists: without a broadcast, none. */
  readonly hasDownlink: boolean;
  readonly provisioningAvailable: boolean;
  readonly claimingAvailable: boolean;
  now(): number;

  /** The payload parsers' options for a device's tenant: type casting and the tenant's key limits. */
  payloadOptions(device: DeviceInfo, typeCasting: boolean): PayloadOptions;
  /** The largest payload a device of this tenant may send: the tenant's limit, never above the transport's own. */
  payloadLimit(device: DeviceInfo, transportMaxBytes: number): number;
  /** A transport's view of the one device and tenant rate limiter (its own longest wait); undefined: no limit. */
  rateLimit(transport: string, maxWaitMs: number): TransportRateLimit | undefined;
  /**
   * ThingsBoard's answer to the client-side RPC `{"method":"getSessionLimits"}`, from Rivulet's real
   * limits for this device: the largest payload it may send, the transport's in-flight bound, and
   * its message rate in ThingsBoard's "count:seconds" form ("" where there is no limit).
   */
  sessionLimits(device: DeviceInfo, transport: { maxPayloadBytes: number; maxInflightMessages: number }): SessionLimits;
  /** Hands messages to the rule-engine topic in one call; rejects with QueueRejectedError when the queue refused them. */
  produce(records: Array<QueueRecord<Msg>>): Promise<void>;
  /** A device's own attributes (attribute request). */
  getAttributes: DeviceApiService['getAttributes'];

  /** Subscribes a transport's downlink handlers; returns the unsubscribe. */
  subscribeDownlink(handlers: DownlinkHandlers): () => void;
  /** The session registry: this process holds a session of the device until the returned release is called. */
  holdSession(deviceId: string): () => void;
  /**
   * A server-side RPC was written to a device's session: the caller learns it was picked up
   * (RPC_SENT to the rule engine; a one-way call is then DELIVERED and SUCCESSFUL).
   */
  rpcSent(device: DeviceInfo, req: ToDeviceRpcRequest): void;
  /** The device answered a two-way call (RPC_DELIVERED, RPC_SUCCESSFUL). */
  rpcReplied(device: DeviceInfo, call: PendingRpcCall, response: JsonValue): void;
  /** The transport gave up on a call (the device went away): the caller gets `error` (RPC_FAILED). */
  rpcFailed(device: DeviceInfo, call: PendingRpcCall, error: string): void;
  /** A two-way call's reply did not come before it expired (RPC_TIMEOUT); the caller times out on its own. */
  rpcTimedOut(device: DeviceInfo, call: PendingRpcCall): void;
  /**
   * Times out a two-way call a transport wrote to a device, at its own expiry (`expiresAt`, the
   * request's expirationTime: ThingsBoard's RPC timeout): then, unless the returned timer was cleared
   * first (the reply came, the session closed), `forget()` drops the transport's record of the call
   * and, when it was still there (true), RPC_TIMEOUT goes out at that moment (rpcTimedOut). The
   * timer is unref'd. Every transport times its calls out this way (MQTT per session,
   * DeviceRpcCalls for HTTP long polls and CoAP observations).
   */
  scheduleRpcTimeout(device: DeviceInfo, call: PendingRpcCall, expiresAt: number, forget: () => boolean): ReturnType<typeof setTimeout>;

  /**
   * A provisioning request as the device sent it (JSON text), from `sourceAddress`. Throws
   * FeatureUnavailableError (no provisioning service), ProvisionRateLimitError (over the per-address
   * rate, checked before anything else) or BadRequestError (not JSON); otherwise resolves with
   * ThingsBoard's answer, a refusal included (`{"status":"NOT_FOUND"|"FAILURE",...}`).
   */
  provision(text: string, transport: ProvisionTransport, sourceAddress: string | undefined): Promise<ProvisionResponse>;
  /** A device's claim announcement (`{"secretKey":..,"durationMs":..}`, both optional). Throws FeatureUnavailableError or BadRequestError. */
  claim(device: DeviceInfo, text: string): Promise<void>;
  /** The same with the request already parsed (a gateway's `v1/gateway/claim` names several devices). */
  claimParsed(device: DeviceInfo, request: ClaimRequest): Promise<void>;
  stats(): TransportServiceStats;
}

export function createTransportService(options: TransportServiceOptions): TransportService {
  const { queue, auth, deviceApi, broadcast, gateway, tenantLimits, rateLimiter, provisioning, claiming } = options;
  const state = options.state ?? noopDeviceStateReporter;
  const now = options.now ?? Date.now;
  const logger = (options.logger ?? silentLogger).child({ component: 'transport-service' });
  const perMinute = options.provisionRequestsPerMinute ?? 10;
  const provisionLimit: AddressRateLimit | undefined = perMinute > 0 ? createAddressRateLimit({ requests: perMinute, periodMs: 60_000 }) : undefined;
  const counts = { produced: 0, queueRejected: 0 };
  const stats = { provision: { requests: 0, rateLimited: 0, unavailable: 0 }, claim: { requests: 0, unavailable: 0 } };
  const rpcEvents: RpcEvents = createRpcEvents({ queue, logger, now, enabled: options.rpcEvents ?? true });

  async function produce(records: Array<QueueRecord<Msg>>): Promise<void> {
    if (records.length === 0) return;
    try {
      await queue.produce(Topics.RULE_ENGINE, records);
    } catch (e) {
      counts.queueRejected++;
      logger.warn({ err: e, count: records.length }, 'queue rejected device messages');
      throw new QueueRejectedError(e);
    }
    counts.produced += records.length;
  }

  function answerCaller(replyTo: string | undefined, response: ToDeviceRpcResponse): void {
    if (broadcast) respondToCaller(broadcast, replyTo, response);
  }

  async function claimParsed(device: DeviceInfo, request: ClaimRequest): Promise<void> {
    stats.claim.requests++;
    if (!claiming) {
      stats.claim.unavailable++;
      throw new FeatureUnavailableError('claiming');
    }
    await claiming.requestClaim(device, { secretKey: request.secretKey, durationMs: request.durationMs });
  }

  return {
    auth,
    state,
    gateway,
    hasDownlink: broadcast !== undefined,
    provisioningAvailable: provisioning !== undefined,
    claimingAvailable: claiming !== undefined,
    now,

    payloadOptions(device, typeCasting) {
      return tenantLimits ? { typeCasting, ...keyLimits(tenantLimits.forTenant(device.tenantId)) } : { typeCasting };
    },

    payloadLimit(device, transportMaxBytes) {
      const tenantMax = tenantLimits?.forTenant(device.tenantId).maxPayloadBytes ?? 0;
      return tenantMax > 0 && tenantMax < transportMaxBytes ? tenantMax : transportMaxBytes;
    },

    sessionLimits(device, transport) {
      const limits = tenantLimits?.forTenant(device.tenantId);
      // every message a device sends counts against one budget; data points are not limited
      const messages = rateLimitString(limits?.transportDeviceMsgRateLimit ?? 0);
      const tenantMax = limits?.maxPayloadBytes ?? 0;
      return {
        maxPayloadSize: tenantMax > 0 && tenantMax < transport.maxPayloadBytes ? tenantMax : transport.maxPayloadBytes,
        maxInflightMessages: transport.maxInflightMessages,
        rateLimits: { messages, telemetryMessages: messages, telemetryDataPoints: '' },
      };
    },

    rateLimit(transport, maxWaitMs) {
      return rateLimiter?.forTransport(transport, { maxWaitMs });
    },

    produce,
    getAttributes: (device, request) => deviceApi.getAttributes(device, request),

    subscribeDownlink(handlers) {
      if (!broadcast) return () => {};
      const offs: Array<() => void> = [];
      if (handlers.attributes) offs.push(broadcast.subscribe(DeviceChannel.SHARED_ATTRIBUTES, handlers.attributes));
      if (handlers.rpcRequest) offs.push(broadcast.subscribe(RpcChannel.TO_DEVICE, handlers.rpcRequest));
      if (handlers.toServerReply) offs.push(broadcast.subscribe(RpcChannel.TO_SERVER_REPLY, handlers.toServerReply));
      return () => {
        for (const off of offs.splice(0)) off();
      };
    },

    holdSession(deviceId) {
      return broadcast ? broadcast.holdSession(deviceId) : () => {};
    },

    rpcSent(device, req) {
      answerCaller(req.replyTo, { requestId: req.requestId, deviceId: req.deviceId, delivered: true });
      rpcEvents.sent(device, req);
    },

    rpcReplied(device, call, response) {
      answerCaller(call.replyTo, { requestId: call.requestId, deviceId: device.deviceId, delivered: true, response });
      rpcEvents.replied(device, call.requestId, response);
    },

    rpcFailed(device, call, error) {
      answerCaller(call.replyTo, { requestId: call.requestId, deviceId: device.deviceId, error });
      rpcEvents.failed(device, call.requestId, error);
    },

    rpcTimedOut(device, call) {
      rpcEvents.timedOut(device, call.requestId);
    },

    scheduleRpcTimeout(device, call, expiresAt, forget) {
      // expirationTime is wall-clock time set by whoever asked
      const timer = setTimeout(() => {
        if (forget()) rpcEvents.timedOut(device, call.requestId);
      }, Math.max(0, expiresAt - Date.now()));
      timer.unref();
      return timer;
    },

    async provision(text, transport, sourceAddress) {
      stats.provision.requests++;
      if (!provisioning) {
        stats.provision.unavailable++;
        throw new FeatureUnavailableError('provisioning');
      }
      // before parsing: a refused request costs nothing and reaches no secret
      const waitMs = provisionLimit?.take(sourceAddress ?? 'unknown', Date.now()) ?? 0;
      if (waitMs > 0) {
        stats.provision.rateLimited++;
        logger.debug({ transport, sourceAddress, retryAfterMs: waitMs }, 'provisioning request refused: address over its rate');
        throw new ProvisionRateLimitError(waitMs);
      }
      const request: JsonValue = text.trim() === '' ? {} : parseLenientJson(text);
      const response = await provisioning.provision(request, transport);
      logger.debug({ transport, sourceAddress, status: response.status }, 'provisioning request answered');
      return response;
    },

    async claim(device, text) {
      return claimParsed(device, parseClaimRequest(text));
    },
    claimParsed,

    stats() {
      return { ...counts, provision: { ...stats.provision }, claim: { ...stats.claim }, rpcEvents: rpcEvents.count() };
    },
  };
}
