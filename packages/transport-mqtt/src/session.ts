import type { DeviceInfo } from '@rivulet/core';
import type { TopicStyle } from './topics';

/** A PUBLISH the transport sends to a device. */
export interface OutboundPublish {
  cmd: 'publish';
  topic: string;
  payload: Buffer;
  qos: 0 | 1;
  retain: false;
  dup: false;
  /** MQTT 5 only (the 3.1.1 writer ignores them): e.g. the correlation data of the request answered. */
  properties?: { correlationData?: Buffer };
}

/**
 * What a session writes server-to-device packets through: an aedes Client (MQTT 3.1.1), or the
 * MQTT 5 endpoint's connection (mqtt5/endpoint.ts).
 */
export interface SessionClient {
  publish(packet: OutboundPublish, done: (err?: Error | null) => void): void;
}

/** Where a server-to-device message for one device goes: a device's own session, or a gateway session for a device behind it. */
export interface Endpoint {
  readonly session: Session;
  /** Set when the device is behind the gateway of `session`. */
  readonly child?: ChildDevice;
}

export interface ChildDevice {
  readonly name: string;
  readonly device: DeviceInfo;
  readonly endpoint: Endpoint;
}

/** A server-side RPC sent to this session and not answered yet. */
export interface PendingRpc {
  readonly requestId: string;
  readonly deviceId: string;
  /** The device the call is for (this session's, or one behind its gateway). */
  readonly device: DeviceInfo;
  /** The caller's node (ToDeviceRpcRequest.replyTo): where the reply goes. */
  readonly replyTo: string | undefined;
  readonly timer: ReturnType<typeof setTimeout>;
}

/** Outstanding client-side RPC requests remembered per session (their reply topic style); older ones are forgotten. */
const MAX_CLIENT_RPC = 64;

/**
 * One authenticated MQTT connection. Kept small (fields, no per-session closures) because idle
 * connections are most of a broker's memory; maps are created on first use.
 */
export class Session {
  readonly endpoint: Endpoint;
  /** Feed bits (topics.ts Feed) the client subscribed to, and those granted at QoS 1. */
  feeds = 0;
  qos1Feeds = 0;
  /** Devices behind this gateway, by name. */
  children: Map<string, ChildDevice> | undefined;
  pendingRpc: Map<number, PendingRpc> | undefined;
  clientRpc: Map<string, TopicStyle> | undefined;
  /** MQTT 5: the Correlation Data of outstanding client-side RPC requests that carried one. */
  clientRpcCorrelation: Map<string, Buffer> | undefined;
  private nextRpcId = 0;
  /** Set while rate-limited publishes wait: later publishes queue behind it, so order holds. */
  gate: Promise<void> | undefined;
  /** Registered in the SessionIndex (CONNACK sent); false again once closed. */
  open = false;

  constructor(
    readonly id: string,
    readonly client: SessionClient,
    readonly device: DeviceInfo,
    /** The connection speaks MQTT 5 (reason codes instead of closing; see mqtt5/endpoint.ts). */
    readonly v5 = false,
  ) {
    this.endpoint = { session: this };
  }

  /** The id a server-side RPC request gets in this session's topic (ThingsBoard: an integer per session). */
  takeRpcId(): number {
    this.nextRpcId = this.nextRpcId >= 0x7fffffff ? 1 : this.nextRpcId + 1;
    return this.nextRpcId;
  }

  rememberClientRpc(id: string, style: TopicStyle, correlationData?: Buffer): void {
    const m = (this.clientRpc ??= new Map());
    m.delete(id);
    m.set(id, style);
    if (correlationData) {
      const c = (this.clientRpcCorrelation ??= new Map());
      c.set(id, correlationData);
      if (c.size > MAX_CLIENT_RPC) c.delete(c.keys().next().value as string);
    } else this.clientRpcCorrelation?.delete(id);
    if (m.size > MAX_CLIENT_RPC) m.delete(m.keys().next().value as string);
  }

  /** The Correlation Data of an outstanding client-side RPC request, forgotten once asked for. */
  takeClientRpcCorrelation(id: string): Buffer | undefined {
    const c = this.clientRpcCorrelation?.get(id);
    if (c !== undefined) this.clientRpcCorrelation?.delete(id);
    return c;
  }

