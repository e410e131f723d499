import { z } from 'zod';
import { ErrorResponseSchema } from './common.schema';
import { DeviceSchema } from './device.schema';

/**
 * ThingsBoard's ClaimRequest (`POST /api/customer/device/{deviceName}/claim`): the secret key the
 * device announced; left out (or no body at all) it is the empty key, ThingsBoard's default.
 */
export const ClaimRequestSchema = z.object({
  secretKey: z.string().max(1024).nullish(),
});
export type ClaimRequest = z.input<typeof ClaimRequestSchema>;

/** ThingsBoard's ClaimResponse. */
export const ClaimResponseSchema = z.enum(['SUCCESS', 'FAILURE', 'CLAIMED']);
export type ClaimResponse = z.infer<typeof ClaimResponseSchema>;

/** ThingsBoard's ClaimResult, the 200 answer of a successful claim: the device, now the customer's. */
export const ClaimResultSchema = z.object({
  device: DeviceSchema,
  response: z.literal('SUCCESS'),
});
export type ClaimResult = z.infer<typeof ClaimResultSchema>;

/**
 * The 400 answer: ThingsBoard's bare ClaimResponse as a JSON string ("FAILURE": no pending claim,
 * wrong secret key or expired; "CLAIMED": the device belongs to a customer already), or the usual
 * error body for a bad request.
 */
export const ClaimRefusalSchema = z.union([z.enum(['FAILURE', 'CLAIMED']), ErrorResponseSchema]);
