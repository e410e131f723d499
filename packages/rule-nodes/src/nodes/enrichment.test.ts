import { createMsg, MsgType } from '@rivulet/core';
import { createRecordingServices } from '@rivulet/rule-engine/testing';
import { describe, expect, it } from 'vitest';
import { build, DEVICE, relationsOf, run, telemetry, TENANT, tmsg } from '../test-kit';
import { calculateDeltaNode } from './calculate-delta.node.js';
import { originatorAttributesNode } from './originator-attributes.node.js';
import { originatorFieldsNode } from './originator-fields.node.js';
import { originatorTelemetryNode } from './originator-telemetry.node.js';
import { tenantAttributesNode } from './tenant-attributes.node.js';

function seeded() {
  const s = createRecordingServices({ now: 10_000 });
  const attr = (scope: 'CLIENT_SCOPE' | 'SHARED_SCOPE' | 'SERVER_SCOPE', key: string, value: number | string | boolean, entityId = DEVICE.id) =>
    s.attributeWrites.push({ entityId, scope, key, value, lastUpdateTs: 1 });
  attr('CLIENT_SCOPE', 'fw', '1.2');
  attr('SHARED_SCOPE', 'interval', 30);
  attr('SERVER_SCOPE', 'limit', 50);
  attr('SERVER_SCOPE', 'threshold', 42, TENANT);
  s.points.push({ entityId: DEVICE.id, key: 'temperature', ts: 100, value: 21 }, { entityId: DEVICE.id, key: 'temperature', ts: 200, value: 23 }, { entityId: DEVICE.id, key: 'humidity', ts: 150, value: 60 });
  s.points.push({ entityId: TENANT, key: 'load', ts: 1, value: 0.5 });
  return s;
}

describe('originator attributes', () => {
  it('adds scoped attributes with ThingsBoard prefixes and latest telemetry to the metadata', async () => {
    const node = build(originatorAttributesNode, { clientAttributeNames: ['fw'], sharedAttributeNames: ['interval'], serverAttributeNames: ['limit'], latestTsKeyNames: ['temperature'] }, seeded());
    const [r] = await run(node, telemetry({ a: 1 }, { keep: 'me' }));
    expect(r!.relation).toBe('Success');
    expect(r!.msg.metadata).toEqual({ keep: 'me', cs_fw: '1.2', shared_interval: '30', ss_limit: '50', temperature: '23' });
  });
  it('fetches to the data (typed), old fetchToData flag too, with values and ts', async () => {
    const node = build(originatorAttributesNode, { serverAttributeNames: ['limit'], latestTsKeyNames: ['temperature'], fetchToData: true, getLatestValueWithTs: true }, seeded());
    const [r] = await run(node, telemetry({ a: 1 }));
    expect(r!.msg.data).toEqual({ a: 1, ss_limit: 50, temperature: { ts: 200, value: 23 } });
  });
  it('a double of integral value (stored 1.0): "1.0" in the metadata, a double in the data, the message\'s own marks kept', async () => {
    const services = seeded();
    services.attributeWrites.push({ entityId: DEVICE.id, scope: 'SERVER_SCOPE', key: 'gain', value: 2, lastUpdateTs: 1, double: true });
    const toMeta = build(originatorAttributesNode, { serverAttributeNames: ['gain', 'limit'] }, services);
    const [m] = await run(toMeta, telemetry({ a: 1 }));
    expect(m!.msg.metadata).toMatchObject({ ss_gain: '2.0', ss_limit: '50' });
    const toData = build(originatorAttributesNode, { serverAttributeNames: ['gain', 'limit'], fetchTo: 'DATA' }, services);
    const msg = createMsg({ type: MsgType.POST_TELEMETRY_REQUEST, originator: DEVICE, tenantId: TENANT, data: { t: 1, n: 1 }, doubles: ['t'] });
    const [d] = await run(toData, msg);
    expect(d!.msg.data).toEqual({ t: 1, n: 1, ss_gain: 2, ss_limit: 50 });
    expect([...(d!.msg.doubles ?? [])].sort()).toEqual(['ss_gain', 't']);
  });
  it('missing keys: Failure with what was found, or left out', async () => {
    const strict = build(originatorAttributesNode, { serverAttributeNames: ['limit', 'nope'] }, seeded());
    const [r] = await run(strict, telemetry({}));
    expect(r!.relation).toBe('Failure');
    expect(r!.msg.metadata.ss_limit).toBe('50');
    expect(r!.msg.metadata.error).toMatch(/SERVER_SCOPE\]: nope/);
    const lenient = build(originatorAttributesNode, { serverAttributeNames: ['nope'], tellFailureIfAbsent: false }, seeded());
    expect(relationsOf(await run(lenient, telemetry({})))).toEqual(['Success']);
  });
  it('resolves ${metadata} patterns in key names', async () => {
    const node = build(originatorAttributesNode, { serverAttributeNames: ['${which}'] }, seeded());
    const [r] = await run(node, telemetry({}, { which: 'limit' }));
    expect(r!.msg.metadata.ss_limit).toBe('50');
  });
});

