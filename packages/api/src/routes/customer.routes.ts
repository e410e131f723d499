import { LiveChannel } from '@rivulet/broadcast';
import {
  CustomerDeviceListQuerySchema,
  CustomerListQuerySchema,
  CustomerPageSchema,
  CustomerSaveRequestSchema,
  CustomerSchema,
  DevicePageSchema,
  DeviceSchema,
  idParams,
} from '@rivulet/api-types';
import { ConflictError, type DeviceEvent, type JsonValue } from '@rivulet/core';
import type { Customer, Device } from '@rivulet/storage';
import { badParam, notFound } from '../api-error';
import { DEVICE_READERS, withAccess } from '../access';
import type { ApiDeps } from '../context';
import { toCustomerDto, toDeviceDto } from '../dto';
import { pageParams, parseBody, parseId } from '../params';
import { ok, type RouteDef } from '../router';
import type { EventEntity } from '../platform-events';

const SORT_PROPERTIES = ['title', 'email', 'country', 'city', 'createdTime'] as const;
const DEVICE_SORT_PROPERTIES = ['name', 'type', 'label', 'createdTime'] as const;
const TENANT_ADMIN = ['TENANT_ADMIN'] as const;
/** ThingsBoard's DataValidationException message. */
export const DUPLICATE_CUSTOMER_TITLE = 'Customer with such title already exists!';

/**
 * ThingsBoard's CustomerController and the customer side of DeviceController: a tenant
 * administrator keeps customers and assigns devices to them; a customer user reads its own
 * customer and the devices assigned to it.
 */
