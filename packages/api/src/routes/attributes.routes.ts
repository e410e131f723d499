import {
  AttributeScope,
  doubleKeysOf,
  JsonDouble,
  JsonWithDoubles,
  keyLimits,
  parseAttributes,
  parseKeyList,
  type AttributeKv,
  type JsonValue,
  type KvValue,
} from '@rivulet/core';
import {
  AttributeParamsSchema,
  AttributeScopeParamsSchema,
  AttributeValuesSchema,
  AttributesSaveRequestSchema,
  DeviceTelemetryScopeParamsSchema,
  KeyListResponseSchema,
  KeysQuerySchema,
  RequiredKeysQuerySchema,
} from '@rivulet/api-types';
import { badParam, invalidBody } from '../api-error';
import { DEVICE_READERS, withAccess, type AccessHandler } from '../access';
import { TENANT_ADMIN_ONLY, type ApiDeps } from '../context';
import type { TenantEvents } from '../platform-events';
import { requiredParam } from '../params';
import { ok, type Reply, type RequestContext, type RouteDef, type RouteDoc } from '../router';
import { resolveTarget, scopeOf, type TelemetryTarget } from './telemetry-target';

const PREFIX = '/api/plugins/telemetry/{entityType}/{entityId}';

/** A handler on one entity the caller may reach; `events` emits platform events of the caller's tenant. */
type TargetHandler = (ctx: RequestContext, target: TelemetryTarget, events: TenantEvents) => Promise<Reply>;

function keysOf(ctx: RequestContext): string[] | undefined {
  const keys = parseKeyList(ctx.query.get('keys'));
  return keys && keys.length > 0 ? keys : undefined;
}

/**
 * ThingsBoard's attribute endpoints of the telemetry controller, for a device (every scope), the
 * caller's tenant and its customers (SERVER_SCOPE: the only scope ThingsBoard gives entities other
 * than devices). Reads are open to tenant administrators and customer users (each within its
 * reach, see resolveTarget), changes to tenant administrators. A change goes to the rule engine as
 * ATTRIBUTES_UPDATED / ATTRIBUTES_DELETED with the entity as originator.
 */
