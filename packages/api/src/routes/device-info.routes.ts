import { DeviceInfoListQuerySchema, DeviceInfoPageSchema, DeviceInfoSchema, idParams } from '@rivulet/api-types';
import type { DeviceFilter } from '@rivulet/storage';
import { notFound } from '../api-error';
import { DEVICE_READERS, withAccess } from '../access';
import type { ApiDeps } from '../context';
import { toDeviceInfoDto } from '../dto';
import { boolParam, optionalParam, pageParams, parseId } from '../params';
import { ok, type RouteDef } from '../router';

const SORT_PROPERTIES = ['name', 'type', 'label', 'createdTime', 'customerTitle', 'deviceProfileName'] as const;
const TENANT_ADMIN_ONLY = ['TENANT_ADMIN'] as const;

/** ThingsBoard's deviceInfos filters: type, deviceProfileId (400 unless a UUID), active. */
function filterOf(q: URLSearchParams): DeviceFilter {
  const profile = optionalParam(q, 'deviceProfileId');
  return { type: optionalParam(q, 'type'), deviceProfileId: profile === undefined ? undefined : parseId(profile, 'deviceProfileId'), active: boolParam(q, 'active') };
}

/**
 * ThingsBoard's DeviceInfo reads: the device with its customer's title, its profile's name and
 * whether it is active (the device state's server attribute). A customer user reads its own
 * customer's devices only (the access policy decides).
 */
export function deviceInfoRoutes(deps: ApiDeps): RouteDef[] {
  const { storage } = deps;
  return [
    {
      method: 'GET',
      path: '/api/device/info/{deviceId}',
      summary: 'A device with its customer title, profile name and active state', tag: 'Device', params: idParams('deviceId'), response: DeviceInfoSchema,
      handler: withAccess(
        deps,
        async (ctx, access) => {
          const device = await access.readableDevice(parseId(ctx.params.deviceId, 'deviceId'));
          const info = await storage.devices.getInfo(device.tenantId, device.id);
          if (!info) throw notFound(`Device ${device.id} not found`);
          return ok(toDeviceInfoDto(info));
        },
        DEVICE_READERS,
      ),
    },
    {
      method: 'GET',
      path: '/api/tenant/deviceInfos',
      summary: "A page of the tenant's device infos (filters: type, deviceProfileId, active)", tag: 'Device', query: DeviceInfoListQuerySchema, response: DeviceInfoPageSchema,
      handler: withAccess(
        deps,
        async (ctx, access) => {
          const page = await storage.devices.listInfos(access.managedTenant(), pageParams(ctx.query, SORT_PROPERTIES), filterOf(ctx.query));
          return ok({ ...page, data: page.data.map(toDeviceInfoDto) });
        },
        TENANT_ADMIN_ONLY,
      ),
    },
    {
      method: 'GET',
      path: '/api/customer/{customerId}/deviceInfos',
      summary: "A page of a customer's device infos (filters: type, deviceProfileId, active)", tag: 'Customer', params: idParams('customerId'), query: DeviceInfoListQuerySchema, response: DeviceInfoPageSchema,
      handler: withAccess(
        deps,
        async (ctx, access) => {
          const customer = await access.readableCustomer(parseId(ctx.params.customerId, 'customerId'));
          const page = await storage.devices.listInfos(customer.tenantId, pageParams(ctx.query, SORT_PROPERTIES), { ...filterOf(ctx.query), customerId: customer.id });
          return ok({ ...page, data: page.data.map(toDeviceInfoDto) });
        },
        DEVICE_READERS,
      ),
    },
  ];
}
