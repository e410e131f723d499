import { LiveChannel } from '@rivulet/broadcast';
import {
  AccessTokenSchema,
  DeviceCreateQuerySchema,
  DeviceCredentialsSaveRequestSchema,
  DeviceCredentialsSchema,
  DeviceListQuerySchema,
  DevicePageSchema,
  DeviceSaveRequestSchema,
  DeviceSchema,
  formatIssues,
  idParams,
} from '@rivulet/api-types';
import { z } from 'zod';
import { ConflictError, type DeviceEvent, type JsonValue } from '@rivulet/core';
import type { Device, PageQuery } from '@rivulet/storage';
import { badParam, notFound } from '../api-error';
import { mqttBasicCredentialsId, parseBasicMqttCredentials } from '../mqtt-basic-credentials';
import { DEVICE_READERS, withAccess } from '../access';
import { authed, TENANT_ADMIN_ONLY, type ApiDeps } from '../context';
import { toCredentialsDto, toDeviceDto } from '../dto';
import { pageParams, optionalParam, parseBody, parseId } from '../params';
import { ok, type RouteDef } from '../router';
import type { EntityAction } from '../platform-events';
import type { AuthUser } from '../tokens';

/** ThingsBoard's DataValidationException messages, kept word for word for scripts that match on them. */
export const DUPLICATE_DEVICE_NAME = 'Device with such name already exists!';
export const DUPLICATE_CREDENTIALS = 'Specified credentials are already registered!';

const SORT_PROPERTIES = ['name', 'type', 'label', 'createdTime'] as const;

