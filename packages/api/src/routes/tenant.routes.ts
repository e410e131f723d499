import { LiveChannel } from '@rivulet/broadcast';
import { TenantListQuerySchema, TenantPageSchema, TenantSaveRequestSchema, TenantSchema, idParams } from '@rivulet/api-types';
import { NotFoundError, type DeviceEvent, type RuleChainEvent, type TenantProfileEvent } from '@rivulet/core';
import { badParam, notFound } from '../api-error';
import { withAccess } from '../access';
import type { ApiDeps } from '../context';
import { toTenantDto } from '../dto';
import { pageParams, parseBody, parseId } from '../params';
import { ok, type RouteDef } from '../router';

const SORT_PROPERTIES = ['title', 'email', 'country', 'createdTime'] as const;
const SYS_ADMIN_ONLY = ['SYS_ADMIN'] as const;

export interface TenantRouteOptions {
  /** Sets up a new tenant (the server gives it the default root rule chain, as ThingsBoard does). */
  initTenant?: ((tenantId: string) => Promise<void>) | undefined;
}

/**
 * ThingsBoard's TenantController for the system administrator: create, read, list, update, delete.
 * A tenant administrator may read its own tenant. Deleting a tenant deletes everything it owns.
 */
export function tenantRoutes(deps: ApiDeps, options: TenantRouteOptions = {}): RouteDef[] {
  const { storage, broadcast } = deps;
  // The limits in force follow a tenant's profile (apps/server's limits source listens).
  const announce = (tenantId: string): void => broadcast.publish(LiveChannel.TENANT_PROFILES, { kind: 'tenant', tenantId } satisfies TenantProfileEvent);
  /** Storage's NotFoundError of an unknown tenantProfileId as ThingsBoard's 400. */
  async function profileChecked<T>(tenantProfileId: string | undefined, save: () => Promise<T>): Promise<T> {
    try {
      return await save();
    } catch (e) {
      if (e instanceof NotFoundError && tenantProfileId !== undefined) throw badParam(`Tenant profile ${tenantProfileId} not found`);
      throw e;
    }
  }

  return [
    {
      method: 'POST',
      path: '/api/tenant',
      summary: 'Create a tenant, or update it when the body has its id', tag: 'Tenant', body: TenantSaveRequestSchema, response: TenantSchema, createsId: ['tenantId'],
      handler: withAccess(
        deps,
        async (ctx) => {
          const input = parseBody(TenantSaveRequestSchema, await ctx.body());
          const { id, tenantProfileId: profileRef, ...rest } = input;
          const tenantProfileId = profileRef?.id.toLowerCase();
          const fields = { ...rest, tenantProfileId };
          if (id) {
            const updated = await profileChecked(tenantProfileId, () => storage.tenants.update(id.id.toLowerCase(), fields));
            if (!updated) throw notFound(`Tenant ${id.id} not found`);
            announce(updated.id);
            return ok(toTenantDto(updated));
          }
          const tenant = await profileChecked(tenantProfileId, () => storage.tenants.create(fields));
          announce(tenant.id);
          try {
            await options.initTenant?.(tenant.id);
          } catch (e) {
            // A tenant without its root chain would drop its devices' messages: undo the creation.
            await storage.tenants.delete(tenant.id);
            throw e;
          }
          deps.logger.info({ tenantId: tenant.id }, 'tenant created');
          return ok(toTenantDto(tenant));
        },
        SYS_ADMIN_ONLY,
      ),
    },
    {
      method: 'GET',
      path: '/api/tenant/{tenantId}',
      summary: 'Get a tenant', tag: 'Tenant', params: idParams('tenantId'), response: TenantSchema,
      handler: withAccess(
        deps,
        async (ctx, access) => {
          const id = parseId(ctx.params.tenantId, 'tenantId');
          // A tenant administrator reads its own tenant only.
          if (access.user.authority === 'TENANT_ADMIN' && id !== access.user.tenantId) throw notFound(`Tenant ${id} not found`);
          const tenant = await storage.tenants.get(id);
          if (!tenant) throw notFound(`Tenant ${id} not found`);
          return ok(toTenantDto(tenant));
        },
        ['SYS_ADMIN', 'TENANT_ADMIN'],
      ),
    },
    {
      method: 'GET',
      path: '/api/tenants',
      summary: 'A page of tenants', tag: 'Tenant', query: TenantListQuerySchema, response: TenantPageSchema,
      handler: withAccess(
        deps,
        async (ctx) => {
          const page = await storage.tenants.page(pageParams(ctx.query, SORT_PROPERTIES));
          return ok({ ...page, data: page.data.map(toTenantDto) });
        },
        SYS_ADMIN_ONLY,
      ),
    },
    {
      method: 'DELETE',
      path: '/api/tenant/{tenantId}',
      summary: 'Delete a tenant with all its data', tag: 'Tenant', params: idParams('tenantId'), response: null,
      handler: withAccess(
        deps,
        async (ctx) => {
          const id = parseId(ctx.params.tenantId, 'tenantId');
          if (!(await storage.tenants.get(id))) throw notFound(`Tenant ${id} not found`);
          const root = await storage.ruleChains.getRoot(id);
          const deleted = await storage.tenants.delete(id);
          if (!deleted) throw notFound(`Tenant ${id} not found`);
          // Transports drop the devices' cached credentials and close their sessions; engines drop the chain.
          for (const deviceId of deleted.deviceIds) broadcast.publish(LiveChannel.DEVICES, { tenantId: id, deviceId, kind: 'deleted' } satisfies DeviceEvent);
          if (root) broadcast.publish(LiveChannel.RULE_CHAINS, { tenantId: id, chainId: root.id, kind: 'deleted' } satisfies RuleChainEvent);
          announce(id);
          deps.logger.info({ tenantId: id, rows: deleted.rows }, 'tenant deleted');
          return ok();
        },
        SYS_ADMIN_ONLY,
      ),
    },
  ];
}

