import type { Duplex } from 'node:stream';
import { BadRequestError, RivuletError, newId } from '@rivulet/core';
import { FeatureUnavailableError } from '@rivulet/transport-service';
import type { Client, PublishPacket } from 'aedes';
import mqttPacket, { type IConnectPacket, type IPublishPacket, type ISubscribePacket, type Packet } from 'mqtt-packet';
import { BadInput, QueueRejectedError, type BadInputReporter, type TransportContext } from '../context';
import { resolveDevice, nextSessionId, type AuthenticatingCount } from '../handlers/connect';
import { MAX_INFLIGHT_MESSAGES } from '../handlers/device-topics';
import { PubackCode, PublishRefusedError, RateLimitRefusedError, SessionClosedError } from '../handlers/publish';
import { MalformedStringError, PacketTooLargeError, createPacketGuard } from '../packet-guard';
import { ProvisionSession, Session, type OutboundPublish, type SessionClient } from '../session';
import { GATEWAY_FEEDS, PROVISION_USERNAME, Topic, classifySubscription } from '../topics';

/** MQTT 5 reason codes (MQTT 5: 2.4) this endpoint answers in CONNACK, SUBACK and DISCONNECT. */
export const ReasonCode = {
  SUCCESS: 0x00,
  MALFORMED_PACKET: 0x81,
  PROTOCOL_ERROR: 0x82,
  IMPLEMENTATION_SPECIFIC_ERROR: 0x83,
  BAD_USER_NAME_OR_PASSWORD: 0x86,
  NOT_AUTHORIZED: 0x87,
  SERVER_UNAVAILABLE: 0x88,
  SERVER_BUSY: 0x89,
  SERVER_SHUTTING_DOWN: 0x8b,
  BAD_AUTHENTICATION_METHOD: 0x8c,
  KEEP_ALIVE_TIMEOUT: 0x8d,
  TOPIC_FILTER_INVALID: 0x8f,
  TOPIC_NAME_INVALID: 0x90,
  TOPIC_ALIAS_INVALID: 0x94,
  PACKET_TOO_LARGE: 0x95,
  MESSAGE_RATE_TOO_HIGH: 0x96,
  QOS_NOT_SUPPORTED: 0x9b,
} as const;

/** Topic aliases a device may set (CONNACK Topic Alias Maximum). */
export const TOPIC_ALIAS_MAXIMUM = 64;
/** Publishes read ahead of their PUBACK before the connection stops reading (as aedes, one batch at a time); getSessionLimits tells it. */
const MAX_UNACKED = MAX_INFLIGHT_MESSAGES;
/** Packets a device may pipeline after CONNECT before its CONNACK (MQTT 5 allows it); past it the connection closes. */
const MAX_BACKLOG = 16;
/** Rate-limit refusals within RATE_REFUSAL_WINDOW_MS after which the device is disconnected (0x96), as 3.1.1 closes on the first. */
const MAX_RATE_REFUSALS = 10;
const RATE_REFUSAL_WINDOW_MS = 10_000;
/** QoS 1 downlinks waiting for the device's Receive Maximum; past it the newest is dropped. */
const MAX_WAITING = 1024;
const V5 = { protocolVersion: 5 };

export interface Mqtt5Hooks {
  isStopped(): boolean;
  open(): number;
  /** CONNECTs being authenticated, shared with the 3.1.1 path: counted toward maxConnections. */
  authenticating: AuthenticatingCount;
  /** CONNACK 0x00 written. */
  onOpen(session: Session): void;
  /** The connection is gone, for any reason. */
  onClosed(session: Session): void;
  /** A provisioning connection (user name "provision") got CONNACK 0x00, and later closed. */
  onProvisionOpen(ps: ProvisionSession): void;
  onProvisionClosed(ps: ProvisionSession): void;
  reportBadInput: BadInputReporter;
  /** The transport's publish handler (handlers/publish.ts), the same as aedes' authorizePublish. */
  authorizePublish(client: object, packet: PublishPacket, done: (error?: Error | null) => void): void;
  maxPacketBytes: number;
  connectTimeoutMs: number;
}

/**
 * The device and gateway API over MQTT 5 on mqtt-packet, beside aedes (which speaks 3.1.1): a
 * connection whose CONNECT says level 5 (mqtt5/sniff.ts) is served here. Authentication, payload
 * parsing, producing, attribute requests and RPC are the transport's own (handlers/, downlink.ts);
 * this file is only the protocol: reason codes, topic aliases, maximum packet size, session expiry.
 * Sessions are clean, as on 3.1.1: CONNACK answers Session Expiry Interval 0 to a device asking for
 * more (MQTT 5: 3.2.2.3.2), since devices talk to the platform and there is nothing to keep.
 */
