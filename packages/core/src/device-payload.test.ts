import { describe, expect, it } from 'vitest';
import { parseAttributes, parseKeyList, parseTelemetry } from './device-payload';
import { BadRequestError } from './errors';
import { parseLenientJson } from './lenient-json';
import type { JsonValue } from './msg';

const NOW = 1_700_000_000_000;

function badRequest(fn: () => unknown): BadRequestError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(BadRequestError);
    return e as BadRequestError;
  }
  throw new Error('expected a BadRequestError');
}

describe('parseTelemetry', () => {
  it('a flat object is one group stamped with the server time', () => {
    expect(parseTelemetry({ temperature: 25, humidity: 60.5, on: true, name: 'x' }, NOW)).toEqual([
      { ts: NOW, values: { temperature: 25, humidity: 60.5, on: true, name: 'x' } },
    ]);
  });

  it('{ts, values} keeps its own time stamp', () => {
    expect(parseTelemetry({ ts: 1451649600512, values: { key1: 'value1', key2: 'value2' } }, NOW)).toEqual([
      { ts: 1451649600512, values: { key1: 'value1', key2: 'value2' } },
    ]);
  });

  it('an array of flat objects: one group each', () => {
    expect(parseTelemetry([{ a: 1 }, { b: 2 }], NOW)).toEqual([
      { ts: NOW, values: { a: 1 } },
      { ts: NOW, values: { b: 2 } },
    ]);
  });

  it('an array of {ts, values}: one group each', () => {
    expect(
      parseTelemetry(
        [
          { ts: 1, values: { a: 1 } },
          { ts: 2, values: { a: 2 } },
        ],
        NOW,
      ),
    ).toEqual([
      { ts: 1, values: { a: 1 } },
      { ts: 2, values: { a: 2 } },
    ]);
  });

  it('a mixed array', () => {
    expect(parseTelemetry([{ ts: 5, values: { a: 1 } }, { b: 2 }], NOW)).toEqual([
      { ts: 5, values: { a: 1 } },
      { ts: NOW, values: { b: 2 } },
    ]);
  });

  it('{ts} without values is a flat object (ts is then just a key)', () => {
    expect(parseTelemetry({ ts: 5, temperature: 1 }, NOW)).toEqual([{ ts: NOW, values: { ts: 5, temperature: 1 } }]);
    expect(parseTelemetry({ values: { a: 1 } }, NOW)).toEqual([{ ts: NOW, values: { values: { a: 1 } } }]);
  });

  it('a string ts of digits is read as a number; a float ts is truncated', () => {
    expect(parseTelemetry({ ts: '1451649600512', values: { a: 1 } }, NOW)).toEqual([{ ts: 1451649600512, values: { a: 1 } }]);
    expect(parseTelemetry({ ts: 10.9, values: { a: 1 } }, NOW)).toEqual([{ ts: 10, values: { a: 1 } }]);
  });

  it('drops null values, keeps JSON values', () => {
    expect(parseTelemetry({ a: null, b: 1, c: { x: null }, d: [1, 'two'] }, NOW)).toEqual([
      { ts: NOW, values: { b: 1, c: { x: null }, d: [1, 'two'] } },
    ]);
  });

  it('leaves out groups with nothing left to store', () => {
    expect(parseTelemetry({ a: null }, NOW)).toEqual([]);
    expect(parseTelemetry([{}, { ts: 1, values: {} }, { b: 1 }], NOW)).toEqual([{ ts: NOW, values: { b: 1 } }]);
  });

  it('an empty array is no groups', () => {
    expect(parseTelemetry([], NOW)).toEqual([]);
  });

  describe('type casting', () => {
    const payload = { int: '25', neg: '-3', dbl: '1.5', exp: '1e3', text: 'abc', ver: '1.2.3', empty: '', n: 7 };

    it('is on by default: numeric strings become numbers (not scientific notation, as NumberUtils.isParsable)', () => {
      expect(parseTelemetry(payload, NOW)[0]?.values).toEqual({ int: 25, neg: -3, dbl: 1.5, exp: '1e3', text: 'abc', ver: '1.2.3', empty: '', n: 7 });
      expect(parseTelemetry({ ts: 1, values: { a: '2' } }, NOW, { typeCasting: true })[0]?.values).toEqual({ a: 2 });
    });

    it('off: strings stay strings', () => {
      expect(parseTelemetry(payload, NOW, { typeCasting: false })[0]?.values).toEqual(payload);
    });
  });

  it('takes the lenient parser output of a shell-stripped payload', () => {
    expect(parseTelemetry(parseLenientJson('{temperature:25, status: ok}'), NOW)).toEqual([{ ts: NOW, values: { temperature: 25, status: 'ok' } }]);
  });

  it('keeps a __proto__ key as data', () => {
    const [g] = parseTelemetry(parseLenientJson('{"__proto__":{"x":1},"a":2}'), NOW);
    expect(Object.getPrototypeOf(g?.values)).toBe(Object.prototype);
    expect(Object.keys(g?.values ?? {})).toEqual(['__proto__', 'a']);
  });

  describe('bad shapes are a BadRequestError with a clear message', () => {
    it.each<[string, JsonValue, string]>([
      ['a number', 42, 'Telemetry payload must be a JSON object, got a number'],
      ['a string', 'hello', 'Telemetry payload must be a JSON object, got a string'],
      ['null', null, 'Telemetry payload must be a JSON object, got null'],
      ['a boolean', true, 'Telemetry payload must be a JSON object, got a boolean'],
      ['an array element that is a number', [{ a: 1 }, 3], 'Telemetry element 1 must be a JSON object, got a number'],
      ['nested arrays', [[{ a: 1 }]], 'Telemetry element 0 must be a JSON object, got an array'],
      ['a ts that is not a number', { ts: 'yesterday', values: { a: 1 } }, 'Telemetry payload: "ts" must be a number of milliseconds since the epoch'],
      ['an empty string ts', { ts: '', values: { a: 1 } }, 'Telemetry payload: "ts" must be a number of milliseconds since the epoch'],
      ['a negative ts', [{ ts: -1, values: { a: 1 } }], 'Telemetry element 0: "ts" must be a number of milliseconds since the epoch'],
      ['values that are not an object', { ts: 1, values: [1, 2] }, 'Telemetry payload: "values" must be a JSON object'],
      ['null values', { ts: 1, values: null }, 'Telemetry payload: "values" must be a JSON object'],
    ])('%s', (_name, json, message) => {
      const e = badRequest(() => parseTelemetry(json, NOW));
      expect(e.message).toBe(message);
      expect(e.status).toBe(400);
    });
  });
});

