import { BadRequestError } from './errors';
import type { JsonValue } from './msg';

/**
 * Parses JSON the way ThingsBoard's Gson parser does in lenient mode, because ThingsBoard's own
 * documented shell commands rely on it: the shell strips inner quotes, so devices really send
 * `{temperature:25}` and `{attribute1: value1, attribute2: true}`.
 *
 * Accepted beyond strict JSON: unquoted keys and values (an unquoted value is a number, true, false,
 * null, or else a string), single-quoted strings, `=` as well as `:` between name and value, `;` as
 * well as `,` between elements. The whole input must be one value (trailing text is an error, as in
 * Gson's "Did not consume the entire document").
 *
 * Strict JSON takes the fast path through JSON.parse; the lenient parser only runs when that fails,
 * and its error names the position and what was found there.
 */
export function parseLenientJson(text: string): JsonValue {
  let v: JsonValue;
  try {
    v = JSON.parse(text) as JsonValue;
  } catch {
    return new LenientParser(text).parseDocument();
  }
  // JSON.parse has no depth limit, but deeply nested values blow the stack of whatever recursive code
  // handles them later (JSON.stringify, storage). Too deep: let the lenient parser report where.
  // A text shorter than two brackets per level cannot be too deep, so small payloads skip the walk.
  if (text.length > 2 * MAX_DEPTH && tooDeep(v, 0)) return new LenientParser(text).parseDocument();
  // JSON.parse reads 1.0 as 1: a text that may hold such a number is parsed again by the parser
  // below, which marks it (numberTextsOf). The common payload (integers, non-integral doubles) only
  // pays for the regular-expression scan.
  if (mayHoldSpecialNumber(text)) return new LenientParser(text).parseDocument();
  return v;
}

/**
 * Whether a strict JSON text may hold a number whose JavaScript value loses what ThingsBoard keeps:
 * a fraction of zeros only (1.0, 2.00: a DOUBLE of integral value), 16 digits in a row (an integer
 * beyond 2^53), or so many digits before the fraction's first digit other than 0 or 9 that the
 * double rounds to an integer (1.0000000000000001, 0.99999999999999999). It may say yes too often
 * (a string holding "v1.0": the second parse then finds nothing), never too rarely. It looks only
 * around each '.', found with indexOf: a scan of every character cost a third of JSON.parse, a
 * regular expression for the whole rule as much as JSON.parse.
 */
export function mayHoldSpecialNumber(text: string): boolean {
  if (SIXTEEN_DIGITS_RE.test(text) || (isDigit(text.charCodeAt(0)) && /^[0-9]{16}/.test(text))) return true;
  for (let dot = text.indexOf('.'); dot !== -1; dot = text.indexOf('.', dot + 1)) {
    const first = text.charCodeAt(dot + 1);
    // the common fraction (25.3): only 14 integer digits could make it round; one look tells
    if (first !== 48 && first !== 57 && !isDigit(text.charCodeAt(dot - 14))) continue;
    let intDigits = 0;
    while (intDigits < 14 && isDigit(text.charCodeAt(dot - 1 - intDigits))) intDigits++;
    if (intDigits === 0) continue;
    let i = dot + 1;
    let run = 0;
    if (first === 48 || first === 57) while (text.charCodeAt(i) === first) (i++, run++);
    const next = text.charCodeAt(i);
    // 1.0 but not 1.0e2 (an exponent with an integral value is a LONG)
    if (first === 48 && !isDigit(next) && next !== 101 && next !== 69) return true;
    if (intDigits + run >= 14) return true;
  }
  return false;
}

/** 16 digits in a row not after a '.' (a fraction's digits say nothing about the integer part). */
const SIXTEEN_DIGITS_RE = /[^0-9.][0-9]{16}/;

function isDigit(c: number): boolean {
  return c >= 48 && c <= 57;
}

/**
 * The source text of the numbers of an object parsed here that JavaScript's number alone does not
 * keep: integral doubles written with a fraction ("1.0", "-0.0") and integers beyond 2^53
 * ("9223372036854775808"), by key. Attached as a symbol, so nothing else sees it; toKvObject reads it.
 */
export const NUMBER_TEXTS: unique symbol = Symbol('rivulet.numberTexts');

export function numberTextsOf(obj: object): ReadonlyMap<string, string> | undefined {
  return (obj as { [NUMBER_TEXTS]?: ReadonlyMap<string, string> })[NUMBER_TEXTS];
}

