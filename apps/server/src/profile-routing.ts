import { type Broadcast, LiveChannel } from '@rivulet/broadcast';
import { EntityType, errorMessage, silentLogger, type Logger, type Msg } from '@rivulet/core';
import type { MsgChainRouter } from '@rivulet/rule-engine';
import type { Storage } from '@rivulet/storage';
import { TenantMap } from './tenant-map';

export interface ProfileChainRouter extends MsgChainRouter {
  /** Cached devices and profiles (tests, diagnostics). */
  stats(): { devices: number; profiles: number; loads: number };
  close(): void;
}

export interface ProfileChainRouterOptions {
  storage: Pick<Storage, 'devices' | 'deviceProfiles'>;
  /** Device changes (LiveChannel.DEVICES) and profile changes (LiveChannel.DEVICE_PROFILES) drop cached entries. */
  broadcast: Broadcast;
  logger?: Logger;
  /**
   * A cached entry older than this is read again in the background (the message still goes by the
   * cached answer): the safety net for a change event this process missed (Kafka broadcast is
   * at-most-once). Default: never (one process cannot miss its own events).
   */
  refreshMs?: number;
  /** Most devices kept (the oldest entries go first). Default 100,000. */
  maxDevices?: number;
  now?: () => number;
}

interface Cached<T> {
  value: T;
  at: number;
}

/**
 * ThingsBoard's routing by device profile: a device's messages go to its profile's defaultRuleChainId,
 * the tenant's root chain when the profile names none (and for messages of anything but a device).
 * The per-message cost is two map lookups: device -> profile and profile -> chain are cached, and
 * dropped when the API announces a device or a profile changed. Storage is read only for a device
 * or profile not cached yet (one read shared by the messages waiting for it). Lookups are bound to
 * the message's tenant, so a device id can never lead to another tenant's profile or chain.
 */
export function createProfileChainRouter(o: ProfileChainRouterOptions): ProfileChainRouter {
  const logger = (o.logger ?? silentLogger).child({ component: 'profile-routing' });
  const now = o.now ?? Date.now;
  const refreshMs = o.refreshMs ?? Number.POSITIVE_INFINITY;
  const maxDevices = o.maxDevices ?? 100_000;
  /** tenant -> device -> the device's profile id. */
  const devices = new TenantMap<Cached<string>>();
  /** tenant -> profile -> the profile's chain id (null: root). */
  const profiles = new TenantMap<Cached<string | null>>();
  const loading = new Map<string, Promise<unknown>>();
  let loads = 0;

  function once<T>(key: string, read: () => Promise<T>): Promise<T> {
    let p = loading.get(key) as Promise<T> | undefined;
    if (!p) {
      loads++;
      p = read().finally(() => loading.delete(key));
      loading.set(key, p);
    }
    return p;
  }

  /** The device's profile id; null when the tenant has no such device (not cached: it may be created a moment later). */
  function loadDevice(tenantId: string, deviceId: string): Promise<string | null> {
    return once(`d:${tenantId}/${deviceId}`, async () => {
      const device = await o.storage.devices.get(tenantId, deviceId);
      if (!device) {
        devices.delete(tenantId, deviceId);
        return null;
      }
      devices.set(tenantId, deviceId, { value: device.deviceProfileId, at: now() });
      if (devices.size > maxDevices) devices.evictOne();
      return device.deviceProfileId;
    });
  }

  function loadProfile(tenantId: string, profileId: string): Promise<string | null> {
    return once(`p:${tenantId}/${profileId}`, async () => {
      const profile = await o.storage.deviceProfiles.get(tenantId, profileId);
      const chainId = profile?.defaultRuleChainId ?? null;
      if (profile) profiles.set(tenantId, profileId, { value: chainId, at: now() });
      else profiles.delete(tenantId, profileId);
      return chainId;
    });
  }

  function refresh(p: Promise<unknown>): void {
    p.catch((e: unknown) => logger.warn({ err: errorMessage(e) }, 'device profile routing refresh failed; the cached route stays'));
  }

  async function route(tenantId: string, deviceId: string, knownProfile: string | undefined): Promise<string | null> {
    const profileId = knownProfile ?? (await loadDevice(tenantId, deviceId));
    if (profileId === null) return null;
    const cached = profiles.get(tenantId, profileId);
    return cached ? cached.value : loadProfile(tenantId, profileId);
  }

  const offDevices = o.broadcast.subscribe(LiveChannel.DEVICES, (e) => {
    if (typeof e?.tenantId === 'string' && typeof e.deviceId === 'string') devices.delete(e.tenantId, e.deviceId);
  });
  const offProfiles = o.broadcast.subscribe(LiveChannel.DEVICE_PROFILES, (e) => {
    if (typeof e?.tenantId === 'string' && typeof e.profileId === 'string') profiles.delete(e.tenantId, e.profileId);
  });

  return {
    chainIdFor(msg: Msg) {
      if (msg.originator.entityType !== EntityType.DEVICE) return null;
      const deviceId = msg.originator.id;
      const device = devices.get(msg.tenantId, deviceId);
      if (!device) return route(msg.tenantId, deviceId, undefined);
      const t = refreshMs === Number.POSITIVE_INFINITY ? 0 : now();
      if (t - device.at > refreshMs) refresh(loadDevice(msg.tenantId, deviceId));
      const profile = profiles.get(msg.tenantId, device.value);
      if (!profile) return route(msg.tenantId, deviceId, device.value);
      if (t - profile.at > refreshMs) refresh(loadProfile(msg.tenantId, device.value));
      return profile.value;
    },
    stats: () => ({ devices: devices.size, profiles: profiles.size, loads }),
    close() {
      offDevices();
      offProfiles();
      devices.clear();
      profiles.clear();
    },
  };
}
