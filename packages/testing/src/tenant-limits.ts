import { createDeviceRateLimiter, fixedTenantLimits, TENANT_LIMIT_NAMES, withOverrides, type DeviceRateLimiter, type TenantLimitName, type TenantLimits, type TenantLimitsSource } from '@rivulet/core';

/** Tenant limits with none in force (every limit 0), but the ones given. */
export function tenantLimitsOf(set: Partial<Record<TenantLimitName, number>> = {}): TenantLimits {
  const none = Object.fromEntries(TENANT_LIMIT_NAMES.map((n) => [n, 0])) as Record<TenantLimitName, number> as TenantLimits;
  return withOverrides(none, set);
}

/** The same limits for every tenant: `tenantLimitsOf(set)`. */
export function sameLimitsForEveryTenant(set: Partial<Record<TenantLimitName, number>> = {}): TenantLimitsSource {
  return fixedTenantLimits(tenantLimitsOf(set));
}

/** The shared device/tenant rate limiter (as the server hands it to every transport) with these rates for every tenant. */
export function testRateLimiter(perDevice: number, perTenant: number): DeviceRateLimiter {
  return createDeviceRateLimiter({ limits: sameLimitsForEveryTenant({ transportDeviceMsgRateLimit: perDevice, transportTenantMsgRateLimit: perTenant }) });
}