/** Whether a JSON number's text says more than its JavaScript value: see NUMBER_TEXTS. */
function isSpecialNumber(text: string, n: number): boolean {
  if (text.indexOf('e') !== -1 || text.indexOf('E') !== -1) return false; // 1e3 is a LONG, 1e-7 a DOUBLE anyway
  return text.indexOf('.') !== -1 ? Number.isInteger(n) : !Number.isSafeInteger(n);
}

/**
 * Most nested objects/arrays accepted anywhere JSON comes in: the device API (MQTT, HTTP, CoAP), the
 * REST API's bodies and the WebSocket API's frames share it.
 */
export const MAX_JSON_DEPTH = 100;
const MAX_DEPTH = MAX_JSON_DEPTH;

/**
 * JSON.parse, then BadRequestError when the value nests deeper than MAX_JSON_DEPTH (as the device
 * API's lenient parser refuses it): the REST API's bodies and the WebSocket API's frames. JSON.parse
 * itself has no depth limit; recursive code after it (validation, JSON.stringify, storage) overflows
 * the stack. The walk stops at the limit, so it never recurses deeper than MAX_JSON_DEPTH itself.
 * A malformed text throws JSON.parse's SyntaxError.
 */
export function parseJsonWithDepthLimit(text: string): unknown {
  const v = JSON.parse(text) as unknown;
  // a text shorter than two brackets per level cannot be too deep
  if (text.length > 2 * MAX_DEPTH && tooDeep(v as JsonValue, 0)) throw new BadRequestError(`Invalid JSON: Nesting deeper than ${MAX_DEPTH} levels`);
  // strict JSON (JSON.parse took it): the lenient parser reads it the same, marking 1.0 (NUMBER_TEXTS)
  if (mayHoldSpecialNumber(text)) return new LenientParser(text).parseDocument();
  return v;
}

/** Whether `v`, itself inside `depth` containers, nests more than MAX_DEPTH containers. */
function tooDeep(v: JsonValue, depth: number): boolean {
  if (typeof v !== 'object' || v === null) return false;
  if (depth >= MAX_DEPTH) return true;
  if (Array.isArray(v)) {
    for (const x of v) if (tooDeep(x, depth + 1)) return true;
  } else {
    for (const k in v) if (tooDeep(v[k] as JsonValue, depth + 1)) return true;
  }
  return false;
}

const LITERAL_STOP = new Set(['{', '}', '[', ']', ':', ',', ';', '=', '"', "'", ' ', '\t', '\n', '\r', '\f', '#', '/', '\\']);
const NUMBER_RE = /^-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?$/;

class LenientParser {
  private pos = 0;
  /** The text of the number parseLiteral just read, when it is one NUMBER_TEXTS keeps. */
  private special: string | undefined = undefined;
  constructor(private readonly s: string) {}

  parseDocument(): JsonValue {
    this.skipWs();
    if (this.pos >= this.s.length) throw this.error('Empty payload');
    const v = this.parseValue(0);
    this.skipWs();
    if (this.pos < this.s.length) throw this.error(`Unexpected ${this.describe()} after the end of the JSON value`);
    return v;
  }

  private error(message: string): BadRequestError {
    return new BadRequestError(`Invalid JSON: ${message} at position ${this.pos}`);
  }

  private describe(): string {
    if (this.pos >= this.s.length) return 'end of input';
    return `character '${this.s[this.pos]}'`;
  }

  private skipWs(): void {
    const s = this.s;
    while (this.pos < s.length) {
      const c = s.charCodeAt(this.pos);
      if (c === 32 || c === 9 || c === 10 || c === 13 || c === 12) this.pos++;
      else break;
    }
  }

  /** `depth`: the containers around this value. */
  private parseValue(depth: number): JsonValue {
    this.skipWs();
    const c = this.s[this.pos];
    if (c === undefined) throw this.error('Unexpected end of input');
    if ((c === '{' || c === '[') && depth >= MAX_DEPTH) throw this.error(`Nesting deeper than ${MAX_DEPTH} levels`);
    if (c === '"' || c === "'") return this.parseString(c);
    if (c !== '{' && c !== '[') return this.parseLiteral();
    const v = c === '{' ? this.parseObject(depth) : this.parseArray(depth);
    this.special = undefined; // a number inside a container is not this value's
    return v;
  }

