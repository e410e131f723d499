/**
 * What the transport's tests share: a transport on 127.0.0.1 with a free port, a real memory queue
 * and broadcast, and in-memory stand-ins for the server's services (devices by token, attributes,
 * gateway devices, device state). Not exported from the package.
 */
import { connectAsync, type IClientOptions, type MqttClient } from 'mqtt';
import { vi, expect } from 'vitest';
import { type Broadcast, createMemoryBroadcast, DeviceChannel } from '@rivulet/broadcast';
import {
  AttributeScope,
  type AttributesEvent,
  type DeviceApiService,
  type DeviceAuthenticator,
  type DeviceInfo,
  type DeviceRateLimiter,
  type GatewayDeviceService,
  type KvValue,
  type Msg,
} from '@rivulet/core';
import { createMemoryQueue, type Queue } from '@rivulet/queue';
import { createTransportService, type TransportService, type TransportServiceOptions } from '@rivulet/transport-service';
import {
  DEVICE,
  OTHER,
  consumeRuleEngine,
  mapAuthenticator,
  mapDeviceApi,
  recordingLogger,
  recordingStateReporter,
  testTokens,
  type ConsumerGate,
  type DeviceAttributes,
  type LogEntry,
  type StateEvent,
} from '@rivulet/testing';
import { createMqttTransport, type MqttTransport, type MqttTransportConfig } from './index';

export { DEVICE, OTHER, OTHER_TOKEN, reasonOf, TOKEN, type LogEntry, type StateEvent } from '@rivulet/testing';
export const GATEWAY_TOKEN = 'GW_TEST_TOKEN';
export const GATEWAY: DeviceInfo = { tenantId: 'tenant-1', deviceId: 'gateway-1', deviceName: 'Gateway', deviceType: 'gateway', isGateway: true };
/** MQTT basic credentials of OTHER: client id, user name and password together. */
export const BASIC = { clientId: 'pump-client', username: 'pump-user', password: 'pump-secret' };

export interface Harness {
  port: number;
  url: string;
  transport: MqttTransport;
  service: TransportService;
  queue: Queue;
  broadcast: Broadcast;
  /** Messages consumed from the rule-engine topic, in order. */
  consumed: Msg[];
  logs: LogEntry[];
  stateEvents: StateEvent[];
  /** Client and shared attributes per device id, as the storage-backed service would read them. */
  attributes: Map<string, DeviceAttributes>;
  /** Devices created behind gateways, by name. */
  gatewayDevices: Map<string, DeviceInfo>;
  /** Holds the consumer's batches while set (its promise resolves when released). */
  gate: ConsumerGate;
  /** An mqtt.js client of the device with this token (username), connected. */
  connect(token: string, opts?: IClientOptions): Promise<MqttClient>;
  /** Publishes a shared-attribute change as the storage wrapper does after a REST write. */
  setShared(deviceId: string, values: Record<string, KvValue>): void;
}

const open: Array<() => Promise<void>> = [];

/** Closes everything the tests of a file opened (call from afterEach). */
export async function closeAll(): Promise<void> {
  for (const close of open.splice(0).reverse()) await close().catch(() => {});
}

