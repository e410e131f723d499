import { BadRequestError, RivuletError } from '@rivulet/core';
import type { Client, PublishPacket } from 'aedes';
import { FeatureUnavailableError } from '@rivulet/transport-service';
import { BadInput, QueueRejectedError, noop, payloadLimit, type BadInputReporter, type TransportContext } from '../context';
import { DISCARD_TOPIC, PubackCode, PublishRefusedError, RateLimitRefusedError, SessionClosedError } from './publish-errors';
import { handleProvisionPublish } from './provision';
import type { Session } from '../session';
import { classifyPublish, type PublishRoute } from '../topics';
export { DISCARD_TOPIC, PubackCode, PublishRefusedError, RateLimitRefusedError, SessionClosedError } from './publish-errors';
import { claimDevice, postAttributes, postTelemetry, requestAttributes, rpcRequest, rpcResponse } from './device-topics';
import { gatewayAttributes, gatewayAttributesRequest, gatewayClaim, gatewayConnect, gatewayDisconnect, gatewayRpc, gatewayTelemetry } from './gateway-topics';


const GATEWAY_KINDS = new Set<PublishRoute['kind']>(['gatewayConnect', 'gatewayDisconnect', 'gatewayTelemetry', 'gatewayAttributes', 'gatewayAttributesRequest', 'gatewayRpc', 'gatewayClaim']);
/** Routes that may wait for a device lookup before producing: they keep the session's order through its gate. */
const ORDERED_KINDS = new Set<PublishRoute['kind']>(['gatewayConnect', 'gatewayTelemetry', 'gatewayAttributes', 'gatewayAttributesRequest', 'gatewayClaim']);

/**
 * MQTT 5 request/response [MQTT 5: 4.10]: the Correlation Data of a device's attribute or RPC
 * request, returned on the answer (its topic stays the device API's own response topic).
 */
function correlationOf(session: Session, packet: PublishPacket): Buffer | undefined {
  return session.v5 ? (packet as { properties?: { correlationData?: Buffer } }).properties?.correlationData : undefined;
}

function dispatch(ctx: TransportContext, session: Session, route: PublishRoute, text: string, packet: PublishPacket): Promise<void> | undefined {
  switch (route.kind) {
    case 'telemetry':
      return postTelemetry(ctx, session, text);
    case 'attributes':
      return postAttributes(ctx, session, text);
    case 'attributesRequest':
      return requestAttributes(ctx, session, text, route.id, route.style, correlationOf(session, packet));
    case 'rpcResponse':
      return rpcResponse(ctx, session, text, route.id);
    case 'rpcRequest':
      return rpcRequest(ctx, session, text, route.id, route.style, correlationOf(session, packet));
    case 'gatewayConnect':
      return gatewayConnect(ctx, session, text);
    case 'gatewayDisconnect':
      return gatewayDisconnect(ctx, session, text);
    case 'gatewayTelemetry':
      return gatewayTelemetry(ctx, session, text);
    case 'gatewayAttributes':
      return gatewayAttributes(ctx, session, text);
    case 'gatewayAttributesRequest':
      return gatewayAttributesRequest(ctx, session, text);
    case 'gatewayRpc':
      return gatewayRpc(ctx, session, text);
    case 'claim':
      return claimDevice(ctx, session, text);
    case 'gatewayClaim':
      return gatewayClaim(ctx, session, text);
    case 'unknown':
      return undefined;
  }
}

function sleepUntil(at: number): Promise<void> {
  return new Promise((r) => setTimeout(r, Math.max(0, at - Date.now())));
}

/**
 * aedes' authorizePublish hook, which runs before aedes writes PUBACK (lib/handlers/publish.js:
 * authorizePublish, then the acknowledgement): calling back only once the queue accepted every
 * message of the payload makes PUBACK mean "accepted" [MQTT-4.3.2-2: the sender keeps the message
 * until PUBACK]. A slow queue delays the PUBACK, and since aedes reads a connection's next packets
 * only after the current ones are done, the device is slowed down; nothing is dropped.
 *
 * Calling back with an error makes aedes close the connection without PUBACK: a malformed or
 * oversize payload on MQTT 3.1.1, as ThingsBoard does (3.1.1 has no way to refuse one message).
 * A topic outside the device API is acknowledged and ignored.
 *
 * Order: the packets of one read are handled concurrently by aedes; the common topics produce
 * synchronously (in arrival order), and anything that must wait first (a device lookup, the rate
 * limit) goes through the session's gate, behind which later packets queue.
 */
export function createAuthorizePublish(ctx: TransportContext, reportBadInput: BadInputReporter) {
  const handle = createHandler(ctx, reportBadInput);
  return function authorizePublish(client: Client | null, packet: PublishPacket, done: (error?: Error | null) => void): void {
    // aedes runs hooks without a try: a throw here would end the process
    const once = onceOnly(done);
    try {
      handle(client, packet, once);
    } catch (e) {
      ctx.logger.error({ err: e, topic: packet.topic }, 'mqtt publish handling failed');
      once(e instanceof Error ? e : new Error(String(e)));
    }
  };
}

