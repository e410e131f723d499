import { z } from 'zod';

/**
 * Any 8-4-4-4-12 hex id. z.guid() rather than z.uuid(): the latter rejects ids whose version or
 * variant nibbles are not RFC 9562's, and storage may hand out such ids.
 */
export const IdSchema = z.guid();

/** `{ entityType, id }` as ThingsBoard serialises ids in REST bodies. */
export function entityIdSchema<T extends string>(entityType: T) {
  return z.object({ entityType: z.literal(entityType), id: IdSchema });
}

export const TenantIdSchema = entityIdSchema('TENANT');
export const UserIdSchema = entityIdSchema('USER');
export const DeviceIdSchema = entityIdSchema('DEVICE');

/** ThingsBoard's error answer: `errorCode` numbers follow ThingsboardErrorCode (see ErrorCodes). */
export const ErrorResponseSchema = z.object({
  status: z.number().int(),
  message: z.string(),
  errorCode: z.number().int(),
  timestamp: z.number().int(),
});
export type ErrorResponse = z.infer<typeof ErrorResponseSchema>;

/** ThingsBoard's ThingsboardErrorCode numbers used by the REST API. */
export const ErrorCodes = {
  GENERAL: 2,
  AUTHENTICATION: 10,
  JWT_TOKEN_EXPIRED: 11,
  PERMISSION_DENIED: 20,
  INVALID_ARGUMENTS: 30,
  BAD_REQUEST_PARAMS: 31,
  ITEM_NOT_FOUND: 32,
  TOO_MANY_REQUESTS: 33,
  /** ThingsBoard's VERSION_CONFLICT: a save with a stale `version` (409). */
  VERSION_CONFLICT: 35,
  /** ThingsBoard's ENTITIES_LIMIT_EXCEEDED: the tenant is at a limit of its tenant profile (403). */
  ENTITIES_LIMIT_EXCEEDED: 41,
} as const;
export type ErrorCodeNumber = (typeof ErrorCodes)[keyof typeof ErrorCodes];

/** ThingsBoard's page answer, for any item schema. */
export function pageSchema<T extends z.ZodType>(item: T) {
  return z.object({
    data: z.array(item),
    totalPages: z.number().int().nonnegative(),
    totalElements: z.number().int().nonnegative(),
    hasNext: z.boolean(),
  });
}
export interface PageData<T> {
  data: T[];
  totalPages: number;
  totalElements: number;
  hasNext: boolean;
}

/** JSON values as they travel in request and response bodies. */
export type Json = string | number | boolean | null | Json[] | { [key: string]: Json };
export const JsonSchema: z.ZodType<Json> = z.lazy(() =>
  z.union([z.string(), z.number(), z.boolean(), z.null(), z.array(JsonSchema), z.record(z.string(), JsonSchema)]),
);
export const JsonObjectSchema = z.record(z.string(), JsonSchema);

/**
 * One line per issue, each naming the field ("name: Invalid input: expected string, received undefined"),
 * so a 400 tells the caller what to fix.
 */
export function formatIssues(error: z.ZodError, root = 'body'): string {
  return error.issues
    .map((issue) => {
      const path = issue.path.map((p) => (typeof p === 'number' ? `[${p}]` : String(p))).join('.').replace(/\.\[/g, '[');
      return `${path === '' ? root : path}: ${issue.message}`;
    })
    .join('; ');
}
