import { describe, expect, it } from 'vitest';
import { createMemoryBroadcast, LiveChannel } from '@rivulet/broadcast';
import { createMsg, newId, type Msg } from '@rivulet/core';
import type { Device, DeviceProfile, Storage } from '@rivulet/storage';
import { createProfileChainRouter } from './profile-routing';

/** The router on a counting fake of the two repositories it reads (the end-to-end tests use real storage). */
function fixture(refreshMs?: number) {
  const tenantId = newId();
  const chainId = newId();
  const profile = { id: newId(), tenantId, defaultRuleChainId: chainId as string | null } as DeviceProfile;
  const plainProfile = { id: newId(), tenantId, defaultRuleChainId: null } as DeviceProfile;
  const device = { id: newId(), tenantId, deviceProfileId: profile.id } as Device;
  const reads = { devices: 0, profiles: 0 };
  let clock = 1_000;
  const storage = {
    devices: {
      async get(t: string, id: string) {
        reads.devices++;
        return t === device.tenantId && id === device.id ? { ...device } : null;
      },
    },
    deviceProfiles: {
      async get(t: string, id: string) {
        reads.profiles++;
        return [profile, plainProfile].find((p) => p.tenantId === t && p.id === id) ?? null;
      },
    },
  } as unknown as Pick<Storage, 'devices' | 'deviceProfiles'>;
  const broadcast = createMemoryBroadcast();
  const router = createProfileChainRouter({ storage, broadcast, now: () => clock, ...(refreshMs !== undefined ? { refreshMs } : {}) });
  const msg = (originatorId = device.id, t = tenantId, entityType = 'DEVICE'): Msg =>
    createMsg({ type: 'POST_TELEMETRY_REQUEST', tenantId: t, originator: { entityType: entityType as 'DEVICE', id: originatorId }, data: {} });
  return { tenantId, chainId, profile, plainProfile, device, reads, router, broadcast, msg, tick: (ms: number) => (clock += ms) };
}

const settle = () => new Promise((r) => setTimeout(r, 10));

describe('device profile routing cache', () => {
  it('reads a device and its profile once, then answers synchronously', async () => {
    const f = fixture();
    const first = f.router.chainIdFor(f.msg());
    expect(first).toBeInstanceOf(Promise);
    expect(await first).toBe(f.chainId);
    for (let i = 0; i < 100; i++) expect(f.router.chainIdFor(f.msg())).toBe(f.chainId);
    expect(f.reads).toEqual({ devices: 1, profiles: 1 });
    f.router.close();
  });

  it('sends anything but a device, an unknown device and another tenant\'s device to the root chain', async () => {
    const f = fixture();
    expect(f.router.chainIdFor(f.msg(newId(), f.tenantId, 'TENANT'))).toBeNull();
    expect(await f.router.chainIdFor(f.msg(newId()))).toBeNull();
    // The device id of another tenant leads nowhere, even once this tenant's entry is cached.
    await f.router.chainIdFor(f.msg());
    expect(await f.router.chainIdFor(f.msg(f.device.id, newId()))).toBeNull();
    f.router.close();
  });

  it('drops a device on a device event and a profile on a profile event', async () => {
    const f = fixture();
    await f.router.chainIdFor(f.msg());
    f.device.deviceProfileId = f.plainProfile.id;
    expect(f.router.chainIdFor(f.msg())).toBe(f.chainId);
    f.broadcast.publish(LiveChannel.DEVICES, { tenantId: f.tenantId, deviceId: f.device.id, kind: 'updated' });
    await settle();
    expect(await f.router.chainIdFor(f.msg())).toBeNull();

    f.device.deviceProfileId = f.profile.id;
    f.broadcast.publish(LiveChannel.DEVICES, { tenantId: f.tenantId, deviceId: f.device.id, kind: 'updated' });
    await settle();
    expect(await f.router.chainIdFor(f.msg())).toBe(f.chainId);
    f.profile.defaultRuleChainId = null;
    f.broadcast.publish(LiveChannel.DEVICE_PROFILES, { tenantId: f.tenantId, profileId: f.profile.id, kind: 'saved' });
    await settle();
    expect(await f.router.chainIdFor(f.msg())).toBeNull();
    f.router.close();
  });

  it('with refreshMs, re-reads an old entry in the background (a missed event heals) while answering from the cache', async () => {
    const f = fixture(5_000);
    await f.router.chainIdFor(f.msg());
    f.profile.defaultRuleChainId = null; // changed without an event reaching this process
    f.tick(1_000);
    expect(f.router.chainIdFor(f.msg())).toBe(f.chainId);
    expect(f.reads.profiles).toBe(1);
    f.tick(5_000);
    expect(f.router.chainIdFor(f.msg())).toBe(f.chainId); // still the cached answer, refresh started
    await settle();
    expect(f.router.chainIdFor(f.msg())).toBeNull();
    expect(f.reads).toEqual({ devices: 2, profiles: 2 });
    f.router.close();
  });
});
