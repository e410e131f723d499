import { LiveChannel } from '@rivulet/broadcast';
import {
  DeviceProfileInfoListQuerySchema,
  DeviceProfileInfoPageSchema,
  DeviceProfileInfoSchema,
  DeviceProfileListQuerySchema,
  DeviceProfilePageSchema,
  DeviceProfileSaveRequestSchema,
  DeviceProfileSchema,
  idParams,
  type DeviceProfileDto,
  type DeviceProfileInfoDto,
} from '@rivulet/api-types';
import { ConflictError, type DeviceProfileEvent, type JsonObject, type JsonValue } from '@rivulet/core';
import type { DeviceProfile, DeviceProfileInput, DeviceProfileProvisionType } from '@rivulet/storage';
import { badParam, notFound } from '../api-error';
import { DEVICE_READERS, withAccess, type AccessPolicy } from '../access';
import type { ApiDeps } from '../context';
import { enumParam, pageParams, parseBody, parseId } from '../params';
import { ok, type RouteDef } from '../router';
import type { EntityAction } from '../platform-events';

const SORT_PROPERTIES = ['createdTime', 'name', 'type', 'transportType', 'description', 'isDefault'] as const;
const TRANSPORT_TYPES = ['DEFAULT', 'MQTT', 'COAP', 'LWM2M', 'SNMP'] as const;
const TENANT_ADMIN_ONLY = ['TENANT_ADMIN'] as const;
/** ThingsBoard's DataValidationException messages, word for word. */
export const DEFAULT_DEVICE_PROFILE_DELETE = 'Deletion of Default Device Profile is prohibited!';
export const DEVICE_PROFILE_IN_USE = 'The device profile referenced by the devices cannot be deleted!';

export function toDeviceProfileDto(p: DeviceProfile): DeviceProfileDto {
  return {
    id: { entityType: 'DEVICE_PROFILE', id: p.id },
    createdTime: p.createdTime,
    tenantId: { entityType: 'TENANT', id: p.tenantId },
    name: p.name,
    description: p.description,
    image: p.image,
    type: p.type,
    transportType: p.transportType,
    provisionType: p.provisionType,
    defaultRuleChainId: p.defaultRuleChainId === null ? null : { entityType: 'RULE_CHAIN', id: p.defaultRuleChainId },
    defaultDashboardId: p.defaultDashboardId === null ? null : { entityType: 'DASHBOARD', id: p.defaultDashboardId },
    defaultQueueName: p.defaultQueueName,
    provisionDeviceKey: p.provisionDeviceKey,
    firmwareId: null,
    softwareId: null,
    defaultEdgeRuleChainId: null,
    externalId: null,
    default: p.isDefault,
    profileData: p.profileData as DeviceProfileDto['profileData'],
  };
}

export function toDeviceProfileInfoDto(p: DeviceProfile): DeviceProfileInfoDto {
  return {
    id: { entityType: 'DEVICE_PROFILE', id: p.id },
    tenantId: { entityType: 'TENANT', id: p.tenantId },
    name: p.name,
    image: p.image,
    defaultDashboardId: p.defaultDashboardId === null ? null : { entityType: 'DASHBOARD', id: p.defaultDashboardId },
    type: p.type,
    transportType: p.transportType,
  };
}

/**
 * ThingsBoard's DeviceProfileController: a tenant's device profiles. Writes and full profiles are
 * the tenant administrator's; infos (name, image, transport) are read by customer users too. Every
 * change is announced on LiveChannel.DEVICE_PROFILES (rule engines route a device's messages to its
 * profile's chain) and produced as a platform event (ENTITY_CREATED / UPDATED / DELETED).
 */
