import { z } from 'zod';
import { IdSchema } from './common.schema';
import { AggregationSchema, AttributeScopeSchema } from './telemetry.schema';

/** ThingsBoard's SubscriptionErrorCode. */
export const WsErrorCodes = {
  NO_ERROR: 0,
  INTERNAL_ERROR: 1,
  BAD_REQUEST: 2,
  UNAUTHORIZED: 3,
} as const;

/** `{"authCmd":{"cmdId":0,"token":"<JWT>"}}`: the first frame on `/api/ws`. */
export const WsAuthCmdSchema = z.object({
  cmdId: z.number().int().optional(),
  token: z.string().min(1),
});
export type WsAuthCmd = z.infer<typeof WsAuthCmdSchema>;

/** "a,b" as ThingsBoard sends it; an array is accepted too. Absent: every key. */
const KeysSchema = z.union([z.string(), z.array(z.string())]).optional();

const subscriptionFields = {
  cmdId: z.number().int(),
  entityType: z.string().min(1).optional(),
  entityId: IdSchema.optional(),
  keys: KeysSchema,
  unsubscribe: z.boolean().optional(),
};

/** An unsubscribe needs only the cmdId; a subscribe must name its entity. */
function requireEntity(cmd: { unsubscribe?: boolean | undefined; entityType?: string | undefined; entityId?: string | undefined }, ctx: z.RefinementCtx): void {
  if (cmd.unsubscribe === true) return;
  if (cmd.entityType === undefined) ctx.addIssue({ code: 'custom', path: ['entityType'], message: 'entityType is required' });
  if (cmd.entityId === undefined) ctx.addIssue({ code: 'custom', path: ['entityId'], message: 'entityId is required' });
}

/**
 * TIMESERIES with `startTs`: every point at or after it is delivered (all of a batch, and points
 * older than the newest sent), what a live chart needs; without it only newer latest values.
 */
const everyPointField = { startTs: z.number().int().nonnegative().optional() };

/** Latest-value subscription to time series (TB's TimeseriesSubscriptionCmd). */
export const WsTsSubCmdSchema = z
  .object({ ...subscriptionFields, ...everyPointField, scope: z.literal('LATEST_TELEMETRY').optional() })
  .superRefine(requireEntity);
export type WsTsSubCmd = z.infer<typeof WsTsSubCmdSchema>;

/** Attribute subscription (TB's AttributesSubscriptionCmd); no scope: every scope. */
export const WsAttrSubCmdSchema = z
  .object({ ...subscriptionFields, scope: AttributeScopeSchema.optional() })
  .superRefine(requireEntity);
export type WsAttrSubCmd = z.infer<typeof WsAttrSubCmdSchema>;

/** One-off history read (TB's GetHistoryCmd), answered once under its cmdId. */
export const WsHistoryCmdSchema = z.object({
  cmdId: z.number().int(),
  entityType: z.string().min(1),
  entityId: IdSchema,
  keys: KeysSchema,
  startTs: z.number().int().nonnegative(),
  endTs: z.number().int().nonnegative(),
  interval: z.number().int().nonnegative().optional(),
  limit: z.number().int().positive().optional(),
  agg: AggregationSchema.optional(),
});
export type WsHistoryCmd = z.infer<typeof WsHistoryCmdSchema>;

/** An element of the current `cmds` list: the command's `type` picks its shape. */
export const WsCmdSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('TIMESERIES'), ...subscriptionFields, ...everyPointField, scope: z.literal('LATEST_TELEMETRY').optional() }).superRefine(requireEntity),
  z.object({ type: z.literal('ATTRIBUTES'), ...subscriptionFields, scope: AttributeScopeSchema.optional() }).superRefine(requireEntity),
  WsHistoryCmdSchema.extend({ type: z.literal('TIMESERIES_HISTORY') }),
]);
export type WsCmd = z.infer<typeof WsCmdSchema>;

/**
 * A client frame, typed for clients that build one. Both ThingsBoard shapes: the current
 * `{authCmd, cmds}` and the older `{tsSubCmds, attrSubCmds, historyCmds}`.
 */
export const WsClientFrameSchema = z.object({
  authCmd: WsAuthCmdSchema.optional(),
  cmds: z.array(WsCmdSchema).optional(),
  tsSubCmds: z.array(WsTsSubCmdSchema).optional(),
  attrSubCmds: z.array(WsAttrSubCmdSchema).optional(),
  historyCmds: z.array(WsHistoryCmdSchema).optional(),
});
export type WsClientFrame = z.infer<typeof WsClientFrameSchema>;

/**
 * The same frame with commands left unchecked: the server validates each command on its own, so one
 * bad command gets an error under its cmdId while the others go ahead.
 */
export const WsClientEnvelopeSchema = z.object({
  authCmd: WsAuthCmdSchema.optional(),
  cmds: z.array(z.unknown()).optional(),
  tsSubCmds: z.array(z.unknown()).optional(),
  attrSubCmds: z.array(z.unknown()).optional(),
  historyCmds: z.array(z.unknown()).optional(),
});
export type WsClientEnvelope = z.infer<typeof WsClientEnvelopeSchema>;

/** `{"temperature":[[1715321875739,"25.1"]]}`: values as strings, null for a deleted attribute. */
export const WsDataSchema = z.record(z.string(), z.array(z.tuple([z.number().int(), z.string().nullable()])));

/** Every server frame: a snapshot, an update, or an error under the command's id. */
export const WsUpdateSchema = z.object({
  subscriptionId: z.number().int().nullable(),
  errorCode: z.number().int(),
  errorMsg: z.string().nullable(),
  data: WsDataSchema.nullable(),
  latestValues: z.record(z.string(), z.number().int()).optional(),
});
export type WsUpdate = z.infer<typeof WsUpdateSchema>;