  private parseObject(depth: number): JsonValue {
    this.pos++; // {
    const out: Record<string, JsonValue> = {};
    let texts: Map<string, string> | undefined;
    this.skipWs();
    if (this.s[this.pos] === '}') {
      this.pos++;
      return out;
    }
    for (;;) {
      this.skipWs();
      const c = this.s[this.pos];
      let key: string;
      if (c === '"' || c === "'") key = this.parseString(c);
      else if (c === undefined) throw this.error('Unterminated object');
      else {
        const lit = this.readLiteral();
        if (lit === '') throw this.error(`Expected a name but found ${this.describe()}`);
        key = lit;
      }
      this.skipWs();
      const sep = this.s[this.pos];
      if (sep === ':') this.pos++;
      else if (sep === '=') {
        this.pos++;
        if (this.s[this.pos] === '>') this.pos++;
      } else throw this.error(`Expected ':' but found ${this.describe()}`);
      this.special = undefined;
      const value = this.parseValue(depth + 1);
      // Object.defineProperty keeps "__proto__" an ordinary key instead of changing the prototype
      // (only for that key: for every key it costs several times an assignment)
      if (key === '__proto__') Object.defineProperty(out, key, { value, enumerable: true, writable: true, configurable: true });
      else out[key] = value;
      if (this.special !== undefined) (texts ??= new Map()).set(key, this.special);
      else if (texts !== undefined) texts.delete(key); // a repeated key: the last value counts
      this.skipWs();
      const next = this.s[this.pos];
      if (next === ',' || next === ';') {
        this.pos++;
        continue;
      }
      if (next === '}') {
        this.pos++;
        if (texts !== undefined) Object.defineProperty(out, NUMBER_TEXTS, { value: texts, enumerable: false });
        return out;
      }
      throw this.error(next === undefined ? 'Unterminated object' : `Expected ',' or '}' but found ${this.describe()}`);
    }
  }

  private parseArray(depth: number): JsonValue {
    this.pos++; // [
    const out: JsonValue[] = [];
    this.skipWs();
    if (this.s[this.pos] === ']') {
      this.pos++;
      return out;
    }
    for (;;) {
      out.push(this.parseValue(depth + 1));
      this.skipWs();
      const next = this.s[this.pos];
      if (next === ',' || next === ';') {
        this.pos++;
        continue;
      }
      if (next === ']') {
        this.pos++;
        return out;
      }
      throw this.error(next === undefined ? 'Unterminated array' : `Expected ',' or ']' but found ${this.describe()}`);
    }
  }

  private parseString(quote: string): string {
    const start = this.pos;
    const s = this.s;
    // the common string has no escape: one slice (strict JSON parsed again for its numbers is mostly such strings)
    const close = s.indexOf(quote, start + 1);
    if (close !== -1) {
      const plain = s.slice(start + 1, close);
      if (plain.indexOf('\\') === -1) {
        this.pos = close + 1;
        return plain;
      }
    }
    this.pos++;
    let out = '';
    for (;;) {
      const c = s[this.pos];
      if (c === undefined) {
        this.pos = start;
        throw this.error('Unterminated string');
      }
      if (c === quote) {
        this.pos++;
        return out;
      }
      if (c === '\\') {
        const e = s[this.pos + 1];
        this.pos += 2;
        switch (e) {
          case 'n': out += '\n'; break;
          case 't': out += '\t'; break;
          case 'r': out += '\r'; break;
          case 'b': out += '\b'; break;
          case 'f': out += '\f'; break;
          case 'u': {
            const hex = s.slice(this.pos, this.pos + 4);
            if (!/^[0-9a-fA-F]{4}$/.test(hex)) throw this.error('Invalid \\u escape');
            out += String.fromCharCode(parseInt(hex, 16));
            this.pos += 4;
            break;
          }
          case undefined: throw this.error('Unterminated string');
          default: out += e; // \" \' \\ \/ and Gson's lenient "any char"
        }
        continue;
      }
      out += c;
      this.pos++;
    }
  }

  private readLiteral(): string {
    const start = this.pos;
    const s = this.s;
    while (this.pos < s.length && !LITERAL_STOP.has(s[this.pos] as string)) this.pos++;
    return s.slice(start, this.pos);
  }

  private parseLiteral(): JsonValue {
    const lit = this.readLiteral();
    if (lit === '') throw this.error(`Unexpected ${this.describe()}`);
    const lower = lit.toLowerCase();
    if (lower === 'true') return true;
    if (lower === 'false') return false;
    if (lower === 'null') return null;
    if (NUMBER_RE.test(lit)) {
      const n = Number(lit);
      if (isSpecialNumber(lit, n)) this.special = lit;
      return n;
    }
    return lit;
  }
}
