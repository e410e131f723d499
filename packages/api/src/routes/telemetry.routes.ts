import {
  doubleKeysOf,
  EntityType,
  JsonDouble,
  JsonWithDoubles,
  keyLimits,
  kvToString,
  parseKeyList,
  parseTelemetry,
  type JsonValue,
  type KvValue,
  type TsKv,
  type TsPoint,
} from '@rivulet/core';
import {
  KeyListResponseSchema,
  TelemetryParamsSchema,
  TimeseriesDeleteQuerySchema,
  TimeseriesQuerySchema,
  TimeseriesSaveRequestSchema,
  TimeseriesScopeParamsSchema,
  TimeseriesTtlParamsSchema,
  TimeseriesValuesSchema,
} from '@rivulet/api-types';
import type { Aggregation } from '@rivulet/storage';
import { badParam, invalidBody } from '../api-error';
import { DEVICE_READERS, withAccess, type AccessHandler } from '../access';
import { TENANT_ADMIN_ONLY, type ApiDeps } from '../context';
import { setOwn } from '../own';
import type { TenantEvents } from '../platform-events';
import { boolParam, enumParam, intParam, requiredParam } from '../params';
import { ok, type Reply, type RequestContext, type RouteDef, type RouteDoc } from '../router';
import { attributeRoutes } from './attributes.routes';
import { resolveTarget } from './telemetry-target';

const PREFIX = '/api/plugins/telemetry/{entityType}/{entityId}';
const AGGREGATIONS: readonly Aggregation[] = ['NONE', 'AVG', 'MIN', 'MAX', 'SUM', 'COUNT'];
export const DEFAULT_HISTORY_LIMIT = 100;
/** Upper bound on points per key in one answer, so one request cannot pull a whole table. */
export const MAX_HISTORY_LIMIT = 50_000;

/**
 * A value as ThingsBoard's REST answers it: a string, unless the caller asked for strict types. A
 * DOUBLE of integral value is "1.0", or 1.0 in strict form (a JsonDouble: the answer then goes out
 * through typedAnswer).
 */
function restValue(v: KvValue, strict: boolean, double: boolean | undefined): KvValue | JsonDouble {
  if (!strict) return kvToString(v, double);
  return double === true && typeof v === 'number' ? new JsonDouble(v) : v;
}

/** An answer body, marked for the serializer that prints 1.0 when it holds a JsonDouble. */
function typedAnswer(body: unknown, hasDoubles: boolean): unknown {
  return hasDoubles ? new JsonWithDoubles(body) : body;
}

function keysOf(ctx: RequestContext): string[] | undefined {
  const keys = parseKeyList(ctx.query.get('keys'));
  return keys && keys.length > 0 ? keys : undefined;
}

function groupTs(points: readonly TsKv[], strict: boolean): unknown {
  const out: Record<string, Array<{ ts: number; value: KvValue | JsonDouble }>> = {};
  let doubles = false;
  for (const p of points) {
    let list = Object.hasOwn(out, p.key) ? out[p.key] : undefined;
    if (!list) setOwn(out, p.key, (list = []));
    list.push({ ts: p.ts, value: restValue(p.value, strict, p.double) });
    if (p.double === true) doubles = true;
  }
  return typedAnswer(out, strict && doubles);
}

/** A handler on one device the caller may reach; `events` emits platform events of the caller's tenant. */
type DeviceHandler = (ctx: RequestContext, entityId: string, tenantId: string, events: TenantEvents) => Promise<Reply>;

const deviceRef = (id: string) => ({ entityType: EntityType.DEVICE, id });