export function attributeRoutes(deps: ApiDeps): RouteDef[] {
  const { storage } = deps;

  function resolved(method: RouteDef['method'], handler: TargetHandler): AccessHandler {
    return async (ctx, access) => {
      const target = await resolveTarget(access, ctx.params, { write: method !== 'GET', data: 'attributes' });
      // events of the caller's tenant only: the entity was resolved within it above
      return handler(ctx, target, deps.events.forUser(access.user));
    };
  }

  const route = (method: RouteDef['method'], path: string, doc: RouteDoc, handler: TargetHandler): RouteDef => ({
    method,
    path: PREFIX + path,
    tag: 'Telemetry',
    params: AttributeParamsSchema,
    ...doc,
    handler: withAccess(deps, resolved(method, handler), method === 'GET' ? DEVICE_READERS : TENANT_ADMIN_ONLY),
  });

  /** The tenant's key limits (maxKeyLength, maxKeysPerMessage): the same 400 as the device API's past them. */
  const limitsOf = (tenantId: string) => (deps.tenantLimits ? keyLimits(deps.tenantLimits.forTenant(tenantId)) : {});

  const saveAttributes: TargetHandler = async (ctx, target, events) => {
    const scope = scopeOf(target, ctx.params.scope);
    if (scope === AttributeScope.CLIENT_SCOPE) {
      throw badParam('CLIENT_SCOPE attributes belong to the device: it posts them through the device API');
    }
    const values = parseAttributes((await ctx.body()) as JsonValue, limitsOf(target.tenantId));
    const keys = Object.keys(values);
    if (keys.length === 0) throw invalidBody('No attributes data found in request body!');
    const lastUpdateTs = Date.now();
    const entityId = target.ref.id;
    const doubles = doubleKeysOf(values); // written 1.0: stored as DOUBLE
    await storage.attributes.save(keys.map((key) => (doubles?.includes(key) ? { entityId, scope, key, value: values[key] as KvValue, lastUpdateTs, double: true } : { entityId, scope, key, value: values[key] as KvValue, lastUpdateTs })));
    await events.attributesUpdated(target.ref, scope, values as Record<string, KvValue>);
    return ok();
  };

  const deleteAttributes: TargetHandler = async (ctx, target, events) => {
    const scope = scopeOf(target, ctx.params.scope);
    const keys = parseKeyList(requiredParam(ctx.query, 'keys')) ?? [];
    if (keys.length === 0) throw badParam("Parameter 'keys' can't be empty!");
    await storage.attributes.delete(target.ref.id, scope, keys);
    await events.attributesDeleted(target.ref, scope, keys);
    return ok();
  };

  /** `/api/plugins/telemetry/{deviceId}/{scope}`: `{deviceId}` read as DEVICE/{deviceId}, so access is checked as there. */
  const deviceRoute = (method: RouteDef['method'], doc: RouteDoc, handler: TargetHandler): RouteDef => {
    const inner = withAccess(deps, resolved(method, handler), TENANT_ADMIN_ONLY);
    return {
      method,
      path: '/api/plugins/telemetry/{deviceId}/{scope}',
      tag: 'Telemetry',
      ...doc,
      params: DeviceTelemetryScopeParamsSchema,
      handler: (ctx) => inner({ ...ctx, params: { scope: ctx.params.scope ?? '', entityType: 'DEVICE', entityId: ctx.params.deviceId ?? '' } }),
    };
  };

  const deleteAttributesDoc: RouteDoc = { summary: 'Delete attributes of one scope', params: AttributeScopeParamsSchema, query: RequiredKeysQuerySchema, response: null };
  const saveAttributesDoc: RouteDoc = {
    summary: 'Save server or shared attributes (a tenant or customer: server attributes)',
    params: AttributeScopeParamsSchema,
    body: AttributesSaveRequestSchema,
    response: null,
  };

  return [
    route('GET', '/keys/attributes', { summary: 'Attribute keys of an entity, all its scopes', response: KeyListResponseSchema }, async (_ctx, t) => {
      const perScope = await Promise.all(t.scopes.map((scope) => storage.attributes.findKeys(t.ref.id, scope)));
      return ok([...new Set(perScope.flat())]);
    }),
    route('GET', '/keys/attributes/{scope}', { summary: 'Attribute keys of one scope', params: AttributeScopeParamsSchema, response: KeyListResponseSchema }, async (ctx, t) => ok(await storage.attributes.findKeys(t.ref.id, scopeOf(t, ctx.params.scope)))),

    route('GET', '/values/attributes', { summary: 'Attributes of an entity, all its scopes', query: KeysQuerySchema, response: AttributeValuesSchema }, async (ctx, t) => {
      const keys = keysOf(ctx);
      const perScope = await Promise.all(t.scopes.map((scope) => storage.attributes.find(t.ref.id, scope, keys)));
      return ok(attributesAnswer(perScope.flat()));
    }),
    route('GET', '/values/attributes/{scope}', { summary: 'Attributes of one scope', params: AttributeScopeParamsSchema, query: KeysQuerySchema, response: AttributeValuesSchema }, async (ctx, t) => {
      return ok(attributesAnswer(await storage.attributes.find(t.ref.id, scopeOf(t, ctx.params.scope), keysOf(ctx))));
    }),

    route('POST', '/attributes/{scope}', saveAttributesDoc, saveAttributes),
    // ThingsBoard's older path, still used by its REST client.
    route('POST', '/{scope}', saveAttributesDoc, saveAttributes),

    route('DELETE', '/{scope}', deleteAttributesDoc, deleteAttributes),

    // ThingsBoard's device-only paths (saveDeviceAttributes, deleteDeviceAttributes): the same as
    // DEVICE/{deviceId}/..., through the same access check.
    deviceRoute('POST', saveAttributesDoc, saveAttributes),
    deviceRoute('DELETE', deleteAttributesDoc, deleteAttributes),
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
  return doubles ? new JsonWithDoubles(out) : out;
}
