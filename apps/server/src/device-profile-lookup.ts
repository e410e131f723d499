import { type Broadcast, LiveChannel } from '@rivulet/broadcast';
import type { DeviceEvent, DeviceProfileEvent } from '@rivulet/core';
import type { DeviceProfileLookup, RuleDeviceProfile } from '@rivulet/rule-engine';
import type { Storage } from '@rivulet/storage';

interface Entry<T> {
  at: number;
  value: Promise<T>;
}

/**
 * The device profile node's view of profiles: a device's profile id and the profile itself, each
 * cached so a chain does not read the database per message. A device's entry is dropped when the
 * API announces it changed (LiveChannel.DEVICES: a device moved to another profile takes its new
 * one at its next message) and lives `deviceTtlMs` at most; a profile's entry is dropped when it is
 * saved or deleted (LiveChannel.DEVICE_PROFILES: the next message evaluates the new rules) and lives
 * `profileTtlMs` at most. While cached, a profile is handed back as the same
 * object, which the node uses to tell an unchanged profile cheaply. Misses and failures are not
 * cached.
 */
export function createCachedDeviceProfileLookup(options: {
  storage: Storage;
  broadcast: Broadcast;
  deviceTtlMs?: number;
  profileTtlMs?: number;
  maxEntries?: number;
  now?: () => number;
}): DeviceProfileLookup & { close(): void } {
  const deviceTtlMs = options.deviceTtlMs ?? 30_000;
  const profileTtlMs = options.profileTtlMs ?? 10_000;
  const maxEntries = options.maxEntries ?? 100_000;
  const clock = options.now ?? Date.now;
  const devices = new Map<string, Entry<string | null>>();
  const profiles = new Map<string, Entry<RuleDeviceProfile | null>>();

  function cached<T>(map: Map<string, Entry<T | null>>, key: string, ttlMs: number, load: () => Promise<T | null>): Promise<T | null> {
    const hit = map.get(key);
    const t = clock();
    if (hit && t - hit.at < ttlMs) return hit.value;
    const value = load();
    const entry = { at: t, value };
    map.delete(key);
    map.set(key, entry);
    if (map.size > maxEntries) {
      const oldest = map.keys().next();
      if (!oldest.done) map.delete(oldest.value);
    }
    value.then(
      (v) => {
        if (v === null && map.get(key) === entry) map.delete(key);
      },
      () => {
        if (map.get(key) === entry) map.delete(key);
      },
    );
    return value;
  }

  const unsubscribeDevices = options.broadcast.subscribe(LiveChannel.DEVICES, (e) => {
    const event = e as DeviceEvent;
    if (event && typeof event.deviceId === 'string') devices.delete(`${event.tenantId}/${event.deviceId}`);
  });
  const unsubscribeProfiles = options.broadcast.subscribe(LiveChannel.DEVICE_PROFILES, (e) => {
    const event = e as DeviceProfileEvent;
    if (event && typeof event.profileId === 'string') profiles.delete(`${event.tenantId}/${event.profileId}`);
  });

  return {
    async getForDevice(tenantId, deviceId) {
      // Keyed by tenant too: a device (and its profile) is only ever found for its own tenant.
      const profileId = await cached(devices, `${tenantId}/${deviceId}`, deviceTtlMs, async () => (await options.storage.devices.get(tenantId, deviceId))?.deviceProfileId ?? null);
      if (profileId === null) return null;
      return cached(profiles, `${tenantId}/${profileId}`, profileTtlMs, async () => {
        const p = await options.storage.deviceProfiles.get(tenantId, profileId);
        return p ? { id: p.id, name: p.name, profileData: p.profileData } : null;
      });
    },
    close() {
      unsubscribeDevices();
      unsubscribeProfiles();
    },
  };
}
