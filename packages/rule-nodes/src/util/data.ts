import { BadRequestError, RivuletError, ErrorCode, kvToString, type JsonObject, type JsonValue, type KvValue, type Msg } from '@rivulet/core';
import type { RuleNodeServices } from '@rivulet/rule-engine';
import { z } from 'zod';

/** Where enrichment nodes put what they fetch, and where transformation nodes look (ThingsBoard's TbMsgSource). */
export const MsgSource = z.enum(['DATA', 'METADATA']);
export type MsgSource = z.infer<typeof MsgSource>;

export function isObject(v: JsonValue | undefined): v is JsonObject {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** The message data as an object, or a clear error naming the node's need. */
export function objectData(msg: Msg, what: string): JsonObject {
  if (!isObject(msg.data)) throw new BadRequestError(`${what} needs the message data to be a JSON object`);
  return msg.data;
}

/**
 * A metadata value: strings as they are, everything else as JSON (ThingsBoard's convention); a
 * DOUBLE of integral value (`double`) as "1.0", as ThingsBoard's getValueAsString.
 */
export function metadataValue(v: JsonValue | KvValue, double?: boolean): string {
  return typeof v === 'string' ? v : kvToString(v as KvValue, double);
}

/** A number from a data or metadata value (numeric strings included), or undefined. */
export function toNumber(v: JsonValue | undefined): number | undefined {
  if (typeof v === 'number') return Number.isFinite(v) ? v : undefined;
  if (typeof v === 'boolean') return v ? 1 : 0;
  if (typeof v === 'string' && v.trim() !== '') {
    const n = Number(v);
    return Number.isFinite(n) ? n : undefined;
  }
  return undefined;
}

/** The message's time: metadata.ts when it is a number, else the message's creation time. */
export function msgTs(msg: Msg): number {
  const t = Number(msg.metadata.ts);
  return msg.metadata.ts !== undefined && msg.metadata.ts !== '' && Number.isFinite(t) ? t : msg.ts;
}

/**
 * Writes values into the data (typed) or the metadata (as strings) of a message, returning the new
 * data and metadata; the message itself is not changed.
 */
export function putValues(
  msg: Msg,
  to: MsgSource,
  values: ReadonlyArray<readonly [key: string, value: JsonValue, double?: boolean]>,
  what: string,
): { data: JsonValue; metadata: Record<string, string>; doubles?: readonly string[] } {
  if (to === 'METADATA') {
    const metadata = { ...msg.metadata };
    for (const [k, v, double] of values) metadata[k] = metadataValue(v, double);
    return { data: msg.data, metadata };
  }
  const data: JsonObject = { ...objectData(msg, what) };
  // a value marked as a double (an attribute stored as 1.0) stays one in the data (Msg.doubles)
  let doubles: Set<string> | undefined = msg.doubles ? new Set(msg.doubles) : undefined;
  for (const [k, v, double] of values) {
    data[k] = v;
    if (double === true && typeof v === 'number') (doubles ??= new Set()).add(k);
    else doubles?.delete(k);
  }
  return doubles === undefined ? { data, metadata: { ...msg.metadata } } : { data, metadata: { ...msg.metadata }, doubles: [...doubles] };
}

/** A capability the node needs; absent: a clear error (the message goes to Failure). */
export function requireCapability<K extends keyof RuleNodeServices>(services: RuleNodeServices, name: K, nodeName: string): NonNullable<RuleNodeServices[K]> {
  const c = services[name];
  if (c === undefined || c === null) {
    throw new RivuletError(ErrorCode.UNAVAILABLE, `The ${nodeName} node needs the '${String(name)}' service, which this server does not provide`);
  }
  return c as NonNullable<RuleNodeServices[K]>;
}

/** Compiles ThingsBoard's key patterns (regular expressions that must match the whole key). */
export function keyMatcher(patterns: readonly string[]): (key: string) => boolean {
  const res = patterns.map((p) => {
    try {
      return new RegExp(`^(?:${p})$`);
    } catch {
      // Not a valid expression: matched literally.
      return new RegExp(`^${p.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`);
    }
  });
  return (key) => res.some((r) => r.test(key));
}

/** Evicts the oldest entries of a Map used as per-originator state once it holds more than `max`. */
export function capMap<K, V>(map: Map<K, V>, max: number): void {
  while (map.size > max) {
    const oldest = map.keys().next();
    if (oldest.done) return;
    map.delete(oldest.value);
  }
}

/**
 * A boolean in a node configuration. ThingsBoard exports sometimes carry booleans as strings
 * ("notifyDevice": "false" in its own root chain), which its Jackson reader accepts; so do we.
 */
export const tbBool = () => z.union([z.boolean(), z.enum(['true', 'false']).transform((v) => v === 'true')]);
