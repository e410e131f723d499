import { type Broadcast, LiveChannel } from '@rivulet/broadcast';
import {
  AttributeScope,
  EntityType,
  MsgType,
  createMsg,
  silentLogger,
  type AttributesEvent,
  type AttributeWrite,
  type DeviceEvent,
  type DeviceInfo,
  type DeviceStateReporter,
  type KvValue,
  type Logger,
  type Msg,
} from '@rivulet/core';
import { Topics, type Queue } from '@rivulet/queue';
import type { Storage } from '@rivulet/storage';

/** ThingsBoard's server-scope attribute names of device state. */
export const DeviceStateKey = {
  ACTIVE: 'active',
  LAST_CONNECT_TIME: 'lastConnectTime',
  LAST_DISCONNECT_TIME: 'lastDisconnectTime',
  LAST_ACTIVITY_TIME: 'lastActivityTime',
  INACTIVITY_ALARM_TIME: 'inactivityAlarmTime',
  /** Per-device override of the inactivity timeout (ms), a server attribute as in ThingsBoard. */
  INACTIVITY_TIMEOUT: 'inactivityTimeout',
} as const;

export interface DeviceStateOptions {
  /** The live storage: attribute writes are batched there and published to WebSocket subscribers. */
  storage: Pick<Storage, 'attributes'>;
  queue: Queue;
  /** Per-device inactivityTimeout changes arrive on it. */
  broadcast?: Broadcast;
  logger?: Logger;
  /** A device is inactive after this long without activity (ThingsBoard's default 600 s). */
  inactivityTimeoutMs: number;
  /** How often inactivity is checked; default a quarter of the timeout, between 50 ms and 10 s. */
  checkIntervalMs?: number;
  /** lastActivityTime of active devices is written at most this often (activity is per message); default 5 s. */
  activityFlushMs?: number;
  now?: () => number;
}

export interface DeviceStateService extends DeviceStateReporter {
  start(): void;
  /** Stops the timers and writes what is pending (call before storage closes). */
  stop(): Promise<void>;
  /** What is known of a device (tests, diagnostics). */
  get(deviceId: string): Readonly<DeviceState> | undefined;
}

export interface DeviceState {
  device: DeviceInfo;
  active: boolean;
  lastConnectTime: number;
  lastDisconnectTime: number;
  lastActivityTime: number;
  lastInactivityAlarmTime: number;
  /** This device's timeout: its inactivityTimeout attribute, else the default. */
  inactivityTimeout: number;
  /** Open sessions in this process (all transports). */
  sessions: number;
  /** lastActivityTime changed since the last write. */
  activityDirty: boolean;
}

/**
 * ThingsBoard's device state (DefaultDeviceStateService), for every transport: connect, disconnect
 * and activity maintain the server-scope attributes active, lastConnectTime, lastDisconnectTime,
 * lastActivityTime and inactivityAlarmTime, and become CONNECT_EVENT, DISCONNECT_EVENT,
 * ACTIVITY_EVENT and INACTIVITY_EVENT messages for the rule engine.
 *
 * As in ThingsBoard, `active` means "sent something within the inactivity timeout": a connect counts
 * as activity, a disconnect does not end it (the timeout does). onActivity is called per message, so
 * it only touches memory; lastActivityTime is written every activityFlushMs, and the attribute
 * writes of many devices share one batch in the live storage.
 */
