import { afterEach, describe, expect, it, vi } from 'vitest';
import { createMemoryBroadcast, LiveChannel } from '@rivulet/broadcast';
import { MsgType, type AttributeKv, type AttributeWrite, type DeviceInfo, type Msg } from '@rivulet/core';
import { Topics, createMemoryQueue } from '@rivulet/queue';
import { createDeviceStateService, type DeviceStateService } from './device-state';

const DEVICE: DeviceInfo = { tenantId: 't1', deviceId: 'd1', deviceName: 'Boiler', deviceType: 'boiler' };

async function setup(opts: { timeout?: number; stored?: AttributeKv[] } = {}) {
  let now = 1_000_000;
  const writes: AttributeWrite[] = [];
  const queue = createMemoryQueue({ partitions: 1 });
  const broadcast = createMemoryBroadcast();
  const msgs: Msg[] = [];
  await queue.subscribe<Msg>({ topic: Topics.RULE_ENGINE, group: 'g', handler: async (rs) => void msgs.push(...rs.map((r) => r.value)) });
  const state: DeviceStateService = createDeviceStateService({
    storage: {
      attributes: {
        save: async (items) => void writes.push(...items),
        saveIfAbsent: async () => {
          throw new Error('device state never writes if absent');
        },
        find: async (_id, _scope, keys) => (opts.stored ?? []).filter((kv) => !keys || keys.includes(kv.key)),
        findKeys: async () => [],
        delete: async () => 0,
      },
    },
    queue,
    broadcast,
    inactivityTimeoutMs: opts.timeout ?? 1000,
    checkIntervalMs: 1_000_000, // ticks are driven by advancing the fake timers
    activityFlushMs: 500,
    now: () => now,
  });
  const latest = (key: string) => writes.filter((w) => w.key === key).at(-1)?.value;
  return {
    state,
    writes,
    msgs,
    broadcast,
    latest,
    advance(ms: number) {
      now += ms;
    },
    close: () => queue.close(),
  };
}

afterEach(() => {
  vi.useRealTimers();
});

describe('device state', () => {
  it('connect: lastConnectTime, active, CONNECT_EVENT and ACTIVITY_EVENT with ThingsBoard metadata', async () => {
    const t = await setup();
    t.state.onConnect(DEVICE);
    await vi.waitFor(() => expect(t.msgs.map((m) => m.type).sort()).toEqual([MsgType.ACTIVITY_EVENT, MsgType.CONNECT_EVENT]));
    expect(t.latest('active')).toBe(true);
    expect(t.latest('lastConnectTime')).toBe(1_000_000);
    expect(t.latest('lastActivityTime')).toBe(1_000_000);
    const connect = t.msgs.find((m) => m.type === MsgType.CONNECT_EVENT);
    expect(connect).toMatchObject({
      originator: { entityType: 'DEVICE', id: 'd1' },
      tenantId: 't1',
      metadata: { deviceName: 'Boiler', deviceType: 'boiler' },
      data: { active: true, lastConnectTime: 1_000_000, inactivityTimeout: 1000 },
    });
    await t.state.stop();
    await t.close();
  });

  it('activity is coalesced in memory; inactivity after the timeout; a disconnect alone keeps it active', async () => {
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval'] });
    const t = await setup({ timeout: 1000 });
    t.state.start();
    t.state.onConnect(DEVICE);
    const writesAfterConnect = t.writes.length;
    for (let i = 0; i < 100; i++) t.state.onActivity(DEVICE);
    expect(t.writes.length).toBe(writesAfterConnect); // per-message activity writes nothing by itself
    t.advance(600);
    t.state.onActivity(DEVICE);
    t.state.onDisconnect(DEVICE);
    expect(t.latest('lastDisconnectTime')).toBe(1_000_600);
    vi.advanceTimersByTime(1_000_000); // one tick: 0 ms since the last activity, the activity write is due
    expect(t.state.get('d1')?.active).toBe(true);
    expect(t.latest('lastActivityTime')).toBe(1_000_600);
    t.advance(1001);
    vi.advanceTimersByTime(1_000_000);
    expect(t.latest('active')).toBe(false);
    expect(t.latest('inactivityAlarmTime')).toBe(1_001_601);
    await vi.waitFor(() =>
      expect(t.msgs.map((m) => m.type).sort()).toEqual([MsgType.ACTIVITY_EVENT, MsgType.CONNECT_EVENT, MsgType.DISCONNECT_EVENT, MsgType.INACTIVITY_EVENT]),
    );
    // inactive and no session: forgotten, and activity again makes it active with an ACTIVITY_EVENT
    expect(t.state.get('d1')).toBeUndefined();
    t.state.onActivity(DEVICE);
    expect(t.latest('active')).toBe(true);
    await vi.waitFor(() => expect(t.msgs.filter((m) => m.type === MsgType.ACTIVITY_EVENT)).toHaveLength(2));
    await t.state.stop();
    await t.close();
  });

  it("a device's inactivityTimeout server attribute overrides the default, also when it changes", async () => {
    const t = await setup({ timeout: 1000, stored: [{ key: 'inactivityTimeout', value: 5000, lastUpdateTs: 1 }] });
    t.state.onConnect(DEVICE);
    await vi.waitFor(() => expect(t.state.get('d1')?.inactivityTimeout).toBe(5000));
    t.broadcast.publish(LiveChannel.ATTRIBUTES, { entityId: 'd1', scope: 'SERVER_SCOPE', values: [{ key: 'inactivityTimeout', value: 200, lastUpdateTs: 2 }] });
    expect(t.state.get('d1')?.inactivityTimeout).toBe(5000); // not listening before start()
    t.state.start();
    t.broadcast.publish(LiveChannel.ATTRIBUTES, { entityId: 'd1', scope: 'SERVER_SCOPE', values: [{ key: 'inactivityTimeout', value: 200, lastUpdateTs: 2 }] });
    expect(t.state.get('d1')?.inactivityTimeout).toBe(200);
    await t.state.stop();
    await t.close();
  });

  it('stop() writes the pending lastActivityTime', async () => {
    const t = await setup();
    t.state.onConnect(DEVICE);
    t.advance(50);
    t.state.onActivity(DEVICE);
    await t.state.stop();
    expect(t.latest('lastActivityTime')).toBe(1_000_050);
    await t.close();
  });

  it('forgets a deleted device: its disconnect and timeout write nothing, no event reaches the rule engine', async () => {
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval'] });
    const t = await setup();
    t.state.start();
    t.state.onConnect(DEVICE);
    await vi.waitFor(() => expect(t.msgs).toHaveLength(2));
    const before = t.writes.length;
    t.broadcast.publish(LiveChannel.DEVICES, { tenantId: 't1', deviceId: 'd1', kind: 'deleted' });
    expect(t.state.get('d1')).toBeUndefined();
    // The transport closes the session after the deletion.
    t.state.onDisconnect(DEVICE);
    t.state.onActivity(DEVICE);
    t.advance(5000);
    vi.advanceTimersByTime(1_000_000);
    await t.state.stop();
    expect(t.writes.length).toBe(before);
    await new Promise((r) => setTimeout(r, 50));
    expect(t.msgs).toHaveLength(2);
    await t.close();
  });
});
