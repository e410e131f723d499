import type { JsonValue } from './msg';

/** Typed values of attributes and time series: boolean, long, double, string, JSON. */
export type KvValue = boolean | number | string | JsonValue[] | { [key: string]: JsonValue };
export type DataType = 'BOOLEAN' | 'LONG' | 'DOUBLE' | 'STRING' | 'JSON';

export function dataTypeOf(v: KvValue): DataType {
  switch (typeof v) {
    case 'boolean':
      return 'BOOLEAN';
    case 'number':
      return Number.isSafeInteger(v) ? 'LONG' : 'DOUBLE';
    case 'string':
      return 'STRING';
    default:
      return 'JSON';
  }
}

/** ThingsBoard's REST answers carry values as strings unless useStrictDataTypes=true. */
export function kvToString(v: KvValue): string {
  return typeof v === 'object' ? JSON.stringify(v) : String(v);
}

export interface TsKv {
  readonly key: string;
  readonly ts: number;
  readonly value: KvValue;
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
}

export interface AttributeWrite extends AttributeKv {
  readonly entityId: string;
  readonly scope: AttributeScope;
}
