import { z } from 'zod';
import { IdSchema, entityIdSchema, pageSchema } from './common.schema';

export const TenantProfileIdSchema = entityIdSchema('TENANT_PROFILE');

const count = z.int().min(0).max(2_147_483_647);
const positive = z.int().min(1).max(2_147_483_647);
const rate = z.number().min(0).max(1_000_000_000);

/**
 * The limits a tenant profile may override (packages/core TenantLimits; ThingsBoard's
 * DefaultTenantProfileConfiguration names). 0 means "no limit" where the field allows it.
 */
const limitFields = {
  maxDevices: count.describe('Devices the tenant may have; creating one more answers 403. 0: no limit'),
  maxRuleChains: count.describe('Rule chains the tenant may have. 0: no limit'),
  maxRuleNodesPerChain: count.describe('Nodes in one rule chain. 0: no limit'),
  transportDeviceMsgRateLimit: rate.describe('Device messages per second per device, every transport. 0: no limit'),
  transportTenantMsgRateLimit: rate.describe('Device messages per second for all devices of the tenant. 0: no limit'),
  maxPayloadBytes: positive.describe('Largest device payload, bytes (never above the server\'s own limit)'),
  maxKeyLength: count.describe('Longest telemetry or attribute key, characters. 0: no limit'),
  maxKeysPerMessage: count.describe('Most keys in one telemetry or attribute message. 0: no limit'),
  maxWsSessionsPerTenant: count.describe('WebSocket sessions of the tenant\'s users at once. 0: no limit'),
  maxWsSubscriptionsPerTenant: count.describe('WebSocket subscriptions of the tenant at once. 0: no limit'),
  maxScriptExecutionMs: positive.describe('Longest run of one script invocation, ms'),
  maxScriptMemoryMb: positive.describe('Memory of one script context, MiB'),
  minGeneratorPeriodMs: positive.describe('Shortest period of a generator node, ms'),
  maxDebugEventsPerNode: positive.describe('Rule node debug events kept per node'),
  defaultStorageTtlDays: count.describe('Days time series points are kept (by their ts) before retention deletes them. 0: forever'),
};
type LimitField = keyof typeof limitFields;

/** ThingsBoard's profileData.configuration as answered: `type` and the overrides the profile sets (a field left out: the server's default). */
export const TenantProfileConfigurationSchema = z.object({
  type: z.literal('DEFAULT'),
  ...(Object.fromEntries(Object.entries(limitFields).map(([k, v]) => [k, v.optional()])) as { [K in LimitField]: z.ZodOptional<(typeof limitFields)[K]> }),
});

/** As sent: every override optional, null meaning "not set" (the server's default); unknown fields (ThingsBoard's other limits) ignored. */
export const TenantProfileConfigurationInputSchema = z.object({
  type: z.literal('DEFAULT').optional(),
  ...(Object.fromEntries(Object.entries(limitFields).map(([k, v]) => [k, v.nullish()])) as { [K in LimitField]: z.ZodOptional<z.ZodNullable<(typeof limitFields)[K]>> }),
});

/** ThingsBoard's TenantProfile (minimal: limits only). `default` is ThingsBoard's JSON name of isDefault. */
export const TenantProfileSchema = z.object({
  id: TenantProfileIdSchema,
  createdTime: z.number().int(),
  name: z.string(),
  description: z.string().nullable(),
  default: z.boolean(),
  profileData: z.object({ configuration: TenantProfileConfigurationSchema }),
});
export type TenantProfileDto = z.infer<typeof TenantProfileSchema>;
export const TenantProfilePageSchema = pageSchema(TenantProfileSchema);

/** ThingsBoard's EntityInfo of a tenant profile (`GET /api/tenantProfileInfo/default`). */
export const TenantProfileInfoSchema = z.object({ id: TenantProfileIdSchema, name: z.string() });
export type TenantProfileInfo = z.infer<typeof TenantProfileInfoSchema>;

/**
 * `POST /api/tenantProfile`: without `id` creates, with `id` updates. `default: true` makes it the
 * default profile (the previous default stops being one); the default profile stays the default
 * until another one is made default.
 */
export const TenantProfileSaveRequestSchema = z.object({
  id: z.union([z.object({ entityType: z.literal('TENANT_PROFILE').optional(), id: IdSchema }), IdSchema.transform((id) => ({ entityType: 'TENANT_PROFILE' as const, id }))]).nullish(),
  name: z.string().trim().min(1, 'Tenant profile name should be specified!').max(255),
  description: z.string().max(1024).nullish(),
  default: z.boolean().optional(),
  profileData: z.object({ configuration: TenantProfileConfigurationInputSchema.nullish() }).nullish(),
});
export type TenantProfileSaveRequest = z.input<typeof TenantProfileSaveRequestSchema>;
