import type { CustomerDto, DashboardDto, DashboardInfoDto, DeviceCredentialsDto, DeviceDto, DeviceInfoDto, TenantDto, UserDto } from '@rivulet/api-types';
import { NULL_ENTITY_ID, type ContactInfo, type Customer, type Dashboard, type DashboardInfo, type Device, type DeviceCredentials, type DeviceInfo, type Tenant, type User } from '@rivulet/storage';

/** ThingsBoard's CustomerId of an entity: the null id when there is no customer. */
function customerIdDto(customerId: string | null): { entityType: 'CUSTOMER'; id: string } {
  return { entityType: 'CUSTOMER', id: customerId ?? NULL_ENTITY_ID };
}

function contactDto(c: ContactInfo): ContactInfo {
  return { email: c.email, phone: c.phone, country: c.country, state: c.state, city: c.city, address: c.address, address2: c.address2, zip: c.zip };
}

export function toTenantDto(t: Tenant): TenantDto {
  return {
    id: { entityType: 'TENANT', id: t.id },
    createdTime: t.createdTime,
    title: t.title,
    name: t.title,
    ...contactDto(t),
    additionalInfo: t.additionalInfo,
    tenantProfileId: { entityType: 'TENANT_PROFILE', id: t.tenantProfileId },
  };
}

export function toCustomerDto(c: Customer): CustomerDto {
  return {
    id: { entityType: 'CUSTOMER', id: c.id },
    createdTime: c.createdTime,
    tenantId: { entityType: 'TENANT', id: c.tenantId },
    title: c.title,
    name: c.title,
    ...contactDto(c),
    additionalInfo: c.additionalInfo,
  };
}

/** Storage records in ThingsBoard's REST shapes (ids as `{entityType, id}`). */
export function toDeviceDto(d: Device): DeviceDto {
  return {
    id: { entityType: 'DEVICE', id: d.id },
    createdTime: d.createdTime,
    tenantId: { entityType: 'TENANT', id: d.tenantId },
    customerId: customerIdDto(d.customerId),
    name: d.name,
    type: d.type,
    label: d.label,
    deviceProfileId: { entityType: 'DEVICE_PROFILE', id: d.deviceProfileId },
    deviceData: { configuration: { type: 'DEFAULT' }, transportConfiguration: { type: 'DEFAULT' } },
    firmwareId: null,
    softwareId: null,
    externalId: null,
    additionalInfo: d.additionalInfo,
  };
}

/** ThingsBoard's DeviceInfo: the device with customerTitle, customerIsPublic, deviceProfileName and active. */
export function toDeviceInfoDto(d: DeviceInfo): DeviceInfoDto {
  return { ...toDeviceDto(d), customerTitle: d.customerTitle, customerIsPublic: d.customerIsPublic, deviceProfileName: d.deviceProfileName, active: d.active };
}

export function toCredentialsDto(c: DeviceCredentials): DeviceCredentialsDto {
  return {
    id: { id: c.id },
    createdTime: c.createdTime,
    deviceId: { entityType: 'DEVICE', id: c.deviceId },
    credentialsType: c.credentialsType,
    credentialsId: c.credentialsId,
    credentialsValue: c.credentialsValue,
  };
}

export function toUserDto(u: User): UserDto {
  return {
    id: { entityType: 'USER', id: u.id },
    tenantId: { entityType: 'TENANT', id: u.tenantId },
    customerId: customerIdDto(u.customerId),
    email: u.email,
    name: u.email,
    authority: u.authority,
    firstName: u.firstName,
    lastName: u.lastName,
    additionalInfo: { userCredentialsEnabled: u.enabled },
    createdTime: u.createdTime,
  };
}

/** ThingsBoard's DashboardInfo: `name` repeats `title`, as ThingsBoard serialises it. */
export function toDashboardInfoDto(d: DashboardInfo): DashboardInfoDto {
  return {
    id: { entityType: 'DASHBOARD', id: d.id },
    createdTime: d.createdTime,
    tenantId: { entityType: 'TENANT', id: d.tenantId },
    title: d.title,
    name: d.title,
    description: d.description,
  };
}

export function toDashboardDto(d: Dashboard): DashboardDto {
  return { ...toDashboardInfoDto(d), configuration: d.configuration };
}
