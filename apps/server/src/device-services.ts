import { type Broadcast, LiveChannel } from '@rivulet/broadcast';
import {
  AttributeScope,
  JsonDouble,
  deviceAttributeValue,
  type AttributeKv,
  type AttributesResponse,
  type DeviceApiService,
  type DeviceAuthenticator,
  type DeviceEvent,
  type DeviceInfo,
  type KvValue,
} from '@rivulet/core';
import { createHash } from 'node:crypto';
import { checkBasicMqttCredentials, mqttBasicCredentialsId, parseBasicMqttCredentials } from '@rivulet/api';
import type { Device, Storage } from '@rivulet/storage';

/**
 * Device authentication for transports, cached: a device posting 100 times a second must not cost
 * 100 lookups. Unknown tokens are cached briefly too, so a client hammering with a bad token does
 * not reach the database each time. Entries of a deleted device or changed credentials are
 * dropped on the DEVICES broadcast.
 */
export function createCachedAuthenticator(options: {
  storage: Storage;
  broadcast: Broadcast;
  ttlMs?: number;
  negativeTtlMs?: number;
  maxEntries?: number;
}): DeviceAuthenticator & { close(): void } {
  const ttl = options.ttlMs ?? 60_000;
  const negativeTtl = options.negativeTtlMs ?? 5_000;
  const maxEntries = options.maxEntries ?? 100_000;
  const cache = new Map<string, { info: DeviceInfo | null; expires: number }>();
  const inflight = new Map<string, Promise<DeviceInfo | null>>();

  const unsubscribe = options.broadcast.subscribe(LiveChannel.DEVICES, (e) => {
    const ev = e as DeviceEvent;
    if (ev.kind === 'created') {
      // a token that was unknown may now be valid
      for (const [k, v] of cache) if (v.info === null) cache.delete(k);
      return;
    }
    for (const [k, v] of cache) if (v.info === null || v.info.deviceId === ev.deviceId) cache.delete(k);
  });

  const toInfo = (device: Device): DeviceInfo => ({
    tenantId: device.tenantId,
    deviceId: device.id,
    deviceName: device.name,
    deviceType: device.type,
    // ThingsBoard marks gateways with additionalInfo.gateway = true
    ...(device.additionalInfo?.gateway === true ? { isGateway: true } : {}),
  });

  async function lookup(token: string): Promise<DeviceInfo | null> {
    const device = await options.storage.devices.findByCredentials('ACCESS_TOKEN', token);
    return device ? toInfo(device) : null;
  }

  /** MQTT_BASIC credentials under `credentialsId`, checked against what CONNECT carried. */
  async function basicCandidate(
    credentialsId: string,
    given: { clientId?: string; username?: string; password?: string },
  ): Promise<{ result: 'valid' | 'mismatch' | 'password-mismatch'; device?: Device }> {
    const device = await options.storage.devices.findByCredentials('MQTT_BASIC', credentialsId);
    if (!device) return { result: 'mismatch' };
    const stored = parseBasicMqttCredentials((await options.storage.devices.getCredentials(device.id))?.credentialsValue ?? null);
    if (!stored) return { result: 'mismatch' };
    return { result: checkBasicMqttCredentials(stored, given), device };
  }

  /** ThingsBoard's order (DefaultTransportApiService.validateCredentials): client id|user name, then the user name alone. */
  async function lookupBasic(given: { clientId?: string; username?: string; password?: string }): Promise<DeviceInfo | null> {
    const { clientId, username } = given;
    if (!username) {
      if (!clientId) return null;
      const c = await basicCandidate(mqttBasicCredentialsId({ clientId }), given);
      return c.result === 'valid' && c.device ? toInfo(c.device) : null;
    }
    if (clientId) {
      const c = await basicCandidate(mqttBasicCredentialsId({ clientId, userName: username }), given);
      if (c.result === 'valid' && c.device) return toInfo(c.device);
      if (c.result === 'password-mismatch') return null;
    }
    const byName = await basicCandidate(mqttBasicCredentialsId({ userName: username }), given);
    if (byName.result === 'valid' && byName.device) return toInfo(byName.device);
    if (byName.device) return null;
    return lookup(username);
  }

  function cached(key: string, load: () => Promise<DeviceInfo | null>): Promise<DeviceInfo | null> {
    const now = Date.now();
    const hit = cache.get(key);
    if (hit && hit.expires > now) return Promise.resolve(hit.info);
    let p = inflight.get(key);
    if (!p) {
      p = load().finally(() => inflight.delete(key));
      inflight.set(key, p);
    }
    return p.then((info) => {
      if (cache.size >= maxEntries) cache.clear();
      cache.set(key, { info, expires: now + (info ? ttl : negativeTtl) });
      return info;
    });
  }

  return {
    async authenticateToken(token) {
      // NUL cannot be in a stored credential (PostgreSQL text refuses it): no match, not a failed query (fuzzing found it)
      if (token.length === 0 || token.length > 256 || token.includes('\u0000')) return null;
      return cached(token, () => lookup(token));
    },
    async authenticateBasic(given) {
      const { clientId = '', username = '', password = '' } = given;
      if (clientId.length > 256 || username.length > 256 || password.length > 256 || (!clientId && !username)) return null;
      if (clientId.includes('\u0000') || username.includes('\u0000') || password.includes('\u0000')) return null;
      // the password is part of the answer: the key holds its hash, never the password
      const key = `\u0000basic\u0000${clientId}\u0000${username}\u0000${createHash('sha256').update(password).digest('base64')}`;
      return cached(key, () => lookupBasic(given));
    },
    close: unsubscribe,
  };
}

/** Attribute reads for devices (ThingsBoard's attribute request), backed by storage. */
export function createDeviceApiService(storage: Storage): DeviceApiService {
  // a DOUBLE of integral value goes out as a JsonDouble (1.0), and the answer says it holds one
  const toObject = (kvs: readonly AttributeKv[], out: AttributesResponse) => {
    const o: Record<string, KvValue | JsonDouble> = {};
    for (const kv of kvs) {
      const v = deviceAttributeValue(kv);
      if (v instanceof JsonDouble) out.doubles = true;
      Object.defineProperty(o, kv.key, { value: v, enumerable: true, writable: true, configurable: true });
    }
    return o;
  };
  return {
    async getAttributes(device, request): Promise<AttributesResponse> {
      const all = request.clientKeys === undefined && request.sharedKeys === undefined;
      const out: AttributesResponse = {};
      if (all || request.clientKeys !== undefined) {
        const keys = all ? undefined : request.clientKeys;
        const kvs = keys && keys.length === 0 ? [] : await storage.attributes.find(device.deviceId, AttributeScope.CLIENT_SCOPE, keys);
        if (kvs.length > 0) out.client = toObject(kvs, out);
      }
      if (all || request.sharedKeys !== undefined) {
        const keys = all ? undefined : request.sharedKeys;
        const kvs = keys && keys.length === 0 ? [] : await storage.attributes.find(device.deviceId, AttributeScope.SHARED_SCOPE, keys);
        if (kvs.length > 0) out.shared = toObject(kvs, out);
      }
      return out;
    },
  };
}
