import { silentLogger, type AttributeKv, type AttributeWrite, type Msg, type TsKv, type TsPoint } from '@rivulet/core';
import { newRuleAlarm } from './alarm';
import type { OutboundService } from './outbound';
import type { DeviceInfo, DeviceProfileLookup, KafkaRecord, NodeContext, Route, RuleAlarm, RuleDeviceProfile, RuleNodeServices } from './types';

/**
 * Services for node unit tests (the STYLE's "fake context"): they record what a node wrote and
 * answer reads from what was recorded. `failNext` makes the next write reject, for failure paths.
 */
export interface RecordingServices extends RuleNodeServices {
  readonly points: TsPoint[];
  readonly attributeWrites: AttributeWrite[];
  /** Every alarm created, in creation order (updated and cleared in place). */
  readonly alarmList: RuleAlarm[];
  /** What the Kafka producer was asked to send (only with the `kafka` option). */
  readonly kafkaRecords: KafkaRecord[];
  failNext(kind: FailKind, error: Error): void;
  /** A device the `devices` capability answers for (any tenant). */
  addDevice(device: Partial<DeviceInfo> & { id: string }): DeviceInfo;
}

type FailKind = 'timeseries' | 'attributes' | 'alarms';

/** The profile recording services answer for every device: a default one without alarm rules. */
export const RECORDING_DEFAULT_PROFILE: RuleDeviceProfile = Object.freeze({ id: 'default-profile', name: 'default', profileData: Object.freeze({ alarms: null }) as RuleDeviceProfile['profileData'] });

export function createRecordingServices(
  options: { now?: number | (() => number); kafka?: boolean; outbound?: OutboundService; deviceProfiles?: DeviceProfileLookup } = {},
): RecordingServices {
  const points: TsPoint[] = [];
  const attributeWrites: AttributeWrite[] = [];
  const alarmList: RuleAlarm[] = [];
  const kafkaRecords: RecordingServices['kafkaRecords'] = [];
  const devices = new Map<string, DeviceInfo>();
  const failures: Partial<Record<FailKind, Error>> = {};
  const takeFailure = (kind: FailKind) => {
    const e = failures[kind];
    delete failures[kind];
    if (e) throw e;
  };
  const clock = options.now;
  const now = typeof clock === 'function' ? clock : () => clock ?? 1_700_000_000_000;
  const findActive = (tenantId: string, originatorId: string, type: string) =>
    alarmList.find((a) => a.tenantId === tenantId && a.originatorId === originatorId && a.type === type && !a.cleared) ?? null;
  return {
    logger: silentLogger,
    points,
    attributeWrites,
    alarmList,
    kafkaRecords,
    now,
    failNext(kind, error) {
      failures[kind] = error;
    },
    addDevice(d) {
      const device: DeviceInfo = { name: d.id, type: 'default', label: null, createdTime: 0, ...d };
      devices.set(device.id, device);
      return device;
    },
    devices: {
      async get(_tenantId, id) {
        return devices.get(id) ?? null;
      },
    },
    // The device profile node's tests pass their own; other chains see every device on a profile without alarms.
    deviceProfiles: options.deviceProfiles ?? { getForDevice: async () => RECORDING_DEFAULT_PROFILE },
    alarms: {
      async createOrUpdate(input) {
        takeFailure('alarms');
        const active = findActive(input.tenantId, input.originatorId, input.type);
        if (active) {
          active.severity = input.severity;
          active.endTs = input.ts;
          if (input.details !== undefined) active.details = input.details;
          return { alarm: { ...active }, created: false };
        }
        const alarm = newRuleAlarm(input, now());
        alarmList.push(alarm);
        return { alarm: { ...alarm }, created: true };
      },
      async findActive(tenantId, originatorId, type) {
        const a = findActive(tenantId, originatorId, type);
        return a ? { ...a } : null;
      },
      async clear(tenantId, id, ts, details) {
        takeFailure('alarms');
        const a = alarmList.find((x) => x.tenantId === tenantId && x.id === id);
        if (!a) return null;
        a.cleared = true;
        a.clearTs = ts;
        if (details !== undefined) a.details = details;
        return { ...a };
      },
    },
    // Node tests pass a real checked one (@rivulet/outbound) aimed at their local servers.
    ...(options.outbound ? { outbound: options.outbound } : {}),
    ...(options.kafka
      ? {
          kafka: {
            producer: () => ({
              async send(record: KafkaRecord) {
                kafkaRecords.push(record);
                return { partition: 0, offset: String(kafkaRecords.length - 1) };
              },
            }),
          },
        }
      : {}),
    timeseries: {
      async save(p) {
        takeFailure('timeseries');
        points.push(...p);
      },
      async findLatest(entityId, keys) {
        const latest = new Map<string, TsKv>();
        for (const p of points) {
          if (p.entityId !== entityId || (keys && !keys.includes(p.key))) continue;
          const cur = latest.get(p.key);
          if (!cur || cur.ts <= p.ts) latest.set(p.key, { key: p.key, ts: p.ts, value: p.value });
        }
        return [...latest.values()];
      },
      async findHistory(entityId, q) {
        const out: Record<string, TsKv[]> = {};
        for (const key of q.keys) {
          const list = points
            .filter((p) => p.entityId === entityId && p.key === key && p.ts >= q.startTs && p.ts < q.endTs)
            .map((p) => ({ key: p.key, ts: p.ts, value: p.value }))
            .sort((a, b) => (q.orderBy === 'ASC' ? a.ts - b.ts : b.ts - a.ts))
            .slice(0, q.limit ?? 100);
          if (list.length > 0) out[key] = list;
        }
        return out;
      },
    },
    attributes: {
      async save(items) {
        takeFailure('attributes');
        attributeWrites.push(...items);
      },
      async find(entityId, scope, keys) {
        const out = new Map<string, AttributeKv>();
        for (const a of attributeWrites) {
          if (a.entityId === entityId && a.scope === scope && (!keys || keys.includes(a.key))) {
            out.set(a.key, a.double === true ? { key: a.key, value: a.value, lastUpdateTs: a.lastUpdateTs, double: true } : { key: a.key, value: a.value, lastUpdateTs: a.lastUpdateTs });
          }
        }
        return [...out.values()];
      },
      async delete(entityId, scope, keys) {
        let n = 0;
        for (let i = attributeWrites.length - 1; i >= 0; i--) {
          const a = attributeWrites[i]!;
          if (a.entityId === entityId && a.scope === scope && keys.includes(a.key)) {
            attributeWrites.splice(i, 1);
            n++;
          }
        }
        return n;
      },
    },
  };
}

/** A node context whose ctx.emit records the routes (what a node sent on after process() returned). */
export interface TestNodeContext extends NodeContext {
  readonly emitted: Route[];
}

export function testNodeContext(name = 'test node', options: { tenantId?: string } = {}): TestNodeContext {
  const emitted: Route[] = [];
  return {
    chainId: 'test-chain',
    nodeId: 'test-chain:0',
    nodeName: name,
    logger: silentLogger,
    tenantId: options.tenantId,
    emitted,
    async emit(routes) {
      emitted.push(...routes);
      return { ok: true };
    },
  };
}

export type { Msg };