export function createMqtt5Endpoint(ctx: TransportContext, hooks: Mqtt5Hooks) {
  const live = new Set<Mqtt5Connection>();
  const guard = createPacketGuard(hooks.maxPacketBytes);
  return {
    handle(stream: Duplex): void {
      const c = new Mqtt5Connection(ctx, hooks, stream, guard);
      live.add(c);
      stream.once('close', () => live.delete(c));
    },
    closeAll(): void {
      for (const c of [...live]) c.disconnect(ReasonCode.SERVER_SHUTTING_DOWN);
    },
  };
}

interface PendingAck {
  readonly id: number;
  code: number | undefined;
}

class Mqtt5Connection implements SessionClient {
  private readonly parser = mqttPacket.parser(V5);
  private session: Session | undefined;
  /** Set instead of session on a provisioning connection. */
  private provision: ProvisionSession | undefined;
  private connected = false;
  /** CONNECT received, CONNACK not yet written; packets pipelined meanwhile wait in backlog. */
  private authenticating = false;
  private backlog: Packet[] = [];
  /** Publishes read and not yet answered by the publish handler (QoS 0 too): reading pauses at MAX_UNACKED. */
  private publishing = 0;
  private rateRefusals: number[] = [];
  private closed = false;
  private readonly aliases = new Map<number, string>();
  private readonly acks: PendingAck[] = [];
  private nextId = 0;
  private inflight = 0;
  private waiting: OutboundPublish[] | undefined;
  private clientMaxPacket = Infinity;
  private clientReceiveMax = 65535;
  private keepAliveMs = 0;
  private timer: ReturnType<typeof setTimeout> | undefined;

  constructor(
    private readonly ctx: TransportContext,
    private readonly hooks: Mqtt5Hooks,
    private readonly stream: Duplex,
    guard: (client: Client) => void,
  ) {
    guard({ _parser: this.parser } as unknown as Client);
    this.parser.on('packet', (p: Packet) => this.onPacket(p));
    this.parser.on('error', (e: Error) => this.onParseError(e));
    stream.on('data', (chunk: Buffer) => {
      this.armTimer();
      this.parser.parse(chunk);
    });
    stream.on('error', () => this.close());
    stream.on('close', () => this.close());
    stream.resume(); // the sniffer handed it over paused
    this.timer = setTimeout(() => this.close(), hooks.connectTimeoutMs);
  }

  private armTimer(): void {
    if (!this.connected || this.keepAliveMs === 0) return;
    if (this.timer) this.timer.refresh();
    else this.timer = setTimeout(() => this.disconnect(ReasonCode.KEEP_ALIVE_TIMEOUT), this.keepAliveMs);
  }

  private write(p: Packet): void {
    if (!this.closed) this.stream.write(mqttPacket.generate(p, V5));
  }

  /** DISCONNECT with a reason [MQTT-3.14.2], then close. */
  disconnect(reasonCode: number): void {
    if (this.closed) return;
    if (this.connected) this.write({ cmd: 'disconnect', reasonCode });
    this.stream.end();
    this.close();
  }

  private close(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    setTimeout(() => this.stream.destroy(), 1000).unref();
    if (this.session) this.hooks.onClosed(this.session);
    if (this.provision) this.hooks.onProvisionClosed(this.provision);
  }

  private onParseError(e: Error): void {
    if (e instanceof PacketTooLargeError) {
      this.hooks.reportBadInput(this.session, BadInput.PAYLOAD_TOO_LARGE, { bytes: e.declaredBytes, limitBytes: e.limitBytes });
      return this.disconnect(ReasonCode.PACKET_TOO_LARGE);
    }
    if (e instanceof MalformedStringError) {
      this.hooks.reportBadInput(this.session, e.isPublishTopic ? BadInput.INVALID_TOPIC : BadInput.INVALID_STRING, { packetType: e.packetType, problem: e.reason });
      return this.disconnect(e.isPublishTopic ? ReasonCode.TOPIC_NAME_INVALID : ReasonCode.MALFORMED_PACKET);
    }
    this.ctx.logger.debug({ error: e.message }, 'mqtt 5 connection closed on a malformed packet');
    this.disconnect(ReasonCode.MALFORMED_PACKET);
  }

