import type { AttributesResponse } from './device-api';
import { JsonDouble, stringifyJson } from './json-text';
import type { AttributeKv, KvValue } from './kv';
import type { AttributesEvent } from './live-events';

/**
 * What a device reads back: attribute answers and shared-attribute updates, with a DOUBLE of
 * integral value printed 1.0 as ThingsBoard's transports (Gson, JsonConverter) print a Double.
 * Only a body that holds one pays for stringifyJson; every other body keeps JSON.stringify.
 */

/** A stored attribute as a device reads it: a DOUBLE of integral value becomes a JsonDouble. */
export function deviceAttributeValue(kv: Pick<AttributeKv, 'value' | 'double'>): KvValue | JsonDouble {
  return kv.double === true && typeof kv.value === 'number' ? new JsonDouble(kv.value) : kv.value;
}

/** The JSON text of a body for a device; `doubles`: it holds a JsonDouble (then stringifyJson). */
export function deviceAnswerText(body: unknown, doubles: boolean | undefined): string {
  return doubles === true ? stringifyJson(body) : JSON.stringify(body);
}

/** `{"client":{..},"shared":{..}}` (empty sections left out), the answer to an attribute request. */
export function attributesResponseText(a: AttributesResponse): string {
  // without doubles the answer is its own text (no `doubles` key in it): no copy on the common path
  return a.doubles === true ? stringifyJson({ client: a.client, shared: a.shared }) : JSON.stringify(a);
}

/** A body for a device and whether it holds a JsonDouble (write it with deviceAnswerText). */
export interface DeviceBody<T> {
  readonly body: T;
  readonly doubles: boolean;
}

/**
 * ThingsBoard's shared-attributes update to a device: the changed values by key, deletions under
 * "deleted"; undefined when there is neither. Keys are defined, never assigned, so `__proto__` is a
 * key like any other.
 */
export function sharedAttributesUpdate(ev: AttributesEvent): DeviceBody<Record<string, KvValue | JsonDouble | string[]>> | undefined {
  const body: Record<string, KvValue | JsonDouble | string[]> = {};
  let doubles = false;
  let empty = true;
  for (const kv of ev.values) {
    const v = deviceAttributeValue(kv);
    if (v instanceof JsonDouble) doubles = true;
    Object.defineProperty(body, kv.key, { value: v, enumerable: true, writable: true, configurable: true });
    empty = false;
  }
  if (ev.deleted !== undefined && ev.deleted.length > 0) {
    Object.defineProperty(body, 'deleted', { value: [...ev.deleted], enumerable: true, writable: true, configurable: true });
    empty = false;
  }
  return empty ? undefined : { body, doubles };
}
