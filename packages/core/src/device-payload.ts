import { BadRequestError } from './errors';
import { markDoubleKeys, type KvValue } from './kv';
import { numberTextsOf } from './lenient-json';
import type { JsonValue } from './msg';

/** One time-stamped group of a telemetry payload: becomes one POST_TELEMETRY_REQUEST message. */
export interface TelemetryGroup {
  ts: number;
  values: Record<string, KvValue>;
}

export interface PayloadOptions {
  /** Strings that are numbers become numbers (ThingsBoard's default). */
  typeCasting?: boolean;
  /** Longest key, characters (the tenant's maxKeyLength); 0 or left out: no limit. */
  maxKeyLength?: number;
  /**
   * Most keys in one message (the tenant's maxKeysPerMessage): the keys of an attributes object, or
   * the distinct keys of all groups of a telemetry payload; 0 or left out: no limit.
   */
  maxKeysPerMessage?: number;
}

/** The key limits of a tenant, in the shape the parsers take. */
export function keyLimits(limits: { readonly maxKeyLength: number; readonly maxKeysPerMessage: number }): Pick<PayloadOptions, 'maxKeyLength' | 'maxKeysPerMessage'> {
  return { maxKeyLength: limits.maxKeyLength, maxKeysPerMessage: limits.maxKeysPerMessage };
}

/**
 * A string ThingsBoard's type casting reads as a number (commons-lang's NumberUtils.isParsable): an
 * optional minus, digits with at most one '.', not ending in '.'. "1e3", "+1" and "1." stay strings.
 */
const NUMERIC_RE = /^-?(?:\d+(?:\.\d+)?|\.\d+)$/;
const TS_STRING_RE = /^\d{1,16}$/;

function isPlainObject(v: unknown): v is Record<string, JsonValue> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

// PostgreSQL's text and jsonb cannot hold U+0000; refusing it here gives the device a clear 400
// instead of a write the database refuses later.
function checkNoNul(s: string, what: string): void {
  if (s.includes('\u0000')) throw new BadRequestError(`${what} must not contain the NUL character (\\u0000)`);
}

/** Whether a string or key anywhere in a JSON value holds an unpaired UTF-16 surrogate ("\ud800"). */
const LONE_SURROGATE_RE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;
function hasLoneSurrogate(v: JsonValue): boolean {
  if (typeof v === 'string') return LONE_SURROGATE_RE.test(v);
  if (typeof v !== 'object' || v === null) return false;
  if (Array.isArray(v)) return v.some(hasLoneSurrogate);
  return Object.keys(v).some((k) => LONE_SURROGATE_RE.test(k) || hasLoneSurrogate(v[k] as JsonValue));
}

/** A value as stored: null dropped (undefined), numeric strings cast when asked. */
export function toKvValue(v: JsonValue, typeCasting: boolean): KvValue | undefined {
  if (v === null) return undefined;
  if (typeof v === 'string') checkNoNul(v, 'String values');
  // JSON.stringify escapes U+0000 as the six characters \u0000
  else if (typeof v === 'object' && JSON.stringify(v).includes('\\u0000')) checkNoNul('\u0000', 'JSON values');
  // jsonb refuses an unpaired surrogate escape: the write failed after the device's ack and the
  // message was retried, then skipped with its other keys (found by coap.fuzz)
  if (typeof v === 'object' && hasLoneSurrogate(v)) throw new BadRequestError('JSON values must be valid Unicode (an unpaired UTF-16 surrogate such as \\ud800 cannot be stored)');
  if (typeof v === 'string' && typeCasting && v.length > 0 && v.length < 32 && NUMERIC_RE.test(v)) {
    const n = Number(v);
    // beyond a Java long ThingsBoard keeps the string
    if (Number.isFinite(n) && (Number.isSafeInteger(n) || v.indexOf('.') !== -1 || !outOfLongRange(v))) return n;
  }
  if (typeof v === 'number' && !Number.isFinite(v)) return undefined;
  return v;
}

const LONG_MAX = 9223372036854775807n;
const LONG_MIN = -9223372036854775808n;

/** Whether an integer's decimal text is beyond a Java long (ThingsBoard's LONG). */
function outOfLongRange(digits: string): boolean {
  const n = BigInt(digits);
  return n > LONG_MAX || n < LONG_MIN;
}

/**
 * Whether `text`, the source of a number (NUMBER_TEXTS) or a string cast to one, is a DOUBLE of
 * integral value: written with a '.' (ThingsBoard's "simple double", 1.0), read by JavaScript as an integer.
 */
function isIntegralDoubleText(text: string, n: number): boolean {
  return text.indexOf('.') !== -1 && Number.isInteger(n);
}

/** Characters (code points) of a string, counted only when its UTF-16 length is over `max`. */
function longerThan(s: string, max: number): boolean {
  if (s.length <= max) return false;
  let n = 0;
  for (const _ of s) if (++n > max) return true;
  return false;
}

function checkKeyLength(key: string, max: number): void {
  if (max > 0 && longerThan(key, max)) {
    const shown = key.length > 40 ? `${key.slice(0, 40)}...` : key;
    throw new BadRequestError(`Key "${shown}" is ${[...key].length} characters long: the limit is ${max} (maxKeyLength)`, { details: { limit: 'maxKeyLength', value: max } });
  }
}

function tooManyKeys(count: number, max: number): BadRequestError {
  return new BadRequestError(`The message has ${count} keys: the limit is ${max} per message (maxKeysPerMessage)`, { details: { limit: 'maxKeysPerMessage', value: max } });
}

