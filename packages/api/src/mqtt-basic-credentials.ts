import { createHash } from 'node:crypto';

/** ThingsBoard's MQTT_BASIC credentials value: `{"clientId","userName","password"}`, any of them may be absent. */
export interface BasicMqttCredentials {
  clientId?: string | null;
  userName?: string | null;
  password?: string | null;
}

function sha3(s: string): string {
  return createHash('sha3-256').update(s, 'utf8').digest('hex');
}

/**
 * The lookup id of MQTT_BASIC credentials, derived as ThingsBoard derives it
 * (DeviceCredentialsServiceImpl.formatSimpleMqttCredentials), so the transport finds the device from
 * what CONNECT carries: the user name alone when there is no client id, SHA3-256 of the client id
 * when there is no user name, else SHA3-256 of "clientId|userName".
 */
export function mqttBasicCredentialsId(c: Pick<BasicMqttCredentials, 'clientId' | 'userName'>): string {
  if (!c.clientId) return c.userName ?? '';
  if (!c.userName) return sha3(c.clientId);
  return sha3(`${c.clientId}|${c.userName}`);
}

/**
 * Whether CONNECT's credentials match stored ones (ThingsBoard's validateMqttCredentials): a stored
 * client id or user name must be equal; a stored password must be given and equal.
 * 'password-mismatch' ends authentication; 'mismatch' lets the caller try the next way.
 */
export function checkBasicMqttCredentials(stored: BasicMqttCredentials, given: { clientId?: string; username?: string; password?: string }): 'valid' | 'mismatch' | 'password-mismatch' {
  if (stored.clientId && stored.clientId !== given.clientId) return 'mismatch';
  if (stored.userName && stored.userName !== given.username) return 'mismatch';
  if (stored.password) return stored.password === given.password ? 'valid' : 'password-mismatch';
  return 'valid';
}

/** The stored JSON, or null when it is not an object of strings. */
export function parseBasicMqttCredentials(value: string | null): BasicMqttCredentials | null {
  if (!value) return null;
  let v: unknown;
  try {
    v = JSON.parse(value);
  } catch {
    return null;
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return null;
  const o = v as Record<string, unknown>;
  const str = (x: unknown): string | null | undefined => (typeof x === 'string' ? x : x === null || x === undefined ? (x as null | undefined) : undefined);
  const out: BasicMqttCredentials = { clientId: str(o.clientId), userName: str(o.userName), password: str(o.password) };
  for (const k of ['clientId', 'userName', 'password'] as const) if (o[k] !== undefined && o[k] !== null && typeof o[k] !== 'string') return null;
  return out;
}
