/** Entity types of ThingsBoard's REST shapes that Rivulet knows about. */
export const EntityType = {
  TENANT: 'TENANT',
  USER: 'USER',
  DEVICE: 'DEVICE',
  RULE_CHAIN: 'RULE_CHAIN',
  RULE_NODE: 'RULE_NODE',
  ALARM: 'ALARM',
  CUSTOMER: 'CUSTOMER',
  DASHBOARD: 'DASHBOARD',
  DEVICE_PROFILE: 'DEVICE_PROFILE',
} as const;
export type EntityType = (typeof EntityType)[keyof typeof EntityType];

/** `{ entityType, id }` as ThingsBoard serialises ids in REST bodies and messages. */
export interface EntityId {
  readonly entityType: EntityType;
  readonly id: string;
}

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function isUuid(value: unknown): value is string {
  return typeof value === 'string' && UUID_RE.test(value);
}

/** A random v4 UUID (Web Crypto: works in Node 20 and browsers). */
export function newId(): string {
  return globalThis.crypto.randomUUID();
}

export function entityId(entityType: EntityType, id: string): EntityId {
  return { entityType, id };
}
