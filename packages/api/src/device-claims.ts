import { createHash, timingSafeEqual } from 'node:crypto';
import { AttributeScope, type KvValue } from '@rivulet/core';
import type { Customer, Device, Storage } from '@rivulet/storage';

/**
 * Device claiming (ThingsBoard's ClaimDevicesServiceImpl), kept in storage so every process sees
 * it: the transport that hears the device's claim request and the API that takes the customer's
 * claim may run apart (split roles). Two server-scope attributes, ThingsBoard's names:
 * - `claimingData`: the pending claim, ThingsBoard's ClaimData as a JSON string
 *   `{"secretKey":"...","expirationTime":<ms>}`. The device's claim request writes it; an
 *   administrator may write it too (ThingsBoard's server-side claiming).
 * - `claimingAllowed`: `true` lets a device ask to be claimed when claiming is not allowed by default.
 */
export const CLAIMING_DATA_ATTRIBUTE = 'claimingData';
export const CLAIMING_ALLOWED_ATTRIBUTE = 'claimingAllowed';
/** ThingsBoard's security.claim.duration default: a claim request stands for 24 hours. */
export const DEFAULT_CLAIM_DURATION_MS = 86_400_000;
/** Longest secret key kept (a device could send anything). */
export const MAX_CLAIM_SECRET_LENGTH = 1024;

export interface ClaimData {
  readonly secretKey: string;
  readonly expirationTime: number;
}

/** The stored claimingData (a JSON string, or the JSON itself when an administrator saved it so); null when it is not ClaimData. */
export function parseClaimData(value: KvValue | undefined): ClaimData | null {
  let v: unknown = value;
  if (typeof v === 'string') {
    try {
      v = JSON.parse(v);
    } catch {
      return null;
    }
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return null;
  const o = v as Record<string, unknown>;
  const secretKey = o.secretKey === undefined || o.secretKey === null ? '' : o.secretKey;
  const expirationTime = typeof o.expirationTime === 'string' && /^\d+$/.test(o.expirationTime) ? Number(o.expirationTime) : o.expirationTime;
  if (typeof secretKey !== 'string' || typeof expirationTime !== 'number' || !Number.isFinite(expirationTime)) return null;
  return { secretKey, expirationTime };
}

export function formatClaimData(data: ClaimData): string {
  return JSON.stringify({ secretKey: data.secretKey, expirationTime: data.expirationTime });
}

/** Equal secret keys (both empty counts as equal, ThingsBoard's secretKeyIsEmptyOrEqual), compared in constant time. */
export function secretKeysMatch(given: string, stored: string): boolean {
  const a = createHash('sha256').update(given, 'utf8').digest();
  const b = createHash('sha256').update(stored, 'utf8').digest();
  return timingSafeEqual(a, b);
}

/** A device's pending claim, or null. */
export async function readClaimData(storage: Storage, deviceId: string): Promise<ClaimData | null> {
  const [kv] = await storage.attributes.find(deviceId, AttributeScope.SERVER_SCOPE, [CLAIMING_DATA_ATTRIBUTE]);
  return parseClaimData(kv?.value);
}

export type ClaimOutcome = { response: 'SUCCESS'; device: Device; customer: Customer } | { response: 'FAILURE' | 'CLAIMED' };

/**
 * A customer claims a device of its tenant (ThingsBoard's claimDevice):
 * - no pending claim: FAILURE when the device is unassigned, CLAIMED when it belongs to a customer;
 * - expired or wrong secret key: FAILURE, and the pending claim is dropped (ThingsBoard evicts it
 *   too: one guess per claim request; the device asks again);
 * - else the pending claim is taken (deleted: of two customers claiming at once only one takes it),
 *   and an unassigned device is assigned to the customer (SUCCESS); one that already belongs to a
 *   customer answers CLAIMED.
 * The caller checked that device and customer are of the same tenant.
 */
export async function claimDevice(storage: Storage, device: Device, customerId: string, secretKey: string, now = Date.now()): Promise<ClaimOutcome> {
  const data = await readClaimData(storage, device.id);
  if (!data) return { response: device.customerId === null ? 'FAILURE' : 'CLAIMED' };
  if (now > data.expirationTime || !secretKeysMatch(secretKey, data.secretKey)) {
    await storage.attributes.delete(device.id, AttributeScope.SERVER_SCOPE, [CLAIMING_DATA_ATTRIBUTE]);
    return { response: 'FAILURE' };
  }
  // Taking the claim is the delete: a concurrent claim that read the same data finds nothing to delete.
  const taken = await storage.attributes.delete(device.id, AttributeScope.SERVER_SCOPE, [CLAIMING_DATA_ATTRIBUTE]);
  if (taken === 0) return { response: 'FAILURE' };
  await storage.attributes.delete(device.id, AttributeScope.SERVER_SCOPE, [CLAIMING_ALLOWED_ATTRIBUTE]);
  if (device.customerId !== null) return { response: 'CLAIMED' };
  const customer = await storage.customers.get(device.tenantId, customerId);
  if (!customer) return { response: 'FAILURE' };
  const assigned = await storage.devices.assignToCustomer(device.tenantId, device.id, customerId);
  if (!assigned) return { response: 'FAILURE' };
  return { response: 'SUCCESS', device: assigned, customer };
}

/**
 * Re-claiming (ThingsBoard's reClaimDevice): the device leaves its customer and may be claimed
 * again; when claiming is not allowed by default its claimingAllowed attribute is set. Returns the
 * customer it left (null when it had none: nothing changes).
 */
export async function reclaimDevice(
  storage: Storage,
  device: Device,
  o: { allowClaimingByDefault: boolean; now?: number },
): Promise<{ device: Device; formerCustomer: Customer | null }> {
  if (device.customerId === null) return { device, formerCustomer: null };
  const formerCustomer = await storage.customers.get(device.tenantId, device.customerId);
  const unassigned = (await storage.devices.assignToCustomer(device.tenantId, device.id, null)) ?? device;
  if (!o.allowClaimingByDefault) {
    await storage.attributes.save([{ entityId: device.id, scope: AttributeScope.SERVER_SCOPE, key: CLAIMING_ALLOWED_ATTRIBUTE, value: true, lastUpdateTs: o.now ?? Date.now() }]);
  }
  return { device: unassigned, formerCustomer };
}
