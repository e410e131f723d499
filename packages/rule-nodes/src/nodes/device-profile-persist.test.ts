import { createMsg, type JsonObject, type JsonValue, type Msg } from '@rivulet/core';
import { bindServicesToTenant, type RuleDeviceProfile, type RuleNode, type RuleNodeServices, type RuleNodeStateService } from '@rivulet/rule-engine';
import { createRecordingServices, testNodeContext } from '@rivulet/rule-engine/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { DEVICE, DEVICE2, TENANT, relationsOf } from '../test-kit';
import { deviceProfileNode } from './device-profile.node.js';

/** An in-memory rule node state store that counts its calls (storage's repository is covered by the storage contract). */
function stateStoreDouble() {
  const rows = new Map<string, JsonObject>();
  const calls = { get: 0, save: 0, saved: 0, delete: 0 };
  let failGet: Error | undefined;
  const key = (t: string, n: string, e: string) => `${t}|${n}|${e}`;
  const service: RuleNodeStateService = {
    async get(t, n, e) {
      calls.get++;
      if (failGet) throw failGet;
      return structuredClone(rows.get(key(t, n, e)) ?? null);
    },
    async save(items) {
      calls.save++;
      calls.saved += items.length;
      for (const it of items) rows.set(key(it.tenantId, it.ruleNodeId, it.entityId), structuredClone(it.state));
    },
    async delete(t, n, e) {
      calls.delete++;
      return rows.delete(key(t, n, e));
    },
  };
  return { service, rows, calls, key, failGetWith: (e: Error | undefined) => (failGet = e) };
}

const num = (operation: string, defaultValue: number) => ({ type: 'NUMERIC', operation, value: { defaultValue, userValue: null, dynamicValue: null } });
const cond = (key: string, predicate: JsonValue) => ({ key: { type: 'TIME_SERIES', key }, valueType: 'NUMERIC', predicate });

/** temperature > threshold for 10 s: CRITICAL; humidity > 80 three times in a row: MAJOR (another alarm). */
function profileData(threshold = 30): JsonObject {
  return {
    configuration: { type: 'DEFAULT' },
    alarms: [
      {
        id: 'high-temp',
        alarmType: 'High Temperature',
        createRules: { CRITICAL: { condition: { condition: [cond('temperature', num('GREATER', threshold))], spec: { type: 'DURATION', unit: 'SECONDS', predicate: { defaultValue: 10 } } } } },
        clearRule: { condition: { condition: [cond('temperature', num('LESS_OR_EQUAL', threshold))], spec: { type: 'SIMPLE' } } },
      },
      {
        id: 'humid',
        alarmType: 'Humid',
        createRules: { MAJOR: { condition: { condition: [cond('humidity', num('GREATER', 80))], spec: { type: 'REPEATING', predicate: { defaultValue: 3 } } } } },
      },
    ],
  };
}

const telemetryAt = (ts: number, data: JsonValue, originator = DEVICE): Msg => createMsg({ type: 'POST_TELEMETRY_REQUEST', originator, tenantId: TENANT, data, metadata: {}, ts });

const T0 = 1_700_000_000_000;
const nodes: RuleNode[] = [];
afterEach(async () => {
  for (const n of nodes.splice(0)) await n.destroy?.();
});

/** A node (as a chain load makes it) over shared services: `profile` per device, the state store, the clock. */
function nodeOn(store: RuleNodeStateService | undefined, profile: () => RuleDeviceProfile, clock: { now: number }, persist = true) {
  const services: RuleNodeServices = {
    ...createRecordingServices({ now: () => clock.now, deviceProfiles: { getForDevice: async () => profile() } }),
    ...(store ? { ruleNodeStates: store } : {}),
  };
  const node = deviceProfileNode.create(deviceProfileNode.configSchema.parse({ persistAlarmRulesState: persist }), services);
  nodes.push(node);
  return { node, services };
}

