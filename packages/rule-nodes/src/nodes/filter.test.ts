import { createRecordingServices } from '@rivulet/rule-engine/testing';
import { describe, expect, it } from 'vitest';
import { build, DEVICE, relationsOf, run, telemetry, tmsg } from '../test-kit';
import { checkFieldsNode } from './check-fields.node.js';
import { deviceTypeSwitchNode } from './device-type-switch.node.js';
import { msgTypeFilterNode } from './msg-type-filter.node.js';
import { originatorTypeSwitchNode } from './originator-type-switch.node.js';
import { scriptFilterNode } from './script-filter.node.js';
import { scriptSwitchNode } from './script-switch.node.js';
import { thresholdNode } from './threshold.node.js';

describe('message type filter', () => {
  it('True for the listed types, False for others', async () => {
    const node = build(msgTypeFilterNode, { messageTypes: ['POST_TELEMETRY_REQUEST'] });
    expect(relationsOf(await run(node, telemetry({})))).toEqual(['True']);
    expect(relationsOf(await run(node, tmsg('POST_ATTRIBUTES_REQUEST', {})))).toEqual(['False']);
  });
  it('rejects an empty list', () => {
    expect(msgTypeFilterNode.configSchema.safeParse({ messageTypes: [] }).success).toBe(false);
  });
});

describe('script filter', () => {
  it('routes by the script\'s boolean (ThingsBoard signature)', async () => {
    const node = build(scriptFilterNode, { jsScript: 'return msg.temperature > 20 && metadata.deviceType === "thermo" && msgType === "POST_TELEMETRY_REQUEST";' });
    expect(relationsOf(await run(node, telemetry({ temperature: 25 }, { deviceType: 'thermo' })))).toEqual(['True']);
    expect(relationsOf(await run(node, telemetry({ temperature: 15 }, { deviceType: 'thermo' })))).toEqual(['False']);
  });
  it('runs a TBEL script as JavaScript, with TBEL helpers', async () => {
    const node = build(scriptFilterNode, { scriptLang: 'TBEL', tbelScript: 'return toFixed(msg.t, 1) == 21.6;' });
    expect(relationsOf(await run(node, telemetry({ t: 21.55 })))).toEqual(['True']);
  });
  it('a non-boolean result and a throwing script fail the message', async () => {
    await expect(run(build(scriptFilterNode, { jsScript: 'return "yes";' }), telemetry({}))).rejects.toThrow(/must return a boolean, it returned string/);
    await expect(run(build(scriptFilterNode, { jsScript: 'throw new Error("bad input");' }), telemetry({}))).rejects.toThrow(/bad input/);
  });
  it('a syntax error fails create() and names the field', () => {
    expect(() => build(scriptFilterNode, { jsScript: 'return (' })).toThrow(/jsScript: SyntaxError/);
    expect(() => build(scriptFilterNode, { scriptLang: 'TBEL', tbelScript: 'foreach (x : msg) { }' })).toThrow(/tbelScript: TBEL runs as JavaScript/);
  });
});

describe('script switch', () => {
  it('leaves by every relation the script names', async () => {
    const node = build(scriptSwitchNode, { jsScript: 'return msg.t > 30 ? ["Hot", "Alert"] : "Normal";' });
    expect(relationsOf(await run(node, telemetry({ t: 35 })))).toEqual(['Hot', 'Alert']);
    expect(relationsOf(await run(node, telemetry({ t: 5 })))).toEqual(['Normal']);
  });
  it('an empty array ends the message; a wrong type fails', async () => {
    expect(await run(build(scriptSwitchNode, { jsScript: 'return [];' }), telemetry({}))).toEqual([]);
    await expect(run(build(scriptSwitchNode, { jsScript: 'return 42;' }), telemetry({}))).rejects.toThrow(/relation name/);
  });
  it('ThingsBoard\'s default script works', async () => {
    const node = build(scriptSwitchNode, {});
    expect(relationsOf(await run(node, telemetry({})))).toEqual(['two']);
    expect(relationsOf(await run(node, tmsg('X', {})))).toEqual(['one', 'nine']);
  });
});

