import { BadRequestError, type JsonObject } from '@rivulet/core';
import type { ContactInfo, ContactInput } from '@rivulet/storage';

/** ThingsBoard's contact fields of tenants and customers: API name -> column, in insert order. */
export const CONTACT_COLUMNS = [
  ['email', 'email'],
  ['phone', 'phone'],
  ['country', 'country'],
  ['state', 'state'],
  ['city', 'city'],
  ['address', 'address'],
  ['address2', 'address2'],
  ['zip', 'zip'],
] as const satisfies ReadonlyArray<readonly [keyof ContactInfo, string]>;

export type ContactRow = { [K in keyof ContactInfo]: string | null };

export function toContact(r: ContactRow): ContactInfo {
  const out = {} as ContactInfo;
  for (const [field] of CONTACT_COLUMNS) out[field] = r[field] ?? null;
  return out;
}

/** The contact values in CONTACT_COLUMNS order (left out or empty: null). */
export function contactParams(input: ContactInput): Array<string | null> {
  return CONTACT_COLUMNS.map(([field]) => {
    const v = input[field];
    return v === undefined || v === null || v.trim() === '' ? null : v.trim();
  });
}

export function checkTitle(title: string, what: string): string {
  const t = title.trim();
  if (t.length === 0) throw new BadRequestError(`${what} title must not be empty`);
  return t;
}

export function jsonParam(v: JsonObject | null | undefined): string | null {
  return v === null || v === undefined ? null : JSON.stringify(v);
}