export async function startTransport(
  opts: {
    config?: Partial<MqttTransportConfig>;
    rateLimiter?: DeviceRateLimiter;
    queue?: Queue;
    consume?: boolean;
    auth?: DeviceAuthenticator;
    deviceApi?: DeviceApiService;
    /** Options of the transport service the harness builds (provisioning, claiming, tenant limits, ...). */
    services?: Partial<TransportServiceOptions>;
  } = {},
): Promise<Harness> {
  const queue = opts.queue ?? createMemoryQueue({ partitions: 2 });
  const broadcast = createMemoryBroadcast();
  const auth: DeviceAuthenticator = opts.auth ?? {
    ...mapAuthenticator(testTokens([[GATEWAY_TOKEN, GATEWAY]])),
    async authenticateBasic({ clientId, username, password }) {
      return clientId === BASIC.clientId && username === BASIC.username && password === BASIC.password ? OTHER : null;
    },
  };
  const attributes: Harness['attributes'] = new Map([
    [DEVICE.deviceId, { client: { attribute1: 'value1', attribute2: true }, shared: { shared1: 'value2', interval: 60 } }],
  ]);
  const deviceApi: DeviceApiService = opts.deviceApi ?? mapDeviceApi(attributes);
  const gatewayDevices = new Map<string, DeviceInfo>();
  const gateway: GatewayDeviceService = {
    async getOrCreateDevice(gw, name, type) {
      let d = gatewayDevices.get(name);
      if (!d) {
        d = { tenantId: gw.tenantId, deviceId: `child-${name}`, deviceName: name, deviceType: type };
        gatewayDevices.set(name, d);
      }
      return d;
    },
  };
  const stateEvents: StateEvent[] = [];
  const logs: LogEntry[] = [];
  const service: TransportService = createTransportService({
    queue,
    auth,
    deviceApi,
    broadcast,
    state: recordingStateReporter(stateEvents),
    gateway,
    logger: recordingLogger(logs),
    ...(opts.rateLimiter ? { rateLimiter: opts.rateLimiter } : {}),
    ...opts.services,
  });
  const transport = createMqttTransport({
    service,
    logger: recordingLogger(logs),
    config: { port: 0, host: '127.0.0.1', ...opts.config },
  });
  const { consumed, gate } = await consumeRuleEngine(queue, { subscribe: opts.consume !== false });
  const { port } = await transport.start();
  const clients: MqttClient[] = [];
  open.push(async () => {
    await Promise.all(clients.map((c) => c.endAsync(true).catch(() => {})));
    await transport.stop();
    await queue.close().catch(() => {});
  });
  const url = `mqtt://127.0.0.1:${port}`;
  return {
    port,
    url,
    transport,
    service,
    queue,
    broadcast,
    consumed,
    logs,
    stateEvents,
    attributes,
    gatewayDevices,
    gate,
    async connect(token, extra = {}) {
      const c = await connectAsync(url, { username: token, reconnectPeriod: 0, connectTimeout: 5000, ...extra });
      clients.push(c);
      return c;
    },
    setShared(deviceId, values) {
      const a = attributes.get(deviceId) ?? { client: {}, shared: {} };
      Object.assign(a.shared, values);
      attributes.set(deviceId, a);
      const ev: AttributesEvent = {
        entityId: deviceId,
        scope: AttributeScope.SHARED_SCOPE,
        values: Object.entries(values).map(([key, value]) => ({ key, value, lastUpdateTs: Date.now() })),
      };
      broadcast.sendToDevice(DeviceChannel.SHARED_ATTRIBUTES, deviceId, ev);
    },
  };
}

export async function waitForConsumed(h: Harness, n: number): Promise<Msg[]> {
  await vi.waitFor(() => expect(h.consumed.length).toBeGreaterThanOrEqual(n), { timeout: 5000, interval: 5 });
  return h.consumed;
}

/** The next message on `topic` (exact) that a client receives. */
export function nextMessage(client: MqttClient, topic: string | ((t: string) => boolean)): Promise<{ topic: string; payload: string }> {
  const match = typeof topic === 'string' ? (t: string) => t === topic : topic;
  return new Promise((resolve) => {
    const on = (t: string, payload: Buffer) => {
      if (!match(t)) return;
      client.off('message', on);
      resolve({ topic: t, payload: payload.toString('utf8') });
    };
    client.on('message', on);
  });
}

/** Everything a client receives, in order (to show what it did not get). */
export function collect(client: MqttClient): Array<{ topic: string; payload: string }> {
  const got: Array<{ topic: string; payload: string }> = [];
  client.on('message', (topic, payload) => got.push({ topic, payload: payload.toString('utf8') }));
  return got;
}
