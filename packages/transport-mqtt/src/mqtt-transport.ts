import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { createServer as createTlsServer, type SecureContextOptions, type Server as TlsServer, type TLSSocket, type TlsOptions } from 'node:tls';
import { silentLogger, type Logger } from '@rivulet/core';
import type { TransportService } from '@rivulet/transport-service';
import { Aedes, type AedesPublishPacket, type Client } from 'aedes';
import { BadInput, createBadInputReporter, newCounters, type TransportContext } from './context';
import { failPendingRpc, subscribeDownlink } from './downlink';
import { createAuthenticate, preConnect, type AuthenticatingCount } from './handlers/connect';
import { disconnectChild } from './handlers/gateway-topics';
import { createAuthorizePublish, DISCARD_TOPIC } from './handlers/publish';
import { createAuthorizeSubscribe, createOnUnsubscribe } from './handlers/subscribe';
import { MalformedStringError, PacketTooLargeError, createPacketGuard } from './packet-guard';
import { createMqtt5Endpoint, type Mqtt5Hooks } from './mqtt5/endpoint';
import { sniffProtocolLevel } from './mqtt5/sniff';
import { SessionIndex, type ProvisionSession, type Session } from './session';

export interface MqttTransportConfig {
  /** TCP port; 0 picks a free one (start() says which). */
  port: number;
  /** Default 0.0.0.0. */
  host?: string;
  /** Largest PUBLISH payload; default 64 KiB like ThingsBoard. A packet may be at most this plus 4 KiB (topic and headers). */
  maxPayloadBytes?: number;
  /** Authenticated connections at most; past it CONNACK 3 "server unavailable". Default 20 000. */
  maxConnections?: number;
  /**
   * Longest a PUBLISH is held back by the device or tenant rate limit (its PUBACK waits, and aedes
   * reads nothing more from the connection meanwhile); a publish further ahead closes the connection
   * without PUBACK (MQTT 3.1.1 cannot refuse one message), so a session is never held longer. Default 10 s.
   */
  rateLimitMaxWaitMs?: number;
  /** Time a new connection has to send CONNECT; default 10 s. */
  connectTimeoutMs?: number;
  /** Numeric strings become numbers (ThingsBoard's default, on). */
  typeCasting?: boolean;
  /**
   * A provisioning connection (user name "provision") is closed by the server this long after its
   * answer went out on /provision/response, as ThingsBoard's; default 60 s.
   */
  provisionCloseAfterMs?: number;
  /**
   * MQTT over TLS on a second port (8883 by convention), beside the plain one: the same broker,
   * authentication and limits. `options` are node:tls server options (at least cert and key).
   */
  tls?: { port: number; host?: string; options: TlsOptions };
}

export interface MqttTransportOptions {
  /**
   * What the three transports share (authentication, limits, producing, attribute requests, RPC,
   * the session registry, device state, gateway devices, provisioning and claiming): the server
   * builds one and hands it to each. It needs a broadcast (the downlink) for MQTT.
   */
  service: TransportService;
  logger?: Logger;
  config: MqttTransportConfig;
}

export interface MqttTransportStats {
  /** Authenticated connections now open. */
  connections: number;
  connectionsAccepted: number;
  connectionsRefused: { notAuthorized: number; serverUnavailable: number };
  /** PUBLISH packets handled. */
  publishes: number;
  /** Rule-engine messages the queue accepted. */
  acceptedMessages: number;
  rejected: Record<BadInput, number> & { queueUnavailable: number };
  /** Publishes held back by the device or tenant rate. */
  throttled: number;
  /** Publishes further over the rate than rateLimitMaxWaitMs: the connection was closed without PUBACK. */
  rateLimitRefused: number;
  subscriptionsRefused: number;
  rpc: { delivered: number; replied: number; clientReplies: number };
  attributeUpdates: number;
  /**
   * Provisioning connections open now, provisioning requests handled, and the answered connections
   * whose close by the server is scheduled (provisionCloseAfterMs); claim announcements handled.
   */
  provisioning: { connections: number; requests: number; closing: number };
  claimRequests: number;
}

export interface MqttTransport {
  /** Starts the broker and listens; resolves with the ports actually bound (tlsPort when config.tls is set). */
  start(): Promise<{ port: number; tlsPort: number | undefined }>;
  /** Stops accepting, closes every connection (DISCONNECT_EVENTs follow), stops the broker. */
  stop(): Promise<void>;
  stats(): MqttTransportStats;
  /**
   * New certificate and key (a renewal) for MQTT over TLS: connections made from now on get them;
   * open ones keep theirs. Throws when config.tls was not set or the options do not load.
   */
  setSecureContext(options: SecureContextOptions): void;
  /** Serves an MQTT connection that arrived some other way (MQTT over WebSocket: the server's `/mqtt`). */
  handleConnection(stream: Duplex): void;
}

