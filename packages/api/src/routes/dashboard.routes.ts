import { DashboardInfoPageSchema, DashboardInfoSchema, DashboardListQuerySchema, DashboardSaveRequestSchema, DashboardSchema, idParams } from '@rivulet/api-types';
import type { JsonObject, JsonValue } from '@rivulet/core';
import type { Dashboard } from '@rivulet/storage';
import { notFound } from '../api-error';
import { authed, TENANT_ADMIN_ONLY, type ApiDeps } from '../context';
import { toDashboardDto, toDashboardInfoDto } from '../dto';
import { pageParams, parseBody, parseId } from '../params';
import { ok, type RouteDef, type RouteDoc } from '../router';
import type { EntityAction } from '../platform-events';
import type { AuthUser } from '../tokens';

const SORT_PROPERTIES = ['title', 'createdTime'] as const;


/**
 * ThingsBoard's dashboards, stored as documents: Rivulet checks the title and that the configuration
 * is a JSON object, and otherwise keeps the configuration exactly as given (the web app renders it;
 * a ThingsBoard export imports unchanged).
 */
export function dashboardRoutes(deps: ApiDeps): RouteDef[] {
  const { storage, tokens } = deps;

  async function dashboardOf(tenantId: string, rawId: string | undefined): Promise<Dashboard> {
    const id = parseId(rawId, 'dashboardId');
    const dashboard = await storage.dashboards.get(tenantId, id);
    if (!dashboard) throw notFound(`Dashboard ${id} not found`);
    return dashboard;
  }

  /** ENTITY_CREATED / UPDATED / DELETED of a dashboard; its configuration left out of the data, as ThingsBoard's. */
  function dashboardEvent(user: AuthUser, action: EntityAction, d: Dashboard): Promise<void> {
    const dto = { ...toDashboardDto(d), configuration: '' } as unknown as JsonValue;
    return deps.events.forUser(user).entity(action, { id: { entityType: 'DASHBOARD', id: d.id }, tenantId: d.tenantId, name: d.title, dto });
  }

  const route = (method: RouteDef['method'], path: string, doc: RouteDoc, handler: Parameters<typeof authed>[1]): RouteDef => ({
    method,
    path,
    tag: 'Dashboard',
    ...doc,
    handler: authed(tokens, handler, TENANT_ADMIN_ONLY),
  });

  return [
    route('POST', '/api/dashboard', { summary: 'Create a dashboard, or replace it when the body has its id', body: DashboardSaveRequestSchema, response: DashboardSchema, createsId: ['dashboardId'] }, async (ctx, user) => {
      const input = parseBody(DashboardSaveRequestSchema, await ctx.body());
      // ThingsBoard's save with an id is an update: 404 for an id that is not this tenant's.
      const existing = input.id ? await dashboardOf(user.tenantId, input.id.id) : undefined;
      // Left out: kept on update, empty on create; null clears it.
      const configuration: JsonObject = input.configuration === undefined ? (existing?.configuration ?? {}) : (input.configuration ?? {});
      // ThingsBoard keeps the description inside the configuration; an export brings it there.
      const described = typeof configuration.description === 'string' ? configuration.description : undefined;
      const description = input.description !== undefined ? input.description : (described ?? existing?.description ?? null);
      const saved = await storage.dashboards.save({ id: existing?.id, tenantId: user.tenantId, title: input.title, description, configuration });
      await dashboardEvent(user, existing ? 'UPDATED' : 'ADDED', saved);
      return ok(toDashboardDto(saved));
    }),

    route('GET', '/api/dashboard/{dashboardId}', { summary: 'A dashboard with its configuration', params: idParams('dashboardId'), response: DashboardSchema }, async (ctx, user) => ok(toDashboardDto(await dashboardOf(user.tenantId, ctx.params.dashboardId)))),

    route('GET', '/api/dashboard/info/{dashboardId}', { summary: 'A dashboard without its configuration', params: idParams('dashboardId'), response: DashboardInfoSchema }, async (ctx, user) => ok(toDashboardInfoDto(await dashboardOf(user.tenantId, ctx.params.dashboardId)))),

    route('GET', '/api/tenant/dashboards', { summary: "A page of the tenant's dashboards", query: DashboardListQuerySchema, response: DashboardInfoPageSchema }, async (ctx, user) => {
      const page = await storage.dashboards.list(user.tenantId, pageParams(ctx.query, SORT_PROPERTIES));
      return ok({ ...page, data: page.data.map(toDashboardInfoDto) });
    }),

    route('DELETE', '/api/dashboard/{dashboardId}', { summary: 'Delete a dashboard', params: idParams('dashboardId'), response: null }, async (ctx, user) => {
      const id = parseId(ctx.params.dashboardId, 'dashboardId');
      const before = await storage.dashboards.get(user.tenantId, id);
      if (!before || !(await storage.dashboards.delete(user.tenantId, id))) throw notFound(`Dashboard ${id} not found`);
      await dashboardEvent(user, 'DELETED', before);
      return ok();
    }),
  ];
}
