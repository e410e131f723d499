import { doubleText } from './kv';

/**
 * A DOUBLE in an answer: stringifyJson prints it with its fraction (1.0), so a reader sees a double
 * as ThingsBoard's answers show it. JSON.stringify cannot print 1.0; given one anyway it prints the
 * plain number (toJSON), never anything unsafe.
 */
export class JsonDouble {
  constructor(readonly value: number) {}
  toJSON(): number {
    return this.value;
  }
}

/** An answer body holding JsonDouble values somewhere: the API sends it through stringifyJson. */
export class JsonWithDoubles {
  constructor(readonly value: unknown) {}
}

/**
 * JSON.stringify for answers holding JsonDouble values, which print as doubleText ("1.0"). Everything
 * else is written by JSON.stringify itself (strings, keys, numbers, toJSON), so the output is what
 * JSON.stringify gives apart from the doubles: nothing from the data can break out of its string.
 * Only for answers that hold a JsonDouble (JsonWithDoubles): JSON.stringify alone is faster.
 */
export function stringifyJson(v: unknown): string {
  const out: string[] = [];
  write(v, out);
  return out.join('');
}

function write(v: unknown, out: string[]): void {
  if (v instanceof JsonDouble) {
    out.push(doubleText(v.value));
    return;
  }
  if (typeof v !== 'object' || v === null || typeof (v as { toJSON?: unknown }).toJSON === 'function') {
    // JSON.stringify gives undefined for undefined, functions and symbols: null, as in an array
    out.push(JSON.stringify(v) ?? 'null');
    return;
  }
  if (Array.isArray(v)) {
    out.push('[');
    for (let i = 0; i < v.length; i++) {
      if (i > 0) out.push(',');
      write(v[i], out);
    }
    out.push(']');
    return;
  }
  out.push('{');
  let first = true;
  for (const k of Object.keys(v)) {
    const x = (v as Record<string, unknown>)[k];
    if (x === undefined || typeof x === 'function' || typeof x === 'symbol') continue; // JSON.stringify leaves these keys out
    if (!first) out.push(',');
    first = false;
    out.push(JSON.stringify(k), ':');
    write(x, out);
  }
  out.push('}');
}
