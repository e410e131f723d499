import { describe, expect, it } from 'vitest';
import { parseAttributes, parseTelemetry } from './device-payload';
import { BadRequestError } from './errors';
import { JsonDouble, stringifyJson } from './json-text';
import { dataTypeOf, doubleKeysOf, doubleText, kvToString, markDoubleKeys, type KvValue } from './kv';
import { mayHoldSpecialNumber, parseJsonWithDepthLimit, parseLenientJson } from './lenient-json';
import { createMsg, msgDoubles, withMsg, type JsonValue, type Msg } from './msg';

const NOW = 1_700_000_000_000;

/** The values of a one-group telemetry payload, with the types they are stored as. */
function typed(text: string, typeCasting = true): Record<string, [KvValue, string]> {
  const [g] = parseTelemetry(parseLenientJson(text), NOW, { typeCasting });
  const doubles = new Set(doubleKeysOf(g!.values) ?? []);
  const out: Record<string, [KvValue, string]> = {};
  for (const [k, v] of Object.entries(g!.values)) out[k] = [v, dataTypeOf(v, doubles.has(k))];
  return out;
}

describe('number types as ThingsBoard keeps them (JsonConverter)', () => {
  it('a number written with a fraction is a DOUBLE, an integer a LONG', () => {
    expect(typed('{"t":1.0,"n":1}')).toEqual({ t: [1, 'DOUBLE'], n: [1, 'LONG'] });
    expect(typed('{"a":2.50,"b":-3.000,"c":100.0,"d":25.3}')).toEqual({ a: [2.5, 'DOUBLE'], b: [-3, 'DOUBLE'], c: [100, 'DOUBLE'], d: [25.3, 'DOUBLE'] });
  });

  it('-0.0 is the DOUBLE 0.0 (ThingsBoard reads it through BigDecimal, which has no negative zero)', () => {
    const t = typed('{"z":-0.0,"y":-0}');
    expect(t.z).toEqual([0, 'DOUBLE']);
    expect(Object.is(t.z![0], -0)).toBe(false);
    expect(t.y![1]).toBe('LONG');
  });

  it('exponents: integral values are LONGs (1e3, 1.0e2, 1.5e1), others DOUBLEs (1E-7)', () => {
    expect(typed('{"a":1e3,"b":1.0e2,"c":1.5e1,"d":1E-7,"e":2.5E+1}')).toEqual({
      a: [1000, 'LONG'],
      b: [100, 'LONG'],
      c: [15, 'LONG'],
      d: [1e-7, 'DOUBLE'],
      e: [25, 'LONG'],
    });
  });

  it('a double with more digits than a double holds stays a DOUBLE even when it rounds to an integer', () => {
    expect(typed('{"a":1.0000000000000001,"b":12345678901234567.5}')).toEqual({ a: [1, 'DOUBLE'], b: [12345678901234568, 'DOUBLE'] });
  });

  it('integers beyond 2^53 are LONGs up to a Java long; beyond it the digits as a string (type casting) or refused', () => {
    expect(typed('{"a":9007199254740993,"b":4611686018427387904,"c":-4611686018427387904}')).toEqual({
      a: [9007199254740992, 'LONG'], // JavaScript's number: the last digit is lost (docs/api.md)
      b: [2 ** 62, 'LONG'],
      c: [-(2 ** 62), 'LONG'],
    });
    // the largest longs round to 2^63 as a JavaScript number, which no long holds: stored as a DOUBLE
    expect(typed('{"max":9223372036854775807}').max).toEqual([2 ** 63, 'DOUBLE']);
    expect(typed('{"big":9223372036854775808,"neg":-9223372036854775809}')).toEqual({
      big: ['9223372036854775808', 'STRING'],
      neg: ['-9223372036854775809', 'STRING'],
    });
    expect(() => typed('{"big":9223372036854775808}', false)).toThrow(BadRequestError);
    expect(() => typed('{"big":9223372036854775808}', false)).toThrow(/big integer values are not supported/);
  });

  it('strings that look like numbers stay strings without type casting, and scientific notation always', () => {
    expect(typed('{"s":"1.0","e":"1e3","v":"v1.0","x":"10000000000000000"}', false)).toEqual({
      s: ['1.0', 'STRING'],
      e: ['1e3', 'STRING'],
      v: ['v1.0', 'STRING'],
      x: ['10000000000000000', 'STRING'],
    });
    // with type casting (ThingsBoard's default) "1.0" is the DOUBLE 1.0, as a number written so
    expect(typed('{"s":"1.0","i":"1","e":"1e3","big":"9223372036854775808"}')).toEqual({
      s: [1, 'DOUBLE'],
      i: [1, 'LONG'],
      e: ['1e3', 'STRING'],
      big: ['9223372036854775808', 'STRING'],
    });
  });

  it('nested objects and arrays are JSON values: a 1.0 inside marks nothing at the top', () => {
    const t = typed('{"j":{"a":1.0,"b":{"c":2.0}},"arr":[1.0,2],"n":3}');
    expect(t).toEqual({ j: [{ a: 1, b: { c: 2 } }, 'JSON'], arr: [[1, 2], 'JSON'], n: [3, 'LONG'] });
  });

  it('a repeated key counts with its last value', () => {
    expect(typed('{"a":1.0,"a":1}').a).toEqual([1, 'LONG']);
    expect(typed('{"a":1,"a":1.0}').a).toEqual([1, 'DOUBLE']);
    expect(typed('{"a":1.0,"a":"x"}').a).toEqual(['x', 'STRING']);
  });

  it('the {ts, values} and array forms mark each group', () => {
    const groups = parseTelemetry(parseLenientJson('[{"ts":1,"values":{"t":1.0}},{"ts":2,"values":{"t":1}}]'), NOW);
    expect(groups.map((g) => doubleKeysOf(g.values))).toEqual([['t'], undefined]);
  });

  it('the lenient forms (shell-stripped quotes) mark too', () => {
    expect(typed('{t:1.0, n:1, s:1.0x}')).toEqual({ t: [1, 'DOUBLE'], n: [1, 'LONG'], s: ['1.0x', 'STRING'] });
  });

  it('attributes: the same', () => {
    const a = parseAttributes(parseLenientJson('{"fw":"1.0","t":1.0,"n":1}'), { typeCasting: false });
    expect(a).toEqual({ fw: '1.0', t: 1, n: 1 });
    expect(doubleKeysOf(a)).toEqual(['t']);
  });

  it('the REST body parser marks, and reads strict JSON as JSON.parse does', () => {
    const texts = [
      '{"t":1.0,"n":1,"s":"a.0 b","u":"\\u00e9\\ud83d\\ude00","e":[],"o":{},"x":null,"b":true,"f":-1.5e-3}',
      '[1.0,{"a":"1.00"},"\\\\.0\\"",0.0]',
      '{"__proto__":1.0,"k":12345678901234567890}',
      '"1.0"',
      '1.0',
    ];
    for (const text of texts) {
      expect(parseJsonWithDepthLimit(text)).toEqual(JSON.parse(text));
      expect(parseLenientJson(text)).toEqual(JSON.parse(text));
    }
    expect(doubleKeysOf(parseAttributes(parseJsonWithDepthLimit('{"t":1.0}') as JsonValue))).toEqual(['t']);
    const proto = parseAttributes(parseJsonWithDepthLimit('{"__proto__":1.0}') as JsonValue);
    expect(Object.getPrototypeOf(proto)).toBe(Object.prototype);
    expect(doubleKeysOf(proto)).toEqual(['__proto__']);
  });

  it('the marks are invisible to JSON.stringify, Object.keys and spreads', () => {
    const values = parseAttributes(parseLenientJson('{"t":1.0}'));
    expect(JSON.stringify(values)).toBe('{"t":1}');
    expect(Object.keys(values)).toEqual(['t']);
    expect(doubleKeysOf({ ...values })).toBeUndefined();
  });
});