  private onPacket(p: Packet): void {
    if (this.closed) return;
    if (!this.connected) {
      if (this.authenticating) {
        // a second CONNECT is a protocol error [MQTT-3.1.0-2]; anything else was pipelined and waits for CONNACK
        if (p.cmd === 'connect' || this.backlog.length >= MAX_BACKLOG) return this.disconnect(ReasonCode.PROTOCOL_ERROR);
        this.backlog.push(p);
        return;
      }
      if (p.cmd !== 'connect' || this.session !== undefined) return this.close(); // [MQTT-3.1.0-1]
      this.onConnect(p);
      return;
    }
    switch (p.cmd) {
      case 'publish':
        return this.onPublish(p);
      case 'puback':
        return this.onPuback();
      case 'subscribe':
        return this.onSubscribe(p);
      case 'unsubscribe':
        this.write({ cmd: 'unsuback', messageId: p.messageId, granted: p.unsubscriptions.map(() => 0) } as unknown as Packet);
        if (!this.session) return;
        for (const f of p.unsubscriptions) {
          const feed = classifySubscription(f);
          this.session!.feeds &= ~feed;
          this.session!.qos1Feeds &= ~feed;
        }
        return;
      case 'pingreq':
        return this.write({ cmd: 'pingresp' });
      case 'disconnect':
        return this.close();
      default:
        return this.disconnect(ReasonCode.PROTOCOL_ERROR); // a second CONNECT [MQTT-3.1.0-2], AUTH, server-side packets
    }
  }

  private refuse(reasonCode: number, reasonString?: string): void {
    this.write(reasonString ? ({ cmd: 'connack', sessionPresent: false, reasonCode, properties: { reasonString } } as Packet) : { cmd: 'connack', sessionPresent: false, reasonCode });
    this.stream.end();
    this.close();
  }

  private onConnect(p: IConnectPacket): void {
    const { ctx, hooks } = this;
    const props = p.properties ?? {};
    if (props.authenticationMethod !== undefined) return this.refuse(ReasonCode.BAD_AUTHENTICATION_METHOD); // no enhanced auth [MQTT-4.12.0-1]
    if (hooks.isStopped()) return this.refuse(ReasonCode.SERVER_UNAVAILABLE);
    if (hooks.open() + hooks.authenticating.count >= ctx.maxConnections) {
      ctx.counters.refusedServerUnavailable++;
      return this.refuse(ReasonCode.SERVER_BUSY);
    }
    this.clientMaxPacket = props.maximumPacketSize ?? Infinity;
    this.clientReceiveMax = props.receiveMaximum ?? 65535;
    this.keepAliveMs = (p.keepalive ?? 0) * 1500; // one and a half keep alives [MQTT-3.1.2-22]
    const clientId = p.clientId ?? '';
    const username = p.username === '' ? undefined : p.username;
    const password = p.password === undefined ? undefined : p.password.toString('utf8');
    if (username === PROVISION_USERNAME) return this.acceptProvisioning(clientId, props);
    this.session = undefined;
    this.stream.pause(); // nothing more is read until the device is known
    this.authenticating = true;
    hooks.authenticating.count++;
    let resolving: Promise<Awaited<ReturnType<typeof resolveDevice>>>;
    try {
      resolving = resolveDevice(ctx, clientId, username, password);
    } catch (e) {
      resolving = Promise.reject(e);
    }
    const done = (): void => {
      this.authenticating = false;
      hooks.authenticating.count--;
    };
    resolving.then(
      (device) => {
        done();
        this.stream.resume();
        if (this.closed) return;
        if (!device) {
          ctx.counters.refusedNotAuthorized++;
          // credentials that match no device, or none at all
          return this.refuse(username !== undefined || password !== undefined ? ReasonCode.BAD_USER_NAME_OR_PASSWORD : ReasonCode.NOT_AUTHORIZED);
        }
        const session = new Session(nextSessionId(), this, device, true);
        this.session = session;
        ctx.sessions.set(this, session);
        this.connack(clientId, props);
        hooks.onOpen(session);
        const backlog = this.backlog;
        this.backlog = [];
        for (const q of backlog) this.onPacket(q);
      },
      (e: unknown) => {
        done();
        this.stream.resume();
        if (this.closed) return;
        ctx.counters.refusedServerUnavailable++;
        ctx.logger.error({ err: e }, 'mqtt 5 device authentication failed');
        this.refuse(ReasonCode.SERVER_UNAVAILABLE);
      },
    );
  }

