import { describe, expect, it } from 'vitest';
import { BadRequestError } from './errors';
import { parseLenientJson } from './lenient-json';

/** The error parseLenientJson throws for `text` (fails the test when it parses). */
function parseError(text: string): BadRequestError {
  try {
    parseLenientJson(text);
  } catch (e) {
    expect(e).toBeInstanceOf(BadRequestError);
    return e as BadRequestError;
  }
  throw new Error(`expected ${JSON.stringify(text)} not to parse`);
}

const nested = (levels: number, open: string, leaf: string, close: string): string =>
  open.repeat(levels) + leaf + close.repeat(levels);

describe('parseLenientJson', () => {
  describe('strict JSON', () => {
    it.each([
      ['{"temperature":25}', { temperature: 25 }],
      ['{"a":"x","b":true,"c":null,"d":1.5e3,"e":-2}', { a: 'x', b: true, c: null, d: 1500, e: -2 }],
      ['[{"ts":1,"values":{"k":1}}]', [{ ts: 1, values: { k: 1 } }]],
      ['  {"s":"q\\"uote \\u00e9"}  ', { s: 'q"uote é' }],
      ['[]', []],
      ['{}', {}],
      ['42', 42],
    ])('%s', (text, expected) => {
      expect(parseLenientJson(text)).toEqual(expected);
    });
  });

  describe("ThingsBoard's shell-stripped forms", () => {
    it('{temperature:25} (mosquitto_pub -m {"temperature":25} through a shell)', () => {
      expect(parseLenientJson('{temperature:25}')).toEqual({ temperature: 25 });
    });

    it('{attribute1: value1, attribute2: true} (curl --data "{"attribute1": "value1", ...}")', () => {
      expect(parseLenientJson('{attribute1: value1, attribute2: true}')).toEqual({ attribute1: 'value1', attribute2: true });
    });

    it('reads unquoted literals as number, boolean, null or else string', () => {
      expect(parseLenientJson('{a:1.5, b:-3, c:false, d:null, e:on, f:1.2.3, g:TRUE}')).toEqual({
        a: 1.5,
        b: -3,
        c: false,
        d: null,
        e: 'on',
        f: '1.2.3',
        g: true,
      });
    });

    it("accepts Gson's = and ; separators", () => {
      expect(parseLenientJson('{a=1; b=>2}')).toEqual({ a: 1, b: 2 });
    });
  });

  it('accepts single-quoted names and strings', () => {
    expect(parseLenientJson("{'name':'it\\'s', 'q':'say \"hi\"'}")).toEqual({ name: "it's", q: 'say "hi"' });
  });

  it('parses nested lenient objects and arrays', () => {
    expect(parseLenientJson('{ts:1451649600512, values:{pos:{lat:1.5, lon:-2}, tags:[a, "b", 3], ok:true}}')).toEqual({
      ts: 1451649600512,
      values: { pos: { lat: 1.5, lon: -2 }, tags: ['a', 'b', 3], ok: true },
    });
    expect(parseLenientJson("[{a:1},{'b':[[]]}]")).toEqual([{ a: 1 }, { b: [[]] }]);
  });

  describe('errors name the position', () => {
    it('garbage', () => {
      const e = parseError('{temperature 25}');
      expect(e.message).toBe("Invalid JSON: Expected ':' but found character '2' at position 13");
      expect(e.status).toBe(400);
    });

    it('a stray closing bracket', () => {
      expect(parseError('}').message).toBe("Invalid JSON: Unexpected character '}' at position 0");
    });

    it('truncated object', () => {
      expect(parseError('{"temperature":').message).toBe('Invalid JSON: Unexpected end of input at position 15');
      expect(parseError('{"temperature":25').message).toBe('Invalid JSON: Unterminated object at position 17');
      expect(parseError('[1,2').message).toBe('Invalid JSON: Unterminated array at position 4');
    });

    it('truncated string points at its opening quote', () => {
      expect(parseError('{"name":"abc').message).toBe('Invalid JSON: Unterminated string at position 8');
    });

    it('trailing text after the value', () => {
      expect(parseError('{"a":1} x').message).toBe("Invalid JSON: Unexpected character 'x' after the end of the JSON value at position 8");
      expect(parseError('{"a":1}{"b":2}').message).toMatch(/after the end of the JSON value at position 7$/);
    });

    it('empty input', () => {
      expect(parseError('').message).toBe('Invalid JSON: Empty payload at position 0');
      expect(parseError('  \n').message).toMatch(/^Invalid JSON: Empty payload/);
    });

    it('a bad \\u escape', () => {
      expect(parseError('{"a":"\\u12g4"}').message).toMatch(/^Invalid JSON: Invalid \\u escape at position \d+$/);
    });
  });

  describe('__proto__', () => {
    it.each([['strict', '{"__proto__":{"polluted":1},"a":2}'], ['lenient', '{__proto__:{polluted:1}, a:2}']])(
      'stays an own key (%s)',
      (_kind, text) => {
        const v = parseLenientJson(text) as Record<string, unknown>;
        expect(Object.getPrototypeOf(v)).toBe(Object.prototype);
        expect(Object.keys(v)).toEqual(['__proto__', 'a']);
        expect(Object.getOwnPropertyDescriptor(v, '__proto__')?.value).toEqual({ polluted: 1 });
        expect((v as { polluted?: unknown }).polluted).toBeUndefined();
        expect(({} as { polluted?: unknown }).polluted).toBeUndefined();
      },
    );
  });

  describe('depth limit of 100 nested containers', () => {
    it.each([
      ['strict arrays', '[', '', ']'],
      ['strict objects', '{"a":', '1', '}'],
      ['lenient objects', '{a:', '1', '}'],
    ])('%s: 100 parse, 101 are rejected with a position', (_kind, open, leaf, close) => {
      expect(() => parseLenientJson(nested(100, open, leaf, close))).not.toThrow();
      expect(parseError(nested(101, open, leaf, close)).message).toMatch(/^Invalid JSON: Nesting deeper than 100 levels at position \d+$/);
    });

    it('rejects very deep input without overflowing the stack', () => {
      expect(parseError(nested(30_000, '[', '', ']')).message).toMatch(/Nesting deeper than 100 levels at position 100$/);
      expect(parseError(nested(30_000, '{a:', '1', '}')).message).toMatch(/Nesting deeper than 100 levels/);
    });
  });
});
