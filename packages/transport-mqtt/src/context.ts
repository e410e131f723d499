import {
  deviceMsg,
  type DeviceAuthenticator,
  type DeviceInfo,
  type DeviceStateReporter,
  type GatewayDeviceService,
  type Logger,
  type Msg,
  type PayloadOptions,
  type TransportRateLimit,
} from '@rivulet/core';
import type { QueueRecord } from '@rivulet/queue';
import { QueueRejectedError, type TransportService } from '@rivulet/transport-service';
import type { OutboundPublish, ProvisionSession, Session, SessionIndex } from './session';

/** Input refused at the protocol edge; each is counted, and logged once per device. */
export const BadInput = {
  /** Not JSON (even leniently) or not the payload shape of its topic: connection closed without PUBACK. */
  MALFORMED_PAYLOAD: 'malformedPayload',
  /** Over maxPayloadBytes: connection closed without PUBACK. */
  PAYLOAD_TOO_LARGE: 'payloadTooLarge',
  /** A topic outside the device API: acknowledged and ignored, as ThingsBoard does. */
  UNKNOWN_TOPIC: 'unknownTopic',
  /** A PUBLISH topic name with invalid UTF-8, U+0000 or a wildcard [MQTT-1.5.3, MQTT-3.3.2-2]: connection closed without PUBACK. */
  INVALID_TOPIC: 'invalidTopic',
  /** Any other string field (client id, user name, topic filter) with invalid UTF-8 or U+0000 [MQTT-1.5.3]: connection closed. */
  INVALID_STRING: 'invalidString',
} as const;
export type BadInput = (typeof BadInput)[keyof typeof BadInput];

const BAD_INPUT_BIT: Record<BadInput, number> = { malformedPayload: 1, payloadTooLarge: 2, unknownTopic: 4, invalidTopic: 8, invalidString: 16 };
/** Devices remembered for "logged once"; past it the memory starts over (and each logs once more). */
const MAX_LOGGED_DEVICES = 100_000;

export interface Counters {
  connectionsAccepted: number;
  refusedNotAuthorized: number;
  refusedServerUnavailable: number;
  publishes: number;
  acceptedMessages: number;
  /** Publishes whose messages the queue refused (closed): connection closed without PUBACK. */
  queueRejected: number;
  throttled: number;
  /** Publishes that would have waited longer than rateLimitMaxWaitMs: connection closed without PUBACK. */
  rateLimitRefused: number;
  subscriptionsRefused: number;
  rpcDelivered: number;
  rpcReplied: number;
  clientRpcReplies: number;
  attributeUpdates: number;
  /** Provisioning connections open now (they count toward maxConnections). */
  provisionConnections: number;
  provisionRequests: number;
  /** Provisioning connections answered whose close by the server is scheduled (they close, or the device leaves first). */
  provisionClosing: number;
  claimRequests: number;
  bad: Record<BadInput, number>;
}

export function newCounters(): Counters {
  return {
    connectionsAccepted: 0,
    refusedNotAuthorized: 0,
    refusedServerUnavailable: 0,
    publishes: 0,
    acceptedMessages: 0,
    queueRejected: 0,
    throttled: 0,
    rateLimitRefused: 0,
    subscriptionsRefused: 0,
    rpcDelivered: 0,
    rpcReplied: 0,
    clientRpcReplies: 0,
    attributeUpdates: 0,
    provisionConnections: 0,
    provisionRequests: 0,
    provisionClosing: 0,
    claimRequests: 0,
    bad: { malformedPayload: 0, payloadTooLarge: 0, unknownTopic: 0, invalidTopic: 0, invalidString: 0 },
  };
}

/**
 * What every handler shares: the transport service (the one object the server hands every
 * transport), the session registry and the counters. auth, state, gateway and limiter are the
 * service's own objects, kept here so the hot path calls them directly, as before.
 */