  /** CONNACK 0x00 with what this server supports; the connection is open from here. */
  private connack(clientId: string, props: NonNullable<IConnectPacket['properties']>): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    const properties: Record<string, unknown> = {
      topicAliasMaximum: TOPIC_ALIAS_MAXIMUM,
      maximumPacketSize: this.hooks.maxPacketBytes,
      maximumQoS: 1,
      retainAvailable: false,
      sharedSubscriptionAvailable: false,
      subscriptionIdentifiersAvailable: false,
      wildcardSubscriptionAvailable: true,
    };
    if ((props.sessionExpiryInterval ?? 0) > 0) properties.sessionExpiryInterval = 0;
    if (clientId === '') properties.assignedClientIdentifier = `rivulet-${newId()}`; // [MQTT-3.2.2-16]
    this.write({ cmd: 'connack', sessionPresent: false, reasonCode: 0, properties } as Packet);
    this.connected = true;
    this.armTimer();
  }

  /**
   * A provisioning connection (user name "provision", ThingsBoard's): no device credentials; it may
   * publish to /provision/request and subscribe to /provision/response, nothing else
   * (handlers/provision.ts). Without a provisioning service: CONNACK 0x87 saying so.
   */
  private acceptProvisioning(clientId: string, props: NonNullable<IConnectPacket['properties']>): void {
    const { ctx } = this;
    if (!ctx.service.provisioningAvailable) {
      ctx.counters.refusedNotAuthorized++;
      return this.refuse(ReasonCode.NOT_AUTHORIZED, 'Device provisioning is not available on this server');
    }
    // the server's close after the answer: DISCONNECT 0x00 (normal disconnection), then the socket ends
    const ps = new ProvisionSession(this, (this.stream as { remoteAddress?: string }).remoteAddress, true, () => this.disconnect(ReasonCode.SUCCESS));
    this.provision = ps;
    ctx.provisionSessions.set(this, ps);
    this.connack(clientId, props);
    this.hooks.onProvisionOpen(ps);
  }

  private onPublish(p: IPublishPacket): void {
    if (p.qos === 2) return this.disconnect(ReasonCode.QOS_NOT_SUPPORTED); // Maximum QoS 1 in CONNACK [MQTT-3.2.2-11]
    const alias = p.properties?.topicAlias;
    let topic = p.topic;
    if (alias !== undefined) {
      if (alias === 0 || alias > TOPIC_ALIAS_MAXIMUM) return this.disconnect(ReasonCode.TOPIC_ALIAS_INVALID); // [MQTT-3.3.2-8, MQTT-3.3.2-9]
      if (topic === '') {
        const known = this.aliases.get(alias);
        if (known === undefined) return this.disconnect(ReasonCode.PROTOCOL_ERROR);
        topic = known;
      } else this.aliases.set(alias, topic);
    } else if (topic === '') return this.disconnect(ReasonCode.PROTOCOL_ERROR);
    const pending: PendingAck | undefined = p.qos === 1 ? { id: p.messageId ?? 0, code: undefined } : undefined;
    if (pending) this.acks.push(pending);
    // QoS 0 counts too: a QoS 0 flood must not be read ahead without bound
    this.publishing++;
    if (this.publishing >= MAX_UNACKED || this.acks.length >= MAX_UNACKED) this.stream.pause();
    const packet = { cmd: 'publish', topic, payload: p.payload, qos: p.qos, retain: false, dup: p.dup, messageId: p.messageId, properties: p.properties } as unknown as PublishPacket;
    this.hooks.authorizePublish(this, packet, (err) => {
      this.publishing--;
      if (err instanceof RateLimitRefusedError && this.tooManyRefusals()) return this.disconnect(ReasonCode.MESSAGE_RATE_TOO_HIGH);
      const code = err ? this.pubackCode(err, topic) : PubackCode.SUCCESS;
      if (code === undefined) return this.disconnect(err instanceof QueueRejectedError ? ReasonCode.SERVER_BUSY : ReasonCode.IMPLEMENTATION_SPECIFIC_ERROR);
      if (pending) pending.code = code;
      this.flushAcks();
    });
  }

  /** One more rate-limit refusal: true when there were MAX_RATE_REFUSALS within the window. */
  private tooManyRefusals(): boolean {
    const now = Date.now();
    this.rateRefusals.push(now);
    while (this.rateRefusals.length > 0 && this.rateRefusals[0]! <= now - RATE_REFUSAL_WINDOW_MS) this.rateRefusals.shift();
    return this.rateRefusals.length >= MAX_RATE_REFUSALS;
  }

  /** The PUBACK reason code for a refused publish, or undefined when the connection must close (nothing produced, the device sends it again). */
  private pubackCode(err: Error, topic: string): number | undefined {
    if (err instanceof PublishRefusedError) return err.reasonCode;
    if (err instanceof FeatureUnavailableError) return PubackCode.IMPLEMENTATION_SPECIFIC_ERROR; // said in the reason: no claiming service
    if (err instanceof BadRequestError) return PubackCode.PAYLOAD_FORMAT_INVALID; // ThingsBoard: payload format invalid, connection kept
    if (err instanceof RivuletError && err.status < 500) {
      this.ctx.logger.debug({ topic, error: err.message }, 'mqtt 5 publish refused');
      return err.status === 403 || err.status === 401 ? PubackCode.NOT_AUTHORIZED : err.status === 429 ? PubackCode.QUOTA_EXCEEDED : PubackCode.UNSPECIFIED_ERROR;
    }
    if (err instanceof SessionClosedError || err instanceof QueueRejectedError) return undefined;
    return undefined;
  }

  /** PUBACKs in the order of their PUBLISHes [MQTT-4.6.0-2]. */
  private flushAcks(): void {
    let head = this.acks[0];
    while (head !== undefined && head.code !== undefined) {
      this.acks.shift();
      this.write(head.code === 0 ? { cmd: 'puback', messageId: head.id } : ({ cmd: 'puback', messageId: head.id, reasonCode: head.code } as Packet));
      head = this.acks[0];
    }
    if (this.acks.length < MAX_UNACKED && this.publishing < MAX_UNACKED && this.stream.isPaused() && this.connected && !this.closed) this.stream.resume();
  }

  private onSubscribe(p: ISubscribePacket): void {
    const ps = this.provision;
    if (ps) {
      // a provisioning connection may only wait for its answer
      const granted = p.subscriptions.map((sub) => {
        if (sub.topic !== Topic.PROVISION_RESPONSE) {
          this.ctx.counters.subscriptionsRefused++;
          return ReasonCode.NOT_AUTHORIZED;
        }
        ps.qos1 = sub.qos >= 1;
        return sub.qos >= 1 ? 1 : 0;
      });
      return this.write({ cmd: 'suback', messageId: p.messageId, granted } as Packet);
    }
    const session = this.session!;
    const granted = p.subscriptions.map((sub) => {
      const feed = classifySubscription(sub.topic);
      if (feed === 0 || ((feed & GATEWAY_FEEDS) !== 0 && !session.device.isGateway)) {
        this.ctx.counters.subscriptionsRefused++;
        return feed === 0 ? ReasonCode.TOPIC_FILTER_INVALID : ReasonCode.NOT_AUTHORIZED;
      }
      session.feeds |= feed;
      if (sub.qos >= 1) session.qos1Feeds |= feed;
      else session.qos1Feeds &= ~feed;
      return sub.qos >= 1 ? 1 : 0;
    });
    this.write({ cmd: 'suback', messageId: p.messageId, granted } as Packet);
  }

  private onPuback(): void {
    if (this.inflight > 0) this.inflight--;
    const next = this.waiting?.shift();
    if (next) this.publish(next, noop);
  }

  /** A server-to-device PUBLISH (SessionClient): QoS 1 within the device's Receive Maximum [MQTT-3.3.4-9], never over its Maximum Packet Size [MQTT-3.1.2-24]. */
  publish(packet: OutboundPublish, done: (err?: Error | null) => void): void {
    if (this.closed) return done();
    let messageId: number | undefined;
    if (packet.qos === 1) {
      if (this.inflight >= this.clientReceiveMax) {
        const w = (this.waiting ??= []);
        if (w.length < MAX_WAITING) w.push(packet);
        else this.ctx.logger.debug({ topic: packet.topic }, 'mqtt 5 downlink dropped: device receive maximum reached');
        return done();
      }
      this.nextId = this.nextId >= 0xffff ? 1 : this.nextId + 1;
      messageId = this.nextId;
    }
    const bytes = mqttPacket.generate({ ...packet, ...(messageId !== undefined ? { messageId } : {}) } as Packet, V5);
    if (bytes.length > this.clientMaxPacket) {
      this.ctx.logger.debug({ topic: packet.topic, bytes: bytes.length, limit: this.clientMaxPacket }, 'mqtt 5 downlink dropped: over the device maximum packet size');
      return done();
    }
    if (messageId !== undefined) this.inflight++;
    this.stream.write(bytes);
    done();
  }
}

function noop(): void {}
