import { createMsg, type JsonObject, type JsonValue, type Msg } from '@rivulet/core';
import { bindServicesToTenant, validateRuleChain, checkChainCapabilities, createNodeRegistry, type DeviceProfileLookup, type RuleDeviceProfile, type RuleNode } from '@rivulet/rule-engine';
import { createRecordingServices, testNodeContext, type RecordingServices } from '@rivulet/rule-engine/testing';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { DEVICE, DEVICE2, TENANT, relationsOf } from '../test-kit';
import { deviceProfileNode, HARVEST_PERIOD_MS } from './device-profile.node.js';

/**
 * A test double of the deviceProfiles capability: a profile per device, set by the test; counts lookups.
 * `setProfile` hands out a new profile object (as the server's cache does after a change).
 */
function profileLookupDouble() {
  const byDevice = new Map<string, RuleDeviceProfile>();
  let calls = 0;
  const lookup: DeviceProfileLookup = {
    async getForDevice(_tenantId, deviceId) {
      calls++;
      return byDevice.get(deviceId) ?? null;
    },
  };
  return {
    lookup,
    calls: () => calls,
    setProfile(deviceId: string, profileData: JsonObject, id = 'profile-1', name = 'thermostat') {
      byDevice.set(deviceId, { id, name, profileData: structuredClone(profileData) });
    },
  };
}

const num = (operation: string, defaultValue: number, dynamicValue: JsonValue = null) => ({ type: 'NUMERIC', operation, value: { defaultValue, userValue: null, dynamicValue } });
const cond = (key: string, predicate: JsonValue, type = 'TIME_SERIES') => ({ key: { type, key }, valueType: 'NUMERIC', predicate });

/** The rule: temperature > 30 for 10 s raises a CRITICAL alarm, temperature <= 30 clears it. */
function thermostat(spec: JsonValue = { type: 'DURATION', unit: 'SECONDS', predicate: { defaultValue: 10 } }, extra: JsonObject = {}): JsonObject {
  return {
    configuration: { type: 'DEFAULT' },
    alarms: [
      {
        id: 'high-temp',
        alarmType: 'High Temperature',
        createRules: { CRITICAL: { condition: { condition: [cond('temperature', num('GREATER', 30))], spec }, ...extra } },
        clearRule: { condition: { condition: [cond('temperature', num('LESS_OR_EQUAL', 30))], spec: { type: 'SIMPLE' } } },
        propagate: false,
      },
    ],
  };
}

interface Setup {
  services: RecordingServices;
  profiles: ReturnType<typeof profileLookupDouble>;
  node: RuleNode;
  clock: { now: number };
}

function setup(profileData: JsonObject | null = thermostat()): Setup {
  const clock = { now: 1_700_000_000_000 };
  const profiles = profileLookupDouble();
  if (profileData) profiles.setProfile(DEVICE.id, profileData);
  const services = createRecordingServices({ now: () => clock.now, deviceProfiles: profiles.lookup });
  const node = deviceProfileNode.create(deviceProfileNode.configSchema.parse({}), services);
  return { services, profiles, node, clock };
}

const telemetryAt = (ts: number, data: JsonValue, originator = DEVICE): Msg => createMsg({ type: 'POST_TELEMETRY_REQUEST', originator, tenantId: TENANT, data, metadata: { ts: String(ts), deviceName: 'thermo-1' }, ts });

let active: RuleNode | undefined;
afterEach(async () => {
  await active?.destroy?.();
  active = undefined;
  vi.useRealTimers();
});

