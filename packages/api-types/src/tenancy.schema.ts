import { z } from 'zod';
import { IdSchema, JsonObjectSchema, TenantIdSchema, entityIdSchema, pageSchema } from './common.schema';
import { AuthoritySchema, UserSchema } from './auth.schema';
import { TenantProfileIdSchema } from './tenant-profile.schema';

export const CustomerIdSchema = entityIdSchema('CUSTOMER');

/** ThingsBoard's contact fields (ContactBased), on tenants and customers. */
const contactFields = {
  email: z.string().nullable(),
  phone: z.string().nullable(),
  country: z.string().nullable(),
  state: z.string().nullable(),
  city: z.string().nullable(),
  address: z.string().nullable(),
  address2: z.string().nullable(),
  zip: z.string().nullable(),
};
const contactInput = {
  email: z.string().max(255).nullish(),
  phone: z.string().max(255).nullish(),
  country: z.string().max(255).nullish(),
  state: z.string().max(255).nullish(),
  city: z.string().max(255).nullish(),
  address: z.string().max(255).nullish(),
  address2: z.string().max(255).nullish(),
  zip: z.string().max(255).nullish(),
};

/** An id sent back by a client: `{entityType?, id}` or the bare uuid. */
function incomingId<T extends string>(entityType: T) {
  return z.union([z.object({ entityType: z.literal(entityType).optional(), id: IdSchema }), IdSchema.transform((id) => ({ entityType, id }))]);
}

/** ThingsBoard's Tenant; `name` repeats `title`, as ThingsBoard serialises it. */
export const TenantSchema = z.object({
  id: TenantIdSchema,
  createdTime: z.number().int(),
  title: z.string(),
  name: z.string(),
  ...contactFields,
  additionalInfo: JsonObjectSchema.nullable(),
  tenantProfileId: TenantProfileIdSchema,
});
export type TenantDto = z.infer<typeof TenantSchema>;
export const TenantPageSchema = pageSchema(TenantSchema);

/**
 * `POST /api/tenant`: without `id` creates, with `id` updates. `tenantProfileId` left out: the
 * default profile on create, the current one on update. Unknown fields (region...) are ignored.
 */
export const TenantSaveRequestSchema = z.object({
  id: incomingId('TENANT').nullish(),
  tenantProfileId: incomingId('TENANT_PROFILE').nullish(),
  title: z.string().trim().min(1, 'Tenant title should be specified').max(255),
  ...contactInput,
  additionalInfo: JsonObjectSchema.nullish(),
});
export type TenantSaveRequest = z.input<typeof TenantSaveRequestSchema>;

/** ThingsBoard's Customer; `name` repeats `title`. */
export const CustomerSchema = z.object({
  id: CustomerIdSchema,
  createdTime: z.number().int(),
  tenantId: TenantIdSchema,
  title: z.string(),
  name: z.string(),
  ...contactFields,
  additionalInfo: JsonObjectSchema.nullable(),
});
export type CustomerDto = z.infer<typeof CustomerSchema>;
export const CustomerPageSchema = pageSchema(CustomerSchema);

/** `POST /api/customer`: without `id` creates, with `id` updates. */
export const CustomerSaveRequestSchema = z.object({
  id: incomingId('CUSTOMER').nullish(),
  title: z.string().trim().min(1, 'Customer title should be specified').max(255),
  ...contactInput,
  additionalInfo: JsonObjectSchema.nullish(),
});
export type CustomerSaveRequest = z.input<typeof CustomerSaveRequestSchema>;

/**
 * `POST /api/user` creating a user (ThingsBoard's User body). A system administrator creates
 * TENANT_ADMINs (tenantId required), a tenant administrator creates CUSTOMER_USERs (customerId
 * required) and TENANT_ADMINs of its own tenant. `password` is Rivulet's addition: the user is created
 * active with that password instead of waiting for activation.
 */
export const UserSaveRequestSchema = z.object({
  id: incomingId('USER').nullish(),
  email: z.string().trim().email().max(255),
  authority: AuthoritySchema,
  tenantId: incomingId('TENANT').nullish(),
  customerId: incomingId('CUSTOMER').nullish(),
  firstName: z.string().max(255).nullish(),
  lastName: z.string().max(255).nullish(),
  password: z.string().min(1).max(256).optional(),
});
export type UserSaveRequest = z.input<typeof UserSaveRequestSchema>;

export const UserPageSchema = pageSchema(UserSchema);

/** `POST /api/noauth/activate`. */
export const ActivateUserRequestSchema = z.object({
  activateToken: z.string().min(1).max(256),
  password: z.string().min(1).max(256),
});
export type ActivateUserRequest = z.infer<typeof ActivateUserRequestSchema>;

/** `GET /api/user/{userId}/activationLinkInfo` (ThingsBoard 3.6+). */
export const ActivationLinkInfoSchema = z.object({ value: z.string(), ttlMs: z.number().int() });
export type ActivationLinkInfo = z.infer<typeof ActivationLinkInfoSchema>;
