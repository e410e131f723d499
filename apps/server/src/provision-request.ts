/**
 * ThingsBoard's provisioning request as a device sends it (JsonConverter.convertToProvisionRequestMsg):
 * `{"deviceName", "provisionDeviceKey", "provisionDeviceSecret", "credentialsType", "token",
 * "clientId", "username", "password", "hash"}`, all but key and secret optional.
 */
export interface ProvisionRequest {
  /** Trimmed; '' when the device sent none (a name is generated when a device is created). */
  readonly deviceName: string;
  readonly provisionDeviceKey: string;
  readonly provisionDeviceSecret: string;
  /** The credentials the device asks for; none: the server generates an access token. */
  readonly credentials: RequestedCredentials | null;
}

export type RequestedCredentials =
  | { readonly type: 'ACCESS_TOKEN'; readonly token: string }
  | { readonly type: 'MQTT_BASIC'; readonly clientId: string | null; readonly userName: string | null; readonly password: string | null };

/** ThingsBoard's answers to a request it cannot serve. */
export type ProvisionRefusal = 'NOT_FOUND' | 'FAILURE';

/** The REST API's rule for access tokens (AccessTokenSchema): they travel in URL paths and as MQTT user names. */
const ACCESS_TOKEN_PATTERN = /^[^\s/?#]{1,128}$/;

/** Longest device name (ThingsBoard's, and the REST API's). */
export const MAX_DEVICE_NAME_LENGTH = 255;
/** Longest provision key, secret, client id, user name or password looked at: longer ones match nothing. */
const MAX_FIELD_LENGTH = 1024;

const FIELDS = ['deviceName', 'provisionDeviceKey', 'provisionDeviceSecret', 'credentialsType', 'token', 'clientId', 'username', 'password', 'hash'] as const;

/**
 * The request checked, or why it is refused, the way ThingsBoard answers it:
 * - not a JSON object, a field that is not a string, an unknown or unsupported credentialsType
 *   (X509_CERTIFICATE), credentials that cannot be stored (an access token with whitespace, '/',
 *   '?' or '#', or over 128 characters; MQTT basic credentials without client id and user name),
 *   a name of spaces only or over 255 characters: FAILURE;
 * - no provision key or secret (missing or empty): NOT_FOUND (ThingsBoard's isEmpty check).
 */
export function parseProvisionRequest(input: unknown): ProvisionRequest | ProvisionRefusal {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) return 'FAILURE';
  const o = input as Record<string, unknown>;
  const f: Partial<Record<(typeof FIELDS)[number], string>> = {};
  for (const k of FIELDS) {
    const v = Object.hasOwn(o, k) ? o[k] : undefined;
    if (v === undefined || v === null) continue;
    if (typeof v !== 'string' || v.includes('\u0000')) return 'FAILURE';
    f[k] = v;
  }
  let deviceName = f.deviceName ?? '';
  if (deviceName !== '') {
    deviceName = deviceName.trim();
    // ThingsBoard: "Provision request contains empty device name!"
    if (deviceName === '' || deviceName.length > MAX_DEVICE_NAME_LENGTH) return 'FAILURE';
  }
  const key = f.provisionDeviceKey ?? '';
  const secret = f.provisionDeviceSecret ?? '';
  if (key === '' || secret === '') return 'NOT_FOUND';
  if (key.length > MAX_FIELD_LENGTH || secret.length > MAX_FIELD_LENGTH) return 'NOT_FOUND';

  const credentials = requestedCredentials(f);
  if (credentials === 'FAILURE') return 'FAILURE';
  return { deviceName, provisionDeviceKey: key, provisionDeviceSecret: secret, credentials };
}

function requestedCredentials(f: Partial<Record<(typeof FIELDS)[number], string>>): RequestedCredentials | null | 'FAILURE' {
  const type = f.credentialsType ?? 'ACCESS_TOKEN';
  if (type !== 'ACCESS_TOKEN' && type !== 'MQTT_BASIC' && type !== 'X509_CERTIFICATE') return 'FAILURE';
  const nonEmpty = (s: string | undefined): string | null => (s === undefined || s === '' ? null : s);
  const token = nonEmpty(f.token);
  const clientId = nonEmpty(f.clientId);
  const userName = nonEmpty(f.username);
  const password = nonEmpty(f.password);
  const hash = nonEmpty(f.hash);
  // ThingsBoard keeps the generated access token unless one of these is given (DeviceServiceImpl.saveDevice(ProvisionRequest, ...))
  if (token === null && clientId === null && userName === null && password === null && hash === null) return null;
  if (type === 'X509_CERTIFICATE') return 'FAILURE';
  if (type === 'ACCESS_TOKEN') {
    if (token === null || !ACCESS_TOKEN_PATTERN.test(token)) return 'FAILURE';
    return { type, token };
  }
  if (clientId === null && userName === null) return 'FAILURE';
  if ([clientId, userName, password].some((s) => s !== null && s.length > MAX_FIELD_LENGTH)) return 'FAILURE';
  return { type, clientId, userName, password };
}
