import { z } from 'zod';
import { DeviceIdSchema, IdSchema, JsonObjectSchema, TenantIdSchema, entityIdSchema, pageSchema } from './common.schema';

/** The id of a saved entity as a client may send it back: `{entityType?, id}` or the bare uuid. */
const IncomingDeviceIdSchema = z.union([
  z.object({ entityType: z.literal('DEVICE').optional(), id: IdSchema }),
  IdSchema.transform((id) => ({ entityType: 'DEVICE' as const, id })),
]);

/**
 * `POST /api/device`: without `id` creates, with `id` updates (ThingsBoard's save). Unknown fields
 * (createdTime, tenantId, customerId... of a device read earlier) are accepted and ignored.
 */
export const DeviceSaveRequestSchema = z.object({
  id: IncomingDeviceIdSchema.nullish(),
  name: z.string().trim().min(1, 'Device name should be specified').max(255),
  /** Without deviceProfileId: the tenant's profile of this name (created when missing); neither: the default profile. */
  type: z.string().trim().max(255).nullish(),
  /** A profile of the caller's tenant (404 otherwise); the device's type becomes its name. */
  deviceProfileId: z.union([z.object({ entityType: z.literal('DEVICE_PROFILE').optional(), id: IdSchema }), IdSchema.transform((id) => ({ entityType: 'DEVICE_PROFILE' as const, id }))]).nullish(),
  label: z.string().max(255).nullish(),
  additionalInfo: JsonObjectSchema.nullish(),
});
export type DeviceSaveRequest = z.input<typeof DeviceSaveRequestSchema>;

export const DeviceSchema = z.object({
  id: DeviceIdSchema,
  createdTime: z.number().int(),
  tenantId: TenantIdSchema,
  /** ThingsBoard's null id when the device is not assigned to a customer. */
  customerId: z.object({ entityType: z.literal('CUSTOMER'), id: IdSchema }),
  name: z.string(),
  /** The name of the device's profile (ThingsBoard's device type). */
  type: z.string(),
  label: z.string().nullable(),
  deviceProfileId: entityIdSchema('DEVICE_PROFILE'),
  /** ThingsBoard's DeviceData: Rivulet's devices have the DEFAULT configuration and transport configuration. */
  deviceData: z.object({
    configuration: z.object({ type: z.literal('DEFAULT') }),
    transportConfiguration: z.object({ type: z.literal('DEFAULT') }),
  }),
  firmwareId: z.null(),
  softwareId: z.null(),
  externalId: z.null(),
  additionalInfo: JsonObjectSchema.nullable(),
});
export type DeviceDto = z.infer<typeof DeviceSchema>;

/** ThingsBoard's DeviceInfo: the device with its customer's title, its profile's name and its state. */
export const DeviceInfoSchema = DeviceSchema.extend({
  customerTitle: z.string().nullable(),
  customerIsPublic: z.boolean(),
  deviceProfileName: z.string(),
  /** The device state's `active` server attribute (false when never reported). */
  active: z.boolean(),
});
export type DeviceInfoDto = z.infer<typeof DeviceInfoSchema>;
export const DeviceInfoPageSchema = pageSchema(DeviceInfoSchema);
export type DeviceInfoPage = z.infer<typeof DeviceInfoPageSchema>;

export const DevicePageSchema = pageSchema(DeviceSchema);
export type DevicePage = z.infer<typeof DevicePageSchema>;

export const CredentialsTypeSchema = z.enum(['ACCESS_TOKEN', 'MQTT_BASIC']);
export type CredentialsType = z.infer<typeof CredentialsTypeSchema>;

/**
 * Access tokens travel in URL paths (`/api/v1/{token}`) and as MQTT user names, so they must not
 * hold whitespace or '/'.
 */
export const AccessTokenSchema = z
  .string()
  .min(1, 'Access token should be specified')
  .max(128)
  .regex(/^[^\s/?#]+$/, "Access token must not contain whitespace, '/', '?' or '#'");

export const DeviceCredentialsSchema = z.object({
  id: z.object({ id: IdSchema }),
  createdTime: z.number().int(),
  deviceId: DeviceIdSchema,
  credentialsType: CredentialsTypeSchema,
  credentialsId: z.string(),
  credentialsValue: z.string().nullable(),
});
export type DeviceCredentialsDto = z.infer<typeof DeviceCredentialsSchema>;

/** `POST /api/device/credentials`: the credentials as read, with a new credentialsId. */
export const DeviceCredentialsSaveRequestSchema = z.object({
  id: z.object({ id: IdSchema }).nullish(),
  deviceId: z.object({ entityType: z.literal('DEVICE').optional(), id: IdSchema }),
  credentialsType: CredentialsTypeSchema.default('ACCESS_TOKEN'),
  credentialsId: z.string(),
  credentialsValue: z.string().nullish(),
});
export type DeviceCredentialsSaveRequest = z.input<typeof DeviceCredentialsSaveRequestSchema>;
