import { z } from 'zod';
import { IdSchema, JsonSchema } from './common.schema';
import { AggregationSchema, AttributeScopeSchema } from './telemetry.schema';
import { AlarmSearchStatusSchema, AlarmSeveritySchema, AlarmStatusSchema } from './alarm.schema';

/**
 * Path and query parameters of the REST API as the OpenAPI document describes them (values travel as
 * strings; the handlers parse them with packages/api/src/params.ts and answer 400 as these say).
 */

/** `{name}` path parameters that are entity ids. */
export function idParams<K extends string>(...names: K[]) {
  return z.object(Object.fromEntries(names.map((n) => [n, IdSchema])) as { [P in K]: typeof IdSchema });
}

const SortOrderSchema = z.enum(['ASC', 'DESC']);

/** ThingsBoard's page parameters (pageSize defaults to 10 and is capped at 1000 here). */
export function pageQuerySchema<S extends string>(sortProperties: readonly [S, ...S[]]) {
  return z.object({
    pageSize: z.int().min(1).optional().describe('Items per page (default 10, at most 1000)'),
    page: z.int().min(0).optional().describe('Page number from 0'),
    textSearch: z.string().optional().describe('Case-insensitive substring of the name'),
    sortProperty: z.enum(sortProperties).optional(),
    sortOrder: SortOrderSchema.optional(),
  });
}

/** A comma-separated list of keys. */
const KeyListSchema = z.string().describe('Comma-separated keys');

export const DeviceListQuerySchema = pageQuerySchema(['name', 'type', 'label', 'createdTime']).extend({
  type: z.string().optional().describe('Only devices of this type'),
  deviceName: z.string().optional().describe('The device of this name (answers the device, not a page)'),
});

/** `/api/tenant/deviceInfos` and `/api/customer/{customerId}/deviceInfos` (ThingsBoard's filters). */
export const DeviceInfoListQuerySchema = pageQuerySchema(['name', 'type', 'label', 'createdTime', 'customerTitle', 'deviceProfileName']).extend({
  type: z.string().optional().describe('Only devices of this type (profile name)'),
  deviceProfileId: IdSchema.optional().describe('Only devices of this profile'),
  active: z.boolean().optional().describe('Only active (true) or inactive (false) devices'),
});

export const DeviceCreateQuerySchema = z.object({
  accessToken: z.string().optional().describe('The access token of a new device (generated when left out)'),
});

export const TelemetryParamsSchema = z.object({
  entityType: z.enum(['DEVICE']).describe('Only DEVICE has time series in Rivulet'),
  entityId: IdSchema,
});
export const TelemetryScopeParamsSchema = TelemetryParamsSchema.extend({ scope: AttributeScopeSchema });
/** Attribute paths: a device (every scope), the caller's tenant or one of its customers (SERVER_SCOPE only). */
export const AttributeParamsSchema = z.object({
  entityType: z.enum(['DEVICE', 'TENANT', 'CUSTOMER']).describe('DEVICE, TENANT (the caller\'s own) or CUSTOMER'),
  entityId: IdSchema,
});
export const AttributeScopeParamsSchema = AttributeParamsSchema.extend({
  scope: AttributeScopeSchema.describe('CLIENT_SCOPE, SERVER_SCOPE or SHARED_SCOPE for a device; SERVER_SCOPE for a tenant or customer'),
});
/** ThingsBoard's device-only attribute paths, `/api/plugins/telemetry/{deviceId}/{scope}`. */
export const DeviceTelemetryScopeParamsSchema = z.object({ deviceId: IdSchema, scope: AttributeScopeSchema });
/** The scope segment of a time-series save (ThingsBoard sends ANY); accepted and ignored. */
export const TimeseriesScopeParamsSchema = TelemetryParamsSchema.extend({ scope: z.string().min(1) });
export const TimeseriesTtlParamsSchema = TimeseriesScopeParamsSchema.extend({ ttl: z.int().min(0).describe('Accepted and ignored') });

export const KeysQuerySchema = z.object({ keys: KeyListSchema.optional() });
export const RequiredKeysQuerySchema = z.object({ keys: KeyListSchema });

