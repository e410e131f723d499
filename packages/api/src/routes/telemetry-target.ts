import { AttributeScope, EntityType, type EntityId } from '@rivulet/core';
import { badParam, notFound } from '../api-error';
import type { AccessPolicy } from '../access';
import { parseId } from '../params';

/** The entity a telemetry call works on, resolved within the caller's reach (so within its tenant). */
export interface TelemetryTarget {
  readonly ref: EntityId;
  /** The tenant the entity belongs to: always the caller's. */
  readonly tenantId: string;
  /** The attribute scopes the entity has: all three for a device, SERVER_SCOPE for a tenant or customer. */
  readonly scopes: readonly AttributeScope[];
}

const DEVICE_SCOPES = [AttributeScope.CLIENT_SCOPE, AttributeScope.SERVER_SCOPE, AttributeScope.SHARED_SCOPE] as const;
const SERVER_ONLY = [AttributeScope.SERVER_SCOPE] as const;

/** Entity types whose attributes the telemetry API serves; time series are a device's only. */
export const ATTRIBUTE_ENTITY_TYPES = [EntityType.DEVICE, EntityType.TENANT, EntityType.CUSTOMER] as const;
type AttributeEntityType = (typeof ATTRIBUTE_ENTITY_TYPES)[number];

function entityTypeOf(value: string | undefined, data: 'attributes' | 'timeseries'): AttributeEntityType {
  const type = (value ?? '').toUpperCase();
  if (data === 'timeseries') {
    if (type === EntityType.DEVICE) return type;
    throw badParam(`Time series of entity type '${value ?? ''}' are not supported; only DEVICE has time series`);
  }
  if ((ATTRIBUTE_ENTITY_TYPES as readonly string[]).includes(type)) return type as AttributeEntityType;
  throw badParam(`Entity type '${value ?? ''}' is not supported; attributes are served for DEVICE, TENANT and CUSTOMER`);
}

/**
 * Resolves `{entityType}/{entityId}` to an entity the caller may read (`write` false) or change.
 * As ThingsBoard's AccessValidator: a device as the device routes allow it; a tenant only the
 * caller's own, for its tenant administrator (a customer user: 403); a customer any of the tenant's
 * for its administrator, a customer user only its own and only to read. What the caller may not
 * reach is "not found", so ids of other tenants and customers do not leak.
 *
 * ThingsBoard leaves writing a tenant's attributes to the system administrator; Rivulet's system
 * administrator holds no tenant data, so the tenant administrator writes its own tenant's.
 */
export async function resolveTarget(
  access: AccessPolicy,
  params: Readonly<Record<string, string>>,
  o: { write: boolean; data: 'attributes' | 'timeseries' },
): Promise<TelemetryTarget> {
  const type = entityTypeOf(params.entityType, o.data);
  const id = parseId(params.entityId, 'entityId');
  switch (type) {
    case EntityType.DEVICE: {
      const d = o.write ? await access.writableDevice(id) : await access.readableDevice(id);
      return { ref: { entityType: EntityType.DEVICE, id: d.id }, tenantId: d.tenantId, scopes: DEVICE_SCOPES };
    }
    case EntityType.TENANT: {
      const tenantId = access.managedTenant(); // 403 for anyone but a tenant administrator
      if (id !== tenantId.toLowerCase()) throw notFound(`Tenant ${id} not found`);
      return { ref: { entityType: EntityType.TENANT, id: tenantId }, tenantId, scopes: SERVER_ONLY };
    }
    case EntityType.CUSTOMER: {
      const c = o.write ? await access.writableCustomer(id) : await access.readableCustomer(id);
      return { ref: { entityType: EntityType.CUSTOMER, id: c.id }, tenantId: c.tenantId, scopes: SERVER_ONLY };
    }
  }
}

/** The scope of the path, one the entity has: 400 naming what it has otherwise. */
export function scopeOf(target: TelemetryTarget, value: string | undefined): AttributeScope {
  const scope = (target.scopes as readonly string[]).includes(value ?? '') ? (value as AttributeScope) : undefined;
  if (scope !== undefined) return scope;
  if (target.ref.entityType === EntityType.DEVICE) {
    throw badParam(`Invalid attribute scope '${value ?? ''}': expected CLIENT_SCOPE, SERVER_SCOPE or SHARED_SCOPE`);
  }
  throw badParam(`Invalid attribute scope '${value ?? ''}' for ${target.ref.entityType}: only SERVER_SCOPE is supported (CLIENT_SCOPE and SHARED_SCOPE are a device's)`);
}