describe('device profile node', () => {
  it('DURATION: no alarm before the condition held 10 s, "Alarm Created" after; the message always goes on by Success; <= 30 clears it', async () => {
    const { services, node, clock } = setup();
    const t0 = clock.now;
    for (const dt of [0, 3_000, 6_000, 9_000]) {
      const out = await node.process(telemetryAt(t0 + dt, { temperature: 35 }), testNodeContext());
      expect(relationsOf(out), `at +${dt} ms`).toEqual(['Success']);
    }
    expect(services.alarmList).toEqual([]);
    clock.now = t0 + 10_500;
    const msg = telemetryAt(t0 + 10_500, { temperature: 36 });
    const out = await node.process(msg, testNodeContext());
    expect(relationsOf(out)).toEqual(['Alarm Created', 'Success']);
    expect(out[1]!.msg).toBe(msg);
    const alarmMsg = out[0]!.msg;
    expect(alarmMsg.type).toBe('ALARM');
    expect(alarmMsg.originator).toEqual(DEVICE);
    expect(alarmMsg.metadata).toMatchObject({ isNewAlarm: 'true', deviceName: 'thermo-1', alarmConditionDuration: '10500' });
    expect(alarmMsg.data).toMatchObject({ type: 'High Temperature', severity: 'CRITICAL', status: 'ACTIVE_UNACK', originator: DEVICE });
    expect(services.alarmList).toHaveLength(1);
    // The alarm starts at the time of the data that raised it.
    expect(services.alarmList[0]).toMatchObject({ type: 'High Temperature', severity: 'CRITICAL', cleared: false, startTs: t0 + 10_500 });

    // Still hot: the same alarm is updated.
    expect(relationsOf(await node.process(telemetryAt(t0 + 12_000, { temperature: 37 }), testNodeContext()))).toEqual(['Alarm Updated', 'Success']);
    expect(services.alarmList).toHaveLength(1);

    clock.now = t0 + 13_000;
    const cleared = await node.process(telemetryAt(t0 + 13_000, { temperature: 25 }), testNodeContext());
    expect(relationsOf(cleared)).toEqual(['Alarm Cleared', 'Success']);
    expect(cleared[0]!.msg.metadata.isClearedAlarm).toBe('true');
    expect(services.alarmList[0]).toMatchObject({ cleared: true, clearTs: t0 + 13_000 });
    // Cool and no alarm: nothing to clear.
    expect(relationsOf(await node.process(telemetryAt(t0 + 14_000, { temperature: 20 }), testNodeContext()))).toEqual(['Success']);
  });

  it('a DURATION interrupted by a value that does not hold starts again', async () => {
    const { services, node, clock } = setup();
    const t0 = clock.now;
    await node.process(telemetryAt(t0, { temperature: 35 }), testNodeContext());
    await node.process(telemetryAt(t0 + 8_000, { temperature: 29 }), testNodeContext());
    await node.process(telemetryAt(t0 + 9_000, { temperature: 35 }), testNodeContext());
    expect(relationsOf(await node.process(telemetryAt(t0 + 15_000, { temperature: 35 }), testNodeContext()))).toEqual(['Success']);
    expect(services.alarmList).toEqual([]);
    expect(relationsOf(await node.process(telemetryAt(t0 + 19_001, { temperature: 35 }), testNodeContext()))).toEqual(['Alarm Created', 'Success']);
  });

  it('the harvest raises a DURATION alarm without a new message once a minute (ThingsBoard\'s periodic check), through ctx.emit', async () => {
    vi.useFakeTimers();
    const { services, node, clock } = setup();
    active = node;
    const ctx = testNodeContext('device profile', { tenantId: TENANT });
    node.start!(ctx);
    await node.process(telemetryAt(clock.now, { temperature: 35 }), ctx);
    clock.now += 5_000;
    await vi.advanceTimersByTimeAsync(HARVEST_PERIOD_MS);
    expect(ctx.emitted).toEqual([]);
    clock.now += 10_000;
    await vi.advanceTimersByTimeAsync(HARVEST_PERIOD_MS);
    expect(relationsOf(ctx.emitted)).toEqual(['Alarm Created']);
    expect(ctx.emitted[0]!.msg.metadata).toMatchObject({ isNewAlarm: 'true', deviceName: 'thermo-1' });
    expect(services.alarmList).toHaveLength(1);
    // destroy() stops the harvest.
    await node.destroy!();
    active = undefined;
    clock.now += 60_000;
    await vi.advanceTimersByTimeAsync(HARVEST_PERIOD_MS * 2);
    expect(ctx.emitted).toHaveLength(1);
  });

  it('SIMPLE rules of several severities: the most severe that holds; "Alarm Severity Updated" up, no update down', async () => {
    const profile: JsonObject = {
      alarms: [
        {
          id: 'temp',
          alarmType: 'Temperature',
          createRules: {
            WARNING: { condition: { condition: [cond('temperature', num('GREATER', 30))], spec: { type: 'SIMPLE' } } },
            CRITICAL: { condition: { condition: [cond('temperature', num('GREATER', 50))], spec: { type: 'SIMPLE' } } },
          },
          clearRule: null,
        },
      ],
    };
    const { services, node, clock } = setup(profile);
    const t = clock.now;
    expect(relationsOf(await node.process(telemetryAt(t, { temperature: 35 }), testNodeContext()))).toEqual(['Alarm Created', 'Success']);
    expect(services.alarmList[0]!.severity).toBe('WARNING');
    const up = await node.process(telemetryAt(t + 1, { temperature: 55 }), testNodeContext());
    expect(relationsOf(up)).toEqual(['Alarm Severity Updated', 'Success']);
    expect(up[0]!.msg.metadata).toMatchObject({ isExistingAlarm: 'true', isSeverityUpdated: 'true' });
    expect(services.alarmList[0]!.severity).toBe('CRITICAL');
    // Back to WARNING territory: ThingsBoard does not lower an alarm's severity.
    expect(relationsOf(await node.process(telemetryAt(t + 2, { temperature: 35 }), testNodeContext()))).toEqual(['Success']);
    expect(services.alarmList[0]!.severity).toBe('CRITICAL');
    // Without a clear rule the alarm stays.
    expect(relationsOf(await node.process(telemetryAt(t + 3, { temperature: 0 }), testNodeContext()))).toEqual(['Success']);
    expect(services.alarmList[0]!.cleared).toBe(false);
  });

  it('REPEATING: the alarm on the third reading in a row; the count is in the metadata', async () => {
    const { node, clock } = setup(thermostat({ type: 'REPEATING', predicate: { defaultValue: 3 } }));
    const outs = [];
    for (let i = 0; i < 3; i++) outs.push(relationsOf(await node.process(telemetryAt(clock.now + i, { temperature: 40 }), testNodeContext())));
    expect(outs).toEqual([['Success'], ['Success'], ['Alarm Created', 'Success']]);
  });

  it('evaluates only when a key the rule reads arrives, once per timestamp oldest first (ThingsBoard\'s sorted telemetry)', async () => {
    const { services, node, clock } = setup(thermostat({ type: 'SIMPLE' }));
    expect(relationsOf(await node.process(telemetryAt(clock.now, { humidity: 80 }), testNodeContext()))).toEqual(['Success']);
    // Two readings in one message: hot first, then cool: created and cleared in that order.
    const out = await node.process(
      createMsg({ type: 'POST_TELEMETRY_REQUEST', originator: DEVICE, tenantId: TENANT, data: [{ ts: clock.now + 2, values: { temperature: 20 } }, { ts: clock.now + 1, values: { temperature: 40 } }], metadata: {} }),
      testNodeContext(),
    );
    expect(relationsOf(out)).toEqual(['Alarm Created', 'Alarm Cleared', 'Success']);
    expect(services.alarmList).toHaveLength(1);
  });

  it('reads the latest stored values once when a device\'s state starts (a rule over a telemetry key and a server attribute)', async () => {
    const profile: JsonObject = {
      alarms: [
        {
          id: 'a',
          alarmType: 'Hot while on',
          createRules: {
            MAJOR: {
              condition: {
                condition: [cond('temperature', num('GREATER', 30)), { key: { type: 'SERVER_ATTRIBUTE', key: 'mode' }, valueType: 'STRING', predicate: { type: 'STRING', operation: 'EQUAL', value: { defaultValue: 'on' } } }],
              },
            },
          },
        },
      ],
    };
    const { services, node, clock } = setup(profile);
    await services.attributes.save([{ entityId: DEVICE.id, scope: 'SERVER_SCOPE', key: 'mode', value: 'on', lastUpdateTs: 1 }]);
    await services.timeseries.save([{ entityId: DEVICE.id, key: 'temperature', ts: clock.now - 1000, value: 20 }]);
    const find = vi.spyOn(services.attributes, 'find');
    expect(relationsOf(await node.process(telemetryAt(clock.now, { temperature: 35 }), testNodeContext()))).toEqual(['Alarm Created', 'Success']);
    await node.process(telemetryAt(clock.now + 1, { temperature: 36 }), testNodeContext());
    expect(find).toHaveBeenCalledTimes(1);
    // The attribute changes by a message: an attribute alone does not evaluate a rule that reads telemetry...
    const off = createMsg({ type: 'ATTRIBUTES_UPDATED', originator: DEVICE, tenantId: TENANT, data: { mode: 'off' }, metadata: { scope: 'SERVER_SCOPE' } });
    expect(relationsOf(await node.process(off, testNodeContext()))).toEqual(['Success']);
    // ...the next telemetry sees it: no longer holds (and there is no clear rule: the alarm stays).
    expect(relationsOf(await node.process(telemetryAt(clock.now + 2, { temperature: 37 }), testNodeContext()))).toEqual(['Success']);
  });

  it('a rule over client attributes alone evaluates on POST_ATTRIBUTES_REQUEST; a dynamic threshold comes from the device\'s attribute', async () => {
    const profile: JsonObject = {
      alarms: [
        {
          id: 'battery',
          alarmType: 'Low Battery',
          createRules: { WARNING: { condition: { condition: [cond('battery', num('LESS', 20, { sourceType: 'CURRENT_DEVICE', sourceAttribute: 'batteryLimit', inherit: false }), 'ATTRIBUTE')] }, alarmDetails: 'Battery at ${battery}%' } },
          clearRule: { condition: { condition: [cond('battery', num('GREATER_OR_EQUAL', 20), 'CLIENT_ATTRIBUTE')] } },
        },
      ],
    };
    const { services, node } = setup(profile);
    await services.attributes.save([{ entityId: DEVICE.id, scope: 'SHARED_SCOPE', key: 'batteryLimit', value: 50, lastUpdateTs: 1 }]);
    const attrs = (data: JsonObject) => createMsg({ type: 'POST_ATTRIBUTES_REQUEST', originator: DEVICE, tenantId: TENANT, data, metadata: {} });
    const out = await node.process(attrs({ battery: 40 }), testNodeContext());
    expect(relationsOf(out)).toEqual(['Alarm Created', 'Success']);
    expect(services.alarmList[0]!.details).toEqual({ data: 'Battery at 40%' });
    // 40 is under the device's limit (50), not under the default 20. The clear rule reads 'battery' as a client attribute.
    expect(relationsOf(await node.process(attrs({ battery: 60 }), testNodeContext()))).toEqual(['Alarm Cleared', 'Success']);
    expect(services.alarmList[0]!.cleared).toBe(true);
  });

  it('a dynamic value from the tenant\'s server attribute, refreshed when the tenant\'s attribute changes', async () => {
    const profile = thermostat({ type: 'SIMPLE' });
    ((profile.alarms as JsonObject[])[0]!.createRules as JsonObject).CRITICAL = {
      condition: { condition: [cond('temperature', num('GREATER', 30, { sourceType: 'CURRENT_TENANT', sourceAttribute: 'maxTemp' }))] },
    };
    const { services, node, clock } = setup(profile);
    await services.attributes.save([{ entityId: TENANT, scope: 'SERVER_SCOPE', key: 'maxTemp', value: 50, lastUpdateTs: 1 }]);
    expect(relationsOf(await node.process(telemetryAt(clock.now, { temperature: 40 }), testNodeContext()))).toEqual(['Success']);
    const tenantAttrs = createMsg({ type: 'ATTRIBUTES_UPDATED', originator: { entityType: 'TENANT', id: TENANT }, tenantId: TENANT, data: { maxTemp: 35 }, metadata: { scope: 'SERVER_SCOPE' } });
    expect(relationsOf(await node.process(tenantAttrs, testNodeContext()))).toEqual(['Success']);
    expect(relationsOf(await node.process(telemetryAt(clock.now + 1, { temperature: 40 }), testNodeContext()))).toEqual(['Alarm Created', 'Success']);
  });

  it("a dynamic value from the device's customer; inherit falls through device -> customer -> tenant; customer changes and reassignment apply", async () => {
    const profile = thermostat({ type: 'SIMPLE' });
    const rules = (profile.alarms as JsonObject[])[0]!;
    (rules.createRules as JsonObject).CRITICAL = {
      condition: { condition: [cond('temperature', num('GREATER', 30, { sourceType: 'CURRENT_DEVICE', sourceAttribute: 'maxTemp', inherit: true }))] },
    };
    rules.clearRule = { condition: { condition: [cond('temperature', num('LESS_OR_EQUAL', 30, { sourceType: 'CURRENT_CUSTOMER', sourceAttribute: 'maxTemp', inherit: true }))] } };
    const { services, node, clock } = setup(profile);
    const CUSTOMER_A = '00000000-0000-4000-8000-0000000000ca';
    const CUSTOMER_B = '00000000-0000-4000-8000-0000000000cb';
    services.addDevice({ id: DEVICE.id, customerId: CUSTOMER_A });
    await services.attributes.save([
      { entityId: CUSTOMER_A, scope: 'SERVER_SCOPE', key: 'maxTemp', value: 50, lastUpdateTs: 1 },
      { entityId: CUSTOMER_B, scope: 'SERVER_SCOPE', key: 'maxTemp', value: 35, lastUpdateTs: 1 },
      { entityId: TENANT, scope: 'SERVER_SCOPE', key: 'maxTemp', value: 20, lastUpdateTs: 1 },
    ]);
    let t = clock.now;
    const temp = (v: number) => node.process(telemetryAt(++t, { temperature: v }), testNodeContext());
    // The device has no maxTemp: its customer's 50 applies (not the tenant's 20, not the default 30).
    expect(relationsOf(await temp(45))).toEqual(['Success']);
    expect(relationsOf(await temp(55))).toEqual(['Alarm Created', 'Success']);
    // The customer's value changes (its ATTRIBUTES_UPDATED): 55 is now under the customer's 60, the clear rule holds.
    const customerAttrs = (id: string, data: JsonObject) => createMsg({ type: 'ATTRIBUTES_UPDATED', originator: { entityType: 'CUSTOMER', id }, tenantId: TENANT, data, metadata: { scope: 'SERVER_SCOPE' } });
    expect(relationsOf(await node.process(customerAttrs(CUSTOMER_A, { maxTemp: 60 }), testNodeContext()))).toEqual(['Success']);
    // Another customer's change is not this device's.
    expect(relationsOf(await node.process(customerAttrs(CUSTOMER_B, { maxTemp: 10 }), testNodeContext()))).toEqual(['Success']);
    expect(relationsOf(await temp(55))).toEqual(['Alarm Cleared', 'Success']);
    // Reassigned to customer B (35): read again with the next message.
    services.addDevice({ id: DEVICE.id, customerId: CUSTOMER_B });
    await services.attributes.save([{ entityId: CUSTOMER_B, scope: 'SERVER_SCOPE', key: 'maxTemp', value: 35, lastUpdateTs: 2 }]);
    expect(relationsOf(await node.process(createMsg({ type: 'ENTITY_ASSIGNED', originator: DEVICE, tenantId: TENANT, data: {}, metadata: {} }), testNodeContext()))).toEqual(['Success']);
    expect(relationsOf(await temp(40))).toEqual(['Alarm Created', 'Success']);
    // Unassigned: no customer value, the tenant's 20 (inherit).
    services.addDevice({ id: DEVICE.id, customerId: null });
    await node.process(createMsg({ type: 'ENTITY_UNASSIGNED', originator: DEVICE, tenantId: TENANT, data: {}, metadata: {} }), testNodeContext());
    expect(relationsOf(await temp(25))).toEqual(['Alarm Updated', 'Success']);
    expect(relationsOf(await temp(15))).toEqual(['Alarm Cleared', 'Success']);
    // The device's own attribute comes first.
    await node.process(createMsg({ type: 'ATTRIBUTES_UPDATED', originator: DEVICE, tenantId: TENANT, data: { maxTemp: 90 }, metadata: { scope: 'SERVER_SCOPE' } }), testNodeContext());
    expect(relationsOf(await temp(80))).toEqual(['Success']);
    expect(relationsOf(await temp(95))).toEqual(['Alarm Created', 'Success']);
  });

  it("ENTITY_FIELD keys read the device's fields (through the devices capability), once per device state", async () => {
    const profile: JsonObject = {
      alarms: [
        {
          id: 'a',
          alarmType: 'Hot boiler',
          createRules: {
            MAJOR: {
              condition: {
                condition: [cond('temperature', num('GREATER', 30)), { key: { type: 'ENTITY_FIELD', key: 'type' }, valueType: 'STRING', predicate: { type: 'STRING', operation: 'STARTS_WITH', value: { defaultValue: 'boiler' } } }],
              },
            },
          },
        },
      ],
    };
    const { services, profiles, node, clock } = setup(profile);
    profiles.setProfile(DEVICE2.id, profile);
    services.addDevice({ id: DEVICE.id, type: 'boiler-x1' });
    services.addDevice({ id: DEVICE2.id, type: 'fridge' });
    expect(relationsOf(await node.process(telemetryAt(clock.now, { temperature: 40 }), testNodeContext()))).toEqual(['Alarm Created', 'Success']);
    expect(relationsOf(await node.process(telemetryAt(clock.now, { temperature: 40 }, DEVICE2), testNodeContext()))).toEqual(['Success']);
    // Without device lookups such a profile cannot be evaluated: the message fails saying so.
    const { devices: _, ...withoutDevices } = services;
    const bare = deviceProfileNode.create(deviceProfileNode.configSchema.parse({}), withoutDevices);
    await expect(bare.process(telemetryAt(clock.now, { temperature: 40 }), testNodeContext())).rejects.toThrow(/reads device fields \(ENTITY_FIELD\) or its customer's attributes, and this server provides no device lookups/);
  });

  it('a profile Rivulet cannot evaluate fails the message with an error naming the profile and the field (not ignored)', async () => {
    const profile = thermostat({ type: 'SIMPLE' });
    ((profile.alarms as JsonObject[])[0]!.createRules as JsonObject).CRITICAL = {
      condition: { condition: [cond('firmware', { type: 'STRING', operation: 'EQUAL', value: { defaultValue: 'x' } }, 'ENTITY_FIELD')] },
    };
    const { services, node, clock } = setup(profile);
    const run = () => node.process(telemetryAt(clock.now, { temperature: 40 }), testNodeContext());
    await expect(run()).rejects.toThrow(/Device profile "thermostat": profileData\.alarms\[0\]\.createRules\.CRITICAL.*the device field "firmware" is not supported/);
    await expect(run()).rejects.toThrow(/firmware/);
    expect(services.alarmList).toEqual([]);
  });

  it('bad telemetry data fails the message; the device\'s state goes on with the next one', async () => {
    const { node, clock } = setup(thermostat({ type: 'SIMPLE' }));
    await expect(node.process(telemetryAt(clock.now, 'hot'), testNodeContext())).rejects.toThrow(/Telemetry message data must be an object/);
    await expect(node.process(createMsg({ type: 'POST_ATTRIBUTES_REQUEST', originator: DEVICE, tenantId: TENANT, data: [1], metadata: {} }), testNodeContext())).rejects.toThrow(/must be a JSON object/);
    expect(relationsOf(await node.process(telemetryAt(clock.now, { temperature: 40 }), testNodeContext()))).toEqual(['Alarm Created', 'Success']);
  });

  it('a failed alarm write fails the message (Failure), the next message raises the alarm', async () => {
    const { services, node, clock } = setup(thermostat({ type: 'SIMPLE' }));
    services.failNext('alarms', new Error('alarm table locked'));
    await expect(node.process(telemetryAt(clock.now, { temperature: 40 }), testNodeContext())).rejects.toThrow(/alarm table locked/);
    expect(relationsOf(await node.process(telemetryAt(clock.now + 1, { temperature: 41 }), testNodeContext()))).toEqual(['Alarm Created', 'Success']);
  });

  it('other originators and message types pass by Success; a device without a profile (gone) is acknowledged without routes', async () => {
    const { profiles, node } = setup();
    const other = createMsg({ type: 'POST_TELEMETRY_REQUEST', originator: { entityType: 'CUSTOMER', id: 'customer-1' }, tenantId: TENANT, data: { temperature: 99 }, metadata: {} });
    expect(relationsOf(await node.process(other, testNodeContext()))).toEqual(['Success']);
    const connect = createMsg({ type: 'CONNECT_EVENT', originator: DEVICE, tenantId: TENANT, data: {}, metadata: {} });
    expect(relationsOf(await node.process(connect, testNodeContext()))).toEqual(['Success']);
    // Messages the rules do not look at need no profile.
    expect(profiles.calls()).toBe(0);
    expect(await node.process(telemetryAt(1, { temperature: 40 }, DEVICE2), testNodeContext())).toEqual([]);
    expect(profiles.calls()).toBe(1);
  });

  it('an alarm the active one of an earlier run is updated, not created again; a user\'s clear (ALARM_CLEAR) lets the next hot reading create a new one', async () => {
    const { services, node, clock } = setup(thermostat({ type: 'SIMPLE' }));
    await services.alarms!.createOrUpdate({ tenantId: TENANT, type: 'High Temperature', originatorType: 'DEVICE', originatorId: DEVICE.id, severity: 'CRITICAL', ts: 1 });
    expect(relationsOf(await node.process(telemetryAt(clock.now, { temperature: 40 }), testNodeContext()))).toEqual(['Alarm Updated', 'Success']);
    const id = services.alarmList[0]!.id;
    await services.alarms!.clear(TENANT, id, clock.now, null);
    const clearEvent = createMsg({ type: 'ALARM_CLEAR', originator: DEVICE, tenantId: TENANT, data: { id: { entityType: 'ALARM', id }, type: 'High Temperature' }, metadata: {} });
    expect(relationsOf(await node.process(clearEvent, testNodeContext()))).toEqual(['Success']);
    expect(relationsOf(await node.process(telemetryAt(clock.now + 1, { temperature: 40 }), testNodeContext()))).toEqual(['Alarm Created', 'Success']);
    expect(services.alarmList).toHaveLength(2);
  });

  it('a changed profile (a new object from the lookup) restarts the device\'s state under the new rules', async () => {
    const { services, profiles, node, clock } = setup(thermostat({ type: 'SIMPLE' }));
    expect(relationsOf(await node.process(telemetryAt(clock.now, { temperature: 25 }), testNodeContext()))).toEqual(['Success']);
    const stricter = thermostat({ type: 'SIMPLE' });
    ((stricter.alarms as JsonObject[])[0]!.createRules as JsonObject).CRITICAL = { condition: { condition: [cond('temperature', num('GREATER', 20))] } };
    profiles.setProfile(DEVICE.id, stricter);
    expect(relationsOf(await node.process(telemetryAt(clock.now + 1, { temperature: 25 }), testNodeContext()))).toEqual(['Alarm Created', 'Success']);
    // The same rules in a new object: the state (and its alarm) carries on.
    profiles.setProfile(DEVICE.id, stricter);
    expect(relationsOf(await node.process(telemetryAt(clock.now + 2, { temperature: 26 }), testNodeContext()))).toEqual(['Alarm Updated', 'Success']);
    expect(services.alarmList).toHaveLength(1);
  });

  it('messages of one device are evaluated one at a time, in order, even when they arrive together', async () => {
    const { services, node, clock } = setup(thermostat({ type: 'SIMPLE' }));
    const outs = await Promise.all([40, 20, 41, 19].map((temperature, i) => node.process(telemetryAt(clock.now + i, { temperature }), testNodeContext())));
    expect(outs.map(relationsOf)).toEqual([
      ['Alarm Created', 'Success'],
      ['Alarm Cleared', 'Success'],
      ['Alarm Created', 'Success'],
      ['Alarm Cleared', 'Success'],
    ]);
    expect(services.alarmList.map((a) => a.cleared)).toEqual([true, true]);
  });
});

describe('device profile node: capability', () => {
  it('a chain with the node is refused where the deployment offers no device profiles', () => {
    const registry = createNodeRegistry([deviceProfileNode]);
    const chain = validateRuleChain(
      { ruleChain: { name: 'Root' }, metadata: { firstNodeIndex: 0, nodes: [{ type: 'org.thingsboard.rule.engine.profile.TbDeviceProfileNode', name: 'Device Profile Node', configuration: { persistAlarmRulesState: false } }], connections: [] } },
      registry,
    );
    const { deviceProfiles: _, ...without } = createRecordingServices();
    expect(() => checkChainCapabilities(chain, without)).toThrow(/needs device profiles, which this deployment does not provide \('deviceProfiles' capability\)/);
    expect(() => checkChainCapabilities(chain, { ...createRecordingServices(), deviceProfiles: profileLookupDouble().lookup })).not.toThrow();
  });

  it('tenant-bound: another tenant\'s device (or tenant id) is refused before the lookup', async () => {
    const profiles = profileLookupDouble();
    profiles.setProfile('dev-a', thermostat());
    const bound = bindServicesToTenant(createRecordingServices({ deviceProfiles: profiles.lookup }), { tenantId: 'tenant-b', ownership: { owns: async (t, id) => t === 'tenant-a' && id === 'dev-a' } });
    await expect(bound.deviceProfiles!.getForDevice('tenant-b', 'dev-a')).rejects.toThrow(/does not belong to this tenant/);
    await expect(bound.deviceProfiles!.getForDevice('tenant-a', 'dev-a')).rejects.toThrow(/is not this chain's tenant/);
    expect(profiles.calls()).toBe(0);
  });
});