describe('device profile node: persistAlarmRulesState', () => {
  it("saves a device's rule progress in ThingsBoard's PersistedDeviceState shape when a message changed it, and not when nothing changed", async () => {
    const s = stateStoreDouble();
    const clock = { now: T0 };
    const p = { id: 'profile-1', name: 'thermostat', profileData: profileData() };
    const { node } = nodeOn(s.service, () => p, clock);
    const ctx = testNodeContext();
    // Cool readings: the condition does not hold, nothing to save.
    for (let i = 0; i < 3; i++) await node.process(telemetryAt(T0 + i * 1000, { temperature: 20 }), ctx);
    await node.destroy?.();
    expect(s.calls.saved).toBe(0);
    const second = nodeOn(s.service, () => p, clock).node;
    await second.process(telemetryAt(T0 + 5_000, { temperature: 35, humidity: 90 }), ctx);
    await second.process(telemetryAt(T0 + 8_000, { temperature: 35 }), ctx);
    await second.destroy?.();
    const saved = s.rows.get(s.key(TENANT, ctx.nodeId, DEVICE.id));
    expect(saved).toMatchObject({
      profileId: 'profile-1',
      rulesHash: expect.any(String),
      alarmStates: {
        'high-temp': { createRuleStates: { CRITICAL: { lastEventTs: T0 + 8_000, duration: 3_000, eventCount: 0 } }, clearRuleState: { lastEventTs: 0, duration: 0, eventCount: 0 } },
        humid: { createRuleStates: { MAJOR: { lastEventTs: 0, duration: 0, eventCount: 1 } }, clearRuleState: null },
      },
    });
    // An unchanged reading (the same value at the same time again) writes nothing.
    const before = s.calls.saved;
    const third = nodeOn(s.service, () => p, clock).node;
    await third.process(telemetryAt(T0 + 8_000, { temperature: 35 }), ctx);
    await third.destroy?.();
    expect(s.calls.saved).toBe(before);
  });

  it('a new node instance (a restart, a chain reload) restores the progress: DURATION and REPEATING go on where they were', async () => {
    for (const persist of [true, false]) {
      const s = stateStoreDouble();
      const clock = { now: T0 };
      const p = { id: 'profile-1', name: 'thermostat', profileData: profileData() };
      const ctx = testNodeContext();
      const first = nodeOn(s.service, () => p, clock, persist).node;
      await first.process(telemetryAt(T0, { temperature: 35, humidity: 90 }), ctx);
      await first.process(telemetryAt(T0 + 6_000, { temperature: 35, humidity: 91 }), ctx);
      await first.destroy?.();
      const { node: second, services } = nodeOn(s.service, () => p, clock, persist);
      // 6 s counted before; 4.5 s more makes 10.5 s (> 10 s) only if the 6 s were kept.
      const out = await second.process(telemetryAt(T0 + 10_500, { temperature: 35, humidity: 92 }), ctx);
      const alarms = (services as ReturnType<typeof createRecordingServices>).alarmList.map((a) => a.type).sort();
      if (persist) {
        expect(relationsOf(out).sort()).toEqual(['Alarm Created', 'Alarm Created', 'Success']);
        expect(alarms).toEqual(['High Temperature', 'Humid']);
      } else {
        expect(relationsOf(out)).toEqual(['Success']);
        expect(alarms).toEqual([]);
        expect(s.calls.get + s.calls.saved).toBe(0);
      }
    }
  });

  it('a state saved under other rules (the profile changed meanwhile, or in memory) is discarded, not restored', async () => {
    const s = stateStoreDouble();
    const clock = { now: T0 };
    let p = { id: 'profile-1', name: 'thermostat', profileData: profileData(30) };
    const ctx = testNodeContext();
    const first = nodeOn(s.service, () => p, clock).node;
    await first.process(telemetryAt(T0, { temperature: 35 }), ctx);
    await first.process(telemetryAt(T0 + 6_000, { temperature: 35 }), ctx);
    await first.destroy?.();
    // Changed while the node was down: threshold 31.
    p = { ...p, profileData: profileData(31) };
    const { node: second, services } = nodeOn(s.service, () => p, clock);
    const out = await second.process(telemetryAt(T0 + 10_500, { temperature: 35 }), ctx);
    expect(relationsOf(out)).toEqual(['Success']);
    expect((services as ReturnType<typeof createRecordingServices>).alarmList).toEqual([]);
    await second.destroy?.();
    // The old state was replaced by the new rules' progress (lastEventTs at the new start).
    const saved = s.rows.get(s.key(TENANT, ctx.nodeId, DEVICE.id)) as { alarmStates: { 'high-temp': { createRuleStates: { CRITICAL: { lastEventTs: number; duration: number } } } } };
    expect(saved.alarmStates['high-temp'].createRuleStates.CRITICAL).toMatchObject({ lastEventTs: T0 + 10_500, duration: 0 });
    // Changed while running: the progress starts again and the saved one is deleted until the next change.
    const third = nodeOn(s.service, () => p, clock).node;
    await third.process(telemetryAt(T0 + 11_000, { temperature: 35 }), ctx);
    p = { ...p, profileData: profileData(40) };
    await third.process(telemetryAt(T0 + 12_000, { temperature: 35 }), ctx);
    await third.destroy?.();
    expect(s.calls.delete).toBeGreaterThanOrEqual(1);
    expect(s.rows.get(s.key(TENANT, ctx.nodeId, DEVICE.id))).toBeUndefined();
  });

  it('concurrent messages of many devices share one batched save; a saved state that cannot be read starts the device from none (the message is still evaluated)', async () => {
    const s = stateStoreDouble();
    const clock = { now: T0 };
    const p = { id: 'profile-1', name: 'thermostat', profileData: profileData() };
    const ctx = testNodeContext();
    const { node } = nodeOn(s.service, () => p, clock);
    await Promise.all([DEVICE, DEVICE2].map((d) => node.process(telemetryAt(T0, { temperature: 35 }, d), ctx)));
    await node.destroy?.();
    expect(s.calls).toMatchObject({ save: 1, saved: 2 });

    s.failGetWith(new Error('database down'));
    const { node: second } = nodeOn(s.service, () => p, clock);
    const out = await second.process(telemetryAt(T0 + 1_000, { temperature: 35 }), ctx);
    expect(relationsOf(out)).toEqual(['Success']);
  });

  it('a malformed saved state (not the shape, negative or non-numeric progress) counts as no progress; the node goes on', async () => {
    const s = stateStoreDouble();
    const clock = { now: T0 };
    const p = { id: 'profile-1', name: 'thermostat', profileData: profileData() };
    const ctx = testNodeContext();
    // The right profile and hash, taken from a real save, with garbage progress.
    const first = nodeOn(s.service, () => p, clock).node;
    await first.process(telemetryAt(T0, { temperature: 35 }), ctx);
    await first.destroy?.();
    const k = s.key(TENANT, ctx.nodeId, DEVICE.id);
    const good = s.rows.get(k)!;
    for (const alarmStates of [null, [], 'x', { 'high-temp': 5 }, { 'high-temp': { createRuleStates: { CRITICAL: { lastEventTs: 'x', duration: -5, eventCount: null } } } }]) {
      s.rows.set(k, { ...good, alarmStates } as JsonObject);
      const { node, services } = nodeOn(s.service, () => p, clock);
      const out = await node.process(telemetryAt(T0 + 10_500, { temperature: 35 }), ctx);
      expect(relationsOf(out), JSON.stringify(alarmStates)).toEqual(['Success']);
      expect((services as ReturnType<typeof createRecordingServices>).alarmList).toEqual([]);
      await node.destroy?.();
    }
  });

  it('tenant-bound: the state of another tenant, or about another tenant\'s device, is refused before storage', async () => {
    const s = stateStoreDouble();
    const base = { ...createRecordingServices(), ruleNodeStates: s.service };
    const bound = bindServicesToTenant(base, { tenantId: 'tenant-b', ownership: { owns: async (t, id) => (t === 'tenant-a' && id === 'dev-a') || (t === 'tenant-b' && id === 'dev-b') } });
    await expect(bound.ruleNodeStates!.get('tenant-b', 'n', 'dev-a')).rejects.toThrow(/does not belong to this tenant/);
    await expect(bound.ruleNodeStates!.get('tenant-a', 'n', 'dev-b')).rejects.toThrow(/is not this chain's tenant/);
    await expect(bound.ruleNodeStates!.delete('tenant-a', 'n', 'dev-b')).rejects.toThrow(/is not this chain's tenant/);
    await expect(bound.ruleNodeStates!.save([{ tenantId: 'tenant-b', ruleNodeId: 'n', entityId: 'dev-a', state: {} }])).rejects.toThrow(/does not belong to this tenant/);
    await expect(bound.ruleNodeStates!.save([{ tenantId: 'tenant-a', ruleNodeId: 'n', entityId: 'dev-a', state: {} }])).rejects.toThrow(/is not this chain's tenant/);
    await expect(bound.ruleNodeStates!.delete('tenant-b', 'n', 'dev-a')).rejects.toThrow(/does not belong to this tenant/);
    expect(s.calls).toMatchObject({ get: 0, save: 0, delete: 0 });
    // Its own device: through.
    await bound.ruleNodeStates!.save([{ tenantId: 'tenant-b', ruleNodeId: 'n', entityId: 'dev-b', state: { ok: true } }]);
    expect(await bound.ruleNodeStates!.get('tenant-b', 'n', 'dev-b')).toEqual({ ok: true });
  });

  it('without a state store (test runs) the setting keeps the state in memory and the node works', async () => {
    const clock = { now: T0 };
    const p = { id: 'profile-1', name: 'thermostat', profileData: profileData() };
    const { node } = nodeOn(undefined, () => p, clock);
    await node.process(telemetryAt(T0, { temperature: 35 }), testNodeContext());
    expect(relationsOf(await node.process(telemetryAt(T0 + 10_500, { temperature: 35 }), testNodeContext()))).toEqual(['Alarm Created', 'Success']);
  });
});