export function customerRoutes(deps: ApiDeps): RouteDef[] {
  const { storage, broadcast } = deps;

  const customerEntity = (c: Customer): EventEntity => ({ id: { entityType: 'CUSTOMER', id: c.id }, tenantId: c.tenantId, name: c.title, dto: toCustomerDto(c) as unknown as JsonValue });
  const deviceEntity = (d: Device): EventEntity => ({ id: { entityType: 'DEVICE', id: d.id }, tenantId: d.tenantId, name: d.name, dto: toDeviceDto(d) as unknown as JsonValue });

  async function assign(tenantId: string, deviceId: string, customerId: string | null): Promise<Device> {
    const device = await storage.devices.assignToCustomer(tenantId, deviceId, customerId);
    if (!device) throw notFound(`Device ${deviceId} not found`);
    // Caches keyed on the device (and live sessions of customer users) see the change.
    broadcast.publish(LiveChannel.DEVICES, { tenantId, deviceId, kind: 'updated' } satisfies DeviceEvent);
    return device;
  }

  return [
    {
      method: 'POST',
      path: '/api/customer',
      summary: 'Create a customer, or update it when the body has its id', tag: 'Customer', body: CustomerSaveRequestSchema, response: CustomerSchema, createsId: ['customerId'],
      handler: withAccess(
        deps,
        async (ctx, access) => {
          const tenantId = access.managedTenant();
          const { id, ...fields } = parseBody(CustomerSaveRequestSchema, await ctx.body());
          try {
            if (id) {
              const existing = await access.writableCustomer(id.id.toLowerCase());
              const updated = await storage.customers.update(tenantId, existing.id, fields);
              if (!updated) throw notFound(`Customer ${existing.id} not found`);
              await deps.events.forUser(access.user).entity('UPDATED', customerEntity(updated));
              return ok(toCustomerDto(updated));
            }
            const created = await storage.customers.create(tenantId, fields);
            await deps.events.forUser(access.user).entity('ADDED', customerEntity(created));
            return ok(toCustomerDto(created));
          } catch (e) {
            if (e instanceof ConflictError) throw badParam(DUPLICATE_CUSTOMER_TITLE);
            throw e;
          }
        },
        TENANT_ADMIN,
      ),
    },
    {
      method: 'GET',
      path: '/api/customer/{customerId}',
      summary: 'Get a customer', tag: 'Customer', params: idParams('customerId'), response: CustomerSchema,
      handler: withAccess(deps, async (ctx, access) => ok(toCustomerDto(await access.readableCustomer(parseId(ctx.params.customerId, 'customerId')))), DEVICE_READERS),
    },
    {
      method: 'GET',
      path: '/api/customers',
      summary: "A page of the tenant's customers", tag: 'Customer', query: CustomerListQuerySchema, response: CustomerPageSchema,
      handler: withAccess(
        deps,
        async (ctx, access) => {
          const page = await storage.customers.list(access.managedTenant(), pageParams(ctx.query, SORT_PROPERTIES));
          return ok({ ...page, data: page.data.map(toCustomerDto) });
        },
        TENANT_ADMIN,
      ),
    },
    {
      method: 'DELETE',
      path: '/api/customer/{customerId}',
      summary: 'Delete a customer (its devices become unassigned)', tag: 'Customer', params: idParams('customerId'), response: null,
      handler: withAccess(
        deps,
        async (ctx, access) => {
          const customer = await access.writableCustomer(parseId(ctx.params.customerId, 'customerId'));
          const assigned = await storage.devices.listByCustomer(customer.tenantId, customer.id, { pageSize: 1_000_000, page: 0 });
          if (!(await storage.customers.delete(customer.tenantId, customer.id))) throw notFound(`Customer ${customer.id} not found`);
          for (const d of assigned.data) broadcast.publish(LiveChannel.DEVICES, { tenantId: customer.tenantId, deviceId: d.id, kind: 'updated' } satisfies DeviceEvent);
          await deps.events.forUser(access.user).entity('DELETED', customerEntity(customer));
          return ok();
        },
        TENANT_ADMIN,
      ),
    },
    {
      method: 'POST',
      path: '/api/customer/{customerId}/device/{deviceId}',
      summary: 'Assign a device to a customer', tag: 'Customer', params: idParams('customerId', 'deviceId'), body: null, response: DeviceSchema,
      handler: withAccess(
        deps,
        async (ctx, access) => {
          const customer = await access.writableCustomer(parseId(ctx.params.customerId, 'customerId'));
          const device = await access.writableDevice(parseId(ctx.params.deviceId, 'deviceId'));
          const assigned = await assign(customer.tenantId, device.id, customer.id);
          await deps.events.forUser(access.user).assignment('ASSIGNED', deviceEntity(assigned), customer);
          return ok(toDeviceDto(assigned));
        },
        TENANT_ADMIN,
      ),
    },
    {
      method: 'DELETE',
      path: '/api/customer/device/{deviceId}',
      summary: 'Unassign a device from its customer', tag: 'Customer', params: idParams('deviceId'), response: DeviceSchema,
      handler: withAccess(
        deps,
        async (ctx, access) => {
          const device = await access.writableDevice(parseId(ctx.params.deviceId, 'deviceId'));
          // ThingsBoard's message for a device that is not assigned.
          if (device.customerId === null) throw badParam('Device isn\'t assigned to any customer!');
          const former = await storage.customers.get(device.tenantId, device.customerId);
          const unassigned = await assign(device.tenantId, device.id, null);
          if (former) await deps.events.forUser(access.user).assignment('UNASSIGNED', deviceEntity(unassigned), former);
          return ok(toDeviceDto(unassigned));
        },
        TENANT_ADMIN,
      ),
    },
    {
      method: 'GET',
      path: '/api/customer/{customerId}/devices',
      summary: "A page of a customer's devices", tag: 'Customer', params: idParams('customerId'), query: CustomerDeviceListQuerySchema, response: DevicePageSchema,
      handler: withAccess(
        deps,
        async (ctx, access) => {
          const customer = await access.readableCustomer(parseId(ctx.params.customerId, 'customerId'));
          const page = await storage.devices.listByCustomer(customer.tenantId, customer.id, pageParams(ctx.query, DEVICE_SORT_PROPERTIES));
          return ok({ ...page, data: page.data.map(toDeviceDto) });
        },
        DEVICE_READERS,
      ),
    },
  ];
}
