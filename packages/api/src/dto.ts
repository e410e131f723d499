import type { DashboardDto, DashboardInfoDto, DeviceCredentialsDto, DeviceDto, UserDto } from '@rivulet/api-types';
import type { Dashboard, DashboardInfo, Device, DeviceCredentials, User } from '@rivulet/storage';

/** Storage records in ThingsBoard's REST shapes (ids as `{entityType, id}`). */
export function toDeviceDto(d: Device): DeviceDto {
  return {
    id: { entityType: 'DEVICE', id: d.id },
    createdTime: d.createdTime,
    tenantId: { entityType: 'TENANT', id: d.tenantId },
    name: d.name,
    type: d.type,
    label: d.label,
    additionalInfo: d.additionalInfo,
  };
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
    email: u.email,
    name: u.email,
    authority: u.authority,
    firstName: u.firstName,
    lastName: u.lastName,
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
