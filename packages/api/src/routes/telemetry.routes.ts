import {
  AttributeScope,
  doubleKeysOf,
  EntityType,
  JsonDouble,
  JsonWithDoubles,
  isAttributeScope,
  keyLimits,
  kvToString,
  parseAttributes,
  parseKeyList,
  parseTelemetry,
  type AttributeKv,
  type JsonValue,
  type KvValue,
  type TsKv,
  type TsPoint,
} from '@rivulet/core';
import {
  AttributeValuesSchema,
  AttributesSaveRequestSchema,
  DeviceTelemetryScopeParamsSchema,
  KeyListResponseSchema,
  KeysQuerySchema,
  RequiredKeysQuerySchema,
  TelemetryParamsSchema,
  TelemetryScopeParamsSchema,
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
import { boolParam, enumParam, intParam, parseId, requiredParam } from '../params';
import { ok, type Reply, type RequestContext, type RouteDef, type RouteDoc } from '../router';

const PREFIX = '/api/plugins/telemetry/{entityType}/{entityId}';
const ALL_SCOPES = [AttributeScope.CLIENT_SCOPE, AttributeScope.SERVER_SCOPE, AttributeScope.SHARED_SCOPE] as const;
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

function parseScope(value: string | undefined): AttributeScope {
  if (!isAttributeScope(value)) throw badParam(`Invalid attribute scope '${value ?? ''}': expected CLIENT_SCOPE, SERVER_SCOPE or SHARED_SCOPE`);
  return value;
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

export function telemetryRoutes(deps: ApiDeps): RouteDef[] {
  const { storage } = deps;

  /**
   * Resolves `{entityType}/{entityId}` to a device the caller may read (GET: a tenant administrator's
   * devices, a customer user's assigned ones) or change (anything else: tenant administrators only).
   * Only devices carry data in Rivulet so far; a device the caller may not reach is "not found", so
   * ids of other tenants and customers do not leak.
   */
  function device(method: RouteDef['method'], handler: DeviceHandler): AccessHandler {
    return async (ctx, access) => {
      const entityType = ctx.params.entityType ?? '';
      if (entityType.toUpperCase() !== 'DEVICE') throw badParam(`Entity type '${entityType}' is not supported; only DEVICE is`);
      const id = parseId(ctx.params.entityId, 'entityId');
      const d = method === 'GET' ? await access.readableDevice(id) : await access.writableDevice(id);
      // events of the caller's tenant only: the device was resolved within it above
      return handler(ctx, d.id, d.tenantId, deps.events.forUser(access.user));
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

  const saveAttributes: DeviceHandler = async (ctx, entityId, tenantId, events) => {
    const scope = parseScope(ctx.params.scope);
    if (scope === AttributeScope.CLIENT_SCOPE) {
      throw badParam('CLIENT_SCOPE attributes belong to the device: it posts them through the device API');
    }
    const values = parseAttributes((await ctx.body()) as JsonValue, limitsOf(tenantId));
    const keys = Object.keys(values);
    if (keys.length === 0) throw invalidBody('No attributes data found in request body!');
    const lastUpdateTs = Date.now();
    const doubles = doubleKeysOf(values); // written 1.0: stored as DOUBLE
    await storage.attributes.save(keys.map((key) => (doubles?.includes(key) ? { entityId, scope, key, value: values[key] as KvValue, lastUpdateTs, double: true } : { entityId, scope, key, value: values[key] as KvValue, lastUpdateTs })));
    await events.attributesUpdated(deviceRef(entityId), scope, values as Record<string, KvValue>);
    return ok();
  };

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

  const deleteAttributes: DeviceHandler = async (ctx, id, _tenantId, events) => {
    const scope = parseScope(ctx.params.scope);
    const keys = parseKeyList(requiredParam(ctx.query, 'keys')) ?? [];
    if (keys.length === 0) throw badParam("Parameter 'keys' can't be empty!");
    await storage.attributes.delete(id, scope, keys);
    await events.attributesDeleted(deviceRef(id), scope, keys);
    return ok();
  };

  /** `/api/plugins/telemetry/{deviceId}/{scope}`: `{deviceId}` read as DEVICE/{deviceId}, so access is checked as there. */
  const deviceRoute = (method: RouteDef['method'], doc: RouteDoc, handler: DeviceHandler): RouteDef => {
    const inner = withAccess(deps, device(method, handler), TENANT_ADMIN_ONLY);
    return {
      method,
      path: '/api/plugins/telemetry/{deviceId}/{scope}',
      tag: 'Telemetry',
      ...doc,
      params: DeviceTelemetryScopeParamsSchema,
      handler: (ctx) => inner({ ...ctx, params: { scope: ctx.params.scope ?? '', entityType: 'DEVICE', entityId: ctx.params.deviceId ?? '' } }),
    };
  };

  const deleteAttributesDoc: RouteDoc = { summary: 'Delete attributes of one scope', params: TelemetryScopeParamsSchema, query: RequiredKeysQuerySchema, response: null };

  const saveAttributesDoc: RouteDoc = {
    summary: 'Save server or shared attributes',
    params: TelemetryScopeParamsSchema,
    body: AttributesSaveRequestSchema,
    response: null,
  };

  return [
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

    route('GET', '/keys/attributes', { summary: 'Attribute keys of a device, all scopes', response: KeyListResponseSchema }, async (_ctx, id) => ok([...new Set(await storage.attributes.findKeys(id))])),
    route('GET', '/keys/attributes/{scope}', { summary: 'Attribute keys of one scope', params: TelemetryScopeParamsSchema, response: KeyListResponseSchema }, async (ctx, id) => ok(await storage.attributes.findKeys(id, parseScope(ctx.params.scope)))),

    route('GET', '/values/attributes', { summary: 'Attributes of a device, all scopes', query: KeysQuerySchema, response: AttributeValuesSchema }, async (ctx, id) => {
      const keys = keysOf(ctx);
      const perScope = await Promise.all(ALL_SCOPES.map((scope) => storage.attributes.find(id, scope, keys)));
      return ok(attributesAnswer(perScope.flat()));
    }),
    route('GET', '/values/attributes/{scope}', { summary: 'Attributes of one scope', params: TelemetryScopeParamsSchema, query: KeysQuerySchema, response: AttributeValuesSchema }, async (ctx, id) => {
      const scope = parseScope(ctx.params.scope);
      return ok(attributesAnswer(await storage.attributes.find(id, scope, keysOf(ctx))));
    }),

    route('POST', '/attributes/{scope}', saveAttributesDoc, saveAttributes),
    // ThingsBoard's older path, still used by its REST client.
    route('POST', '/{scope}', saveAttributesDoc, saveAttributes),

    route('DELETE', '/{scope}', deleteAttributesDoc, deleteAttributes),

    // ThingsBoard's device-only paths (saveDeviceAttributes, deleteDeviceAttributes): the same as
    // DEVICE/{deviceId}/..., through the same access check.
    deviceRoute('POST', saveAttributesDoc, saveAttributes),
    deviceRoute('DELETE', deleteAttributesDoc, deleteAttributes),

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

/** ThingsBoard's attribute answer: typed values, a DOUBLE of integral value as 1.0. */
function attributesAnswer(list: readonly AttributeKv[]): unknown {
  let doubles = false;
  const out = list.map((a): { lastUpdateTs: number; key: string; value: KvValue | JsonDouble } => {
    if (a.double !== true || typeof a.value !== 'number') return { lastUpdateTs: a.lastUpdateTs, key: a.key, value: a.value };
    doubles = true;
    return { lastUpdateTs: a.lastUpdateTs, key: a.key, value: new JsonDouble(a.value) };
  });
  return typedAnswer(out, doubles);
}