export function deviceProfileRoutes(deps: ApiDeps): RouteDef[] {
  const { storage, broadcast } = deps;
  const announce = (event: DeviceProfileEvent): void => broadcast.publish(LiveChannel.DEVICE_PROFILES, event);
  const profileEvent = (access: AccessPolicy, action: EntityAction, p: DeviceProfile): Promise<void> =>
    deps.events.forUser(access.user).entity(action, { id: { entityType: 'DEVICE_PROFILE', id: p.id }, tenantId: p.tenantId, name: p.name, dto: toDeviceProfileDto(p) as unknown as JsonValue });

  async function profileOf(tenantId: string, id: string): Promise<DeviceProfile> {
    const profile = await storage.deviceProfiles.get(tenantId, id);
    if (!profile) throw notFound(`Device profile ${id} not found`);
    return profile;
  }

  /** The profile id of the tenant the caller reads within (a customer user reads its tenant's infos). */
  function readerTenant(access: AccessPolicy): string {
    access.require(DEVICE_READERS);
    return access.user.tenantId;
  }

  return [
    {
      method: 'POST',
      path: '/api/deviceProfile',
      summary: 'Create a device profile, or update it when the body has its id', tag: 'Device Profile', body: DeviceProfileSaveRequestSchema, response: DeviceProfileSchema, createsId: ['deviceProfileId'],
      handler: withAccess(
        deps,
        async (ctx, access) => {
          const tenantId = access.managedTenant();
          const input = parseBody(DeviceProfileSaveRequestSchema, await ctx.body());
          // The profile's rule chain and dashboard must be the tenant's own (storage enforces the chain too).
          const ruleChainId = input.defaultRuleChainId?.id.toLowerCase() ?? null;
          if (ruleChainId !== null && !(await storage.ruleChains.get(tenantId, ruleChainId))) throw notFound(`Rule chain ${ruleChainId} not found`);
          const dashboardId = input.defaultDashboardId?.id.toLowerCase() ?? null;
          if (dashboardId !== null && !(await storage.dashboards.get(tenantId, dashboardId))) throw notFound(`Dashboard ${dashboardId} not found`);
          const profileData: JsonObject | undefined = input.profileData ?? undefined;
          // Alarm rules the device profile node cannot evaluate are refused here, not found out per message.
          if (profileData) deps.ruleChains?.checkDeviceProfile?.({ name: input.name, profileData });
          const fromData = (profileData?.provisionConfiguration as { type?: unknown } | null | undefined)?.type;
          const fields: DeviceProfileInput = {
            name: input.name,
            description: input.description ?? null,
            image: input.image ?? null,
            transportType: input.transportType ?? 'DEFAULT',
            // ThingsBoard's UI sends both; a client that only fills profileData.provisionConfiguration gets that.
            provisionType: input.provisionType ?? (typeof fromData === 'string' && ['DISABLED', 'ALLOW_CREATE_NEW_DEVICES', 'CHECK_PRE_PROVISIONED_DEVICES'].includes(fromData) ? (fromData as DeviceProfileProvisionType) : 'DISABLED'),
            defaultRuleChainId: ruleChainId,
            defaultDashboardId: dashboardId,
            defaultQueueName: input.defaultQueueName ?? null,
            provisionDeviceKey: input.provisionDeviceKey ?? null,
            isDefault: input.default === true,
            ...(profileData !== undefined ? { profileData } : {}),
          };
          let saved: DeviceProfile | null;
          try {
            saved = input.id ? await storage.deviceProfiles.update(tenantId, input.id.id.toLowerCase(), fields) : await storage.deviceProfiles.create(tenantId, fields);
          } catch (e) {
            // ThingsBoard answers a taken name or provision key with 400 and its message.
            if (e instanceof ConflictError) throw badParam(e.message);
            throw e;
          }
          if (!saved) throw notFound(`Device profile ${input.id?.id ?? ''} not found`);
          announce({ tenantId, profileId: saved.id, kind: 'saved' });
          await profileEvent(access, input.id ? 'UPDATED' : 'ADDED', saved);
          return ok(toDeviceProfileDto(saved));
        },
        TENANT_ADMIN_ONLY,
      ),
    },
    {
      method: 'GET',
      path: '/api/deviceProfile/{deviceProfileId}',
      summary: 'Get a device profile', tag: 'Device Profile', params: idParams('deviceProfileId'), response: DeviceProfileSchema,
      handler: withAccess(deps, async (ctx, access) => ok(toDeviceProfileDto(await profileOf(access.managedTenant(), parseId(ctx.params.deviceProfileId, 'deviceProfileId')))), TENANT_ADMIN_ONLY),
    },
    {
      method: 'DELETE',
      path: '/api/deviceProfile/{deviceProfileId}',
      summary: 'Delete a device profile no device uses (never the default one)', tag: 'Device Profile', params: idParams('deviceProfileId'), response: null,
      handler: withAccess(
        deps,
        async (ctx, access) => {
          const tenantId = access.managedTenant();
          const before = await profileOf(tenantId, parseId(ctx.params.deviceProfileId, 'deviceProfileId'));
          const result = await storage.deviceProfiles.delete(tenantId, before.id);
          if (result === 'not-found') throw notFound(`Device profile ${before.id} not found`);
          if (result === 'default') throw badParam(DEFAULT_DEVICE_PROFILE_DELETE);
          if (result === 'in-use') throw badParam(DEVICE_PROFILE_IN_USE);
          announce({ tenantId, profileId: before.id, kind: 'deleted' });
          await profileEvent(access, 'DELETED', before);
          return ok();
        },
        TENANT_ADMIN_ONLY,
      ),
    },
    {
      method: 'POST',
      path: '/api/deviceProfile/{deviceProfileId}/default',
      summary: "Make a device profile the tenant's default", tag: 'Device Profile', params: idParams('deviceProfileId'), body: null, response: DeviceProfileSchema,
      handler: withAccess(
        deps,
        async (ctx, access) => {
          const tenantId = access.managedTenant();
          const id = parseId(ctx.params.deviceProfileId, 'deviceProfileId');
          const previous = await storage.deviceProfiles.ensureDefault(tenantId);
          const made = await storage.deviceProfiles.setDefault(tenantId, id);
          if (!made) throw notFound(`Device profile ${id} not found`);
          if (previous.id !== made.id) {
            announce({ tenantId, profileId: previous.id, kind: 'saved' });
            announce({ tenantId, profileId: made.id, kind: 'saved' });
            await profileEvent(access, 'UPDATED', made);
          }
          return ok(toDeviceProfileDto(made));
        },
        TENANT_ADMIN_ONLY,
      ),
    },
    {
      method: 'GET',
      path: '/api/deviceProfiles',
      summary: "A page of the tenant's device profiles", tag: 'Device Profile', query: DeviceProfileListQuerySchema, response: DeviceProfilePageSchema,
      handler: withAccess(
        deps,
        async (ctx, access) => {
          const page = await storage.deviceProfiles.page(access.managedTenant(), pageParams(ctx.query, SORT_PROPERTIES));
          return ok({ ...page, data: page.data.map(toDeviceProfileDto) });
        },
        TENANT_ADMIN_ONLY,
      ),
    },
    {
      method: 'GET',
      path: '/api/deviceProfileInfos',
      summary: "A page of the tenant's device profile infos (optionally of one transport type)", tag: 'Device Profile', query: DeviceProfileInfoListQuerySchema, response: DeviceProfileInfoPageSchema,
      handler: withAccess(
        deps,
        async (ctx, access) => {
          const tenantId = readerTenant(access);
          const transportType = enumParam(ctx.query, 'transportType', TRANSPORT_TYPES);
          const page = await storage.deviceProfiles.page(tenantId, pageParams(ctx.query, SORT_PROPERTIES), transportType ? { transportType } : {});
          return ok({ ...page, data: page.data.map(toDeviceProfileInfoDto) });
        },
        DEVICE_READERS,
      ),
    },
    {
      method: 'GET',
      path: '/api/deviceProfileInfo/default',
      summary: "The tenant's default device profile info", tag: 'Device Profile', response: DeviceProfileInfoSchema,
      handler: withAccess(deps, async (_ctx, access) => ok(toDeviceProfileInfoDto(await storage.deviceProfiles.ensureDefault(readerTenant(access)))), DEVICE_READERS),
    },
    {
      method: 'GET',
      path: '/api/deviceProfileInfo/{deviceProfileId}',
      summary: 'A device profile info', tag: 'Device Profile', params: idParams('deviceProfileId'), response: DeviceProfileInfoSchema,
      handler: withAccess(deps, async (ctx, access) => ok(toDeviceProfileInfoDto(await profileOf(readerTenant(access), parseId(ctx.params.deviceProfileId, 'deviceProfileId')))), DEVICE_READERS),
    },
  ];
}
