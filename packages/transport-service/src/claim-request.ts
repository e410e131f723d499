import { BadRequestError, describeJson, parseLenientJson, type JsonValue } from '@rivulet/core';

/** What a device announces when it may be claimed (ThingsBoard's ClaimDeviceMsg). */
export interface ClaimRequest {
  /** "" when the device sent none (ThingsBoard's default secret key). */
  readonly secretKey: string;
  /** undefined when the device sent none: the claiming service's default applies. */
  readonly durationMs: number | undefined;
}

function isObject(v: JsonValue): v is Record<string, JsonValue> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * `{"secretKey":"...","durationMs":60000}`, both optional; an empty payload is a claim without
 * secret for the default duration (ThingsBoard's JsonConverter.convertToClaimDataProto).
 * durationMs may be a number or a string of digits, as ThingsBoard's getAsLong takes it.
 */
export function parseClaimRequest(text: string): ClaimRequest {
  if (text.trim() === '') return { secretKey: '', durationMs: undefined };
  return claimRequestOf(parseLenientJson(text), 'Claim request');
}

/** One device's claim request out of parsed JSON (also each entry of a gateway's `v1/gateway/claim`). */
export function claimRequestOf(json: JsonValue, what: string): ClaimRequest {
  if (json === null) return { secretKey: '', durationMs: undefined };
  if (!isObject(json)) throw new BadRequestError(`${what} must be a JSON object {"secretKey":"...","durationMs":60000}, got ${describeJson(json)}`);
  const { secretKey, durationMs } = json;
  if (secretKey !== undefined && secretKey !== null && typeof secretKey !== 'string') throw new BadRequestError(`${what}: "secretKey" must be a string`);
  let duration: number | undefined;
  if (durationMs !== undefined && durationMs !== null) {
    const n = typeof durationMs === 'string' && /^\d{1,15}$/.test(durationMs) ? Number(durationMs) : durationMs;
    if (typeof n !== 'number' || !Number.isSafeInteger(n) || n < 0) throw new BadRequestError(`${what}: "durationMs" must be a non-negative integer (milliseconds)`);
    duration = n;
  }
  return { secretKey: typeof secretKey === 'string' ? secretKey : '', durationMs: duration };
}
