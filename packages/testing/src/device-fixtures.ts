/**
 * What the device transports' tests share: test devices and their tokens, in-memory stand-ins
 * for the server's services (authentication by a token map, attributes from a map, a recording
 * state reporter and logger) and a consumer of the rule-engine topic that collects what reached it.
 * No vitest here: this module is exported from the package's entry point, which benches load too.
 */
import { MsgType } from '@rivulet/core';
import type {
  AttributesResponse,
  DeviceApiService,
  DeviceAuthenticator,
  DeviceInfo,
  DeviceStateReporter,
  KvValue,
  Logger,
  Msg,
} from '@rivulet/core';
import { Topics, type Queue } from '@rivulet/queue';

export const TOKEN = 'A1_TEST_TOKEN';
export const OTHER_TOKEN = 'B2_TEST_TOKEN';
export const DEVICE: DeviceInfo = { tenantId: 'tenant-1', deviceId: 'device-1', deviceName: 'Thermometer A', deviceType: 'thermometer' };
export const OTHER: DeviceInfo = { tenantId: 'tenant-1', deviceId: 'device-2', deviceName: 'Pump', deviceType: 'default' };

/** TOKEN → DEVICE and OTHER_TOKEN → OTHER, plus any extra entries (a fresh map each call). */
/**
 * What a transport's POST_TELEMETRY_REQUEST message for `device` at `ts` looks like (for
 * toMatchObject; the data is compared on its own).
 */
export function telemetryMsgShape(ts: number, device: DeviceInfo = DEVICE): Record<string, unknown> {
  return {
    type: MsgType.POST_TELEMETRY_REQUEST,
    ts,
    originator: { entityType: 'DEVICE', id: device.deviceId },
    tenantId: device.tenantId,
    metadata: { deviceName: device.deviceName, deviceType: device.deviceType, ts: String(ts) },
  };
}

export function testTokens(extra: Iterable<[string, DeviceInfo]> = []): Map<string, DeviceInfo> {
  return new Map([[TOKEN, DEVICE], [OTHER_TOKEN, OTHER], ...extra]);
}

// ---- logger ----------------------------------------------------------------------------------

export interface LogEntry {
  level: 'debug' | 'info' | 'warn' | 'error';
  fields: Record<string, unknown>;
  msg: string;
}

/** A Logger that appends every entry to `entries` (its children too). */
export function recordingLogger(entries: LogEntry[]): Logger {
  const log = (level: LogEntry['level']) => (fields: Record<string, unknown>, msg: string) => void entries.push({ level, fields, msg });
  const logger: Logger = { debug: log('debug'), info: log('info'), warn: log('warn'), error: log('error'), child: () => logger };
  return logger;
}

// ---- authentication --------------------------------------------------------------------------

/** An authenticator backed by a Map of tokens, as the server's cached one behaves; `calls` has every token asked. */
export function mapAuthenticator(tokens: Map<string, DeviceInfo>): DeviceAuthenticator & { calls: string[] } {
  const calls: string[] = [];
  return {
    calls,
    async authenticateToken(token) {
      calls.push(token);
      return tokens.get(token) ?? null;
    },
  };
}

// ---- attributes ------------------------------------------------------------------------------

/** Client and shared attributes of one device, as storage holds them. */
export interface DeviceAttributes {
  client: Record<string, KvValue>;
  shared: Record<string, KvValue>;
}

/** DEVICE's attributes, in a fresh map the tests may change. */
export function testAttributes(): Map<string, DeviceAttributes> {
  return new Map([
    [DEVICE.deviceId, { client: { attribute1: 'value1', attribute2: true, fw: '1.0' }, shared: { shared1: 'value2', shared2: false, interval: 60 } }],
  ]);
}

function pick(all: Record<string, KvValue>, keys: string[] | undefined): Record<string, KvValue> {
  return Object.fromEntries(Object.entries(all).filter(([k]) => keys === undefined || keys.includes(k)));
}

/**
 * Attributes per device id; answers like the storage-backed service (only the asked keys, both
 * scopes when no keys are asked, empty sections left out). `requests` has every request, with its device id.
 */
export function mapDeviceApi(store: Map<string, DeviceAttributes>): DeviceApiService & { requests: unknown[] } {
  const requests: unknown[] = [];
  return {
    requests,
    async getAttributes(device, request) {
      requests.push({ deviceId: device.deviceId, ...request });
      const attrs = store.get(device.deviceId) ?? { client: {}, shared: {} };
      const both = request.clientKeys === undefined && request.sharedKeys === undefined;
      const out: AttributesResponse = {};
      const client = both || request.clientKeys ? pick(attrs.client, request.clientKeys) : {};
      const shared = both || request.sharedKeys ? pick(attrs.shared, request.sharedKeys) : {};
      if (Object.keys(client).length > 0) out.client = client;
      if (Object.keys(shared).length > 0) out.shared = shared;
      return out;
    },
  };
}

// ---- device state ----------------------------------------------------------------------------

export type StateEvent = { kind: 'connect' | 'disconnect' | 'activity'; deviceId: string };

/** A DeviceStateReporter that appends every report to `events`, in order. */
export function recordingStateReporter(events: StateEvent[]): DeviceStateReporter {
  return {
    onConnect: (d) => void events.push({ kind: 'connect', deviceId: d.deviceId }),
    onDisconnect: (d) => void events.push({ kind: 'disconnect', deviceId: d.deviceId }),
    onActivity: (d) => void events.push({ kind: 'activity', deviceId: d.deviceId }),
  };
}

// ---- the rule-engine topic -------------------------------------------------------------------

export interface ConsumerGate {
  /** Holds the consumer's batches until the returned function is called. */
  hold(): () => void;
}

export interface RuleEngineConsumer {
  /** Messages consumed from the rule-engine topic, in order. */
  consumed: Msg[];
  gate: ConsumerGate;
}

/**
 * A consumer (group 'test-consumer') of the rule-engine topic that collects every message, and
 * whose batches the gate can hold. With `subscribe: false` nothing subscribes: `consumed` stays empty.
 */
export async function consumeRuleEngine(queue: Queue, opts: { subscribe?: boolean } = {}): Promise<RuleEngineConsumer> {
  const consumed: Msg[] = [];
  let held: Promise<void> | undefined;
  const gate: ConsumerGate = {
    hold() {
      let release!: () => void;
      held = new Promise<void>((r) => (release = r));
      return () => {
        held = undefined;
        release();
      };
    },
  };
  if (opts.subscribe !== false) {
    await queue.subscribe<Msg>({
      topic: Topics.RULE_ENGINE,
      group: 'test-consumer',
      handler: async (records) => {
        for (const r of records) consumed.push(r.value);
        if (held) await held;
      },
    });
  }
  return { consumed, gate };
}

/** The return or reason code a refused MQTT CONNECT or operation carries (CONNACK, PUBACK, SUBACK ...); 0 when it succeeded. */
export async function reasonOf(p: Promise<unknown>): Promise<number | undefined> {
  return p.then(
    () => 0,
    (e: Error & { code?: number }) => e.code,
  );
}