export interface TransportContext {
  readonly service: TransportService;
  readonly auth: DeviceAuthenticator;
  readonly state: DeviceStateReporter;
  readonly gateway: GatewayDeviceService | undefined;
  readonly logger: Logger;
  readonly maxPayloadBytes: number;
  readonly maxConnections: number;
  readonly typeCasting: boolean;
  /** The shared device and tenant message rates (the service's one limiter); undefined: no limit. */
  readonly limiter: TransportRateLimit | undefined;
  /** Longest a PUBLISH is held for the rate limit; further ahead, the connection is closed without PUBACK. */
  readonly rateLimitMaxWaitMs: number;
  readonly index: SessionIndex;
  /** Session of each connection, by its aedes Client or its MQTT 5 connection object. */
  readonly sessions: WeakMap<object, Session>;
  /** Provisioning connections (CONNECT user name "provision"), by the same keys. */
  readonly provisionSessions: WeakMap<object, ProvisionSession>;
  /** How long after its answer a provisioning connection is closed by the server (ThingsBoard: 60 s). */
  readonly provisionCloseAfterMs: number;
  readonly counters: Counters;
  now(): number;
}

export { deviceMsg };

/** The parsers' options for a device's tenant: type casting and the tenant's key limits. */
export function payloadOptions(ctx: TransportContext, device: DeviceInfo): PayloadOptions {
  return ctx.service.payloadOptions(device, ctx.typeCasting);
}

/** The largest payload a device of this tenant may publish: the tenant's limit, never above the transport's. */
export function payloadLimit(ctx: TransportContext, device: DeviceInfo): number {
  return ctx.service.payloadLimit(device, ctx.maxPayloadBytes);
}

/** The queue did not accept a publish's messages (it is closing): no PUBACK, the device sends again later. */
export { QueueRejectedError };

/** Hands messages to the rule engine through the service in one call; resolves once the queue accepted all of them. */
export async function produce(ctx: TransportContext, records: Array<QueueRecord<Msg>>): Promise<void> {
  if (records.length === 0) return;
  try {
    await ctx.service.produce(records);
  } catch (e) {
    ctx.counters.queueRejected++;
    throw e;
  }
  ctx.counters.acceptedMessages += records.length;
}

/** Sends a PUBLISH to this one session (never through aedes' topic matching: see authorizeForward). */
export function send(session: Session, topic: string, body: string, qos: 0 | 1, correlationData?: Buffer): void {
  if (!session.open) return;
  const packet: OutboundPublish = { cmd: 'publish', topic, payload: Buffer.from(body, 'utf8'), qos, retain: false, dup: false };
  if (correlationData) packet.properties = { correlationData };
  session.client.publish(packet, noop);
}

export function qosOf(session: Session, feed: number): 0 | 1 {
  return (session.qos1Feeds & feed) !== 0 ? 1 : 0;
}

export function createBadInputReporter(ctx: Pick<TransportContext, 'counters' | 'logger'>) {
  const logged = new Map<string, number>();
  return function reportBadInput(session: Session | undefined, reason: BadInput, fields: Record<string, unknown>): void {
    ctx.counters.bad[reason]++;
    // the device, or for a connection not yet authenticated its remote address
    const key = session ? session.device.deviceId : `address:${typeof fields.remoteAddress === 'string' ? fields.remoteAddress : ''}`;
    const bits = logged.get(key) ?? 0;
    const bit = BAD_INPUT_BIT[reason];
    const where = session ? { tenantId: session.device.tenantId, deviceId: session.device.deviceId } : {};
    if ((bits & bit) !== 0) {
      ctx.logger.debug({ ...where, reason, ...fields }, 'mqtt device input refused');
      return;
    }
    if (logged.size >= MAX_LOGGED_DEVICES) logged.clear();
    logged.set(key, bits | bit);
    ctx.logger.warn({ ...where, reason, ...fields, note: 'logged once per device (or address) and reason; see the transport stats for counts' }, 'mqtt device input refused');
  };
}
export type BadInputReporter = ReturnType<typeof createBadInputReporter>;

export function noop(): void {}
