import type { DeviceInfo } from './device-api';

/**
 * ThingsBoard's device provisioning answer, as the device receives it over MQTT
 * (`/provision/response`), HTTP (`POST /api/v1/provision`) and CoAP (`POST /api/v1/provision`):
 * `{"status":"SUCCESS","credentialsType":"ACCESS_TOKEN","credentialsValue":"<token>"}`, for
 * MQTT_BASIC `credentialsValue` is `{clientId, userName, password}`; a refusal is
 * `{"status":"NOT_FOUND"|"FAILURE","errorMsg":"..."}`.
 */
export type ProvisionResponse =
  | { status: 'SUCCESS'; credentialsType: 'ACCESS_TOKEN'; credentialsValue: string }
  | { status: 'SUCCESS'; credentialsType: 'MQTT_BASIC'; credentialsValue: { clientId: string | null; userName: string | null; password: string | null } }
  | { status: 'NOT_FOUND' | 'FAILURE'; errorMsg: string };

/** Which transport a provisioning request came over (kept in the device's events and logs). */
export type ProvisionTransport = 'MQTT' | 'HTTP' | 'COAP';

/**
 * Device provisioning (ThingsBoard's device provisioning API). The transport hands over the
 * request as the device sent it (parsed JSON, not yet validated: the service validates it, so the
 * three transports answer the same request the same way) and sends the answer back as JSON.
 * Never rejects on bad input: a malformed request is `{"status":"FAILURE","errorMsg":...}`.
 */
export interface DeviceProvisioningService {
  provision(request: unknown, transport: ProvisionTransport): Promise<ProvisionResponse>;
}

/**
 * Device claiming (ThingsBoard's claiming API): the device (or a gateway for one of its devices)
 * announces that it may be claimed with `secretKey` for `durationMs`; a customer user then claims
 * it over REST (`POST /api/customer/device/{deviceName}/claim`). The transport parses
 * `{"secretKey":"...","durationMs":60000}` (both optional, ThingsBoard's defaults apply) and calls this.
 */
export interface DeviceClaimingService {
  requestClaim(device: DeviceInfo, request: { secretKey: string; durationMs: number | undefined }): Promise<void>;
}
