import { z } from 'zod';
import { IdSchema, JsonObjectSchema, TenantIdSchema, entityIdSchema, pageSchema, type Json } from './common.schema';
import { DashboardIdSchema } from './dashboard.schema';
import { RuleChainIdSchema } from './rule-chain.schema';
import { pageQuerySchema } from './rest.schema';

export const DeviceProfileIdSchema = entityIdSchema('DEVICE_PROFILE');

/** ThingsBoard's DeviceTransportType. */
export const DeviceTransportTypeSchema = z.enum(['DEFAULT', 'MQTT', 'COAP', 'LWM2M', 'SNMP']);
/** ThingsBoard's DeviceProfileProvisionType (X509_CERTIFICATE_CHAIN is not offered). */
export const DeviceProfileProvisionTypeSchema = z.enum(['DISABLED', 'ALLOW_CREATE_NEW_DEVICES', 'CHECK_PRE_PROVISIONED_DEVICES']);

/** The bounds of a profile's profileData (kept as sent, read by the device profile node and provisioning). */
export const MAX_PROFILE_DATA_BYTES = 256 * 1024;
export const MAX_PROFILE_DATA_DEPTH = 32;

function depthOf(v: Json, limit: number): number {
  if (v === null || typeof v !== 'object') return 0;
  let max = 0;
  for (const child of Array.isArray(v) ? v : Object.values(v)) {
    const d = depthOf(child, limit);
    if (d > max) max = d;
    if (max >= limit) break;
  }
  return max + 1;
}

/**
 * ThingsBoard's DeviceProfileData (configuration, transportConfiguration, provisionConfiguration,
 * alarms), checked loosely: a JSON object with object-or-null parts, `alarms` an array or null, no
 * deeper than MAX_PROFILE_DATA_DEPTH and no larger than MAX_PROFILE_DATA_BYTES. Other fields pass.
 */
export const DeviceProfileDataSchema = JsonObjectSchema.superRefine((data, ctx) => {
  for (const part of ['configuration', 'transportConfiguration', 'provisionConfiguration'] as const) {
    const v = data[part];
    if (v !== undefined && v !== null && (typeof v !== 'object' || Array.isArray(v))) ctx.addIssue({ code: 'custom', path: [part], message: `${part} must be an object` });
  }
  const alarms = data.alarms;
  if (alarms !== undefined && alarms !== null && !Array.isArray(alarms)) ctx.addIssue({ code: 'custom', path: ['alarms'], message: 'alarms must be an array' });
  if (depthOf(data, MAX_PROFILE_DATA_DEPTH + 1) > MAX_PROFILE_DATA_DEPTH) {
    ctx.addIssue({ code: 'custom', message: `profileData nests deeper than ${MAX_PROFILE_DATA_DEPTH} levels` });
    return;
  }
  if (JSON.stringify(data).length > MAX_PROFILE_DATA_BYTES) ctx.addIssue({ code: 'custom', message: `profileData is larger than ${MAX_PROFILE_DATA_BYTES} bytes` });
});

/** ThingsBoard's DeviceProfile as answered. `default` is ThingsBoard's JSON name of isDefault. */
export const DeviceProfileSchema = z.object({
  id: DeviceProfileIdSchema,
  createdTime: z.number().int(),
  tenantId: TenantIdSchema,
  name: z.string(),
  description: z.string().nullable(),
  image: z.string().nullable(),
  type: z.literal('DEFAULT'),
  transportType: DeviceTransportTypeSchema,
  provisionType: DeviceProfileProvisionTypeSchema,
  /** The chain that takes the messages of the profile's devices; null: the tenant's root chain. */
  defaultRuleChainId: RuleChainIdSchema.nullable(),
  defaultDashboardId: DashboardIdSchema.nullable(),
  defaultQueueName: z.string().nullable(),
  provisionDeviceKey: z.string().nullable(),
  firmwareId: z.null(),
  softwareId: z.null(),
  defaultEdgeRuleChainId: z.null(),
  externalId: z.null(),
  default: z.boolean(),
  profileData: JsonObjectSchema,
});
export type DeviceProfileDto = z.infer<typeof DeviceProfileSchema>;
export const DeviceProfilePageSchema = pageSchema(DeviceProfileSchema);

/** ThingsBoard's DeviceProfileInfo: what customer users may read too. */
export const DeviceProfileInfoSchema = z.object({
  id: DeviceProfileIdSchema,
  tenantId: TenantIdSchema,
  name: z.string(),
  image: z.string().nullable(),
  defaultDashboardId: DashboardIdSchema.nullable(),
  type: z.literal('DEFAULT'),
  transportType: DeviceTransportTypeSchema,
});
export type DeviceProfileInfoDto = z.infer<typeof DeviceProfileInfoSchema>;
export const DeviceProfileInfoPageSchema = pageSchema(DeviceProfileInfoSchema);

/** An id a client sends: `{entityType?, id}` or the bare uuid. */
function incomingId<T extends string>(entityType: T) {
  return z.union([z.object({ entityType: z.literal(entityType).optional(), id: IdSchema }), IdSchema.transform((id) => ({ entityType, id }))]);
}

/**
 * `POST /api/deviceProfile`: without `id` creates, with `id` updates (every field replaced, as
 * ThingsBoard's save). `default: true` makes it the tenant's default profile. Fields ThingsBoard
 * has and Rivulet does not use (firmwareId, softwareId, defaultEdgeRuleChainId, externalId,
 * createdTime, tenantId, version) are accepted and ignored.
 */
export const DeviceProfileSaveRequestSchema = z.object({
  id: incomingId('DEVICE_PROFILE').nullish(),
  name: z.string().trim().min(1, 'Device profile name should be specified!').max(255),
  description: z.string().max(1024).nullish(),
  image: z.string().max(1_000_000).nullish(),
  type: z.literal('DEFAULT').nullish(),
  transportType: DeviceTransportTypeSchema.nullish(),
  provisionType: DeviceProfileProvisionTypeSchema.nullish(),
  defaultRuleChainId: incomingId('RULE_CHAIN').nullish(),
  defaultDashboardId: incomingId('DASHBOARD').nullish(),
  defaultQueueName: z.string().max(255).nullish(),
  provisionDeviceKey: z.string().max(255).nullish(),
  default: z.boolean().optional(),
  profileData: DeviceProfileDataSchema.nullish(),
});
export type DeviceProfileSaveRequest = z.input<typeof DeviceProfileSaveRequestSchema>;

export const DeviceProfileListQuerySchema = pageQuerySchema(['createdTime', 'name', 'type', 'transportType', 'description', 'isDefault']);
export const DeviceProfileInfoListQuerySchema = DeviceProfileListQuerySchema.extend({
  transportType: DeviceTransportTypeSchema.optional().describe('Only profiles of this transport type'),
});
