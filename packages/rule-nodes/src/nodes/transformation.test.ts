import { createRecordingServices } from '@rivulet/rule-engine/testing';
import { describe, expect, it } from 'vitest';
import { build, DEVICE, relationsOf, run, telemetry } from '../test-kit';
import { copyKeysNode } from './copy-keys.node.js';
import { deleteKeysNode } from './delete-keys.node.js';
import { mathNode } from './math.node.js';
import { renameKeysNode } from './rename-keys.node.js';
import { scriptTransformNode } from './script-transform.node.js';
import { splitArrayNode } from './split-array.node.js';

describe('script transform', () => {
  it('returns a new msg, metadata and type (ThingsBoard signature); the id stays', async () => {
    const node = build(scriptTransformNode, {
      jsScript: 'msg.f = msg.c * 9 / 5 + 32; delete msg.c; metadata.unit = "F"; metadata.n = 3; return {msg: msg, metadata: metadata, msgType: "CUSTOM"};',
    });
    const input = telemetry({ c: 100 }, { deviceName: 'd' });
    const [r] = await run(node, input);
    expect(r!.relation).toBe('Success');
    expect(r!.msg).toMatchObject({ id: input.id, type: 'CUSTOM', data: { f: 212 }, metadata: { deviceName: 'd', unit: 'F', n: '3' } });
  });
  it('an array of results gives several messages; missing parts keep the input\'s', async () => {
    const node = build(scriptTransformNode, { jsScript: 'return [{msg: {a: 1}}, {metadata: {x: "y"}}];' });
    const input = telemetry({ orig: true }, { m: '1' });
    const out = await run(node, input);
    expect(out.map((r) => [r.msg.data, r.msg.metadata, r.msg.type])).toEqual([
      [{ a: 1 }, { m: '1' }, 'POST_TELEMETRY_REQUEST'],
      [{ orig: true }, { x: 'y' }, 'POST_TELEMETRY_REQUEST'],
    ]);
    expect(out[1]!.msg.id).not.toBe(input.id);
  });
  it('a wrong result fails the message', async () => {
    await expect(run(build(scriptTransformNode, { jsScript: 'return 5;' }), telemetry({}))).rejects.toThrow(/must return \{msg, metadata, msgType\}/);
    await expect(run(build(scriptTransformNode, { jsScript: 'return {msgType: ""};' }), telemetry({}))).rejects.toThrow(/msgType/);
  });
});

describe('rename keys', () => {
  it('renames in the data by default, in the metadata when asked (old and new config)', async () => {
    expect((await run(build(renameKeysNode, { renameKeysMapping: { temp: 'temperature' } }), telemetry({ temp: 1, x: 2 })))[0]!.msg.data).toEqual({ x: 2, temperature: 1 });
    expect((await run(build(renameKeysNode, { renameKeysMapping: { a: 'b' }, renameIn: 'METADATA' }), telemetry({}, { a: '1' })))[0]!.msg.metadata).toEqual({ b: '1' });
    expect((await run(build(renameKeysNode, { renameKeysMapping: { a: 'b' }, fromMetadata: true }), telemetry({}, { a: '1' })))[0]!.msg.metadata).toEqual({ b: '1' });
  });
  it('leaves the message as it is when nothing matches', async () => {
    const input = telemetry({ x: 1 });
    expect((await run(build(renameKeysNode, {}), input))[0]!.msg).toBe(input);
  });
});

describe('copy keys', () => {
  it('data -> metadata (values as strings), metadata -> data, with regular expressions', async () => {
    const [a] = await run(build(copyKeysNode, { copyFrom: 'DATA', keys: ['temp.*', 'obj'] }), telemetry({ temperature: 21, tempMax: 30, obj: { a: 1 }, other: 1 }));
    expect(a!.msg.metadata).toEqual({ temperature: '21', tempMax: '30', obj: '{"a":1}' });
    const [b] = await run(build(copyKeysNode, { fromMetadata: true, keys: ['deviceName'] }), telemetry({ t: 1 }, { deviceName: 'd1', ts: '5' }));
    expect(b!.msg.data).toEqual({ t: 1, deviceName: 'd1' });
  });
});