function createHandler(ctx: TransportContext, reportBadInput: BadInputReporter) {
  return function handlePublish(client: Client | null, packet: PublishPacket, done: (error?: Error | null) => void): void {
    const session = client ? ctx.sessions.get(client) : undefined;
    if (!session || !session.open) {
      // a provisioning connection: only /provision/request (handlers/provision.ts)
      const ps = client ? ctx.provisionSessions.get(client) : undefined;
      if (ps?.open) return handleProvisionPublish(ctx, reportBadInput, ps, packet, done);
      // no session: a will of a closed client (wills are dropped at CONNECT) or a publish before CONNACK
      return done(new Error('publish outside an open device session'));
    }
    const topic = packet.topic;
    packet.topic = DISCARD_TOPIC;
    packet.retain = false; // no retained messages: a RETAIN flag is ignored, as ThingsBoard does
    ctx.counters.publishes++;

    const payload = packet.payload;
    const size = typeof payload === 'string' ? Buffer.byteLength(payload) : payload.length;
    const limitBytes = payloadLimit(ctx, session.device);
    if (size > limitBytes) {
      reportBadInput(session, BadInput.PAYLOAD_TOO_LARGE, { topic, bytes: size, limitBytes });
      return done(new PublishRefusedError(`payload of ${size} bytes is over the limit of ${limitBytes}`, PubackCode.QUOTA_EXCEEDED));
    }
    const route = classifyPublish(topic);
    if (route.kind === 'unknown' || (GATEWAY_KINDS.has(route.kind) && !session.device.isGateway)) {
      reportBadInput(session, BadInput.UNKNOWN_TOPIC, { topic });
      // 3.1.1: acknowledged and ignored; MQTT 5 can say why (ThingsBoard: topic name invalid)
      if (!session.v5) return done(null);
      const code = route.kind === 'unknown' ? PubackCode.TOPIC_NAME_INVALID : PubackCode.NOT_AUTHORIZED;
      return done(new PublishRefusedError(`topic ${topic} is outside this device's API`, code));
    }
    ctx.state.onActivity(session.device);
    const text = typeof payload === 'string' ? payload : payload.toString('utf8');

    // Not a named closure per message: under tsx (esbuild keepNames) every one costs a __name call.
    const fail = failWith(ctx, reportBadInput, session, topic, done);

    let at = 0;
    if (ctx.limiter) {
      const now = Date.now();
      const r = ctx.limiter.reserve(session.device, now);
      if (!r.ok) {
        // Further ahead than the bound: MQTT 3.1.1 cannot refuse one message, so the connection is
        // closed without PUBACK (nothing of it produced); the device sends it again after reconnecting.
        // The publishes before it finish first (behind the gate, then a turn of the event loop for
        // one on the fast path), so each of them is acknowledged or not produced, never produced unacknowledged.
        ctx.counters.rateLimitRefused++;
        const error = new RateLimitRefusedError(`over the ${r.reason} message rate limit of ${r.limit}/s by more than ${ctx.rateLimitMaxWaitMs} ms`);
        // later publishes queue behind the close, so none overtakes the refused one
        const prev = session.gate;
        const closing = (async () => {
          if (prev) await prev;
          await new Promise((resolve) => setImmediate(resolve));
        })();
        session.gate = closing;
        void closing.then(() => done(error));
        return;
      }
      if (r.waitMs > 0) {
        ctx.counters.throttled++;
        at = now + r.waitMs;
      }
    }

    if (session.gate === undefined && at === 0 && !ORDERED_KINDS.has(route.kind)) {
      let result: Promise<void> | undefined;
      try {
        result = dispatch(ctx, session, route, text, packet);
      } catch (e) {
        return fail(e);
      }
      if (result === undefined) return done(null);
      result.then(() => done(null), fail).catch(unexpected);
      return;
    }

    const prev = session.gate;
    const work = (async () => {
      if (prev) await prev;
      if (!session.open) throw new SessionClosedError();
      if (at > 0) {
        await sleepUntil(at);
        // closed while held (over the bound, or the device left): no PUBACK can follow, so nothing is produced
        if (!session.open) throw new SessionClosedError();
      }
      await dispatch(ctx, session, route, text, packet);
    })();
    const tail = work.then(noop, noop);
    session.gate = tail;
    void tail.then(() => {
      if (session.gate === tail) session.gate = undefined;
    });
    work.then(() => done(null), fail).catch(unexpected);
  };

  /** A throw from aedes' own continuation: logged, never an unhandled rejection. */
  function unexpected(e: unknown): void {
    ctx.logger.error({ err: e }, 'mqtt publish acknowledgement failed');
  }
}

/** `done` that only the first call reaches. Returns an unnamed function (see failWith). */
function onceOnly(done: (error?: Error | null) => void): (error?: Error | null) => void {
  let called = false;
  return (error) => {
    if (called) return;
    called = true;
    done(error);
  };
}

/**
 * The failure path of one publish: report, then answer aedes with the error. Built by a top-level
 * factory that returns an unnamed function, because a named closure made per message costs a
 * __name call each under tsx (esbuild's keepNames), measurable on the hot path.
 */
function failWith(
  ctx: TransportContext,
  reportBadInput: BadInputReporter,
  session: Session,
  topic: string,
  done: (error?: Error | null) => void,
): (e: unknown) => void {
  return (e) => {
    if (e instanceof BadRequestError) {
      reportBadInput(session, BadInput.MALFORMED_PAYLOAD, { topic, error: e.message });
    } else if (e instanceof RivuletError && e.status < 500) {
      ctx.logger.debug({ deviceId: session.device.deviceId, topic, error: e.message }, 'mqtt publish refused');
    } else if (!(e instanceof QueueRejectedError) && !(e instanceof SessionClosedError)) {
      ctx.logger.error({ err: e, deviceId: session.device.deviceId, topic }, 'mqtt publish handling failed');
    }
    done(e instanceof Error ? e : new Error(String(e)));
  };
}
