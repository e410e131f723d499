import { describe, expect, it } from 'vitest';
import { newId } from '@rivulet/core';
import type { Storage } from './types';

/**
 * Device profiles and how devices get theirs: part of the storage contract (called from
 * storageContract with its storage, so every implementation runs it).
 */
export function describeDeviceProfiles(get: () => Storage): void {
  describe('device profiles', () => {
    async function tenant(title = 'Profiles'): Promise<string> {
      return (await get().tenants.create({ title })).id;
    }

    it('gives every new tenant its default profile "default", in ThingsBoard shape', async () => {
      const storage = get();
      const tenantId = await tenant();
      const page = await storage.deviceProfiles.page(tenantId, { pageSize: 10, page: 0 });
      expect(page.totalElements).toBe(1);
      const p = page.data[0]!;
      expect(p).toMatchObject({
        tenantId, name: 'default', isDefault: true, type: 'DEFAULT', transportType: 'DEFAULT', provisionType: 'DISABLED',
        defaultRuleChainId: null, defaultDashboardId: null, defaultQueueName: null, provisionDeviceKey: null,
        profileData: { configuration: { type: 'DEFAULT' }, transportConfiguration: { type: 'DEFAULT' }, provisionConfiguration: { type: 'DISABLED', provisionDeviceSecret: null } },
      });
      expect(await storage.deviceProfiles.ensureDefault(tenantId)).toEqual(p);
      expect(await storage.deviceProfiles.get(tenantId, p.id)).toEqual(p);
      expect(await storage.deviceProfiles.findByName(tenantId, 'default')).toEqual(p);
    });

    it('ensureDefault is safe when called concurrently for a tenant id without profiles', async () => {
      const storage = get();
      const tenantId = newId();
      const all = await Promise.all(Array.from({ length: 5 }, () => storage.deviceProfiles.ensureDefault(tenantId)));
      expect(new Set(all.map((p) => p.id)).size).toBe(1);
      expect((await storage.deviceProfiles.page(tenantId, { pageSize: 10, page: 0 })).totalElements).toBe(1);
    });

    it('creates, updates, pages, filters and deletes profiles per tenant', async () => {
      const storage = get();
      const tenantId = await tenant();
      const other = await tenant('Other');
      const key = `key-${newId()}`;
      const mqtt = await storage.deviceProfiles.create(tenantId, {
        name: 'thermostats', description: 'heat', transportType: 'MQTT', provisionType: 'ALLOW_CREATE_NEW_DEVICES', provisionDeviceKey: key,
        profileData: { configuration: { type: 'DEFAULT' }, alarms: [{ id: 'a1', alarmType: 'High' }] },
      });
      expect(mqtt).toMatchObject({ tenantId, name: 'thermostats', description: 'heat', transportType: 'MQTT', isDefault: false, provisionDeviceKey: key });
      expect(mqtt.profileData).toEqual({ configuration: { type: 'DEFAULT' }, alarms: [{ id: 'a1', alarmType: 'High' }] });
      await storage.deviceProfiles.create(tenantId, { name: 'coap things', transportType: 'COAP' });
      // Unique names per tenant; the same name in another tenant is fine.
      await expect(storage.deviceProfiles.create(tenantId, { name: 'thermostats' })).rejects.toMatchObject({ code: 'CONFLICT', message: 'Device profile with such name already exists!' });
      await storage.deviceProfiles.create(other, { name: 'thermostats' });
      // The provision key is unique over every tenant.
      await expect(storage.deviceProfiles.create(other, { name: 'Stolen key', provisionDeviceKey: key })).rejects.toMatchObject({ code: 'CONFLICT' });
      await expect(storage.deviceProfiles.create(tenantId, { name: '  ' })).rejects.toMatchObject({ code: 'BAD_REQUEST' });
      expect(await storage.deviceProfiles.findByProvisionKey(key)).toEqual(mqtt);
      expect(await storage.deviceProfiles.findByProvisionKey(`nope-${newId()}`)).toBeNull();
      // Another tenant cannot see or touch it.
      expect(await storage.deviceProfiles.get(other, mqtt.id)).toBeNull();
      expect(await storage.deviceProfiles.update(other, mqtt.id, { name: 'Mine' })).toBeNull();
      expect(await storage.deviceProfiles.delete(other, mqtt.id)).toBe('not-found');
      expect(await storage.deviceProfiles.setDefault(other, mqtt.id)).toBeNull();

      const all = await storage.deviceProfiles.page(tenantId, { pageSize: 10, page: 0, sortProperty: 'name', sortOrder: 'ASC' });
      expect(all.data.map((p) => p.name)).toEqual(['coap things', 'default', 'thermostats']);
      const onlyMqtt = await storage.deviceProfiles.page(tenantId, { pageSize: 10, page: 0 }, { transportType: 'MQTT' });
      expect(onlyMqtt.data.map((p) => p.id)).toEqual([mqtt.id]);
      const searched = await storage.deviceProfiles.page(tenantId, { pageSize: 1, page: 0, textSearch: 'THERMO' });
      expect(searched).toMatchObject({ totalElements: 1, hasNext: false });
      await expect(storage.deviceProfiles.page(tenantId, { pageSize: 10, page: 0, sortProperty: 'nope' })).rejects.toMatchObject({ code: 'BAD_REQUEST' });

      const updated = await storage.deviceProfiles.update(tenantId, mqtt.id, { name: 'thermostats 2', transportType: 'DEFAULT' });
      expect(updated).toMatchObject({ id: mqtt.id, name: 'thermostats 2', description: null, transportType: 'DEFAULT', provisionDeviceKey: null, createdTime: mqtt.createdTime });
      expect(updated?.profileData).toMatchObject({ configuration: { type: 'DEFAULT' } });
      expect(await storage.deviceProfiles.update(tenantId, newId(), { name: 'x' })).toBeNull();

      expect(await storage.deviceProfiles.delete(tenantId, mqtt.id)).toBe('deleted');
      expect(await storage.deviceProfiles.get(tenantId, mqtt.id)).toBeNull();
      expect(await storage.deviceProfiles.delete(tenantId, mqtt.id)).toBe('not-found');
      expect(await storage.deviceProfiles.delete(tenantId, 'not-a-uuid')).toBe('not-found');
    });

    it('moves the default, and never deletes the default or a profile in use', async () => {
      const storage = get();
      const tenantId = await tenant();
      const first = await storage.deviceProfiles.ensureDefault(tenantId);
      const next = await storage.deviceProfiles.create(tenantId, { name: 'Next' });
      expect(await storage.deviceProfiles.delete(tenantId, first.id)).toBe('default');
      const made = await storage.deviceProfiles.setDefault(tenantId, next.id);
      expect(made).toMatchObject({ id: next.id, isDefault: true });
      expect((await storage.deviceProfiles.get(tenantId, first.id))?.isDefault).toBe(false);
      expect((await storage.deviceProfiles.ensureDefault(tenantId)).id).toBe(next.id);
      // A device without type or profile now gets the new default.
      const { device } = await storage.devices.create({ tenantId, name: 'After switch' });
      expect(device).toMatchObject({ deviceProfileId: next.id, type: 'Next' });
      expect(await storage.deviceProfiles.delete(tenantId, next.id)).toBe('default');
      // Creating with isDefault moves it too.
      const third = await storage.deviceProfiles.create(tenantId, { name: 'Third', isDefault: true });
      expect(third.isDefault).toBe(true);
      expect(await storage.deviceProfiles.delete(tenantId, next.id)).toBe('in-use');
      await storage.devices.delete(tenantId, device.id);
      expect(await storage.deviceProfiles.delete(tenantId, next.id)).toBe('deleted');
      const defaults = (await storage.deviceProfiles.page(tenantId, { pageSize: 10, page: 0 })).data.filter((p) => p.isDefault);
      expect(defaults.map((p) => p.id)).toEqual([third.id]);
    });

    it('gives a device the profile it names, its type\'s profile (created when missing) or the default', async () => {
      const storage = get();
      const tenantId = await tenant();
      const other = await tenant('Other');
      const def = await storage.deviceProfiles.ensureDefault(tenantId);
      const plain = (await storage.devices.create({ tenantId, name: 'plain' })).device;
      expect(plain).toMatchObject({ deviceProfileId: def.id, type: 'default' });
      // A type names a profile: created once, shared by the next device of that type.
      const a = (await storage.devices.create({ tenantId, name: 'a', type: 'thermostat' })).device;
      const b = (await storage.devices.create({ tenantId, name: 'b', type: 'thermostat' })).device;
      const thermo = await storage.deviceProfiles.findByName(tenantId, 'thermostat');
      expect(thermo).toMatchObject({ isDefault: false, transportType: 'DEFAULT' });
      expect(a).toMatchObject({ type: 'thermostat', deviceProfileId: thermo!.id });
      expect(b.deviceProfileId).toBe(thermo!.id);
      // A named profile wins over the type; the type becomes the profile's name.
      const lamps = await storage.deviceProfiles.create(tenantId, { name: 'Lamps' });
      const c = (await storage.devices.create({ tenantId, name: 'c', type: 'ignored', deviceProfileId: lamps.id })).device;
      expect(c).toMatchObject({ type: 'Lamps', deviceProfileId: lamps.id });
      expect(await storage.deviceProfiles.findByName(tenantId, 'ignored')).toBeNull();
      // Another tenant's profile, or no profile at all, is not found; nothing is created.
      const foreign = await storage.deviceProfiles.ensureDefault(other);
      await expect(storage.devices.create({ tenantId, name: 'd', deviceProfileId: foreign.id })).rejects.toMatchObject({ code: 'NOT_FOUND' });
      await expect(storage.devices.create({ tenantId, name: 'd', deviceProfileId: newId() })).rejects.toMatchObject({ code: 'NOT_FOUND' });
      await expect(storage.devices.create({ tenantId, name: 'd', deviceProfileId: 'garbage' })).rejects.toMatchObject({ code: 'NOT_FOUND' });
      expect(await storage.devices.findByName(tenantId, 'd')).toBeNull();
      // A failed device create leaves no profile behind for its type.
      await expect(storage.devices.create({ tenantId, name: 'a', type: 'Fresh type' })).rejects.toMatchObject({ code: 'CONFLICT' });
      expect(await storage.deviceProfiles.findByName(tenantId, 'Fresh type')).toBeNull();

      // Update: by profile id, by type, refused for another tenant's profile.
      expect(await storage.devices.update(tenantId, a.id, { deviceProfileId: lamps.id })).toMatchObject({ type: 'Lamps', deviceProfileId: lamps.id });
      const byType = await storage.devices.update(tenantId, a.id, { type: 'meter' });
      const meter = await storage.deviceProfiles.findByName(tenantId, 'meter');
      expect(byType).toMatchObject({ type: 'meter', deviceProfileId: meter!.id });
      await expect(storage.devices.update(tenantId, a.id, { deviceProfileId: foreign.id })).rejects.toMatchObject({ code: 'NOT_FOUND' });
      expect((await storage.devices.get(tenantId, a.id))?.deviceProfileId).toBe(meter!.id);
      expect(await storage.devices.update(tenantId, newId(), { type: 'ghost' })).toBeNull();
      expect(await storage.deviceProfiles.findByName(tenantId, 'ghost')).toBeNull();

      // Renaming a profile renames its devices' type.
      await storage.deviceProfiles.update(tenantId, thermo!.id, { name: 'Thermostat v2' });
      expect((await storage.devices.get(tenantId, b.id))?.type).toBe('Thermostat v2');
      expect((await storage.devices.get(tenantId, plain.id))?.type).toBe('default');
    });

    it('devices of a new type created concurrently share one profile of that name', async () => {
      const storage = get();
      const tenantId = await tenant();
      const made = await Promise.all(Array.from({ length: 8 }, (_, i) => storage.devices.create({ tenantId, name: `race-${i}`, type: 'racer' })));
      const ids = new Set(made.map((m) => m.device.deviceProfileId));
      expect(ids.size).toBe(1);
      const page = await storage.deviceProfiles.page(tenantId, { pageSize: 10, page: 0, textSearch: 'racer' });
      expect(page.data.map((p) => p.id)).toEqual([...ids]);
    });

    it('takes only a rule chain of the same tenant, and keeps a chain a profile names from being deleted', async () => {
      const storage = get();
      const tenantId = await tenant();
      const other = await tenant('Other');
      const mine = await storage.ruleChains.save({ id: newId(), tenantId, name: 'Mine', root: false, debugMode: false, metadata: { nodes: [] } });
      const theirs = await storage.ruleChains.save({ id: newId(), tenantId: other, name: 'Theirs', root: false, debugMode: false, metadata: { nodes: [] } });
      await expect(storage.deviceProfiles.create(tenantId, { name: 'Foreign chain', defaultRuleChainId: theirs.id })).rejects.toMatchObject({ code: 'NOT_FOUND' });
      await expect(storage.deviceProfiles.create(tenantId, { name: 'Bad chain', defaultRuleChainId: 'nope' })).rejects.toMatchObject({ code: 'BAD_REQUEST' });
      const p = await storage.deviceProfiles.create(tenantId, { name: 'Routed', defaultRuleChainId: mine.id });
      expect(p.defaultRuleChainId).toBe(mine.id);
      await expect(storage.deviceProfiles.update(tenantId, p.id, { name: 'Routed', defaultRuleChainId: theirs.id })).rejects.toMatchObject({ code: 'NOT_FOUND' });
      await expect(storage.ruleChains.delete(tenantId, mine.id)).rejects.toMatchObject({ code: 'BAD_REQUEST' });
      expect(await storage.ruleChains.get(tenantId, mine.id)).not.toBeNull();
      await storage.deviceProfiles.update(tenantId, p.id, { name: 'Routed', defaultRuleChainId: null });
      expect(await storage.ruleChains.delete(tenantId, mine.id)).toBe(true);
    });

    it('filters device lists by type, profile, customer and active state, and lists device infos', async () => {
      const storage = get();
      const tenantId = await tenant();
      const other = await tenant('Other');
      const customer = await storage.customers.create(tenantId, { title: 'Buyer' });
      const d1 = (await storage.devices.create({ tenantId, name: 'f-1' })).device;
      await storage.devices.assignToCustomer(tenantId, d1.id, customer.id);
      const d2 = (await storage.devices.create({ tenantId, name: 'f-2', type: 'meters' })).device;
      const d3 = (await storage.devices.create({ tenantId, name: 'f-3', type: 'meters' })).device;
      await storage.attributes.save([
        { entityId: d3.id, scope: 'SERVER_SCOPE', key: 'active', value: true, lastUpdateTs: 1 },
        { entityId: d2.id, scope: 'SERVER_SCOPE', key: 'active', value: false, lastUpdateTs: 1 },
      ]);
      const q = { pageSize: 10, page: 0, sortProperty: 'name', sortOrder: 'ASC' as const };
      const names = (p: { data: Array<{ name: string }> }): string[] => p.data.map((d) => d.name);
      expect(names(await storage.devices.list(tenantId, q, { type: 'meters' }))).toEqual(['f-2', 'f-3']);
      expect(names(await storage.devices.list(tenantId, q, { deviceProfileId: d2.deviceProfileId }))).toEqual(['f-2', 'f-3']);
      expect(names(await storage.devices.list(tenantId, q, { customerId: customer.id }))).toEqual(['f-1']);
      expect(names(await storage.devices.list(tenantId, q, { active: true }))).toEqual(['f-3']);
      expect(names(await storage.devices.list(tenantId, q, { active: false }))).toEqual(['f-1', 'f-2']);
      expect(names(await storage.devices.list(tenantId, { ...q, textSearch: 'F-' }, { type: 'meters', active: false }))).toEqual(['f-2']);
      expect((await storage.devices.list(tenantId, q, { deviceProfileId: 'nope' })).totalElements).toBe(0);
      expect((await storage.devices.list(other, q, { type: 'meters' })).totalElements).toBe(0);

      const infos = await storage.devices.listInfos(tenantId, { pageSize: 10, page: 0, sortProperty: 'deviceProfileName', sortOrder: 'ASC' });
      expect(infos.data.map((d) => [d.name, d.deviceProfileName]).sort()).toEqual([['f-1', 'default'], ['f-2', 'meters'], ['f-3', 'meters']]);
      expect(infos.data[0]?.deviceProfileName).toBe('default');
      const i1 = await storage.devices.getInfo(tenantId, d1.id);
      expect(i1).toMatchObject({ id: d1.id, customerId: customer.id, customerTitle: 'Buyer', customerIsPublic: false, deviceProfileName: 'default', active: false });
      expect(await storage.devices.getInfo(tenantId, d3.id)).toMatchObject({ customerId: null, customerTitle: null, deviceProfileName: 'meters', active: true });
      expect(await storage.devices.getInfo(other, d1.id)).toBeNull();
      const active = await storage.devices.listInfos(tenantId, q, { active: true, deviceProfileId: d3.deviceProfileId });
      expect(active.data.map((d) => d.id)).toEqual([d3.id]);
      const byCustomer = await storage.devices.listInfos(tenantId, { ...q, sortProperty: 'customerTitle' }, { customerId: customer.id });
      expect(byCustomer.data.map((d) => d.customerTitle)).toEqual(['Buyer']);
    });

    it('deleting a tenant deletes its profiles, and no other tenant\'s', async () => {
      const storage = get();
      const doomed = await tenant('Doomed profiles');
      const kept = await tenant('Kept profiles');
      const chain = await storage.ruleChains.save({ id: newId(), tenantId: doomed, name: 'c', root: false, debugMode: false, metadata: { nodes: [] } });
      const p = await storage.deviceProfiles.create(doomed, { name: 'Gone', defaultRuleChainId: chain.id, provisionDeviceKey: `k-${newId()}` });
      await storage.devices.create({ tenantId: doomed, name: 'x', deviceProfileId: p.id });
      const keptDefault = await storage.deviceProfiles.ensureDefault(kept);
      const result = await storage.tenants.delete(doomed);
      expect(result?.rows).toMatchObject({ device_profile: 2, device: 1, rule_chain: 1 });
      expect(await storage.deviceProfiles.get(doomed, p.id)).toBeNull();
      expect(await storage.deviceProfiles.findByProvisionKey(p.provisionDeviceKey!)).toBeNull();
      expect(await storage.deviceProfiles.get(kept, keptDefault.id)).toEqual(keptDefault);
    });
  });
}
