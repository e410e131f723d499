import { createMemoryBroadcast, LiveChannel } from '@rivulet/broadcast';
import { createEmbeddedStorage } from '@rivulet/storage-postgres';
import type { Storage } from '@rivulet/storage';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createCachedDeviceProfileLookup } from './device-profile-lookup';

/** The device profile node's profile lookup on real (embedded) storage: what it caches and what drops an entry. */
describe('createCachedDeviceProfileLookup', () => {
  let storage: Storage;
  let tenantId: string;
  let other: string;

  beforeAll(async () => {
    storage = await createEmbeddedStorage();
    tenantId = (await storage.tenants.create({ title: 'Lookup tenant' })).id;
    other = (await storage.tenants.create({ title: 'Other tenant' })).id;
  });
  afterAll(async () => {
    await storage?.close();
  });

  it('answers the device\'s profile from the cache (the same object) until the device or the profile is announced changed', async () => {
    const broadcast = createMemoryBroadcast();
    const clock = { now: 0 };
    const lookup = createCachedDeviceProfileLookup({ storage, broadcast, now: () => clock.now });
    const hot = await storage.deviceProfiles.create(tenantId, { name: 'hot', profileData: { alarms: [] } });
    const cold = await storage.deviceProfiles.create(tenantId, { name: 'cold', profileData: { alarms: null } });
    const { device } = await storage.devices.create({ tenantId, name: 'probe', type: 'hot' });
    const deviceReads = vi.spyOn(storage.devices, 'get');
    const profileReads = vi.spyOn(storage.deviceProfiles, 'get');

    const first = await lookup.getForDevice(tenantId, device.id);
    expect(first).toMatchObject({ id: hot.id, name: 'hot', profileData: { alarms: [] } });
    // Cached: the same object, handed back without a promise (the node's per-message path).
    expect(lookup.getForDevice(tenantId, device.id)).toBe(first);
    expect([deviceReads.mock.calls.length, profileReads.mock.calls.length]).toEqual([1, 1]);

    // Moved to another profile: stale until the API announces the change, then the new one.
    await storage.devices.update(tenantId, device.id, { deviceProfileId: cold.id });
    expect(await lookup.getForDevice(tenantId, device.id)).toBe(first);
    broadcast.publish(LiveChannel.DEVICES, { tenantId, deviceId: device.id, kind: 'updated' });
    expect(await lookup.getForDevice(tenantId, device.id)).toMatchObject({ id: cold.id, name: 'cold' });

    // The profile saved: its entry is dropped at once.
    const before = await lookup.getForDevice(tenantId, device.id);
    await storage.deviceProfiles.update(tenantId, cold.id, { name: 'cold', profileData: { alarms: [{ id: 'a' }] } });
    broadcast.publish(LiveChannel.DEVICE_PROFILES, { tenantId, profileId: cold.id, kind: 'saved' });
    const after = await lookup.getForDevice(tenantId, device.id);
    expect(after).not.toBe(before);
    expect(after?.profileData).toEqual({ alarms: [{ id: 'a' }] });

    // Entries expire too (a change made around the API).
    const reads = profileReads.mock.calls.length;
    clock.now += 10_001;
    await lookup.getForDevice(tenantId, device.id);
    expect(profileReads.mock.calls.length).toBe(reads + 1);
    lookup.close();
    deviceReads.mockRestore();
    profileReads.mockRestore();
  });

  it('a device of another tenant, or none, is null, and a miss is not cached', async () => {
    const lookup = createCachedDeviceProfileLookup({ storage, broadcast: createMemoryBroadcast() });
    const { device } = await storage.devices.create({ tenantId, name: 'mine' });
    expect(await lookup.getForDevice(other, device.id)).toBeNull();
    expect(await lookup.getForDevice(tenantId, device.id)).toMatchObject({ name: 'default' });
    const ghost = '00000000-0000-4000-8000-00000000abcd';
    expect(await lookup.getForDevice(tenantId, ghost)).toBeNull();
    const reads = vi.spyOn(storage.devices, 'get');
    await lookup.getForDevice(tenantId, ghost);
    await lookup.getForDevice(tenantId, ghost);
    expect(reads).toHaveBeenCalledTimes(2);
    reads.mockRestore();
    lookup.close();
  });
});