describe('originator fields', () => {
  it('maps device fields to metadata (ThingsBoard\'s default mapping) or data', async () => {
    const s = createRecordingServices();
    s.addDevice({ id: DEVICE.id, name: 'pump-1', type: 'pump', label: null });
    const [r] = await run(build(originatorFieldsNode, {}, s), telemetry({}));
    expect(r!.msg.metadata).toEqual({ originatorName: 'pump-1', originatorType: 'pump' });
    const [d] = await run(build(originatorFieldsNode, { fieldsMapping: { name: 'n', label: 'l' }, fetchTo: 'DATA', ignoreNullStrings: true }, s), telemetry({ x: 1 }));
    expect(d!.msg.data).toEqual({ x: 1, n: 'pump-1' });
  });
  it('fails without the devices capability, for unknown devices and non-device originators', async () => {
    const bare = { ...createRecordingServices(), devices: undefined };
    await expect(run(build(originatorFieldsNode, {}, bare), telemetry({}))).rejects.toThrow(/needs the 'devices' service/);
    await expect(run(build(originatorFieldsNode, {}, createRecordingServices()), telemetry({}))).rejects.toThrow(/not found/);
    await expect(run(build(originatorFieldsNode, {}, createRecordingServices()), tmsg('X', {}, {}, { entityType: 'TENANT', id: TENANT }))).rejects.toThrow(/DEVICE originators/);
  });
});

describe('originator telemetry', () => {
  it('LATEST (default): latest values to metadata', async () => {
    const [r] = await run(build(originatorTelemetryNode, { latestTsKeyNames: ['temperature', 'humidity', 'absent'] }, seeded()), telemetry({}));
    expect(r!.msg.metadata).toEqual({ temperature: '23', humidity: '60' });
  });
  it('ThingsBoard modes FIRST / LAST / ALL over an interval', async () => {
    const s = seeded();
    // now = 10 000: the interval [now - 10 s, now - 0 s) covers all the points.
    const cfg = { latestTsKeyNames: ['temperature'], startInterval: 10, startIntervalTimeUnit: 'SECONDS', endInterval: 0, endIntervalTimeUnit: 'SECONDS' };
    const meta = async (fetchMode: string) => (await run(build(originatorTelemetryNode, { ...cfg, fetchMode }, s), telemetry({})))[0]!.msg.metadata.temperature;
    expect(await meta('FIRST')).toBe('21');
    expect(await meta('LAST')).toBe('23');
    expect(JSON.parse((await meta('ALL'))!)).toEqual([{ ts: 100, value: 21 }, { ts: 200, value: 23 }]);
  });
});

describe('calculate delta', () => {
  it('adds the delta and period since the previous value (cache, then storage)', async () => {
    const s = createRecordingServices();
    s.points.push({ entityId: DEVICE.id, key: 'pulseCounter', ts: 500, value: 100 });
    const node = build(calculateDeltaNode, { addPeriodBetweenMsgs: true, round: 1 }, s);
    const [a] = await run(node, telemetry({ pulseCounter: 110.04 }, { ts: '1500' }));
    expect(a!.msg.data).toEqual({ pulseCounter: 110.04, delta: 10, periodInMs: 1000 });
    const [b] = await run(node, telemetry({ pulseCounter: 115 }, { ts: '2500' }));
    expect(b!.msg.data).toEqual({ pulseCounter: 115, delta: 5, periodInMs: 1000 });
  });
  it('first value gives 0; negative delta fails; other messages go to Other', async () => {
    const node = build(calculateDeltaNode, { inputValueKey: 'c' });
    expect((await run(node, telemetry({ c: 10 })))[0]!.msg.data).toEqual({ c: 10, delta: 0 });
    await expect(run(node, telemetry({ c: 5 }))).rejects.toThrow(/negative/);
    expect(relationsOf(await run(node, telemetry({ other: 1 })))).toEqual(['Other']);
    expect(relationsOf(await run(node, tmsg('POST_ATTRIBUTES_REQUEST', { c: 1 })))).toEqual(['Other']);
  });
  it('excludeZeroDeltas passes the message unchanged', async () => {
    const node = build(calculateDeltaNode, { inputValueKey: 'c', excludeZeroDeltas: true });
    await run(node, telemetry({ c: 1 }));
    expect((await run(node, telemetry({ c: 1 })))[0]!.msg.data).toEqual({ c: 1 });
  });
});

describe('tenant attributes', () => {
  it('maps tenant server attributes (or latest telemetry) to new names', async () => {
    const [r] = await run(build(tenantAttributesNode, { dataMapping: { threshold: 'maxTemp' } }, seeded()), telemetry({}));
    expect(r!.msg.metadata).toEqual({ maxTemp: '42' });
    const [t] = await run(build(tenantAttributesNode, { attrMapping: { load: 'tenantLoad' }, telemetry: true, fetchToData: true }, seeded()), telemetry({ a: 1 }));
    expect(t!.msg.data).toEqual({ a: 1, tenantLoad: 0.5 });
  });
});
