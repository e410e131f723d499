import { createMsg, MsgType, silentLogger, type Msg } from '@rivulet/core';
import { compileRuleChain, createNodeRegistry, validateRuleChain } from '@rivulet/rule-engine';
import { createRecordingServices, testNodeContext } from '@rivulet/rule-engine/testing';
import { describe, expect, it } from 'vitest';
import { builtinNodes, defaultRootChain, logNode, msgTypeSwitchNode, saveAttributesNode, saveTimeseriesNode } from './index';

const device = { entityType: 'DEVICE' as const, id: '7d6c1e2a-0000-4000-8000-000000000001' };
const msg = (type: string, data: Msg['data'], metadata: Record<string, string> = {}) => createMsg({ type, originator: device, tenantId: 't1', data, metadata, ts: 1000 });

describe('message type switch', () => {
  const node = msgTypeSwitchNode.create(msgTypeSwitchNode.configSchema.parse({}), createRecordingServices());
  it('routes known types by ThingsBoard relation names and the rest to Other', async () => {
    const rel = async (type: string) => (await node.process(msg(type, {}), testNodeContext()))[0]?.relation;
    expect(await rel(MsgType.POST_TELEMETRY_REQUEST)).toBe('Post telemetry');
    expect(await rel(MsgType.POST_ATTRIBUTES_REQUEST)).toBe('Post attributes');
    expect(await rel(MsgType.TO_SERVER_RPC_REQUEST)).toBe('RPC Request from Device');
    expect(await rel('CUSTOM')).toBe('Other');
  });
});

describe('save time series', () => {
  it('stores every key at metadata.ts and routes Success', async () => {
    const services = createRecordingServices();
    const node = saveTimeseriesNode.create(saveTimeseriesNode.configSchema.parse({}), services);
    const routes = await node.process(msg(MsgType.POST_TELEMETRY_REQUEST, { t: 21.5, on: true, s: 'x', j: { a: 1 } }, { ts: '5000' }), testNodeContext());
    expect(routes.map((r) => r.relation)).toEqual(['Success']);
    expect(services.points).toEqual([
      { entityId: device.id, key: 't', ts: 5000, value: 21.5 },
      { entityId: device.id, key: 'on', ts: 5000, value: true },
      { entityId: device.id, key: 's', ts: 5000, value: 'x' },
      { entityId: device.id, key: 'j', ts: 5000, value: { a: 1 } },
    ]);
  });
  it('accepts ThingsBoard\'s {ts, values} array form in data', async () => {
    const services = createRecordingServices();
    const node = saveTimeseriesNode.create(saveTimeseriesNode.configSchema.parse({}), services);
    await node.process(msg(MsgType.POST_TELEMETRY_REQUEST, [{ ts: 1, values: { a: 1 } }, { ts: 2, values: { a: 2 } }]), testNodeContext());
    expect(services.points.map((p) => [p.ts, p.value])).toEqual([[1, 1], [2, 2]]);
  });
  it('stores the keys Msg.doubles names as doubles (1.0), after a trip through the wire form too', async () => {
    const services = createRecordingServices();
    const node = saveTimeseriesNode.create(saveTimeseriesNode.configSchema.parse({}), services);
    const m = createMsg({ type: MsgType.POST_TELEMETRY_REQUEST, originator: device, tenantId: 't1', data: { t: 1, n: 1, s: 'x' }, metadata: { ts: '5000' }, doubles: ['t', 's'] });
    await node.process(JSON.parse(JSON.stringify(m)) as Msg, testNodeContext());
    await node.process(msg(MsgType.POST_TELEMETRY_REQUEST, [{ ts: 1, values: { t: 2 } }]), testNodeContext());
    expect(services.points).toEqual([
      { entityId: device.id, key: 't', ts: 5000, value: 1, double: true },
      { entityId: device.id, key: 'n', ts: 5000, value: 1 },
      { entityId: device.id, key: 's', ts: 5000, value: 'x' },
      { entityId: device.id, key: 't', ts: 1, value: 2 },
    ]);
  });
  it('useServerTs stamps points with now', async () => {
    const services = createRecordingServices({ now: 42 });
    const node = saveTimeseriesNode.create(saveTimeseriesNode.configSchema.parse({ useServerTs: true }), services);
    await node.process(msg(MsgType.POST_TELEMETRY_REQUEST, { a: 1 }, { ts: '5000' }), testNodeContext());
    expect(services.points[0]?.ts).toBe(42);
  });
  it('throws (-> Failure) on a storage error and on other message types', async () => {
    const services = createRecordingServices();
    const node = saveTimeseriesNode.create(saveTimeseriesNode.configSchema.parse({}), services);
    services.failNext('timeseries', new Error('db down'));
    await expect(node.process(msg(MsgType.POST_TELEMETRY_REQUEST, { a: 1 }), testNodeContext())).rejects.toThrow('db down');
    await expect(node.process(msg(MsgType.POST_ATTRIBUTES_REQUEST, { a: 1 }), testNodeContext())).rejects.toThrow(/Unsupported message type/);
  });
});