describe('check fields presence', () => {
  it('all keys by default, any with checkAllKeys off', async () => {
    const all = build(checkFieldsNode, { messageNames: ['a', 'b'], metadataNames: ['m'] });
    expect(relationsOf(await run(all, telemetry({ a: 1, b: 2 }, { m: 'x' })))).toEqual(['True']);
    expect(relationsOf(await run(all, telemetry({ a: 1 }, { m: 'x' })))).toEqual(['False']);
    const any = build(checkFieldsNode, { messageNames: ['a', 'b'], checkAllKeys: false });
    expect(relationsOf(await run(any, telemetry({ b: null })))).toEqual(['True']);
    expect(relationsOf(await run(any, telemetry('not an object')))).toEqual(['False']);
  });
  it('needs at least one field', () => {
    expect(checkFieldsNode.configSchema.safeParse({}).success).toBe(false);
  });
});

describe('threshold', () => {
  const rel = async (config: Record<string, unknown>, data: unknown, metadata: Record<string, string> = {}) =>
    relationsOf(await run(build(thresholdNode, config), telemetry(data as never, metadata)))[0];
  it('compares numbers, numeric strings and metadata', async () => {
    expect(await rel({ key: 'temperature', operator: '>', value: 30 }, { temperature: 31 })).toBe('True');
    expect(await rel({ key: 'temperature', operator: '>', value: 30 }, { temperature: 30 })).toBe('False');
    expect(await rel({ key: 'temperature', operator: '>=', value: 30 }, { temperature: '30' })).toBe('True');
    expect(await rel({ key: 'a.b', operator: '<', value: 0 }, { a: { b: -1 } })).toBe('True');
    expect(await rel({ key: 'rssi', operator: '<=', value: -90, source: 'METADATA' }, {}, { rssi: '-95' })).toBe('True');
  });
  it('text equality, and missing or non-numeric values are False', async () => {
    expect(await rel({ key: 'state', operator: '==', value: 'ON' }, { state: 'ON' })).toBe('True');
    expect(await rel({ key: 'state', operator: '!=', value: 'ON' }, { state: 'OFF' })).toBe('True');
    expect(await rel({ key: 'temperature', operator: '>', value: 1 }, {})).toBe('False');
    expect(await rel({ key: 'temperature', operator: '>', value: 1 }, { temperature: 'hot' })).toBe('False');
  });
  it('rejects an ordering operator with a text value', () => {
    const r = thresholdNode.configSchema.safeParse({ key: 'x', operator: '>', value: 'abc' });
    expect(r.success).toBe(false);
  });
});

describe('originator type switch', () => {
  it('uses ThingsBoard\'s names', async () => {
    const node = build(originatorTypeSwitchNode);
    expect(relationsOf(await run(node, telemetry({})))).toEqual(['Device']);
    expect(relationsOf(await run(node, tmsg('X', {}, {}, { entityType: 'TENANT', id: 't1' })))).toEqual(['Tenant']);
    expect(relationsOf(await run(node, tmsg('X', {}, {}, { entityType: 'RULE_NODE', id: 'n' })))).toEqual(['Rule node']);
  });
});

describe('device type switch', () => {
  it('routes by the device type from the devices capability', async () => {
    const services = createRecordingServices();
    services.addDevice({ id: DEVICE.id, type: 'thermostat' });
    expect(relationsOf(await run(build(deviceTypeSwitchNode, {}, services), telemetry({})))).toEqual(['thermostat']);
  });
  it('fails for an unknown device or another originator type', async () => {
    const node = build(deviceTypeSwitchNode, {}, createRecordingServices());
    await expect(run(node, telemetry({}))).rejects.toThrow(/not found/);
    await expect(run(node, tmsg('X', {}, {}, { entityType: 'TENANT', id: 't1' }))).rejects.toThrow(/device messages/);
  });
});