export function deviceRoutes(deps: ApiDeps): RouteDef[] {
  const { storage, broadcast, tokens } = deps;

  function publish(event: DeviceEvent): void {
    broadcast.publish(LiveChannel.DEVICES, event);
  }

  /** ENTITY_CREATED / UPDATED / DELETED of a device, as the user's (tenant-bound) event. */
  function deviceEvent(user: AuthUser, action: EntityAction, device: Device): Promise<void> {
    return deps.events.forUser(user).entity(action, { id: { entityType: 'DEVICE', id: device.id }, tenantId: device.tenantId, name: device.name, dto: toDeviceDto(device) as unknown as JsonValue });
  }

  async function deviceOf(tenantId: string, id: string): Promise<Device> {
    const device = await storage.devices.get(tenantId, id);
    if (!device) throw notFound(`Device ${id} not found`);
    return device;
  }

  /** The duplicate-name message when the name is taken by another device, else the storage's own conflict. */
  async function conflictOnSave(tenantId: string, name: string, selfId: string | undefined, e: ConflictError, tokenGiven: boolean): Promise<never> {
    const other = await storage.devices.findByName(tenantId, name);
    if (other && other.id !== selfId) throw badParam(DUPLICATE_DEVICE_NAME);
    if (tokenGiven) throw badParam(DUPLICATE_CREDENTIALS);
    throw e;
  }

  return [
    {
      method: 'POST',
      path: '/api/device',
      summary: 'Create a device, or update it when the body has its id',
      tag: 'Device',
      query: DeviceCreateQuerySchema,
      createsId: ['deviceId', 'entityId'],
      body: DeviceSaveRequestSchema,
      response: DeviceSchema,
      handler: authed(
        tokens,
        async (ctx, user) => {
          const input = parseBody(DeviceSaveRequestSchema, await ctx.body());
          const tenantId = user.tenantId;
          if (input.id) {
            // ThingsBoard's save with an id is an update. A field left out keeps its value; null clears it.
            const id = input.id.id.toLowerCase();
            await deviceOf(tenantId, id);
            const other = await storage.devices.findByName(tenantId, input.name);
            if (other && other.id !== id) throw badParam(DUPLICATE_DEVICE_NAME);
            const patch: Parameters<typeof storage.devices.update>[2] = { name: input.name };
            // ThingsBoard's save: the profile named wins; else the type names one (found or created);
            // a type cleared means the tenant's default profile; neither given keeps the profile.
            if (input.deviceProfileId) patch.deviceProfileId = input.deviceProfileId.id.toLowerCase();
            else if (input.type === null || input.type === '') patch.deviceProfileId = (await storage.deviceProfiles.ensureDefault(tenantId)).id;
            else if (input.type !== undefined) patch.type = input.type;
            if (input.label !== undefined) patch.label = input.label;
            if (input.additionalInfo !== undefined) patch.additionalInfo = input.additionalInfo;
            let updated: Device | null;
            try {
              updated = await storage.devices.update(tenantId, id, patch);
            } catch (e) {
              if (e instanceof ConflictError) return conflictOnSave(tenantId, input.name, id, e, false);
              throw e;
            }
            if (!updated) throw notFound(`Device ${id} not found`);
            // Transports cache the device's name and type with its token.
            publish({ tenantId, deviceId: id, kind: 'updated' });
            await deviceEvent(user, 'UPDATED', updated);
            return ok(toDeviceDto(updated));
          }

          const tokenParam = optionalParam(ctx.query, 'accessToken');
          if (tokenParam !== undefined) {
            const t = AccessTokenSchema.safeParse(tokenParam);
            if (!t.success) throw badParam(formatIssues(t.error, 'accessToken'));
          }
          if (await storage.devices.findByName(tenantId, input.name)) throw badParam(DUPLICATE_DEVICE_NAME);
          try {
            const { device } = await storage.devices.create(
              {
                tenantId,
                name: input.name,
                // No profile and no type: the tenant's default profile (storage resolves both).
                ...(input.deviceProfileId ? { deviceProfileId: input.deviceProfileId.id.toLowerCase() } : {}),
                ...(input.type ? { type: input.type } : {}),
                label: input.label ?? null,
                additionalInfo: input.additionalInfo ?? null,
              },
              tokenParam,
              // the tenant's device limit, checked with the insert in one transaction (403 past it)
              { maxDevices: deps.tenantLimits?.forTenant(tenantId).maxDevices ?? 0 },
            );
            await deviceEvent(user, 'ADDED', device);
            return ok(toDeviceDto(device));
          } catch (e) {
            if (e instanceof ConflictError) return conflictOnSave(tenantId, input.name, undefined, e, tokenParam !== undefined);
            throw e;
          }
        },
        TENANT_ADMIN_ONLY,
      ),
    },
    {
      method: 'GET',
      path: '/api/device/{deviceId}',
      summary: 'Get a device',
      tag: 'Device',
      params: idParams('deviceId'),
      response: DeviceSchema,
      // A customer user reads the devices assigned to its customer (the access policy decides).
      handler: withAccess(deps, async (ctx, access) => ok(toDeviceDto(await access.readableDevice(parseId(ctx.params.deviceId, 'deviceId')))), DEVICE_READERS),
    },
    {
      method: 'DELETE',
      path: '/api/device/{deviceId}',
      summary: 'Delete a device with its data',
      tag: 'Device',
      params: idParams('deviceId'),
      response: null,
      handler: authed(
        tokens,
        async (ctx, user) => {
          const id = parseId(ctx.params.deviceId, 'deviceId');
          // read first: ENTITY_DELETED carries the device as it was (ThingsBoard's)
          const before = await storage.devices.get(user.tenantId, id);
          if (!before || !(await storage.devices.delete(user.tenantId, id))) throw notFound(`Device ${id} not found`);
          publish({ tenantId: user.tenantId, deviceId: id, kind: 'deleted' });
          await deviceEvent(user, 'DELETED', before);
          return ok();
        },
        TENANT_ADMIN_ONLY,
      ),
    },
    {
      method: 'GET',
      path: '/api/tenant/devices',
      summary: "A page of the tenant's devices (or the device named by deviceName)",
      tag: 'Device',
      query: DeviceListQuerySchema,
      response: z.union([DevicePageSchema, DeviceSchema]),
      handler: authed(
        tokens,
        async (ctx, user) => {
          const q = ctx.query;
          const deviceName = q.get('deviceName');
          if (deviceName !== null) {
            const device = await storage.devices.findByName(user.tenantId, deviceName);
            if (!device) throw notFound(`Device with name '${deviceName}' not found`);
            return ok(toDeviceDto(device));
          }
          const query: PageQuery = pageParams(q, SORT_PROPERTIES);
          const result = await storage.devices.list(user.tenantId, query, { type: optionalParam(q, 'type') });
          return ok({ ...result, data: result.data.map(toDeviceDto) });
        },
        TENANT_ADMIN_ONLY,
      ),
    },
    {
      method: 'GET',
      path: '/api/device/{deviceId}/credentials',
      summary: "A device's credentials",
      tag: 'Device',
      params: idParams('deviceId'),
      response: DeviceCredentialsSchema,
      handler: authed(
        tokens,
        async (ctx, user) => {
          const id = parseId(ctx.params.deviceId, 'deviceId');
          await deviceOf(user.tenantId, id);
          const credentials = await storage.devices.getCredentials(id);
          if (!credentials) throw notFound(`Credentials of device ${id} not found`);
          return ok(toCredentialsDto(credentials));
        },
        TENANT_ADMIN_ONLY,
      ),
    },
    {
      method: 'POST',
      path: '/api/device/credentials',
      summary: "Change a device's credentials (access token or MQTT basic)",
      tag: 'Device',
      body: DeviceCredentialsSaveRequestSchema,
      response: DeviceCredentialsSchema,
      handler: authed(
        tokens,
        async (ctx, user) => {
          const input = parseBody(DeviceCredentialsSaveRequestSchema, await ctx.body());
          const deviceId = input.deviceId.id.toLowerCase();
          await deviceOf(user.tenantId, deviceId);
          let update: { credentialsType: 'ACCESS_TOKEN' | 'MQTT_BASIC'; credentialsId: string; credentialsValue: string | null };
          if (input.credentialsType === 'MQTT_BASIC') {
            // ThingsBoard's shape: credentialsValue is JSON {clientId, userName, password}; the lookup id is derived from it
            const basic = parseBasicMqttCredentials(input.credentialsValue ?? null);
            if (!basic || (!basic.clientId && !basic.userName)) {
              throw badParam('MQTT_BASIC credentialsValue must be JSON {"clientId","userName","password"} with a clientId or a userName');
            }
            const value = { clientId: basic.clientId ?? null, userName: basic.userName ?? null, password: basic.password ?? null };
            update = { credentialsType: 'MQTT_BASIC', credentialsId: mqttBasicCredentialsId(value), credentialsValue: JSON.stringify(value) };
          } else {
            const token = AccessTokenSchema.safeParse(input.credentialsId);
            if (!token.success) throw badParam(formatIssues(token.error, 'credentialsId'));
            update = { credentialsType: 'ACCESS_TOKEN', credentialsId: token.data, credentialsValue: null };
          }
          let saved;
          try {
            saved = await storage.devices.updateCredentials(deviceId, update);
          } catch (e) {
            if (e instanceof ConflictError) throw badParam(DUPLICATE_CREDENTIALS);
            throw e;
          }
          // Transports drop the old token from their caches.
          publish({ tenantId: user.tenantId, deviceId, kind: 'credentials' });
          return ok(toCredentialsDto(saved));
        },
        TENANT_ADMIN_ONLY,
      ),
    },
  ];
}