describe('mayHoldSpecialNumber (the check before the second parse)', () => {
  it('says yes for every number JavaScript would read as an integer or round', () => {
    for (const t of ['{"a":1.0}', '[2.00]', '-0.0', '9007199254740993', '-9007199254740993', '[9007199254740993]', '{"a":1.0000000000000001}', '0.99999999999999999', '123456789012345.001', '{"s":"x","a":3.0}'])
      expect(mayHoldSpecialNumber(t), t).toBe(true);
    expect(typed('{"a":123456789012345.001}').a).toEqual([123456789012345, 'DOUBLE']);
  });

  it('says no for the common payloads: integers, fractions, exponents', () => {
    for (const t of ['{"a":25,"b":1700000000000}', '{"a":25.3,"b":-0.5}', '{"a":6.8500000000000005,"b":0.30000000000000004}', '{"s":"v1.5","t":"a.0"}', '{"a":1.0e2,"b":1.5E-7}'])
      expect(mayHoldSpecialNumber(t), t).toBe(false);
  });

  it('a string holding "1.0" may say yes (a second parse for nothing), and the result is the same', () => {
    const text = '{"fw":"1.0","t":25.3}';
    expect(mayHoldSpecialNumber(text)).toBe(true);
    const values = parseAttributes(parseLenientJson(text), { typeCasting: false });
    expect(values).toEqual({ fw: '1.0', t: 25.3 });
    expect(doubleKeysOf(values)).toBeUndefined();
  });
});

describe('dataTypeOf, kvToString, doubleText', () => {
  it('types', () => {
    expect(dataTypeOf(1)).toBe('LONG');
    expect(dataTypeOf(1, true)).toBe('DOUBLE');
    expect(dataTypeOf(1.5)).toBe('DOUBLE');
    expect(dataTypeOf(2 ** 60)).toBe('LONG');
    expect(dataTypeOf(2 ** 63)).toBe('DOUBLE');
    expect(dataTypeOf(-(2 ** 63))).toBe('LONG');
    expect(dataTypeOf('1.0', true)).toBe('STRING');
    expect(dataTypeOf(true, true)).toBe('BOOLEAN');
  });

  it('strings as ThingsBoard prints a DOUBLE of integral value', () => {
    expect(kvToString(1, true)).toBe('1.0');
    expect(kvToString(1)).toBe('1');
    expect(kvToString(-0, true)).toBe('0.0');
    expect(kvToString(-3, true)).toBe('-3.0');
    expect(kvToString(2.5, true)).toBe('2.5');
    expect(kvToString(1e21, true)).toBe('1e+21');
    expect(kvToString('1', true)).toBe('1');
    expect(kvToString({ a: 1 }, true)).toBe('{"a":1}');
    expect(doubleText(NaN)).toBe('null');
    expect(doubleText(Infinity)).toBe('null');
    expect(doubleText(1e20)).toBe('100000000000000000000.0');
    for (const n of [0, 1, -1, 1e20, 1e21, 1e-7, 123.456, -0]) expect(JSON.parse(doubleText(n))).toBe(n === 0 ? 0 : n);
  });
});

