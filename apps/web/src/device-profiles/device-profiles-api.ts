import type { DeviceProfileDto, DeviceProfileInfoDto, DeviceProfileSaveRequest, PageData, RuleChainDto } from '@rivulet/api-types';
import { api } from '../api/client';
import { randomToken } from '../devices/devices-api';
import { alarmsJson, editorAlarmsOf, type EditorAlarm, type JsonObject } from './alarm-rules';

/** The device profile pages' calls to the REST API (ThingsBoard's DeviceProfileController). */

export type ProvisionType = DeviceProfileDto['provisionType'];
export const PROVISION_TYPES: ReadonlyArray<{ value: ProvisionType; label: string; description: string }> = [
  { value: 'DISABLED', label: 'Disabled', description: 'Devices are created by people or the API only' },
  { value: 'ALLOW_CREATE_NEW_DEVICES', label: 'Allow to create new devices', description: 'A device presenting the key and secret is created when its name is new' },
  { value: 'CHECK_PRE_PROVISIONED_DEVICES', label: 'Check for pre-provisioned devices', description: 'Only devices created beforehand get their credentials' },
];
export const provisionLabel = (t: ProvisionType): string => PROVISION_TYPES.find((p) => p.value === t)?.label ?? t;

export const TRANSPORT_LABELS: Readonly<Record<DeviceProfileDto['transportType'], string>> = { DEFAULT: 'Default', MQTT: 'MQTT', COAP: 'CoAP', LWM2M: 'LWM2M', SNMP: 'SNMP' };

export type ProfileSortProperty = 'name' | 'createdTime' | 'transportType';
export interface ProfileListParams {
  page: number;
  pageSize: number;
  textSearch: string;
  sortProperty: ProfileSortProperty;
  sortOrder: 'ASC' | 'DESC';
}

export const profileKeys = {
  all: ['deviceProfiles'] as const,
  list: (p: ProfileListParams) => ['deviceProfiles', 'list', p] as const,
  one: (id: string) => ['deviceProfiles', 'one', id] as const,
  options: (search: string) => ['deviceProfiles', 'options', search] as const,
  info: (id: string) => ['deviceProfiles', 'info', id] as const,
  defaultInfo: ['deviceProfiles', 'default'] as const,
};

export function listProfiles(p: ProfileListParams, signal?: AbortSignal): Promise<PageData<DeviceProfileDto>> {
  return api<PageData<DeviceProfileDto>>('/api/deviceProfiles', { query: { ...p }, signal });
}

export function getProfile(id: string, signal?: AbortSignal): Promise<DeviceProfileDto> {
  return api<DeviceProfileDto>(`/api/deviceProfile/${id}`, { signal });
}

export function listProfileInfos(textSearch: string, signal?: AbortSignal): Promise<PageData<DeviceProfileInfoDto>> {
  return api<PageData<DeviceProfileInfoDto>>('/api/deviceProfileInfos', { query: { pageSize: 50, page: 0, textSearch, sortProperty: 'name', sortOrder: 'ASC' }, signal });
}

export function getDefaultProfileInfo(signal?: AbortSignal): Promise<DeviceProfileInfoDto> {
  return api<DeviceProfileInfoDto>('/api/deviceProfileInfo/default', { signal });
}

export function getProfileInfo(id: string, signal?: AbortSignal): Promise<DeviceProfileInfoDto> {
  return api<DeviceProfileInfoDto>(`/api/deviceProfileInfo/${id}`, { signal });
}

export function deleteProfile(id: string): Promise<void> {
  return api<void>(`/api/deviceProfile/${id}`, { method: 'DELETE' });
}

export function setDefaultProfile(id: string): Promise<DeviceProfileDto> {
  return api<DeviceProfileDto>(`/api/deviceProfile/${id}/default`, { method: 'POST' });
}

export function listRuleChains(textSearch: string, signal?: AbortSignal): Promise<PageData<RuleChainDto>> {
  return api<PageData<RuleChainDto>>('/api/ruleChains', { query: { pageSize: 50, page: 0, textSearch, sortProperty: 'name', sortOrder: 'ASC' }, signal });
}

export function getRuleChain(id: string, signal?: AbortSignal): Promise<RuleChainDto> {
  return api<RuleChainDto>(`/api/ruleChain/${id}`, { signal });
}

/** What the profile form edits. */
export interface ProfileForm {
  name: string;
  description: string;
  /** null: the tenant's root chain. */
  defaultRuleChainId: string | null;
  provisionType: ProvisionType;
  provisionDeviceKey: string;
  provisionDeviceSecret: string;
  alarms: EditorAlarm[];
}

function provisionSecretOf(p: DeviceProfileDto): string {
  const c = p.profileData.provisionConfiguration;
  const s = c && typeof c === 'object' && !Array.isArray(c) ? c.provisionDeviceSecret : undefined;
  return typeof s === 'string' ? s : '';
}

export function formOf(p: DeviceProfileDto | undefined): ProfileForm {
  if (!p) return { name: '', description: '', defaultRuleChainId: null, provisionType: 'DISABLED', provisionDeviceKey: '', provisionDeviceSecret: '', alarms: [] };
  return {
    name: p.name,
    description: p.description ?? '',
    defaultRuleChainId: p.defaultRuleChainId?.id ?? null,
    provisionType: p.provisionType,
    provisionDeviceKey: p.provisionDeviceKey ?? '',
    provisionDeviceSecret: provisionSecretOf(p),
    alarms: editorAlarmsOf(p.profileData.alarms),
  };
}

/** A provision key or secret as ThingsBoard's UI generates them (20 random characters). */
export const generateProvisionValue = (): string => randomToken(20);

/**
 * The save request: ThingsBoard's save replaces every field, so an edit sends the profile as read
 * with the form's fields over it; profileData keeps the parts the form does not edit
 * (configuration, transportConfiguration, anything else). Throws AlarmFormError for an alarm the
 * form cannot save.
 */
export function saveRequest(form: ProfileForm, existing?: DeviceProfileDto): DeviceProfileSaveRequest {
  const provisioning = form.provisionType !== 'DISABLED';
  const profileData: JsonObject = {
    configuration: { type: 'DEFAULT' },
    transportConfiguration: { type: 'DEFAULT' },
    ...(existing?.profileData ?? {}),
    provisionConfiguration: { type: form.provisionType, provisionDeviceSecret: provisioning ? form.provisionDeviceSecret.trim() : null },
    alarms: alarmsJson(form.alarms),
  };
  const { createdTime: _c, tenantId: _t, ...kept } = existing ?? ({} as Partial<DeviceProfileDto>);
  return {
    ...kept,
    name: form.name.trim(),
    description: form.description.trim() || null,
    defaultRuleChainId: form.defaultRuleChainId ? { entityType: 'RULE_CHAIN', id: form.defaultRuleChainId } : null,
    provisionType: form.provisionType,
    provisionDeviceKey: provisioning ? form.provisionDeviceKey.trim() : null,
    profileData,
  };
}

export function saveProfile(form: ProfileForm, existing?: DeviceProfileDto): Promise<DeviceProfileDto> {
  return api<DeviceProfileDto>('/api/deviceProfile', { method: 'POST', body: saveRequest(form, existing) });
}
