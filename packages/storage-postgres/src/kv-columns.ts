import { dataTypeOf, type KvValue } from '@rivulet/core';

/** The typed columns of attribute_kv, ts_kv and ts_kv_latest, as read back. */
export interface KvColumnsRow {
  bool_v: boolean | null;
  long_v: string | number | null;
  dbl_v: number | null;
  str_v: string | null;
  json_v: unknown;
}

/**
 * Column-oriented parameter arrays for `unnest`: one array per typed column, each row setting
 * exactly one of them. JSON travels as text and is cast per element in SQL, because a jsonb[]
 * parameter would make pg read a nested JS array as a second array dimension.
 */
export interface KvColumnArrays {
  bool: Array<boolean | null>;
  long: Array<number | string | null>;
  dbl: Array<number | null>;
  str: Array<string | null>;
  json: Array<string | null>;
}

export function emptyKvColumns(): KvColumnArrays {
  return { bool: [], long: [], dbl: [], str: [], json: [] };
}

/** `double`: the number is a DOUBLE although integral (written 1.0; AttributeKv.double). */
export function pushKvValue(cols: KvColumnArrays, v: KvValue, double?: boolean): void {
  const t = dataTypeOf(v, double);
  cols.bool.push(t === 'BOOLEAN' ? (v as boolean) : null);
  cols.long.push(t === 'LONG' ? longText(v as number) : null);
  cols.dbl.push(t === 'DOUBLE' ? (v as number) : null);
  cols.str.push(t === 'STRING' ? (v as string) : null);
  cols.json.push(t === 'JSON' ? JSON.stringify(v) : null);
}

/** The JS value of a typed row. bigint arrives as a string from pg and as a number from PGlite. */
export function kvValueOf(row: KvColumnsRow): KvValue {
  if (row.bool_v !== null) return row.bool_v;
  if (row.long_v !== null) return Number(row.long_v);
  if (row.dbl_v !== null) return row.dbl_v;
  if (row.str_v !== null) return row.str_v;
  if (row.json_v !== null && row.json_v !== undefined) return row.json_v as KvValue;
  // Unreachable with rows written by this package; an empty string beats a crash on a hand-edited row.
  return '';
}

/** Whether a typed row holds a DOUBLE of integral value (read back with TsKv/AttributeKv.double). */
export function isIntegralDouble(row: KvColumnsRow): boolean {
  return row.bool_v === null && row.long_v === null && typeof row.dbl_v === 'number' && Number.isInteger(row.dbl_v);
}

export const KV_COLUMNS = 'bool_v, long_v, dbl_v, str_v, json_v';

/** A string as an element of a PostgreSQL array literal: double-quoted, `"` and `\` escaped. */
export function quoteArrayElement(s: string): string {
  return s.indexOf('"') === -1 && s.indexOf('\\') === -1 ? `"${s}"` : `"${s.replace(/[\\"]/g, '\\$&')}"`;
}

/**
 * The typed columns of `values` as PostgreSQL array literals ('{1,NULL,...}'), one per column, built
 * in one pass. pg would otherwise serialize each JS array element by element (prepareValue,
 * escapeElement and a string per element): on the time-series hot path that was the largest
 * allocation of a message's whole journey. Elements are collected and joined once (a string grown
 * with += leaves two intermediate strings per element behind). A column with no value at all is
 * null instead of a literal full of NULLs: unnest pads it with NULLs for free, and PostgreSQL
 * parses one array less (numeric telemetry leaves three of the five columns empty).
 * `doubles[i]`: values[i] is a DOUBLE although integral (TsPoint.double); left out when none is.
 */
export function kvColumnLiterals(values: readonly KvValue[], doubles?: readonly boolean[]): [bool: string | null, long: string | null, dbl: string | null, str: string | null, json: string | null] {
  const n = values.length;
  const bool: string[] = new Array(n);
  const long: string[] = new Array(n);
  const dbl: string[] = new Array(n);
  const str: string[] = new Array(n);
  const json: string[] = new Array(n);
  let used = 0;
  for (let i = 0; i < n; i++) {
    const v = values[i]!;
    const t = dataTypeOf(v, doubles?.[i]);
    bool[i] = t === 'BOOLEAN' ? (v ? 't' : 'f') : 'NULL';
    long[i] = t === 'LONG' ? longText(v as number) : 'NULL';
    dbl[i] = t === 'DOUBLE' ? String(v) : 'NULL';
    str[i] = t === 'STRING' ? quoteArrayElement(v as string) : 'NULL';
    json[i] = t === 'JSON' ? quoteArrayElement(JSON.stringify(v)) : 'NULL';
    used |= TYPE_BIT[t];
  }
  const col = (bit: number, elements: string[]) => ((used & bit) !== 0 ? arrayLiteral(elements) : null);
  return [col(1, bool), col(2, long), col(4, dbl), col(8, str), col(16, json)];
}

/**
 * A LONG's digits. Beyond 2^53 String() prints the shortest text that reads back as the same double
 * (2^60 as "1152921504606847000"), a different integer in a bigint column: BigInt gives the exact one.
 */
function longText(v: number): string {
  return Number.isSafeInteger(v) ? String(v) : BigInt(v).toString();
}

const TYPE_BIT = { BOOLEAN: 1, LONG: 2, DOUBLE: 4, STRING: 8, JSON: 16 } as const;

/** Elements already in literal form (quoted where needed) as one array literal. */
export function arrayLiteral(elements: readonly string[]): string {
  return `{${elements.join(',')}}`;
}
