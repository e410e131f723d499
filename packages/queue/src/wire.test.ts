import { describe, expect, it } from 'vitest';
import { createMsg, isMsg, msgDoubles, parseLenientJson, parseTelemetry } from '@rivulet/core';
import { MAX_WIRE_BYTES, WireDecodeError, WireEncodeError, decodeValue, encodeValue } from './wire';

describe('wire form', () => {
  it('carries the doubles marks of a message (a 1.0 stays a double through Kafka)', () => {
    const [g] = parseTelemetry(parseLenientJson('{"t":1.0,"n":1}'), 1);
    const msg = createMsg({ type: 'POST_TELEMETRY_REQUEST', originator: { entityType: 'DEVICE', id: 'd' }, tenantId: 't', data: g!.values });
    const bytes = encodeValue(msg);
    expect(bytes.toString('utf8')).toContain('"data":{"t":1,"n":1},"doubles":["t"]');
    const back = decodeValue(bytes);
    expect(isMsg(back)).toBe(true);
    expect(msgDoubles(back as typeof msg)).toEqual(new Set(['t']));
    // a message without doubles has no such field: the common wire form is unchanged
    expect(encodeValue(createMsg({ type: 'X', originator: { entityType: 'DEVICE', id: 'd' }, tenantId: 't', data: { n: 1 } })).toString('utf8')).not.toContain('doubles');
  });

  it('round-trips a rule-engine message as {"v":1,"value":...}', () => {
    const msg = createMsg({
      type: 'POST_TELEMETRY_REQUEST',
      originator: { entityType: 'DEVICE', id: 'd-1' },
      tenantId: 't-1',
      metadata: { deviceName: 'ünïcode ✓' },
      data: { temperature: 21.5, on: true, tags: ['a', null] },
    });
    const bytes = encodeValue(msg);
    expect(JSON.parse(bytes.toString('utf8'))).toEqual({ v: 1, value: msg });
    expect(decodeValue(bytes)).toEqual(msg);
    expect(decodeValue(new Uint8Array(bytes))).toEqual(msg);
    expect(decodeValue(bytes.toString('utf8'))).toEqual(msg);
  });

  it('carries falsy values (0, false, null, "")', () => {
    for (const v of [0, false, null, '']) expect(decodeValue(encodeValue(v))).toBe(v);
  });

  it.each([
    ['null value', null, /no value/],
    ['not JSON', Buffer.from('{"v":1,'), /not JSON/],
    ['a bare JSON value', Buffer.from('42'), /not a Rivulet envelope/],
    ['an array', Buffer.from('[1]'), /not a Rivulet envelope/],
    ['no version', Buffer.from('{"value":1}'), /no envelope version/],
    ['a future version', Buffer.from('{"v":2,"value":1}'), /Unknown envelope version 2; this reader understands v1/],
    ['a string version', Buffer.from('{"v":"1","value":1}'), /Unknown envelope version "1"/],
    ['no value', Buffer.from('{"v":1}'), /no "value"/],
    ['invalid UTF-8 / binary', Buffer.from([0xff, 0xfe, 0x00, 0x01]), /not JSON/],
  ])('refuses %s with a clear WireDecodeError', (_name, bytes, message) => {
    expect(() => decodeValue(bytes)).toThrow(WireDecodeError);
    expect(() => decodeValue(bytes)).toThrow(message);
  });

  it('refuses oversized values before parsing', () => {
    const big = Buffer.alloc(MAX_WIRE_BYTES + 1, 0x20);
    expect(() => decodeValue(big)).toThrow(/exceeds/);
  });

  it('refuses values JSON cannot carry', () => {
    expect(() => encodeValue(undefined)).toThrow(WireEncodeError);
    expect(() => encodeValue({ n: 1n })).toThrow(/not JSON-serialisable/);
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    expect(() => encodeValue(cyclic)).toThrow(WireEncodeError);
  });
});