describe('parseAttributes', () => {
  it('an object, nulls dropped, numeric strings cast', () => {
    expect(parseAttributes({ attribute1: 'value1', attribute2: true, n: '3', gone: null })).toEqual({ attribute1: 'value1', attribute2: true, n: 3 });
    expect(parseAttributes({ n: '3' }, { typeCasting: false })).toEqual({ n: '3' });
  });

  it.each<[JsonValue, string]>([
    [[{ a: 1 }], 'Attributes must be a JSON object, got an array'],
    ['x', 'Attributes must be a JSON object, got a string'],
    [null, 'Attributes must be a JSON object, got null'],
  ])('rejects %j', (json, message) => {
    expect(badRequest(() => parseAttributes(json)).message).toBe(message);
  });
});

describe('parseKeyList', () => {
  it('splits, trims and drops empty keys; absent is undefined', () => {
    expect(parseKeyList('a, b,,c ')).toEqual(['a', 'b', 'c']);
    expect(parseKeyList('')).toEqual([]);
    expect(parseKeyList(null)).toBeUndefined();
    expect(parseKeyList(undefined)).toBeUndefined();
  });
});

describe('values the database cannot hold', () => {
  it('refuses NUL characters in keys, strings and JSON values with a clear message', () => {
    expect(() => parseTelemetry({ a: 'x\u0000y' }, 1)).toThrow(/NUL character/);
    expect(() => parseTelemetry({ 'k\u0000': 1 }, 1)).toThrow(/Keys must not contain/);
    expect(() => parseTelemetry({ j: { inner: '\u0000' } }, 1)).toThrow(/JSON values/);
    expect(() => parseAttributes({ a: '\u0000' })).toThrow(/NUL/);
  });
  it('refuses unpaired UTF-16 surrogates inside JSON values (jsonb cannot hold them); pairs are fine', () => {
    expect(() => parseTelemetry({ j: { inner: '\ud800' } }, 1)).toThrow(/JSON values must be valid Unicode/);
    expect(() => parseTelemetry({ j: ['x\udc00'] }, 1)).toThrow(/JSON values must be valid Unicode/);
    expect(() => parseAttributes({ j: { ['k\udbff']: 1 } })).toThrow(/JSON values must be valid Unicode/);
    expect(parseTelemetry({ j: { drop: '\ud83d\udca7' } }, 1)).toEqual([{ ts: 1, values: { j: { drop: '💧' } } }]);
  });
  it('refuses a ts beyond the safe integer range', () => {
    expect(() => parseTelemetry({ ts: 1e300, values: { a: 1 } }, 1)).toThrow(/"ts"/);
  });
});

