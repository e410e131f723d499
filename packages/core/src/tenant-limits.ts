import { ErrorCode, RivuletError } from './errors';

/**
 * What one tenant may use: ThingsBoard's tenant profile (DefaultTenantProfileConfiguration) is the
 * model, and its field names are used where it has the limit. A value of 0 means "no limit".
 *
 * The global defaults come from the server's configuration (RIVULET_LIMIT_* variables); a tenant
 * profile overrides any of them for the tenants that use it. Everything that enforces a limit asks a
 * TenantLimitsSource for the tenant it serves, at the moment it needs the value, so a changed profile
 * takes effect without a restart.
 */
export interface TenantLimits {
  /** Devices the tenant may have (ThingsBoard's maxDevices). Creating one more answers 403 / refuses the gateway's new device. */
  readonly maxDevices: number;
  /** Rule chains the tenant may have (ThingsBoard's maxRuleChains). */
  readonly maxRuleChains: number;
  /** Nodes in one rule chain. */
  readonly maxRuleNodesPerChain: number;
  /** Device messages per second per device, on every transport (burst of as many). */
  readonly transportDeviceMsgRateLimit: number;
  /** Device messages per second for all of the tenant's devices together, on every transport (burst of as many). */
  readonly transportTenantMsgRateLimit: number;
  /** Largest device payload, bytes, on every transport (never above the transport's own frame limit). */
  readonly maxPayloadBytes: number;
  /** Longest telemetry or attribute key, characters (ThingsBoard's columns hold 255). */
  readonly maxKeyLength: number;
  /** Most keys in one telemetry or attribute message. */
  readonly maxKeysPerMessage: number;
  /** WebSocket sessions of the tenant's users at once (ThingsBoard's maxWsSessionsPerTenant). */
  readonly maxWsSessionsPerTenant: number;
  /** WebSocket subscriptions of the tenant at once (ThingsBoard's maxWsSubscriptionsPerTenant). */
  readonly maxWsSubscriptionsPerTenant: number;
  /** Longest run of one script invocation (script, filter, switch, transform, generator nodes), ms. */
  readonly maxScriptExecutionMs: number;
  /** Memory one script context may use, MiB. */
  readonly maxScriptMemoryMb: number;
  /** Shortest period of a generator node, ms. */
  readonly minGeneratorPeriodMs: number;
  /** Rule node debug events kept per node (the newest). */
  readonly maxDebugEventsPerNode: number;
  /** Days time series points are kept, by the age of their ts (ThingsBoard's defaultStorageTtlDays); 0: forever. */
  readonly defaultStorageTtlDays: number;
}

export const TENANT_LIMIT_NAMES = [
  'maxDevices',
  'maxRuleChains',
  'maxRuleNodesPerChain',
  'transportDeviceMsgRateLimit',
  'transportTenantMsgRateLimit',
  'maxPayloadBytes',
  'maxKeyLength',
  'maxKeysPerMessage',
  'maxWsSessionsPerTenant',
  'maxWsSubscriptionsPerTenant',
  'maxScriptExecutionMs',
  'maxScriptMemoryMb',
  'minGeneratorPeriodMs',
  'maxDebugEventsPerNode',
  'defaultStorageTtlDays',
] as const satisfies readonly (keyof TenantLimits)[];

export type TenantLimitName = (typeof TENANT_LIMIT_NAMES)[number];

/** The global limits with a profile's overrides applied (a field left out keeps the global value). */
export function withOverrides(global: TenantLimits, overrides: Partial<Record<TenantLimitName, number>>): TenantLimits {
  const out: Record<TenantLimitName, number> = { ...global };
  for (const name of TENANT_LIMIT_NAMES) {
    const v = overrides[name];
    if (typeof v === 'number' && Number.isFinite(v) && v >= 0) out[name] = v;
  }
  return out;
}

/**
 * A tenant at one of its limits, refused (ThingsBoard's EntitiesLimitException: 403 on the REST API,
 * errorCode 41). `limit` names the TenantLimits field, `value` its value for the tenant.
 */
export class TenantLimitError extends RivuletError {
  readonly limit: TenantLimitName;
  readonly value: number;

  constructor(limit: TenantLimitName, value: number, message: string) {
    super(ErrorCode.FORBIDDEN, message, { details: { limit, value } });
    this.name = 'TenantLimitError';
    this.limit = limit;
    this.value = value;
  }
}

/** ThingsBoard's words (its spelling kept, for scripts that match on them). */
export function maxDevicesMessage(maxDevices: number): string {
  return `Can't create more then ${maxDevices} devices! The tenant's limit (maxDevices of its tenant profile) is ${maxDevices}.`;
}

/** The limits in force for a tenant: the global defaults with its profile's overrides applied. */
export interface TenantLimitsSource {
  /** Synchronous (hot paths call it per message): answers from memory, never from storage. */
  forTenant(tenantId: string): TenantLimits;
}

/** Every tenant under the same limits (tests, and a deployment without tenant profiles). */
export function fixedTenantLimits(limits: TenantLimits): TenantLimitsSource {
  return { forTenant: () => limits };
}

/** Whether `count` more would pass `limit` (0: no limit). */
export function overLimit(limit: number, count: number): boolean {
  return limit > 0 && count > limit;
}
