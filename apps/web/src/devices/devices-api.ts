import type { DeviceConnectivity, DeviceCredentialsDto, DeviceDto, DeviceInfoPage } from '@rivulet/api-types';
import { api } from '../api/client';

/** The devices list page's calls to the REST API (ThingsBoard's device endpoints). */

export type SortProperty = 'name' | 'deviceProfileName' | 'createdTime';
export type SortOrder = 'ASC' | 'DESC';

export interface DeviceListParams {
  page: number;
  pageSize: number;
  textSearch: string;
  sortProperty: SortProperty;
  sortOrder: SortOrder;
  /** Only the devices of this profile; null: all. */
  deviceProfileId: string | null;
}

/** ThingsBoard's device infos: each device with its profile's name (and the profile filter). */
export function listDevices(p: DeviceListParams, signal?: AbortSignal): Promise<DeviceInfoPage> {
  const { deviceProfileId, ...paging } = p;
  return api<DeviceInfoPage>('/api/tenant/deviceInfos', { query: { ...paging, ...(deviceProfileId ? { deviceProfileId } : {}) }, signal });
}

export interface DeviceForm {
  name: string;
  /** null: the tenant's default profile (the server's choice). */
  deviceProfileId: string | null;
  label: string;
  gateway: boolean;
}

/** Creates, or updates when `existing` is given; additionalInfo keeps its other fields (gateway is ThingsBoard's flag). */
export function saveDevice(form: DeviceForm, existing?: DeviceDto): Promise<DeviceDto> {
  const additionalInfo = { ...(existing?.additionalInfo ?? {}), gateway: form.gateway };
  return api<DeviceDto>('/api/device', {
    method: 'POST',
    body: {
      ...(existing ? { id: existing.id } : {}),
      name: form.name.trim(),
      // The device's type becomes its profile's name.
      ...(form.deviceProfileId ? { deviceProfileId: { entityType: 'DEVICE_PROFILE', id: form.deviceProfileId } } : {}),
      label: form.label.trim() || null,
      additionalInfo,
    },
  });
}

export function deleteDevice(id: string): Promise<void> {
  return api<void>(`/api/device/${id}`, { method: 'DELETE' });
}

export function getCredentials(id: string): Promise<DeviceCredentialsDto> {
  return api<DeviceCredentialsDto>(`/api/device/${id}/credentials`);
}

/** A new access token (20 characters as ThingsBoard generates them) from the browser's CSPRNG. */
export function randomToken(length = 20): string {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
  const bytes = crypto.getRandomValues(new Uint8Array(length * 2));
  let out = '';
  // rejection sampling: 62 does not divide 256, so bytes >= 248 are skipped to keep it uniform
  for (const b of bytes) {
    if (b < 248) out += alphabet[b % 62];
    if (out.length === length) return out;
  }
  return out + randomToken(length - out.length);
}

export function regenerateToken(credentials: DeviceCredentialsDto): Promise<DeviceCredentialsDto> {
  return api<DeviceCredentialsDto>('/api/device/credentials', {
    method: 'POST',
    body: { id: credentials.id, deviceId: credentials.deviceId, credentialsType: 'ACCESS_TOKEN', credentialsId: randomToken(), credentialsValue: null },
  });
}

export function getConnectivity(id: string): Promise<DeviceConnectivity> {
  return api<DeviceConnectivity>(`/api/device-connectivity/${id}`);
}

export function isGateway(d: DeviceDto): boolean {
  return d.additionalInfo?.gateway === true;
}