const DEFAULT_MAX_PAYLOAD_BYTES = 64 * 1024;
const DEFAULT_MAX_CONNECTIONS = 20_000;
/** Room for the topic and headers of a PUBLISH carrying a maximum payload. */
const PACKET_OVERHEAD_BYTES = 4096;
/** Unauthenticated sockets allowed beyond maxConnections before the listener refuses more. */
const PENDING_SOCKET_ALLOWANCE = 1024;

/**
 * ThingsBoard's MQTT device API on aedes. Policy comes in as aedes' hooks, one small handler each
 * (handlers/): authenticate (CONNECT), authorizeSubscribe (SUBSCRIBE), authorizePublish (every
 * PUBLISH: the device API's routing, and the point where PUBACK waits for the queue). Server-to-device
 * traffic (downlink.ts) is written to exactly one session, never routed by topic. It touches no
 * storage: devices, attributes and gateway devices come through the injected interfaces.
 */
export function createMqttTransport(options: MqttTransportOptions): MqttTransport {
  const { config } = options;
  const logger = (options.logger ?? silentLogger).child({ component: 'transport-mqtt' });
  const maxPayloadBytes = config.maxPayloadBytes ?? DEFAULT_MAX_PAYLOAD_BYTES;
  const maxConnections = config.maxConnections ?? DEFAULT_MAX_CONNECTIONS;
  const counters = newCounters();
  const { service } = options;
  if (!service.hasDownlink) throw new Error('the MQTT transport needs a transport service with a broadcast (RPC and attribute updates)');
  const ctx: TransportContext = {
    service,
    auth: service.auth,
    state: service.state,
    gateway: service.gateway,
    logger,
    maxPayloadBytes,
    maxConnections,
    typeCasting: config.typeCasting ?? true,
    limiter: service.rateLimit('mqtt', config.rateLimitMaxWaitMs ?? 10_000),
    rateLimitMaxWaitMs: config.rateLimitMaxWaitMs ?? 10_000,
    index: new SessionIndex((deviceId) => service.holdSession(deviceId)),
    sessions: new WeakMap(),
    provisionSessions: new WeakMap(),
    provisionCloseAfterMs: config.provisionCloseAfterMs ?? 60_000,
    counters,
    now: service.now,
  };
  const reportBadInput = createBadInputReporter(ctx);
  const guardParser = createPacketGuard(maxPayloadBytes + PACKET_OVERHEAD_BYTES);

  let broker: Aedes | undefined;
  let server: Server | undefined;
  let tlsServer: TlsServer | undefined;
  let unsubscribeDownlink: (() => void) | undefined;
  let stopped = false;
  let open = 0;

  /**
   * CONNACK 0 written: the session is open. Not aedes' 'clientReady', which can come after the
   * client's first PUBLISH has already been handled (aedes resumes reading before it finishes connecting).
   */
  function onConnackSent(packet: { returnCode?: number }, client: Client): void {
    if (packet.returnCode !== 0) return;
    const session = ctx.sessions.get(client);
    if (session) openSession(session);
    else {
      const ps = ctx.provisionSessions.get(client);
      if (ps) openProvisionSession(ps);
    }
  }

  function openProvisionSession(ps: ProvisionSession): void {
    if (ps.open) return;
    ps.open = true;
    counters.provisionConnections++;
  }

  function closeProvisionSession(ps: ProvisionSession): void {
    if (!ps.open) return;
    ps.open = false;
    counters.provisionConnections--;
    // gone before (or because of) the server's scheduled close: its timer goes too
    if (ps.stopClosing()) counters.provisionClosing--;
  }

  function openSession(session: Session): void {
    if (session.open) return;
    session.open = true;
    open++;
    counters.connectionsAccepted++;
    ctx.index.add(session.device.deviceId, session.endpoint);
    guarded('device connect', () => ctx.state.onConnect(session.device));
  }

  /** Runs a reporter call from inside aedes' callbacks: a throw there would end the process. */
  function guarded(what: string, f: () => void): void {
    try {
      f();
    } catch (e) {
      logger.error({ err: e, what }, 'mqtt session bookkeeping failed');
    }
  }

  /** The connection is gone (any reason): undo everything the session registered. */
  function onSessionClosed(session: Session): void {
    if (!session.open) return;
    session.open = false;
    open--;
    const { device } = session;
    ctx.index.remove(device.deviceId, session.endpoint);
    if (session.children) for (const child of [...session.children.values()]) guarded('gateway device disconnect', () => disconnectChild(ctx, session, child));
    guarded('rpc cleanup', () => failPendingRpc(ctx, session));
    guarded('device disconnect', () => ctx.state.onDisconnect(device));
  }

  const authenticating: AuthenticatingCount = { count: 0 };
  const authenticate = createAuthenticate(ctx, {
    isStopped: () => stopped,
    open: () => open + counters.provisionConnections,
    pending: authenticating,
    onSession: (session, client) => client.conn.once('close', () => onSessionClosed(session)),
    onProvisionSession: (ps, client) => client.conn.once('close', () => closeProvisionSession(ps)),
  });

  function onClientError(client: Client, err: Error): void {
    if (err instanceof PacketTooLargeError) {
      reportBadInput(ctx.sessions.get(client), BadInput.PAYLOAD_TOO_LARGE, { bytes: err.declaredBytes, limitBytes: err.limitBytes });
      return;
    }
    if (err instanceof MalformedStringError) {
      const session = ctx.sessions.get(client);
      // before CONNECT succeeded there is no device: the remote address is the source logged once
      const from = session ? {} : { remoteAddress: remoteAddressOf(client) };
      reportBadInput(session, err.isPublishTopic ? BadInput.INVALID_TOPIC : BadInput.INVALID_STRING, { packetType: err.packetType, problem: err.reason, ...from });
      return;
    }
    logger.debug({ clientId: client.id, error: err.message }, 'mqtt connection closed on error');
  }

  /** A listener (plain or TLS) with the connection cap and its errors logged, listening. */
  function listenOn(s: Server, port: number, host: string | undefined): Promise<number> {
    s.maxConnections = maxConnections + PENDING_SOCKET_ALLOWANCE;
    s.on('error', (err) => logger.error({ err }, 'mqtt listener error'));
    return listenOnce(s, port, host);
  }

  const authorizePublish = createAuthorizePublish(ctx, reportBadInput);
  const mqtt5 = createMqtt5Endpoint(ctx, {
    isStopped: () => stopped,
    open: () => open + counters.provisionConnections,
    authenticating,
    onOpen: openSession,
    onClosed: onSessionClosed,
    onProvisionOpen: openProvisionSession,
    onProvisionClosed: closeProvisionSession,
    reportBadInput,
    authorizePublish: authorizePublish as Mqtt5Hooks['authorizePublish'],
    maxPacketBytes: maxPayloadBytes + PACKET_OVERHEAD_BYTES,
    connectTimeoutMs: config.connectTimeoutMs ?? 10_000,
  });

  /**
   * Every connection's CONNECT is looked at first (mqtt5/sniff.ts): MQTT 5 goes to the MQTT 5
   * endpoint, anything else to aedes exactly as before (3.1.1 pays one look at its first bytes).
   */
  function handleConnection(stream: Duplex): void {
    if (stopped || !broker) {
      stream.destroy();
      return;
    }
    stream.on('error', noop);
    sniffProtocolLevel(stream, config.connectTimeoutMs ?? 10_000, maxPayloadBytes + PACKET_OVERHEAD_BYTES, (level) => {
      if (stopped || !broker) return void stream.destroy();
      try {
        if (level === 5) mqtt5.handle(stream);
        else guardParser(broker.handle(stream));
      } catch (e) {
        logger.error({ err: e }, 'mqtt connection setup failed');
        stream.destroy();
      }
    });
  }

  return {
    async start() {
      if (broker) throw new Error('MQTT transport already started');
      const b = new Aedes({
        connectTimeout: config.connectTimeoutMs ?? 10_000,
        preConnect: (client, packet, done) => {
          preConnect(client, packet);
          done(null, true);
        },
        authenticate,
        authorizePublish,
        authorizeSubscribe: createAuthorizeSubscribe(ctx),
        // Only the server's own packets (no clientId) are ever forwarded: a device never receives
        // what another client published, whatever it subscribed to.
        authorizeForward: (_client, packet: AedesPublishPacket) => ((packet as { clientId?: string }).clientId === undefined ? packet : null),
      });
      skipDiscardedRouting(b);
      b.on('connackSent', onConnackSent);
      b.on('unsubscribe', createOnUnsubscribe(ctx));
      b.on('clientError', onClientError);
      b.on('connectionError', onClientError);
      // aedes reports persistence and internal failures as 'error'; unheard, it would end the process
      (b as unknown as NodeJS.EventEmitter).on('error', (err: unknown) => logger.error({ err }, 'mqtt broker error'));
      await b.listen();
      broker = b;
      unsubscribeDownlink = subscribeDownlink(ctx);

      const onSocket = (socket: Socket | TLSSocket) => {
        socket.setNoDelay(true); // PUBACKs are tiny and awaited one by one by many clients
        handleConnection(socket);
      };
      server = createServer(onSocket);
      const port = await listenOn(server, config.port, config.host);
      let tlsPort: number | undefined;
      if (config.tls) {
        // the handshake must finish within the time a plain connection has to send CONNECT
        const ts = createTlsServer({ handshakeTimeout: config.connectTimeoutMs ?? 10_000, ...config.tls.options }, onSocket);
        // plain text on the TLS port, an untrusted certificate, a client that goes silent: nothing reaches the broker
        ts.on('tlsClientError', (err) => logger.debug({ error: err.message }, 'mqtt tls handshake failed'));
        tlsServer = ts;
        tlsPort = await listenOn(ts, config.tls.port, config.tls.host ?? config.host);
      }
      logger.info({ port, tlsPort, maxConnections, maxPayloadBytes }, 'mqtt transport listening');
      return { port, tlsPort };
    },

    async stop() {
      if (stopped) return;
      stopped = true;
      const closed = Promise.all([server, tlsServer].map((s) => (s ? new Promise<void>((r) => s.close(() => r())) : undefined)));
      mqtt5.closeAll();
      const b = broker;
      if (b) await new Promise<void>((r) => b.close(() => r()));
      await closed;
      unsubscribeDownlink?.();
      logger.info({}, 'mqtt transport stopped');
    },

    stats() {
      return {
        connections: open,
        connectionsAccepted: counters.connectionsAccepted,
        connectionsRefused: { notAuthorized: counters.refusedNotAuthorized, serverUnavailable: counters.refusedServerUnavailable },
        publishes: counters.publishes,
        acceptedMessages: counters.acceptedMessages,
        rejected: { ...counters.bad, queueUnavailable: counters.queueRejected },
        throttled: counters.throttled,
        rateLimitRefused: counters.rateLimitRefused,
        subscriptionsRefused: counters.subscriptionsRefused,
        rpc: { delivered: counters.rpcDelivered, replied: counters.rpcReplied, clientReplies: counters.clientRpcReplies },
        attributeUpdates: counters.attributeUpdates,
        provisioning: { connections: counters.provisionConnections, requests: counters.provisionRequests, closing: counters.provisionClosing },
        claimRequests: counters.claimRequests,
      };
    },

    setSecureContext(options) {
      if (!tlsServer) throw new Error('MQTT over TLS is not running');
      tlsServer.setSecureContext(options);
    },

    handleConnection,
  };
}