export const TimeseriesQuerySchema = z.object({
  keys: KeyListSchema.optional(),
  startTs: z.int().min(0).optional().describe('With endTs: history; without both: the latest values'),
  endTs: z.int().min(0).optional(),
  interval: z.int().min(0).optional(),
  limit: z.int().min(1).max(50_000).optional(),
  agg: AggregationSchema.optional(),
  orderBy: SortOrderSchema.optional(),
  useStrictDataTypes: z.boolean().optional().describe('Typed values instead of strings'),
});

export const TimeseriesDeleteQuerySchema = z.object({
  keys: KeyListSchema,
  deleteAllDataForKeys: z.boolean().optional().describe('All points up to now (ThingsBoard: [0, now))'),
  startTs: z.int().min(0).optional(),
  endTs: z.int().min(0).optional(),
  deleteLatest: z.boolean().optional().describe('Default true: a latest value inside the range is deleted too'),
  rewriteLatestIfDeleted: z.boolean().optional().describe('Default false: a deleted latest value is replaced by the newest point left only when true'),
});

/** Attributes to save: `{"key": value}`. */
export const AttributesSaveRequestSchema = z.record(z.string(), JsonSchema);
/** Time series to save: `{"key": value}`, `{"ts", "values"}` or an array of either. */
export const TimeseriesSaveRequestSchema = JsonSchema;

export const KeyListResponseSchema = z.array(z.string());

export const AlarmListQuerySchema = pageQuerySchema(['createdTime', 'startTs', 'endTs', 'ackTs', 'clearTs', 'type', 'severity']).extend({
  searchStatus: AlarmSearchStatusSchema.optional(),
  status: AlarmStatusSchema.optional(),
  severity: AlarmSeveritySchema.optional(),
  type: z.string().optional(),
  startTime: z.int().min(0).optional(),
  endTime: z.int().min(0).optional(),
});
export const AlarmEntityParamsSchema = z.object({ entityType: z.enum(['DEVICE', 'TENANT']), entityId: IdSchema });

export const DashboardListQuerySchema = pageQuerySchema(['title', 'createdTime']);

export const RuleChainListQuerySchema = pageQuerySchema(['name', 'root', 'createdTime', 'updatedTime']).extend({
  type: z.enum(['CORE', 'EDGE']).optional(),
});
export const RuleNodeParamsSchema = z.object({ ruleChainId: IdSchema, nodeIndex: z.int().min(0) });
export const DebugEventListQuerySchema = pageQuerySchema(['ts']);

/** Server-side RPC request (ThingsBoard's RpcController). */
export const RpcRequestSchema = z.looseObject({
  method: z.string().min(1),
  params: JsonSchema.optional(),
  timeout: z.number().positive().optional().describe('Milliseconds (default 10000, at most 600000)'),
  expirationTime: z.number().nullish().describe('Epoch milliseconds; wins over timeout'),
});

export const HealthSchema = z.object({ status: z.enum(['UP', 'DOWN']) });
/** Readiness of one process (`/api/ready`): its database answers, its queue is connected, its roles started. */
export const ReadinessSchema = z.object({
  status: z.enum(['READY', 'NOT_READY']),
  roles: z.array(z.enum(['transport', 'rule-engine', 'api'])),
  checks: z.object({
    database: z.enum(['UP', 'DOWN']),
    queue: z.enum(['UP', 'DOWN']),
    roles: z.enum(['STARTING', 'STARTED', 'STOPPING']),
  }),
});
export type Readiness = z.infer<typeof ReadinessSchema>;

export const TenantListQuerySchema = pageQuerySchema(['title', 'email', 'country', 'createdTime']);
export const UserListQuerySchema = pageQuerySchema(['email', 'firstName', 'lastName', 'createdTime']);
export const CustomerListQuerySchema = pageQuerySchema(['title', 'email', 'country', 'city', 'createdTime']);
export const CustomerDeviceListQuerySchema = pageQuerySchema(['name', 'type', 'label', 'createdTime']);
export const TenantProfileListQuerySchema = pageQuerySchema(['name', 'description', 'isDefault', 'createdTime']);
