import type { Json } from '@rivulet/api-types';

/** The four kinds of attribute value the editor offers, and parsing the text typed for each. */

export type ValueType = 'string' | 'number' | 'boolean' | 'json';

export function typeOf(v: unknown): ValueType {
  if (typeof v === 'number') return 'number';
  if (typeof v === 'boolean') return 'boolean';
  if (typeof v === 'string') return 'string';
  return 'json';
}

/** The text the editor starts from for a value. */
export function toText(v: unknown): string {
  if (typeof v === 'string') return v;
  if (typeof v === 'object') return JSON.stringify(v, null, 2);
  return String(v);
}

export type Parsed = { ok: true; value: Json } | { ok: false; error: string };

export function parseValue(type: ValueType, text: string): Parsed {
  switch (type) {
    case 'string':
      return { ok: true, value: text };
    case 'number': {
      const n = Number(text.trim());
      if (text.trim() === '' || !Number.isFinite(n)) return { ok: false, error: 'Enter a number' };
      return { ok: true, value: n };
    }
    case 'boolean':
      if (text === 'true' || text === 'false') return { ok: true, value: text === 'true' };
      return { ok: false, error: 'true or false' };
    case 'json':
      return parseJson(text);
  }
}

/** JSON text to a value, or where it is broken. */
export function parseJson(text: string): Parsed {
  if (text.trim() === '') return { ok: false, error: 'Enter JSON' };
  try {
    return { ok: true, value: JSON.parse(text) as Json };
  } catch (e) {
    return { ok: false, error: `Invalid JSON: ${e instanceof Error ? e.message : String(e)}` };
  }
}