describe('delete keys', () => {
  it('deletes matching keys from the data or metadata', async () => {
    expect((await run(build(deleteKeysNode, { keys: ['secret.*'] }), telemetry({ secretA: 1, secretB: 2, keep: 3 })))[0]!.msg.data).toEqual({ keep: 3 });
    expect((await run(build(deleteKeysNode, { deleteFrom: 'METADATA', keys: ['ts'] }), telemetry({}, { ts: '1', a: 'b' })))[0]!.msg.metadata).toEqual({ a: 'b' });
  });
});

describe('split array', () => {
  it('one message per element; other data passes; empty array ends', async () => {
    const input = telemetry([{ a: 1 }, { a: 2 }], { m: 'x' });
    const out = await run(build(splitArrayNode), input);
    expect(out.map((r) => [r.relation, r.msg.data, r.msg.metadata.m])).toEqual([
      ['Success', { a: 1 }, 'x'],
      ['Success', { a: 2 }, 'x'],
    ]);
    expect(new Set(out.map((r) => r.msg.id)).size).toBe(2);
    expect(relationsOf(await run(build(splitArrayNode), telemetry({ a: 1 })))).toEqual(['Success']);
    expect(await run(build(splitArrayNode), telemetry([]))).toEqual([]);
    await expect(run(build(splitArrayNode, { maxElements: 1 }), input)).rejects.toThrow(/maxElements/);
  });
});

describe('math', () => {
  it('ThingsBoard\'s default: Fahrenheit to Celsius into the data, 2 decimals', async () => {
    const [r] = await run(build(mathNode, {}), telemetry({ temperature: 100 }));
    expect(r!.msg.data).toEqual({ temperature: 100, temperatureCelsius: 37.78 });
  });
  it('operations over metadata, constants, attributes and telemetry; results to metadata, attributes, time series', async () => {
    const s = createRecordingServices({ now: 7 });
    s.attributeWrites.push({ entityId: DEVICE.id, scope: 'SERVER_SCOPE', key: 'offset', value: 2, lastUpdateTs: 1 });
    s.points.push({ entityId: DEVICE.id, key: 'level', ts: 1, value: 10 });
    const node = build(
      mathNode,
      {
        operation: 'CUSTOM',
        customFunction: 'sqrt(a) * b + c - d',
        arguments: [
          { name: 'a', type: 'MESSAGE_METADATA', key: 'area' },
          { name: 'b', type: 'CONSTANT', key: '3' },
          { name: 'c', type: 'ATTRIBUTE', key: 'offset', attributeScope: 'SERVER_SCOPE' },
          { name: 'd', type: 'TIME_SERIES', key: 'level' },
        ],
        result: { type: 'TIME_SERIES', key: 'score', resultValuePrecision: 0, addToMetadata: true },
      },
      s,
    );
    const [r] = await run(node, telemetry({}, { area: '16', ts: '5000' }));
    expect(r!.msg.metadata.score).toBe('4');
    expect(s.points.at(-1)).toEqual({ entityId: DEVICE.id, key: 'score', ts: 5000, value: 4 });
    const add = build(mathNode, { operation: 'ADD', arguments: [{ type: 'MESSAGE_BODY', key: 'a' }, { type: 'MESSAGE_BODY', key: 'b', defaultValue: 1 }], result: { type: 'ATTRIBUTE', key: 'sum', attributeScope: 'SHARED_SCOPE' } }, s);
    await run(add, telemetry({ a: 2 }));
    expect(s.attributeWrites.at(-1)).toMatchObject({ scope: 'SHARED_SCOPE', key: 'sum', value: 3, lastUpdateTs: 7 });
  });
  it('validates formulas on save and fails bad input per message', async () => {
    const bad = mathNode.configSchema.safeParse({ customFunction: 'x + y' });
    expect(bad.success).toBe(false);
    expect(bad.error?.issues[0]?.path).toEqual(['customFunction']);
    expect(mathNode.configSchema.safeParse({ operation: 'ADD', arguments: [{ type: 'CONSTANT', key: '1' }] }).success).toBe(false);
    await expect(run(build(mathNode, {}), telemetry({ temperature: 'hot' }))).rejects.toThrow(/not a number/);
    await expect(run(build(mathNode, { customFunction: 'x / 0' }), telemetry({ temperature: 1 }))).rejects.toThrow(/not a finite number/);
  });
});
