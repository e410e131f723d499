import {
  AttributeScope,
  LiveChannel,
  type AttributesResponse,
  type DeviceApiService,
  type DeviceAuthenticator,
  type DeviceEvent,
  type DeviceInfo,
  type KvValue,
} from '@rivulet/core';
import type { Broadcast } from '@rivulet/queue';
import type { Storage } from '@rivulet/storage';

/**
 * Device authentication for transports, cached: a device posting 100 times a second must not cost
 * 100 lookups. Unknown tokens are cached briefly too, so a client hammering with a bad token does
 * not reach the database each time. Entries of a deleted device or changed credentials are
 * dropped on the DEVICES broadcast.
 */
export function createCachedAuthenticator(options: {
  storage: Storage;
  broadcast: Broadcast<unknown>;
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

  async function lookup(token: string): Promise<DeviceInfo | null> {
    const device = await options.storage.devices.findByCredentials('ACCESS_TOKEN', token);
    return device ? { tenantId: device.tenantId, deviceId: device.id, deviceName: device.name, deviceType: device.type } : null;
  }

  return {
    async authenticateToken(token) {
      if (token.length === 0 || token.length > 256) return null;
      const now = Date.now();
      const hit = cache.get(token);
      if (hit && hit.expires > now) return hit.info;
      let p = inflight.get(token);
      if (!p) {
        p = lookup(token).finally(() => inflight.delete(token));
        inflight.set(token, p);
      }
      const info = await p;
      if (cache.size >= maxEntries) cache.clear();
      cache.set(token, { info, expires: now + (info ? ttl : negativeTtl) });
      return info;
    },
    close: unsubscribe,
  };
}

/** Attribute reads for devices (ThingsBoard's attribute request), backed by storage. */
export function createDeviceApiService(storage: Storage): DeviceApiService {
  const toObject = (kvs: Array<{ key: string; value: KvValue }>) => {
    const o: Record<string, KvValue> = {};
    for (const kv of kvs) o[kv.key] = kv.value;
    return o;
  };
  return {
    async getAttributes(device, request): Promise<AttributesResponse> {
      const all = request.clientKeys === undefined && request.sharedKeys === undefined;
      const out: AttributesResponse = {};
      if (all || request.clientKeys !== undefined) {
        const keys = all ? undefined : request.clientKeys;
        const kvs = keys && keys.length === 0 ? [] : await storage.attributes.find(device.deviceId, AttributeScope.CLIENT_SCOPE, keys);
        if (kvs.length > 0) out.client = toObject(kvs);
      }
      if (all || request.sharedKeys !== undefined) {
        const keys = all ? undefined : request.sharedKeys;
        const kvs = keys && keys.length === 0 ? [] : await storage.attributes.find(device.deviceId, AttributeScope.SHARED_SCOPE, keys);
        if (kvs.length > 0) out.shared = toObject(kvs);
      }
      return out;
    },
  };
}
