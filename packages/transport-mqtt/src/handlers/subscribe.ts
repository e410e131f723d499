import type { Client, Subscription } from 'aedes';
import type { TransportContext } from '../context';
import { GATEWAY_FEEDS, Topic, classifySubscription } from '../topics';

/**
 * Every granted subscription is registered with aedes under this one filter. Nothing is ever
 * published to it: server-to-device messages are written to the one session they are for (see
 * context.send), because every device subscribes to the same `v1/devices/me/...` names and topic
 * matching would hand one device's messages to all of them. Keeping aedes' bookkeeping (SUBACK,
 * UNSUBACK, cleanup on close) means the filter has to exist; '$' keeps it away from wildcards [MQTT-4.7.2-1].
 */
export const SESSION_SINK_TOPIC = '$rivulet/session';

/**
 * aedes' authorizeSubscribe hook. A filter outside the device API (or a gateway filter from a
 * device that is not a gateway) is refused: SUBACK return code 0x80 for it [MQTT-3.9.3-1], the
 * other filters of the same SUBSCRIBE still granted. QoS 2 was already lowered to 1 by
 * normalizeInbound (packet-guard.ts).
 */
export function createAuthorizeSubscribe(ctx: TransportContext) {
  return function authorizeSubscribe(client: Client, sub: Subscription, done: (error: Error | null, subscription?: Subscription | null) => void): void {
    const session = ctx.sessions.get(client);
    if (!session) {
      const ps = ctx.provisionSessions.get(client);
      if (!ps) return done(new Error('subscribe before authentication'));
      // a provisioning connection may only wait for its answer
      if (sub.topic !== Topic.PROVISION_RESPONSE) {
        ctx.counters.subscriptionsRefused++;
        return done(null, null);
      }
      ps.qos1 = sub.qos >= 1;
      return done(null, { ...sub, topic: SESSION_SINK_TOPIC, qos: sub.qos >= 1 ? 1 : 0 });
    }
    if (typeof sub.topic !== 'string') return done(null, null);
    const feed = classifySubscription(sub.topic);
    if (feed === 0 || ((feed & GATEWAY_FEEDS) !== 0 && !session.device.isGateway)) {
      ctx.counters.subscriptionsRefused++;
      ctx.logger.debug({ deviceId: session.device.deviceId, topic: sub.topic }, 'mqtt subscription refused');
      return done(null, null);
    }
    session.feeds |= feed;
    if (sub.qos >= 1) session.qos1Feeds |= feed;
    else session.qos1Feeds &= ~feed;
    done(null, { ...sub, topic: SESSION_SINK_TOPIC, qos: sub.qos >= 1 ? 1 : 0 });
  };
}

/** aedes' 'unsubscribe' event (after UNSUBACK): the session stops receiving those feeds. */
export function createOnUnsubscribe(ctx: TransportContext) {
  return function onUnsubscribe(filters: string[], client: Client): void {
    const session = ctx.sessions.get(client);
    if (!session) return;
    for (const f of filters) {
      const feed = classifySubscription(f);
      session.feeds &= ~feed;
      session.qos1Feeds &= ~feed;
    }
  };
}