describe('stringifyJson', () => {
  it('prints JsonDouble with its fraction and everything else as JSON.stringify does', () => {
    const body = { a: new JsonDouble(1), s: '1.0', n: 1, nested: { x: [new JsonDouble(-2), 'a"b\\c\u2028', new JsonDouble(2.5)] }, u: undefined, f: () => 1, d: new Date(0) };
    expect(stringifyJson(body)).toBe('{"a":1.0,"s":"1.0","n":1,"nested":{"x":[-2.0,"a\\"b\\\\c\u2028",2.5]},"d":"1970-01-01T00:00:00.000Z"}');
    expect(JSON.stringify(body)).toBe('{"a":1,"s":"1.0","n":1,"nested":{"x":[-2,"a\\"b\\\\c\u2028",2.5]},"d":"1970-01-01T00:00:00.000Z"}');
  });

  it('keys and strings cannot break out of the JSON', () => {
    const evil = '"},"x":1.0,{"';
    const text = stringifyJson({ [evil]: evil, k: [evil, new JsonDouble(3)] });
    expect(JSON.parse(text)).toEqual({ [evil]: evil, k: [evil, 3] });
  });

  it('equals JSON.stringify where there is no JsonDouble', () => {
    const samples: unknown[] = [null, 0, -0, 1.5, 'x', true, [], {}, [undefined, () => 1, Symbol('s')], { a: undefined, b: [1, { c: 'd' }], e: null }, [{ ts: 1, value: '1.0' }], { toJSON: () => ({ z: 1 }) }];
    for (const v of samples) expect(stringifyJson(v)).toBe(JSON.stringify(v) ?? 'null');
  });
});

describe('Msg.doubles', () => {
  const originator = { entityType: 'DEVICE', id: 'd1' } as const;
  const marked = () => parseAttributes(parseLenientJson('{"t":1.0,"n":1}'));

  it('createMsg lifts the marks of the data', () => {
    const msg = createMsg({ type: 'POST_TELEMETRY_REQUEST', originator, tenantId: 't', data: marked() });
    expect(msg.doubles).toEqual(['t']);
    expect(msgDoubles(msg)).toEqual(new Set(['t']));
    const plain = createMsg({ type: 'POST_TELEMETRY_REQUEST', originator, tenantId: 't', data: { n: 1 } });
    expect('doubles' in plain).toBe(false);
    expect(Object.keys(plain)).toEqual(['id', 'ts', 'type', 'originator', 'tenantId', 'metadata', 'data']);
  });

  it('survives the wire form (JSON) and a metadata change; new data drops it', () => {
    const msg = createMsg({ type: 'POST_TELEMETRY_REQUEST', originator, tenantId: 't', data: marked() });
    const back = JSON.parse(JSON.stringify(msg)) as Msg;
    expect(msgDoubles(back)).toEqual(new Set(['t']));
    expect(withMsg(msg, { metadata: { a: 'b' } }).doubles).toEqual(['t']);
    expect(withMsg(msg, { data: { t: 5 } }).doubles).toBeUndefined();
    expect(withMsg(msg, { data: { t: 5 }, doubles: ['t'] }).doubles).toEqual(['t']);
    // new data keeping the number (an enrichment adding keys) keeps the mark; a changed number loses it
    expect(withMsg(msg, { data: { t: 1, n: 1, extra: 'x' } }).doubles).toEqual(['t']);
    expect(withMsg(msg, { data: { t: '1', n: 1 } }).doubles).toBeUndefined();
    expect(withMsg(msg, { data: [{ t: 1 }] }).doubles).toBeUndefined();
    expect(withMsg(msg, { data: { t: 1 }, doubles: [] }).doubles).toBeUndefined();
  });

  it('anything but an array of strings from a wire counts as none', () => {
    const base = createMsg({ type: 'X', originator, tenantId: 't', data: {} });
    for (const bad of ['t', 1, null, {}, [1, null], []]) expect(msgDoubles({ ...base, doubles: bad } as unknown as Msg)).toBeUndefined();
    expect(msgDoubles({ ...base, doubles: [1, 't'] } as unknown as Msg)).toEqual(new Set(['t']));
  });

  it('markDoubleKeys with no keys leaves the object alone', () => {
    const o = markDoubleKeys({ a: 1 }, []);
    expect(doubleKeysOf(o)).toBeUndefined();
  });
});