describe('key limits (the tenant\'s maxKeyLength and maxKeysPerMessage)', () => {
  const limits = { maxKeyLength: 255, maxKeysPerMessage: 3 };

  it('a key over maxKeyLength is refused, naming the limit; one at the limit passes', () => {
    const long = 'k'.repeat(60_000);
    const e = badRequest(() => parseTelemetry({ [long]: 1 }, NOW, limits));
    expect(e.message).toMatch(/60000 characters long: the limit is 255 \(maxKeyLength\)/);
    expect(e.message.length).toBeLessThan(200);
    expect(badRequest(() => parseAttributes({ [long]: 1 }, limits)).message).toMatch(/maxKeyLength/);
    expect(badRequest(() => parseTelemetry({ ts: 1, values: { [long]: 1 } }, NOW, limits)).message).toMatch(/maxKeyLength/);
    expect(parseTelemetry({ ['k'.repeat(255)]: 1 }, NOW, limits)).toHaveLength(1);
  });

  it('characters, not UTF-16 units: 255 emoji pass a limit of 255', () => {
    const emoji = '\u{1F600}'.repeat(255);
    expect(emoji.length).toBe(510);
    expect(Object.keys(parseAttributes({ [emoji]: 1 }, limits))).toEqual([emoji]);
    expect(badRequest(() => parseAttributes({ [emoji + 'x']: 1 }, limits)).message).toMatch(/256 characters long/);
  });

  it('more keys than maxKeysPerMessage in one object, or across the groups of an array, are refused', () => {
    expect(badRequest(() => parseAttributes({ a: 1, b: 2, c: 3, d: 4 }, limits)).message).toMatch(/4 keys: the limit is 3 per message \(maxKeysPerMessage\)/);
    expect(badRequest(() => parseTelemetry({ a: 1, b: 2, c: 3, d: null }, NOW, limits)).message).toMatch(/maxKeysPerMessage/);
    expect(badRequest(() => parseTelemetry([{ a: 1, b: 2 }, { c: 3, d: 4 }], NOW, limits)).message).toMatch(/4 keys/);
    // many points of the same few keys are one message's worth of keys
    const history = Array.from({ length: 100 }, (_, i) => ({ ts: i + 1, values: { a: i, b: i, c: i } }));
    expect(parseTelemetry(history, NOW, limits)).toHaveLength(100);
  });

  it('0 means no limit', () => {
    const many = Object.fromEntries(Array.from({ length: 2000 }, (_, i) => [`k${i}`, i]));
    expect(Object.keys(parseAttributes({ ...many, ['x'.repeat(5000)]: 1 }, { maxKeyLength: 0, maxKeysPerMessage: 0 }))).toHaveLength(2001);
  });
});
