import { EntityType } from './ids';
import type { JsonDouble } from './json-text';
import type { KvValue } from './kv';
import { createMsg, type JsonValue, type Msg } from './msg';

/**
 * What a transport knows of an authenticated device. Transports never touch storage: the server
 * hands them a DeviceAuthenticator and a DeviceApiService backed by storage (with caches).
 */
export interface DeviceInfo {
  readonly tenantId: string;
  readonly deviceId: string;
  readonly deviceName: string;
  readonly deviceType: string;
  /** ThingsBoard's gateway flag (the device's additionalInfo.gateway): it may use the gateway API. */
  readonly isGateway?: boolean;
}

export interface DeviceAuthenticator {
  /** The device whose access token this is, or null. */
  authenticateToken(token: string): Promise<DeviceInfo | null>;
  /** MQTT basic credentials (clientId, username, password validated together), or null. */
  authenticateBasic?(input: { clientId?: string; username?: string; password?: string }): Promise<DeviceInfo | null>;
}

/**
 * A device's attributes as its attribute request gets them. A DOUBLE of integral value is a
 * JsonDouble, so the answer prints it 1.0 as ThingsBoard's does; `doubles` says the answer holds
 * one. Write it with attributesResponseText (device-answer.ts), which leaves `doubles` out.
 */
export interface AttributesResponse {
  client?: Record<string, KvValue | JsonDouble>;
  shared?: Record<string, KvValue | JsonDouble>;
  /** Some value is a JsonDouble: only stringifyJson prints it 1.0. Not part of the answer's JSON. */
  doubles?: true;
}

export interface DeviceApiService {
  /**
   * A device's own attributes for ThingsBoard's attribute request: when neither key list is given,
   * every client and shared attribute; when one or both are given, only those keys of those scopes.
   * Empty sections are left out.
   */
  getAttributes(device: DeviceInfo, request: { clientKeys?: string[] | undefined; sharedKeys?: string[] | undefined }): Promise<AttributesResponse>;
}

/**
 * Devices behind a gateway (ThingsBoard's gateway API): created on first sight under the gateway's
 * tenant, found by name afterwards. The server backs it with storage and a cache.
 */
export interface GatewayDeviceService {
  getOrCreateDevice(gateway: DeviceInfo, name: string, type: string): Promise<DeviceInfo>;
}

/** A rule-engine message from a device, with ThingsBoard's metadata (deviceName, deviceType, ts); every transport builds its messages here. */
export function deviceMsg(device: DeviceInfo, type: string, ts: number, data: JsonValue, extra?: Record<string, string>): Msg {
  return createMsg({
    type,
    originator: { entityType: EntityType.DEVICE, id: device.deviceId },
    tenantId: device.tenantId,
    metadata: { deviceName: device.deviceName, deviceType: device.deviceType, ts: String(ts), ...extra },
    data,
    ts,
  });
}
