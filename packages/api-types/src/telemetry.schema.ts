import { z } from 'zod';
import { JsonSchema } from './common.schema';

export const AttributeScopeSchema = z.enum(['CLIENT_SCOPE', 'SERVER_SCOPE', 'SHARED_SCOPE']);
export type AttributeScopeName = z.infer<typeof AttributeScopeSchema>;

export const AggregationSchema = z.enum(['NONE', 'AVG', 'MIN', 'MAX', 'SUM', 'COUNT']);
export type AggregationName = z.infer<typeof AggregationSchema>;

/** `GET .../values/timeseries`: `{"temperature":[{"ts":1479735870786,"value":"1"}]}`; values are strings unless useStrictDataTypes=true. */
export const TimeseriesValuesSchema = z.record(z.string(), z.array(z.object({ ts: z.number().int(), value: JsonSchema })));
export type TimeseriesValues = z.infer<typeof TimeseriesValuesSchema>;

/** `GET .../values/attributes`: typed JSON values, as ThingsBoard. */
export const AttributeValuesSchema = z.array(z.object({ lastUpdateTs: z.number().int(), key: z.string(), value: JsonSchema }));
export type AttributeValues = z.infer<typeof AttributeValuesSchema>;
