import { z } from 'zod';
import { IdSchema, JsonSchema, TenantIdSchema, entityIdSchema, pageSchema } from './common.schema';

export const AlarmSeveritySchema = z.enum(['CRITICAL', 'MAJOR', 'MINOR', 'WARNING', 'INDETERMINATE']);
export type AlarmSeverityDto = z.infer<typeof AlarmSeveritySchema>;
export const AlarmStatusSchema = z.enum(['ACTIVE_UNACK', 'ACTIVE_ACK', 'CLEARED_UNACK', 'CLEARED_ACK']);
export const AlarmSearchStatusSchema = z.enum(['ANY', 'ACTIVE', 'CLEARED', 'ACK', 'UNACK']);

/** Originators an alarm may have in Rivulet (ThingsBoard has more entity types). */
export const AlarmOriginatorSchema = z.object({ entityType: z.enum(['DEVICE', 'TENANT']), id: IdSchema });

/** ThingsBoard's AlarmInfo: the alarm with its status and originator's name. */
export const AlarmSchema = z.object({
  id: entityIdSchema('ALARM'),
  createdTime: z.number().int(),
  tenantId: TenantIdSchema,
  customerId: z.null(),
  type: z.string(),
  name: z.string(),
  originator: z.object({ entityType: z.string(), id: IdSchema }),
  originatorName: z.string().nullable(),
  originatorLabel: z.string().nullable(),
  severity: AlarmSeveritySchema,
  status: AlarmStatusSchema,
  acknowledged: z.boolean(),
  cleared: z.boolean(),
  startTs: z.number(),
  endTs: z.number(),
  ackTs: z.number(),
  clearTs: z.number(),
  assigneeId: z.null(),
  assignTs: z.number(),
  details: JsonSchema.nullable(),
  propagate: z.boolean(),
  propagateToOwner: z.boolean(),
  propagateToTenant: z.boolean(),
  propagateRelationTypes: z.array(z.string()),
});
export type AlarmDto = z.infer<typeof AlarmSchema>;
export const AlarmPageSchema = pageSchema(AlarmSchema);

/**
 * `POST /api/alarm`: creates the alarm, or updates the active alarm of the same originator and type
 * (ThingsBoard's one active alarm per originator and type). With `id`: updates that alarm's severity
 * and details. Other fields of an alarm read earlier are accepted and ignored.
 */
export const AlarmSaveRequestSchema = z.looseObject({
  id: z.union([z.object({ entityType: z.literal('ALARM').optional(), id: IdSchema }), IdSchema.transform((id) => ({ entityType: 'ALARM' as const, id }))]).nullish(),
  type: z.string().trim().min(1, 'Alarm type should be specified').max(255),
  originator: AlarmOriginatorSchema,
  severity: AlarmSeveritySchema,
  details: JsonSchema.nullish(),
  startTs: z.number().int().nonnegative().nullish(),
});
export type AlarmSaveRequest = z.input<typeof AlarmSaveRequestSchema>;
