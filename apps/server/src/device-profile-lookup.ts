import { type Broadcast, LiveChannel } from '@rivulet/broadcast';
import type { DeviceEvent, DeviceProfileEvent } from '@rivulet/core';
import type { DeviceProfileLookup, RuleDeviceProfile } from '@rivulet/rule-engine';
import type { Storage } from '@rivulet/storage';
import { TenantMap } from './tenant-map';

interface Entry<T> {
  at: number;
  /** Set once the read resolved (the hot path answers from it without a promise). */
  value?: T;
  /** The read in flight, shared by the callers waiting for it. */
  pending?: Promise<T | null>;
}

/**
 * The device profile node's view of profiles: a device's profile id and the profile itself, each
 * cached so a chain does not read the database per message. A device's entry is dropped when the
 * API announces it changed (LiveChannel.DEVICES: a device moved to another profile takes its new
 * one at its next message) and lives `deviceTtlMs` at most; a profile's entry is dropped when it is
 * saved or deleted (LiveChannel.DEVICE_PROFILES: the next message evaluates the new rules) and lives
 * `profileTtlMs` at most. While cached, a profile is handed back as the same object, which the node
 * uses to tell an unchanged profile cheaply, and synchronously (no promise per message). Misses and
 * failures are not cached. Keyed by tenant, then id: a device (and its profile) is only ever found
 * for its own tenant.
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
  const devices = new TenantMap<Entry<string>>();
  const profiles = new TenantMap<Entry<RuleDeviceProfile>>();

  /** The cached value or the read in flight; undefined when there is none (or it is too old). */
  function hit<T>(map: TenantMap<Entry<T>>, tenantId: string, id: string, ttlMs: number, t: number): T | Promise<T | null> | undefined {
    const e = map.get(tenantId, id);
    if (!e || t - e.at >= ttlMs) return undefined;
    return e.pending ?? e.value;
  }

  /** A new read, shared until it settles and kept only if it finds something. */
  function read<T>(map: TenantMap<Entry<T>>, tenantId: string, id: string, t: number, load: () => Promise<T | null>): Promise<T | null> {
    const entry: Entry<T> = { at: t };
    const pending = load().then(
      (v) => {
        if (map.get(tenantId, id) !== entry) return v;
        if (v === null) map.delete(tenantId, id);
        else {
          entry.value = v;
          entry.pending = undefined;
        }
        return v;
      },
      (e: unknown) => {
        if (map.get(tenantId, id) === entry) map.delete(tenantId, id);
        throw e;
      },
    );
    entry.pending = pending;
    map.delete(tenantId, id);
    map.set(tenantId, id, entry);
    if (map.size > maxEntries) map.evictOne();
    return pending;
  }

  function profileOf(tenantId: string, profileId: string, t: number): RuleDeviceProfile | Promise<RuleDeviceProfile | null> {
    return (
      hit(profiles, tenantId, profileId, profileTtlMs, t) ??
      read(profiles, tenantId, profileId, t, async () => {
        const p = await options.storage.deviceProfiles.get(tenantId, profileId);
        return p ? { id: p.id, name: p.name, profileData: p.profileData } : null;
      })
    );
  }

  const unsubscribeDevices = options.broadcast.subscribe(LiveChannel.DEVICES, (e) => {
    const event = e as DeviceEvent;
    if (event && typeof event.tenantId === 'string' && typeof event.deviceId === 'string') devices.delete(event.tenantId, event.deviceId);
  });
  const unsubscribeProfiles = options.broadcast.subscribe(LiveChannel.DEVICE_PROFILES, (e) => {
    const event = e as DeviceProfileEvent;
    if (event && typeof event.tenantId === 'string' && typeof event.profileId === 'string') profiles.delete(event.tenantId, event.profileId);
  });

  return {
    getForDevice(tenantId, deviceId) {
      // Hits build no closure and no promise: this runs per message.
      const t = clock();
      const profileId =
        hit(devices, tenantId, deviceId, deviceTtlMs, t) ??
        read(devices, tenantId, deviceId, t, async () => (await options.storage.devices.get(tenantId, deviceId))?.deviceProfileId ?? null);
      if (typeof profileId === 'string') return profileOf(tenantId, profileId, t);
      return profileId.then((id) => (id === null ? null : profileOf(tenantId, id, clock())));
    },
    close() {
      unsubscribeDevices();
      unsubscribeProfiles();
    },
  };
}