function noop(): void {}

function remoteAddressOf(client: Client): string | undefined {
  return (client.conn as Partial<Socket>).remoteAddress;
}

function listenOnce(s: Server, port: number, host: string | undefined): Promise<number> {
  return new Promise<number>((resolve, reject) => {
    s.once('error', reject);
    s.listen(port, host ?? '0.0.0.0', () => {
      s.off('error', reject);
      resolve((s.address() as AddressInfo).port);
    });
  });
}

type PublishDone = (err?: Error) => void;

/**
 * A device's PUBLISH has been handled (and acknowledged) by the time aedes routes it, and its topic
 * is DISCARD_TOPIC (handlers/publish.ts), to which nothing subscribes: aedes' routing of it (the
 * retained store, the offline queues, the emitter, the 'publish' event) would reach no one, and it
 * allocated about 1.3 KB per message. Such packets end here; the broker's own publishes (none today)
 * would still be routed.
 */
function skipDiscardedRouting(broker: Aedes): void {
  const route = broker.publish.bind(broker) as (packet: unknown, client: unknown, done?: PublishDone) => void;
  (broker as { publish: unknown }).publish = function publish(packet: { topic?: string }, client: Client | PublishDone | null, done?: PublishDone): void {
    if (packet.topic !== DISCARD_TOPIC) return route(packet, client, done);
    const cb = typeof client === 'function' ? client : done;
    if (cb) cb();
  };
}