/** The key/value object of a payload, nulls dropped, values cast; keys checked against the limits. */
export function toKvObject(obj: Record<string, JsonValue>, typeCasting: boolean, limits: Pick<PayloadOptions, 'maxKeyLength' | 'maxKeysPerMessage'> = {}): Record<string, KvValue> {
  const out: Record<string, KvValue> = {};
  const keys = Object.keys(obj);
  const maxKeys = limits.maxKeysPerMessage ?? 0;
  if (maxKeys > 0 && keys.length > maxKeys) throw tooManyKeys(keys.length, maxKeys);
  const maxKeyLength = limits.maxKeyLength ?? 0;
  const texts = numberTextsOf(obj);
  let doubles: string[] | undefined;
  for (const key of keys) {
    if (key.length === 0) continue;
    checkKeyLength(key, maxKeyLength);
    checkNoNul(key, 'Keys');
    const raw = obj[key] as JsonValue;
    let v: KvValue | undefined;
    const text = texts?.get(key);
    if (text !== undefined && typeof raw === 'number') {
      if (isIntegralDoubleText(text, raw)) {
        (doubles ??= []).push(key);
        v = raw === 0 ? 0 : raw; // -0.0 is stored as 0.0, as ThingsBoard's BigDecimal has no negative zero
      } else if (outOfLongRange(text)) {
        // ThingsBoard's: the digits as a string with type casting, refused without
        if (!typeCasting) throw new BadRequestError(`Key "${key}": big integer values are not supported (${text} is beyond a 64-bit long)`);
        v = text;
      } else v = raw;
    } else {
      v = toKvValue(raw, typeCasting);
      if (v === undefined) continue;
      if (typeof raw === 'string' && typeof v === 'number' && isIntegralDoubleText(raw, v)) (doubles ??= []).push(key);
    }
    // "__proto__" must stay an ordinary key instead of changing the prototype; defineProperty for
    // every key would cost 6x per call (and leave a slow object), so only for that one
    if (key === '__proto__') Object.defineProperty(out, key, { value: v, enumerable: true, writable: true, configurable: true });
    else out[key] = v;
  }
  return doubles === undefined ? out : markDoubleKeys(out, doubles);
}

function telemetryElement(el: JsonValue, now: number, opts: PayloadOptions, where: string): TelemetryGroup {
  const typeCasting = opts.typeCasting ?? true;
  if (!isPlainObject(el)) throw new BadRequestError(`Telemetry ${where} must be a JSON object, got ${describeJson(el)}`);
  // ThingsBoard treats {ts, values} as time-stamped only when both keys are present.
  if (Object.hasOwn(el, 'ts') && Object.hasOwn(el, 'values')) {
    // A string ts is read as a number, as Gson's getAsLong does; Number('') would be 0, so only digits.
    const ts = typeof el.ts === 'string' ? (TS_STRING_RE.test(el.ts) ? Number(el.ts) : NaN) : el.ts;
    if (typeof ts !== 'number' || !Number.isFinite(ts) || ts < 0 || ts > Number.MAX_SAFE_INTEGER) {
      throw new BadRequestError(`Telemetry ${where}: "ts" must be a number of milliseconds since the epoch`);
    }
    if (!isPlainObject(el.values)) throw new BadRequestError(`Telemetry ${where}: "values" must be a JSON object`);
    return { ts: Math.trunc(ts), values: toKvObject(el.values, typeCasting, opts) };
  }
  return { ts: now, values: toKvObject(el, typeCasting, opts) };
}

/**
 * ThingsBoard's telemetry shapes: `{k:v}`, `{ts, values}`, or an array of either.
 * Groups without any value are left out (nothing to store).
 */
export function parseTelemetry(json: JsonValue, now: number, opts: PayloadOptions = {}): TelemetryGroup[] {
  const groups: TelemetryGroup[] = [];
  if (Array.isArray(json)) {
    const maxKeys = opts.maxKeysPerMessage ?? 0;
    // The distinct keys of all groups together: one message of many points of a few keys passes.
    const seen = maxKeys > 0 && json.length > 1 ? new Set<string>() : undefined;
    json.forEach((el, i) => {
      const g = telemetryElement(el, now, opts, `element ${i}`);
      if (seen) {
        for (const k of Object.keys(g.values)) seen.add(k);
        if (seen.size > maxKeys) throw tooManyKeys(seen.size, maxKeys);
      }
      if (Object.keys(g.values).length > 0) groups.push(g);
    });
  } else {
    const g = telemetryElement(json, now, opts, 'payload');
    if (Object.keys(g.values).length > 0) groups.push(g);
  }
  return groups;
}

/** Client attributes: one JSON object. */
export function parseAttributes(json: JsonValue, opts: PayloadOptions = {}): Record<string, KvValue> {
  if (!isPlainObject(json)) throw new BadRequestError(`Attributes must be a JSON object, got ${describeJson(json)}`);
  return toKvObject(json, opts.typeCasting ?? true, opts);
}

/** Comma-separated key list of ThingsBoard's query parameters ("a,b" -> ["a","b"]); undefined for absent. */
export function parseKeyList(s: string | null | undefined): string[] | undefined {
  if (s === null || s === undefined) return undefined;
  return s.split(',').map((k) => k.trim()).filter((k) => k.length > 0);
}

export function describeJson(v: JsonValue): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  return typeof v === 'object' ? 'an object' : `a ${typeof v}`;
}