/** The telemetry controller: time series here (a device's only), attributes in attributes.routes.ts. */
export function telemetryRoutes(deps: ApiDeps): RouteDef[] {
  const { storage } = deps;

  /**
   * Resolves `{entityType}/{entityId}` to a device the caller may read (GET: a tenant administrator's
   * devices, a customer user's assigned ones) or change (anything else: tenant administrators only).
   * Time series are a device's only in Rivulet; a device the caller may not reach is "not found", so
   * ids of other tenants and customers do not leak.
   */
  function device(method: RouteDef['method'], handler: DeviceHandler): AccessHandler {
    return async (ctx, access) => {
      const t = await resolveTarget(access, ctx.params, { write: method !== 'GET', data: 'timeseries' });
      // events of the caller's tenant only: the device was resolved within it above
      return handler(ctx, t.ref.id, t.tenantId, deps.events.forUser(access.user));
    };
  }

  const route = (method: RouteDef['method'], path: string, doc: RouteDoc, handler: DeviceHandler): RouteDef => ({
    method,
    path: PREFIX + path,
    tag: 'Telemetry',
    params: TelemetryParamsSchema,
    ...doc,
    handler: withAccess(deps, device(method, handler), method === 'GET' ? DEVICE_READERS : TENANT_ADMIN_ONLY),
  });

  /** The tenant's key limits (maxKeyLength, maxKeysPerMessage): the same 400 as the device API's past them. */
  const limitsOf = (tenantId: string) => (deps.tenantLimits ? keyLimits(deps.tenantLimits.forTenant(tenantId)) : {});

  const saveTimeseries: DeviceHandler = async (ctx, entityId, tenantId, events) => {
    const groups = parseTelemetry((await ctx.body()) as JsonValue, Date.now(), limitsOf(tenantId));
    const points: TsPoint[] = [];
    for (const g of groups) {
      const doubles = doubleKeysOf(g.values); // written 1.0: stored as DOUBLE
      for (const key of Object.keys(g.values)) {
        const value = g.values[key] as KvValue;
        points.push(doubles?.includes(key) ? { entityId, key, ts: g.ts, value, double: true } : { entityId, key, ts: g.ts, value });
      }
    }
    if (points.length === 0) throw invalidBody('No timeseries data found in request body!');
    await storage.timeseries.save(points);
    await events.timeseriesUpdated(deviceRef(entityId), points);
    return ok();
  };

  return [
    ...attributeRoutes(deps),

    route('GET', '/keys/timeseries', { summary: 'Time-series keys of a device', response: KeyListResponseSchema }, async (_ctx, id) => ok(await storage.timeseries.findKeys(id))),

    route('GET', '/values/timeseries', { summary: 'Latest values, or history between startTs and endTs', query: TimeseriesQuerySchema, response: TimeseriesValuesSchema }, async (ctx, id) => {
      const q = ctx.query;
      const strict = boolParam(q, 'useStrictDataTypes') ?? false;
      const startTs = intParam(q, 'startTs', { min: 0 });
      const endTs = intParam(q, 'endTs', { min: 0 });
      const keys = keysOf(ctx);
      if (startTs === undefined && endTs === undefined) {
        return ok(groupTs(await storage.timeseries.findLatest(id, keys), strict));
      }
      if (startTs === undefined || endTs === undefined) throw badParam("Parameters 'startTs' and 'endTs' go together: give both or neither");
      if (startTs > endTs) throw badParam(`Parameter 'startTs' (${startTs}) must not be after 'endTs' (${endTs})`);
      const interval = intParam(q, 'interval', { min: 0 });
      const agg = enumParam(q, 'agg', AGGREGATIONS) ?? 'NONE';
      const history = await storage.timeseries.findHistory(id, {
        keys: keys ?? (await storage.timeseries.findKeys(id)),
        startTs,
        endTs,
        limit: intParam(q, 'limit', { min: 1, max: MAX_HISTORY_LIMIT }) ?? DEFAULT_HISTORY_LIMIT,
        orderBy: enumParam(q, 'orderBy', ['ASC', 'DESC'] as const) ?? 'DESC',
        agg,
        ...(interval !== undefined && interval > 0 ? { interval } : {}),
      });
      const out: Record<string, Array<{ ts: number; value: KvValue | JsonDouble }>> = {};
      let doubles = false;
      for (const key of Object.keys(history)) {
        const points = history[key] ?? [];
        if (points.length > 0) setOwn(out, key, points.map((p) => {
          if (p.double === true) doubles = true;
          return { ts: p.ts, value: restValue(p.value, strict, p.double) };
        }));
      }
      return ok(typedAnswer(out, strict && doubles));
    }),

    // The scope segment (ThingsBoard sends "ANY") and the TTL are accepted and ignored: Rivulet keeps
    // one time-series store without per-write retention.
    route('POST', '/timeseries/{scope}', { summary: 'Save time series', params: TimeseriesScopeParamsSchema, body: TimeseriesSaveRequestSchema, response: null }, saveTimeseries),
    route('POST', '/timeseries/{scope}/{ttl}', { summary: 'Save time series (the TTL is ignored)', params: TimeseriesTtlParamsSchema, body: TimeseriesSaveRequestSchema, response: null }, async (ctx, id, tenantId, events) => {
      if (!/^\d+$/.test(ctx.params.ttl ?? '')) throw badParam(`Incorrect ttl '${ctx.params.ttl ?? ''}': not a number`);
      return saveTimeseries(ctx, id, tenantId, events);
    }),

    route('DELETE', '/timeseries/delete', { summary: 'Delete time series of some keys, between startTs and endTs or all', query: TimeseriesDeleteQuerySchema, response: null }, async (ctx, id, _tenantId, events) => {
      const q = ctx.query;
      const keys = parseKeyList(requiredParam(q, 'keys')) ?? [];
      if (keys.length === 0) throw badParam("Parameter 'keys' can't be empty!");
      let startTs: number;
      let endTs: number;
      if (boolParam(q, 'deleteAllDataForKeys') === true) {
        // ThingsBoard's: everything up to now (a point stamped in the future stays)
        startTs = 0;
        endTs = Date.now();
      } else {
        const s = intParam(q, 'startTs', { min: 0 });
        const e = intParam(q, 'endTs', { min: 0 });
        if (s === undefined || e === undefined) throw badParam("Parameters 'startTs' and 'endTs' are required unless deleteAllDataForKeys=true");
        if (s > e) throw badParam(`Parameter 'startTs' (${s}) must not be after 'endTs' (${e})`);
        startTs = s;
        endTs = e;
      }
      // ThingsBoard's defaults: deleteLatest true, rewriteLatestIfDeleted false
      const deleteLatest = boolParam(q, 'deleteLatest') ?? true;
      const rewriteLatest = boolParam(q, 'rewriteLatestIfDeleted') ?? false;
      await storage.timeseries.delete(id, keys, startTs, endTs, { deleteLatest, rewriteLatest });
      await events.timeseriesDeleted(deviceRef(id), keys, startTs, endTs);
      return ok();
    }),
  ];
}