describe('save attributes', () => {
  it('stores into the configured scope', async () => {
    const services = createRecordingServices({ now: 7 });
    const node = saveAttributesNode.create(saveAttributesNode.configSchema.parse({ scope: 'SHARED_SCOPE' }), services);
    const routes = await node.process(msg(MsgType.POST_ATTRIBUTES_REQUEST, { fw: '1.0', n: 3 }), testNodeContext());
    expect(routes[0]?.relation).toBe('Success');
    expect(services.attributeWrites).toEqual([
      { entityId: device.id, scope: 'SHARED_SCOPE', key: 'fw', value: '1.0', lastUpdateTs: 7 },
      { entityId: device.id, scope: 'SHARED_SCOPE', key: 'n', value: 3, lastUpdateTs: 7 },
    ]);
  });
  it('stores the keys Msg.doubles names as doubles (1.0)', async () => {
    const services = createRecordingServices({ now: 7 });
    const node = saveAttributesNode.create(saveAttributesNode.configSchema.parse({ scope: 'SHARED_SCOPE' }), services);
    await node.process(createMsg({ type: MsgType.POST_ATTRIBUTES_REQUEST, originator: device, tenantId: 't1', data: { t: 1, n: 1 }, doubles: ['t'] }), testNodeContext());
    expect(services.attributeWrites).toEqual([
      { entityId: device.id, scope: 'SHARED_SCOPE', key: 't', value: 1, lastUpdateTs: 7, double: true },
      { entityId: device.id, scope: 'SHARED_SCOPE', key: 'n', value: 1, lastUpdateTs: 7 },
    ]);
  });
  it('defaults to CLIENT_SCOPE and rejects non-object data', async () => {
    const services = createRecordingServices();
    const node = saveAttributesNode.create(saveAttributesNode.configSchema.parse({}), services);
    await node.process(msg(MsgType.POST_ATTRIBUTES_REQUEST, { a: 1 }), testNodeContext());
    expect(services.attributeWrites[0]?.scope).toBe('CLIENT_SCOPE');
    await expect(node.process(msg(MsgType.POST_ATTRIBUTES_REQUEST, [1, 2]), testNodeContext())).rejects.toThrow(/JSON object/);
  });
});

describe('log', () => {
  it('routes Success', async () => {
    const node = logNode.create(logNode.configSchema.parse({}), createRecordingServices());
    expect((await node.process(msg('X', {}), testNodeContext()))[0]?.relation).toBe('Success');
  });
});

describe('default root chain (fixture-level)', () => {
  const registry = createNodeRegistry(builtinNodes);
  it('validates, and a telemetry message ends as stored points, attributes as attributes', async () => {
    const services = createRecordingServices();
    const chain = compileRuleChain({ id: 'root', chain: validateRuleChain(defaultRootChain(), registry), services, logger: silentLogger });
    expect(await chain.run(msg(MsgType.POST_TELEMETRY_REQUEST, { temperature: 25 }, { ts: '100' }))).toEqual({ ok: true });
    expect(await chain.run(msg(MsgType.POST_ATTRIBUTES_REQUEST, { fw: 'v1' }))).toEqual({ ok: true });
    expect(await chain.run(msg('SOMETHING_ELSE', {}))).toEqual({ ok: true });
    expect(services.points).toEqual([{ entityId: device.id, key: 'temperature', ts: 100, value: 25 }]);
    expect(services.attributeWrites.map((a) => [a.scope, a.key, a.value])).toEqual([['CLIENT_SCOPE', 'fw', 'v1']]);
  });
  it("starts with the device profile node, as ThingsBoard's: a device whose profile has an alarm rule gets its alarm, and its telemetry is still stored", async () => {
    const profileData = {
      alarms: [
        {
          id: 'hot',
          alarmType: 'Too hot',
          createRules: { MAJOR: { condition: { condition: [{ key: { type: 'TIME_SERIES', key: 'temperature' }, valueType: 'NUMERIC', predicate: { type: 'NUMERIC', operation: 'GREATER', value: { defaultValue: 30 } } }] } } },
        },
      ],
    };
    const services = createRecordingServices({ deviceProfiles: { getForDevice: async () => ({ id: 'p', name: 'boiler', profileData }) } });
    const chain = compileRuleChain({ id: 'root', chain: validateRuleChain(defaultRootChain(), registry), services, logger: silentLogger });
    expect(await chain.run(msg(MsgType.POST_TELEMETRY_REQUEST, { temperature: 45 }, { ts: '100' }))).toEqual({ ok: true });
    expect(services.alarmList).toMatchObject([{ type: 'Too hot', severity: 'MAJOR', cleared: false }]);
    expect(services.points).toEqual([{ entityId: device.id, key: 'temperature', ts: 100, value: 45 }]);
    await chain.destroy();
  });
  it('a storage failure fails the message (no Failure link in the default chain)', async () => {
    const services = createRecordingServices();
    const chain = compileRuleChain({ id: 'root', chain: validateRuleChain(defaultRootChain(), registry), services, logger: silentLogger });
    services.failNext('timeseries', new Error('db down'));
    const out = await chain.run(msg(MsgType.POST_TELEMETRY_REQUEST, { temperature: 25 }));
    expect(out.ok).toBe(false);
    expect(out.error).toMatch(/Save Timeseries.*db down/);
  });
  it('imports the same chain written with ThingsBoard class names', () => {
    const tb = defaultRootChain();
    const names: Record<string, string> = {
      'rivulet.filter.msgTypeSwitch': 'org.thingsboard.rule.engine.filter.TbMsgTypeSwitchNode',
      'rivulet.action.saveTimeseries': 'org.thingsboard.rule.engine.telemetry.TbMsgTimeseriesNode',
      'rivulet.action.saveAttributes': 'org.thingsboard.rule.engine.telemetry.TbMsgAttributesNode',
      'rivulet.action.log': 'org.thingsboard.rule.engine.action.TbLogNode',
      'rivulet.action.rpcCallRequest': 'org.thingsboard.rule.engine.rpc.TbSendRPCRequestNode',
      'rivulet.action.deviceProfile': 'org.thingsboard.rule.engine.profile.TbDeviceProfileNode',
    };
    for (const n of tb.metadata.nodes) n.type = names[n.type]!;
    expect(validateRuleChain(tb, registry).nodes).toHaveLength(7);
  });
});
