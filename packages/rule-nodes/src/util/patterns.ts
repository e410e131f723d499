import type { JsonValue, Msg } from '@rivulet/core';

const PATTERN = /\$\{([^}]+)\}|\$\[([^\]]+)\]/g;

/** A value at a dotted path of the data (`a.b.c`), or undefined. */
export function dataPath(data: JsonValue, path: string): JsonValue | undefined {
  let cur: JsonValue | undefined = data;
  for (const part of path.split('.')) {
    if (typeof cur !== 'object' || cur === null || Array.isArray(cur)) return undefined;
    cur = cur[part];
  }
  return cur;
}

/**
 * ThingsBoard's name patterns (TbNodeUtils.processPattern): `${key}` takes a metadata value,
 * `$[key]` a data value (dotted paths allowed). A key that is not there is left as written.
 */
export function processPattern(pattern: string, msg: Msg): string {
  if (!pattern.includes('$')) return pattern;
  return pattern.replace(PATTERN, (whole, metaKey: string | undefined, dataKey: string | undefined) => {
    if (metaKey !== undefined) return msg.metadata[metaKey.trim()] ?? whole;
    const v = dataPath(msg.data, (dataKey ?? '').trim());
    if (v === undefined) return whole;
    return typeof v === 'string' ? v : JSON.stringify(v);
  });
}

export function hasPattern(s: string): boolean {
  return /\$\{[^}]+\}|\$\[[^\]]+\]/.test(s);
}
