import type { JsonValue } from './msg';

/** Typed values of attributes and time series: boolean, long, double, string, JSON. */
export type KvValue = boolean | number | string | JsonValue[] | { [key: string]: JsonValue };
export type DataType = 'BOOLEAN' | 'LONG' | 'DOUBLE' | 'STRING' | 'JSON';

/** 2^63: integers in [-2^63, 2^63) fit ThingsBoard's LONG (a Java long). */
const LONG_LIMIT = 2 ** 63;

/**
 * The type a value is stored with. A number is a LONG when it is an integer in a Java long's range,
 * unless `double` says it was written as a double (1.0: ThingsBoard's DOUBLE, see docs/api.md).
 */
export function dataTypeOf(v: KvValue, double?: boolean): DataType {
  switch (typeof v) {
    case 'boolean':
      return 'BOOLEAN';
    case 'number':
      return double !== true && Number.isInteger(v) && v >= -LONG_LIMIT && v < LONG_LIMIT ? 'LONG' : 'DOUBLE';
    case 'string':
      return 'STRING';
    default:
      return 'JSON';
  }
}

/**
 * ThingsBoard's REST answers carry values as strings unless useStrictDataTypes=true; a DOUBLE of
 * integral value keeps its ".0" there ("1.0"), as Java's Double.toString prints it.
 */
export function kvToString(v: KvValue, double?: boolean): string {
  if (typeof v === 'object') return JSON.stringify(v);
  if (typeof v === 'number' && double === true) return doubleText(v);
  return String(v);
}

/**
 * A DOUBLE as JSON number text: an integral value keeps a fraction ("1.0", "-3.0") so that a reader
 * sees a double, as ThingsBoard's Jackson/Gson output does; a non-integral value as JavaScript
 * prints it. Always valid JSON: non-finite values (which JSON cannot carry) become null.
 */
export function doubleText(n: number): string {
  if (!Number.isFinite(n)) return 'null';
  const s = String(n); // -0 prints "0"
  return Number.isInteger(n) && s.indexOf('e') === -1 ? `${s}.0` : s;
}

/**
 * The marker a parsed key/value object carries for its keys whose number is a DOUBLE of integral
 * value (written 1.0; JSON.parse gives 1, which alone would be stored as a LONG). A symbol, so
 * JSON.stringify, Object.keys and spreads ignore it; createMsg lifts it into Msg.doubles, the plain
 * field that travels through the queue.
 */
export const DOUBLE_KEYS: unique symbol = Symbol('rivulet.doubleKeys');

/** The keys `obj` marks as DOUBLEs of integral value (DOUBLE_KEYS), or undefined. */
export function doubleKeysOf(obj: unknown): readonly string[] | undefined {
  if (typeof obj !== 'object' || obj === null) return undefined;
  const keys = (obj as { [DOUBLE_KEYS]?: readonly string[] })[DOUBLE_KEYS];
  return keys !== undefined && keys.length > 0 ? keys : undefined;
}

/** Marks `keys` of `obj` as DOUBLEs of integral value (non-enumerable, so nothing else sees it). */
export function markDoubleKeys<T extends object>(obj: T, keys: readonly string[]): T {
  if (keys.length > 0) Object.defineProperty(obj, DOUBLE_KEYS, { value: keys, enumerable: false, writable: true, configurable: true });
  return obj;
}

export interface TsKv {
  readonly key: string;
  readonly ts: number;
  readonly value: KvValue;
  /** The number is a DOUBLE although integral (written 1.0); left out otherwise. */
  readonly double?: boolean;
}

export interface TsPoint extends TsKv {
  readonly entityId: string;
}

export const AttributeScope = {
  CLIENT_SCOPE: 'CLIENT_SCOPE',
  SERVER_SCOPE: 'SERVER_SCOPE',
  SHARED_SCOPE: 'SHARED_SCOPE',
} as const;
export type AttributeScope = (typeof AttributeScope)[keyof typeof AttributeScope];

export function isAttributeScope(s: unknown): s is AttributeScope {
  return s === 'CLIENT_SCOPE' || s === 'SERVER_SCOPE' || s === 'SHARED_SCOPE';
}

export interface AttributeKv {
  readonly key: string;
  readonly value: KvValue;
  readonly lastUpdateTs: number;
  /** The number is a DOUBLE although integral (written 1.0); left out otherwise. */
  readonly double?: boolean;
}

export interface AttributeWrite extends AttributeKv {
  readonly entityId: string;
  readonly scope: AttributeScope;
}