export function createDeviceStateService(options: DeviceStateOptions): DeviceStateService {
  const { storage, queue } = options;
  const logger = (options.logger ?? silentLogger).child({ component: 'device-state' });
  const now = options.now ?? Date.now;
  const defaultTimeout = options.inactivityTimeoutMs;
  const checkInterval = options.checkIntervalMs ?? Math.min(10_000, Math.max(50, Math.floor(defaultTimeout / 4)));
  const activityFlushMs = options.activityFlushMs ?? 5000;
  const states = new Map<string, DeviceState>();
  let checkTimer: ReturnType<typeof setInterval> | undefined;
  let lastActivityFlush = 0;
  let unsubscribe: (() => void) | undefined;
  const pendingWrites = new Set<Promise<void>>();
  // Devices deleted (alone or with their tenant) while this process tracked them: their sessions'
  // last disconnects and pending timers must not write attributes back for a device that is gone.
  // Ids are never reused, so a tombstone only has to outlive the sessions closing; dropped after a while.
  const deleted = new Map<string, number>();
  const TOMBSTONE_MS = 10 * 60_000;
  let unsubscribeDevices: (() => void) | undefined;

  function track(p: Promise<void>): void {
    pendingWrites.add(p);
    void p.finally(() => pendingWrites.delete(p));
  }

  function write(all: AttributeWrite[]): void {
    const items = deleted.size === 0 ? all : all.filter((i) => !deleted.has(i.entityId));
    if (items.length === 0) return;
    track(storage.attributes.save(items).catch((e: unknown) => logger.warn({ err: e, count: items.length }, 'device state attributes not written')));
  }

  function attr(s: DeviceState, key: string, value: KvValue, ts: number): AttributeWrite {
    return { entityId: s.device.deviceId, scope: AttributeScope.SERVER_SCOPE, key, value, lastUpdateTs: ts };
  }

  function event(s: DeviceState, type: string, ts: number): void {
    if (deleted.has(s.device.deviceId)) return;
    const data = {
      active: s.active,
      lastConnectTime: s.lastConnectTime,
      lastActivityTime: s.lastActivityTime,
      lastDisconnectTime: s.lastDisconnectTime,
      lastInactivityAlarmTime: s.lastInactivityAlarmTime,
      inactivityTimeout: s.inactivityTimeout,
    };
    const msg: Msg = createMsg({
      type,
      originator: { entityType: EntityType.DEVICE, id: s.device.deviceId },
      tenantId: s.device.tenantId,
      metadata: { deviceName: s.device.deviceName, deviceType: s.device.deviceType, ts: String(ts) },
      data,
      ts,
    });
    track(queue.produce(Topics.RULE_ENGINE, [{ key: s.device.deviceId, value: msg }]).catch((e: unknown) => logger.debug({ err: e, type }, 'device state event not queued')));
  }

  /** The state of a device, created on first sight; its own inactivityTimeout attribute is read then. */
  function stateOf(device: DeviceInfo): DeviceState {
    let s = states.get(device.deviceId);
    if (!s) {
      s = {
        device,
        active: false,
        lastConnectTime: 0,
        lastDisconnectTime: 0,
        lastActivityTime: 0,
        lastInactivityAlarmTime: 0,
        inactivityTimeout: defaultTimeout,
        sessions: 0,
        activityDirty: false,
      };
      states.set(device.deviceId, s);
      const created = s;
      track(
        storage.attributes.find(device.deviceId, AttributeScope.SERVER_SCOPE, [DeviceStateKey.INACTIVITY_TIMEOUT]).then(
          (kvs) => applyTimeout(created, kvs[0]?.value),
          (e: unknown) => logger.debug({ err: e, deviceId: device.deviceId }, 'inactivityTimeout not read'),
        ),
      );
    }
    return s;
  }

  function applyTimeout(s: DeviceState, value: KvValue | undefined): void {
    const ms = typeof value === 'number' ? value : typeof value === 'string' ? Number(value) : NaN;
    s.inactivityTimeout = Number.isFinite(ms) && ms > 0 ? ms : defaultTimeout;
  }

  function markActive(s: DeviceState, ts: number, extra: AttributeWrite[]): void {
    s.lastActivityTime = ts;
    if (s.active) {
      s.activityDirty = true;
      write(extra);
      return;
    }
    s.active = true;
    s.activityDirty = false;
    write([...extra, attr(s, DeviceStateKey.ACTIVE, true, ts), attr(s, DeviceStateKey.LAST_ACTIVITY_TIME, ts, ts)]);
    event(s, MsgType.ACTIVITY_EVENT, ts);
  }

  /** Inactivity check and the periodic lastActivityTime write, in one pass over the devices. */
  function tick(): void {
    const t = now();
    const flushActivity = t - lastActivityFlush >= activityFlushMs;
    if (flushActivity) lastActivityFlush = t;
    for (const [id, at] of deleted) if (t - at > TOMBSTONE_MS) deleted.delete(id);
    const writes: AttributeWrite[] = [];
    for (const [id, s] of states) {
      if (s.active && t - s.lastActivityTime > s.inactivityTimeout) {
        s.active = false;
        s.lastInactivityAlarmTime = t;
        s.activityDirty = false;
        writes.push(attr(s, DeviceStateKey.ACTIVE, false, t), attr(s, DeviceStateKey.INACTIVITY_ALARM_TIME, t, t), attr(s, DeviceStateKey.LAST_ACTIVITY_TIME, s.lastActivityTime, t));
        event(s, MsgType.INACTIVITY_EVENT, t);
      } else if (flushActivity && s.activityDirty) {
        s.activityDirty = false;
        writes.push(attr(s, DeviceStateKey.LAST_ACTIVITY_TIME, s.lastActivityTime, t));
      }
      // nothing left to watch: forget it (it is read again on its next connect)
      if (!s.active && s.sessions === 0) states.delete(id);
    }
    write(writes);
  }

  return {
    onConnect(device) {
      if (deleted.has(device.deviceId)) return;
      const s = stateOf(device);
      const t = now();
      s.sessions++;
      s.lastConnectTime = t;
      markActive(s, t, [attr(s, DeviceStateKey.LAST_CONNECT_TIME, t, t)]);
      event(s, MsgType.CONNECT_EVENT, t);
    },
    onDisconnect(device) {
      if (deleted.has(device.deviceId)) return;
      const s = stateOf(device);
      const t = now();
      s.sessions = Math.max(0, s.sessions - 1);
      s.lastDisconnectTime = t;
      write([attr(s, DeviceStateKey.LAST_DISCONNECT_TIME, t, t)]);
      event(s, MsgType.DISCONNECT_EVENT, t);
    },
    onActivity(device) {
      if (deleted.has(device.deviceId)) return;
      const s = states.get(device.deviceId) ?? stateOf(device);
      const t = now();
      if (s.active) {
        s.lastActivityTime = t;
        s.activityDirty = true;
      } else markActive(s, t, []);
    },
    start() {
      if (checkTimer) return;
      lastActivityFlush = now();
      checkTimer = setInterval(tick, checkInterval);
      checkTimer.unref();
      unsubscribeDevices = options.broadcast?.subscribe(LiveChannel.DEVICES, (e) => {
        const ev = e as DeviceEvent;
        if (ev.kind !== 'deleted' || typeof ev.deviceId !== 'string') return;
        states.delete(ev.deviceId);
        deleted.set(ev.deviceId, now());
      });
      unsubscribe = options.broadcast?.subscribe(LiveChannel.ATTRIBUTES, (e) => {
        const ev = e as AttributesEvent;
        if (ev.scope !== AttributeScope.SERVER_SCOPE) return;
        const s = states.get(ev.entityId);
        if (!s) return;
        if (ev.deleted?.includes(DeviceStateKey.INACTIVITY_TIMEOUT)) applyTimeout(s, undefined);
        for (const kv of ev.values) if (kv.key === DeviceStateKey.INACTIVITY_TIMEOUT) applyTimeout(s, kv.value);
      });
    },
    async stop() {
      if (checkTimer) clearInterval(checkTimer);
      checkTimer = undefined;
      unsubscribe?.();
      unsubscribeDevices?.();
      const t = now();
      const writes: AttributeWrite[] = [];
      for (const s of states.values()) {
        if (s.activityDirty) writes.push(attr(s, DeviceStateKey.LAST_ACTIVITY_TIME, s.lastActivityTime, t));
        s.activityDirty = false;
      }
      write(writes);
      while (pendingWrites.size > 0) await Promise.all([...pendingWrites]);
    },
    get(deviceId) {
      return states.get(deviceId);
    },
  };
}