  /** The style of an outstanding client-side RPC request, forgotten once asked for. */
  takeClientRpc(id: string): TopicStyle | undefined {
    const style = this.clientRpc?.get(id);
    if (style !== undefined) this.clientRpc?.delete(id);
    return style;
  }
}

/**
 * A provisioning connection (CONNECT user name "provision", no device credentials): it may publish
 * only to /provision/request and subscribe only to /provision/response; nothing else (no
 * telemetry, no RPC, no device of its own). Requests are limited per source address by the
 * transport service.
 */
export class ProvisionSession {
  /** CONNACK sent (counted toward maxConnections); false again once closed. */
  open = false;
  /** Subscribed to /provision/response at QoS 1. */
  qos1 = false;
  /** Set once an answer went out: the server closes the connection when it fires (see closeAfter). */
  closeTimer: ReturnType<typeof setTimeout> | undefined;

  constructor(
    readonly client: SessionClient,
    readonly remoteAddress: string | undefined,
    readonly v5 = false,
    /** Ends the connection from the server's side (3.1.1: the socket closes; MQTT 5: DISCONNECT 0x00 first). */
    private readonly end: () => void = () => {},
  ) {}

  /**
   * An answer went out on /provision/response: the connection is closed `ms` later, as ThingsBoard's
   * (DeviceProvisionCallback.onSuccess schedules ctx.close() 60 s after the answer), so a device that
   * never disconnects does not hold a connection. Armed once (later answers do not postpone it);
   * cleared by stopClosing when the connection closes first.
   */
  closeAfter(ms: number): boolean {
    if (!this.open || this.closeTimer !== undefined) return false;
    // left set after it fired: stopClosing (the connection closed) is what forgets it
    this.closeTimer = setTimeout(this.end, ms);
    this.closeTimer.unref();
    return true;
  }

  /** The connection closed (by either side): the scheduled close, if any, is cleared; true when there was one. */
  stopClosing(): boolean {
    if (this.closeTimer === undefined) return false;
    clearTimeout(this.closeTimer);
    this.closeTimer = undefined;
    return true;
  }
}

/** Device id -> endpoints (a device may hold several sessions, or be behind a gateway). */
export class SessionIndex {
  private readonly byDevice = new Map<string, Endpoint | Endpoint[]>();
  /** Releases of the session holds (Broadcast.holdSession) of the devices indexed here. */
  private readonly releases = new Map<string, () => void>();

  /** hold: announces that this process holds a session of the device (the session registry). */
  constructor(private readonly hold: (deviceId: string) => () => void = () => () => {}) {}

  add(deviceId: string, e: Endpoint): void {
    const cur = this.byDevice.get(deviceId);
    if (cur === undefined) {
      this.byDevice.set(deviceId, e);
      if (!this.releases.has(deviceId)) this.releases.set(deviceId, this.hold(deviceId));
    }
    else if (Array.isArray(cur)) {
      if (!cur.includes(e)) cur.push(e);
    } else if (cur !== e) this.byDevice.set(deviceId, [cur, e]);
  }

  remove(deviceId: string, e: Endpoint): void {
    const cur = this.byDevice.get(deviceId);
    if (cur === e) this.byDevice.delete(deviceId);
    else if (Array.isArray(cur)) {
      const rest = cur.filter((x) => x !== e);
      if (rest.length === 0) this.byDevice.delete(deviceId);
      else this.byDevice.set(deviceId, rest.length === 1 ? (rest[0] as Endpoint) : rest);
    }
    if (!this.byDevice.has(deviceId)) {
      this.releases.get(deviceId)?.();
      this.releases.delete(deviceId);
    }
  }

  /** Endpoints of a device (a copy-free view; do not keep it). */
  get(deviceId: string): ReadonlyArray<Endpoint> {
    const cur = this.byDevice.get(deviceId);
    if (cur === undefined) return EMPTY;
    return Array.isArray(cur) ? cur : [cur];
  }

  get devices(): number {
    return this.byDevice.size;
  }
}

const EMPTY: ReadonlyArray<Endpoint> = [];
