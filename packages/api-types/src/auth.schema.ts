import { z } from 'zod';
import { IdSchema, TenantIdSchema, UserIdSchema } from './common.schema';

export const LoginRequestSchema = z.object({
  username: z.string().min(1),
  password: z.string().min(1),
});
export type LoginRequest = z.infer<typeof LoginRequestSchema>;

export const RefreshTokenRequestSchema = z.object({
  refreshToken: z.string().min(1),
});
export type RefreshTokenRequest = z.infer<typeof RefreshTokenRequestSchema>;

export const TokenPairSchema = z.object({
  token: z.string(),
  refreshToken: z.string(),
});
export type TokenPair = z.infer<typeof TokenPairSchema>;

export const AuthoritySchema = z.enum(['SYS_ADMIN', 'TENANT_ADMIN', 'CUSTOMER_USER']);
export type Authority = z.infer<typeof AuthoritySchema>;

/** ThingsBoard's User; `name` is the e-mail, as there. */
export const UserSchema = z.object({
  id: UserIdSchema,
  /** The system administrator's is ThingsBoard's null id (13814000-1dd2-11b2-8080-808080808080). */
  tenantId: TenantIdSchema,
  /** A customer user's customer; ThingsBoard's null id for administrators. */
  customerId: z.object({ entityType: z.literal('CUSTOMER'), id: IdSchema }),
  email: z.string(),
  name: z.string(),
  authority: AuthoritySchema,
  firstName: z.string().nullable(),
  lastName: z.string().nullable(),
  /** ThingsBoard's `userCredentialsEnabled`: false until the user activated the account. */
  additionalInfo: z.object({ userCredentialsEnabled: z.boolean() }),
  createdTime: z.number().int(),
});
export type UserDto = z.infer<typeof UserSchema>;

/** Claims of an access token, as ThingsBoard's (iss differs: "rivulet"). */
export const AccessTokenClaimsSchema = z.object({
  sub: z.string(),
  userId: IdSchema,
  tenantId: IdSchema,
  /** ThingsBoard's claim: the customer of a customer user, the null id otherwise. */
  customerId: IdSchema.optional(),
  scopes: z.array(AuthoritySchema).min(1),
  firstName: z.string().nullable().optional(),
  lastName: z.string().nullable().optional(),
  enabled: z.boolean().optional(),
  isPublic: z.boolean().optional(),
  iss: z.string(),
  iat: z.number(),
  exp: z.number(),
});
export type AccessTokenClaims = z.infer<typeof AccessTokenClaimsSchema>;

/** `POST /api/auth/changePassword` (ThingsBoard's ChangePasswordRequest). */
export const ChangePasswordRequestSchema = z.object({
  currentPassword: z.string().min(1),
  newPassword: z.string().min(1),
});
export type ChangePasswordRequest = z.infer<typeof ChangePasswordRequestSchema>;

/** `POST /api/noauth/resetPasswordByEmail`. */
export const ResetPasswordEmailRequestSchema = z.object({
  email: z.string().min(1),
});
export type ResetPasswordEmailRequest = z.infer<typeof ResetPasswordEmailRequestSchema>;

/** `POST /api/noauth/resetPassword` (ThingsBoard's ResetPasswordRequest). */
export const ResetPasswordRequestSchema = z.object({
  resetToken: z.string().min(1),
  password: z.string().min(1),
});
export type ResetPasswordRequest = z.infer<typeof ResetPasswordRequestSchema>;
