import { LiveChannel } from '@rivulet/broadcast';
import {
  TenantProfileInfoSchema,
  TenantProfileListQuerySchema,
  TenantProfilePageSchema,
  TenantProfileSaveRequestSchema,
  TenantProfileSchema,
  idParams,
  type TenantProfileDto,
} from '@rivulet/api-types';
import { ConflictError, TENANT_LIMIT_NAMES, type TenantProfileEvent } from '@rivulet/core';
import type { TenantLimitOverrides, TenantProfile } from '@rivulet/storage';
import { badParam, notFound } from '../api-error';
import { withAccess } from '../access';
import type { ApiDeps } from '../context';
import { pageParams, parseBody, parseId } from '../params';
import { ok, type RouteDef } from '../router';

const SORT_PROPERTIES = ['name', 'description', 'isDefault', 'createdTime'] as const;
const SYS_ADMIN_ONLY = ['SYS_ADMIN'] as const;
/** ThingsBoard's DataValidationException messages, word for word. */
export const DEFAULT_PROFILE_DELETE = 'Deletion of Default Tenant Profile is prohibited!';
export const PROFILE_IN_USE = 'The tenant profile referenced by the tenants cannot be deleted!';
export const DUPLICATE_PROFILE_NAME = 'Tenant profile with such name already exists!';

export function toTenantProfileDto(p: TenantProfile): TenantProfileDto {
  return {
    id: { entityType: 'TENANT_PROFILE', id: p.id },
    createdTime: p.createdTime,
    name: p.name,
    description: p.description,
    default: p.isDefault,
    profileData: { configuration: { type: 'DEFAULT', ...p.configuration } },
  };
}

/**
 * ThingsBoard's TenantProfileController, for the system administrator: a profile holds overrides of
 * the global limits (profileData.configuration); tenants point at one (tenantProfileId). Every
 * change is announced on LiveChannel.TENANT_PROFILES, so the limits in force follow at once.
 */
export function tenantProfileRoutes(deps: ApiDeps): RouteDef[] {
  const { storage, broadcast } = deps;
  const announce = (profileId: string): void => broadcast.publish(LiveChannel.TENANT_PROFILES, { kind: 'profile', profileId } satisfies TenantProfileEvent);

  return [
    {
      method: 'POST',
      path: '/api/tenantProfile',
      summary: 'Create a tenant profile, or update it when the body has its id', tag: 'Tenant Profile', body: TenantProfileSaveRequestSchema, response: TenantProfileSchema, createsId: ['tenantProfileId'],
      handler: withAccess(
        deps,
        async (ctx) => {
          const input = parseBody(TenantProfileSaveRequestSchema, await ctx.body());
          const configuration: TenantLimitOverrides = {};
          const given = input.profileData?.configuration ?? {};
          for (const name of TENANT_LIMIT_NAMES) {
            const v = given[name];
            if (typeof v === 'number') configuration[name] = v;
          }
          const fields = { name: input.name, description: input.description ?? null, isDefault: input.default === true, configuration };
          let saved: TenantProfile | null;
          try {
            saved = input.id ? await storage.tenantProfiles.update(input.id.id.toLowerCase(), fields) : await storage.tenantProfiles.create(fields);
          } catch (e) {
            if (e instanceof ConflictError) throw badParam(DUPLICATE_PROFILE_NAME);
            throw e;
          }
          if (!saved) throw notFound(`Tenant profile ${input.id?.id ?? ''} not found`);
          announce(saved.id);
          deps.logger.info({ tenantProfileId: saved.id, configuration }, input.id ? 'tenant profile updated' : 'tenant profile created');
          return ok(toTenantProfileDto(saved));
        },
        SYS_ADMIN_ONLY,
      ),
    },
    {
      method: 'GET',
      path: '/api/tenantProfile/{tenantProfileId}',
      summary: 'Get a tenant profile', tag: 'Tenant Profile', params: idParams('tenantProfileId'), response: TenantProfileSchema,
      handler: withAccess(
        deps,
        async (ctx) => {
          const id = parseId(ctx.params.tenantProfileId, 'tenantProfileId');
          const profile = await storage.tenantProfiles.get(id);
          if (!profile) throw notFound(`Tenant profile ${id} not found`);
          return ok(toTenantProfileDto(profile));
        },
        SYS_ADMIN_ONLY,
      ),
    },
    {
      method: 'GET',
      path: '/api/tenantProfiles',
      summary: 'A page of tenant profiles', tag: 'Tenant Profile', query: TenantProfileListQuerySchema, response: TenantProfilePageSchema,
      handler: withAccess(
        deps,
        async (ctx) => {
          const page = await storage.tenantProfiles.page(pageParams(ctx.query, SORT_PROPERTIES));
          return ok({ ...page, data: page.data.map(toTenantProfileDto) });
        },
        SYS_ADMIN_ONLY,
      ),
    },
    {
      method: 'GET',
      path: '/api/tenantProfileInfo/default',
      summary: 'Id and name of the default tenant profile', tag: 'Tenant Profile', response: TenantProfileInfoSchema,
      handler: withAccess(
        deps,
        async () => {
          const profile = await storage.tenantProfiles.ensureDefault();
          return ok({ id: { entityType: 'TENANT_PROFILE', id: profile.id }, name: profile.name });
        },
        SYS_ADMIN_ONLY,
      ),
    },
    {
      method: 'DELETE',
      path: '/api/tenantProfile/{tenantProfileId}',
      summary: 'Delete a tenant profile no tenant uses (never the default one)', tag: 'Tenant Profile', params: idParams('tenantProfileId'), response: null,
      handler: withAccess(
        deps,
        async (ctx) => {
          const id = parseId(ctx.params.tenantProfileId, 'tenantProfileId');
          const result = await storage.tenantProfiles.delete(id);
          if (result === 'not-found') throw notFound(`Tenant profile ${id} not found`);
          if (result === 'default') throw badParam(DEFAULT_PROFILE_DELETE);
          if (result === 'in-use') throw badParam(PROFILE_IN_USE);
          announce(id);
          deps.logger.info({ tenantProfileId: id }, 'tenant profile deleted');
          return ok();
        },
        SYS_ADMIN_ONLY,
      ),
    },
  ];
}
