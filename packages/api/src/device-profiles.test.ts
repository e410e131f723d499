import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LiveChannel } from '@rivulet/broadcast';
import {
  DeviceInfoPageSchema,
  DeviceInfoSchema,
  DeviceProfileInfoPageSchema,
  DeviceProfileInfoSchema,
  DeviceProfilePageSchema,
  DeviceProfileSchema,
  DevicePageSchema,
  DeviceSchema,
} from '@rivulet/api-types';
import { newId, type DeviceProfileEvent, type Msg } from '@rivulet/core';
import { createMemoryQueue, Topics, type Queue, type Subscription } from '@rivulet/queue';
import { NULL_ENTITY_ID } from '@rivulet/storage';
import { hashPassword } from './password';
import { closeTwoTenants, startTwoTenants, type TwoTenants } from './test-storage';

/**
 * Device profiles over REST in ThingsBoard's shapes (DeviceProfileController), the Device fields
 * that come with them, and the device info lists, with two tenants and a customer user.
 */
describe('device profiles REST API', () => {
  let f: TwoTenants;
  let queue: Queue;
  let sub: Subscription;
  const seen: Msg[] = [];
  const announced: DeviceProfileEvent[] = [];
  let customerToken: string;
  let customerId: string;

  beforeAll(async () => {
    queue = createMemoryQueue();
    f = await startTwoTenants('profiles', { queue });
    sub = await queue.subscribe<Msg>({ topic: Topics.RULE_ENGINE, group: 'profiles-test', handler: async (records) => void seen.push(...records.map((r) => r.value)) });
    f.t.broadcast.subscribe(LiveChannel.DEVICE_PROFILES, (e) => void announced.push(e));
    const customer = await f.storage.customers.create(f.admin.tenantId, { title: 'Profile customer' });
    customerId = customer.id;
    await f.storage.users.create({ tenantId: f.admin.tenantId, customerId, email: 'cu@profiles.test', authority: 'CUSTOMER_USER', passwordHash: await hashPassword('pw-c') });
    customerToken = await f.t.login({ email: 'cu@profiles.test', password: 'pw-c' });
  });
  afterAll(async () => {
    await sub.stop();
    await queue.close();
    await closeTwoTenants(f);
  });

  const req = (method: string, path: string, body?: unknown, token = f.token) => f.t.request(method, path, { token, ...(body === undefined ? {} : { body }) });
  async function next(type: string, originatorId: string): Promise<Msg> {
    for (let i = 0; i < 200; i++) {
      const m = seen.find((x) => x.type === type && x.originator.id === originatorId);
      if (m) return m;
      await new Promise((r) => setTimeout(r, 10));
    }
    throw new Error(`no ${type} of ${originatorId}`);
  }

  it('every tenant has its default profile; the info of it is read by admins and customer users', async () => {
    const r = await req('GET', '/api/deviceProfileInfo/default');
    expect(r.status).toBe(200);
    const info = DeviceProfileInfoSchema.parse(r.body);
    expect(info).toEqual({ id: { entityType: 'DEVICE_PROFILE', id: info.id.id }, tenantId: { entityType: 'TENANT', id: f.admin.tenantId }, name: 'default', image: null, defaultDashboardId: null, type: 'DEFAULT', transportType: 'DEFAULT' });
    expect((await req('GET', '/api/deviceProfileInfo/default', undefined, customerToken)).body).toEqual(info);
    const full = await req('GET', `/api/deviceProfile/${info.id.id}`);
    expect(DeviceProfileSchema.parse(full.body)).toMatchObject({
      name: 'default', default: true, provisionType: 'DISABLED', defaultRuleChainId: null, provisionDeviceKey: null, firmwareId: null, softwareId: null,
      profileData: { configuration: { type: 'DEFAULT' }, transportConfiguration: { type: 'DEFAULT' }, provisionConfiguration: { type: 'DISABLED', provisionDeviceSecret: null } },
    });
    // The full profile is the tenant administrator's (ThingsBoard's TENANT_ADMIN only); another tenant sees nothing.
    expect((await req('GET', `/api/deviceProfile/${info.id.id}`, undefined, customerToken)).status).toBe(403);
    expect((await req('GET', `/api/deviceProfile/${info.id.id}`, undefined, f.otherToken)).status).toBe(404);
    expect((await req('GET', `/api/deviceProfileInfo/${info.id.id}`, undefined, f.otherToken)).status).toBe(404);
    expect((await req('GET', `/api/deviceProfileInfo/${info.id.id}`, undefined, customerToken)).status).toBe(200);
  });

  it('creates, updates, pages, makes default and deletes profiles, with events and announcements', async () => {
    const chain = await f.storage.ruleChains.save({ id: newId(), tenantId: f.admin.tenantId, name: 'Profile chain', root: false, debugMode: false, metadata: { nodes: [] } });
    const body = {
      name: 'Thermostats', description: 'heat', transportType: 'MQTT', provisionType: 'ALLOW_CREATE_NEW_DEVICES', provisionDeviceKey: `key-${newId()}`,
      defaultRuleChainId: { entityType: 'RULE_CHAIN', id: chain.id }, firmwareId: null, tenantId: { entityType: 'TENANT', id: NULL_ENTITY_ID },
      profileData: { configuration: { type: 'DEFAULT' }, transportConfiguration: { type: 'MQTT' }, provisionConfiguration: { type: 'ALLOW_CREATE_NEW_DEVICES', provisionDeviceSecret: 's3cret' }, alarms: [{ id: 'a1', alarmType: 'High temperature', createRules: {} }] },
    };
    const created = await req('POST', '/api/deviceProfile', body);
    expect(created.status).toBe(200);
    const p = DeviceProfileSchema.parse(created.body);
    expect(p).toMatchObject({ name: 'Thermostats', tenantId: { entityType: 'TENANT', id: f.admin.tenantId }, transportType: 'MQTT', default: false, defaultRuleChainId: { entityType: 'RULE_CHAIN', id: chain.id } });
    expect(p.profileData).toEqual(body.profileData);
    expect((await next('ENTITY_CREATED', p.id.id)).metadata).toMatchObject({ entityType: 'DEVICE_PROFILE', entityName: 'Thermostats' });
    expect(announced).toContainEqual({ tenantId: f.admin.tenantId, profileId: p.id.id, kind: 'saved' });

    // Taken name and provision key: ThingsBoard's 400 and message.
    const dup = await req('POST', '/api/deviceProfile', { name: 'Thermostats' });
    expect(dup.status).toBe(400);
    expect(dup.body.message).toBe('Device profile with such name already exists!');
    expect((await req('POST', '/api/deviceProfile', { name: 'Other key', provisionDeviceKey: body.provisionDeviceKey }, f.otherToken)).body.message).toBe('Device profile with such provision device key already exists!');

    // Update: every field replaced.
    const updated = await req('POST', '/api/deviceProfile', { ...created.body, name: 'Thermostats 2', defaultRuleChainId: null });
    expect(updated.status).toBe(200);
    expect(updated.body).toMatchObject({ id: p.id, name: 'Thermostats 2', defaultRuleChainId: null, createdTime: p.createdTime });
    expect((await next('ENTITY_UPDATED', p.id.id)).data).toMatchObject({ name: 'Thermostats 2' });

    const page = DeviceProfilePageSchema.parse((await req('GET', '/api/deviceProfiles?pageSize=10&page=0&sortProperty=createdTime&sortOrder=ASC')).body);
    expect(page.data.map((x) => x.name)).toEqual(['default', 'Thermostats 2']);
    const mqttOnly = DeviceProfileInfoPageSchema.parse((await req('GET', '/api/deviceProfileInfos?pageSize=10&page=0&transportType=MQTT', undefined, customerToken)).body);
    expect(mqttOnly.data.map((x) => x.id.id)).toEqual([p.id.id]);
    expect((await req('GET', '/api/deviceProfileInfos?pageSize=10&page=0&transportType=BLE')).status).toBe(400);
    expect((await req('GET', '/api/deviceProfiles?pageSize=10&page=0', undefined, customerToken)).status).toBe(403);
    expect(DeviceProfilePageSchema.parse((await req('GET', '/api/deviceProfiles?pageSize=10&page=0', undefined, f.otherToken)).body).data.map((x) => x.name)).toEqual(['default']);

    // Default: moves; the default is never deleted.
    const previous = (await req('GET', '/api/deviceProfileInfo/default')).body.id.id as string;
    const made = await req('POST', `/api/deviceProfile/${p.id.id}/default`);
    expect(made.body).toMatchObject({ id: p.id, default: true });
    expect((await req('GET', '/api/deviceProfileInfo/default')).body.id.id).toBe(p.id.id);
    const refused = await req('DELETE', `/api/deviceProfile/${p.id.id}`);
    expect(refused.status).toBe(400);
    expect(refused.body.message).toBe('Deletion of Default Device Profile is prohibited!');
    expect((await req('POST', `/api/deviceProfile/${previous}/default`)).status).toBe(200);
    expect((await req('POST', `/api/deviceProfile/${p.id.id}/default`, undefined, f.otherToken)).status).toBe(404);

    // In use: refused; unused: deleted (ENTITY_DELETED, announced).
    const dev = await req('POST', '/api/device', { name: 'uses-profile', deviceProfileId: p.id });
    expect(dev.status).toBe(200);
    const inUse = await req('DELETE', `/api/deviceProfile/${p.id.id}`);
    expect(inUse.status).toBe(400);
    expect(inUse.body.message).toBe('The device profile referenced by the devices cannot be deleted!');
    expect((await req('DELETE', `/api/device/${dev.body.id.id}`)).status).toBe(200);
    expect((await req('DELETE', `/api/deviceProfile/${p.id.id}`, undefined, f.otherToken)).status).toBe(404);
    expect((await req('DELETE', `/api/deviceProfile/${p.id.id}`)).status).toBe(200);
    expect((await next('ENTITY_DELETED', p.id.id)).metadata).toMatchObject({ entityName: 'Thermostats 2' });
    expect(announced).toContainEqual({ tenantId: f.admin.tenantId, profileId: p.id.id, kind: 'deleted' });
    expect((await req('GET', `/api/deviceProfile/${p.id.id}`)).status).toBe(404);
  });

  it('refuses a rule chain or dashboard of another tenant, bad profileData, and writes by customer users', async () => {
    const theirs = await f.storage.ruleChains.save({ id: newId(), tenantId: f.other.tenantId, name: 'Theirs', root: false, debugMode: false, metadata: { nodes: [] } });
    const foreign = await req('POST', '/api/deviceProfile', { name: 'Foreign chain', defaultRuleChainId: { entityType: 'RULE_CHAIN', id: theirs.id } });
    expect(foreign.status).toBe(404);
    const dash = await f.storage.dashboards.save({ tenantId: f.other.tenantId, title: 'Theirs', configuration: {} });
    expect((await req('POST', '/api/deviceProfile', { name: 'Foreign dash', defaultDashboardId: { entityType: 'DASHBOARD', id: dash.id } })).status).toBe(404);
    expect((await req('POST', '/api/deviceProfile', { name: 'Bad alarms', profileData: { alarms: 'many' } })).status).toBe(400);
    expect((await req('POST', '/api/deviceProfile', { name: 'Bad transport', transportType: 'BLE' })).status).toBe(400);
    expect((await req('POST', '/api/deviceProfile', { name: '' })).status).toBe(400);
    let deep: unknown = 1;
    for (let i = 0; i < 40; i++) deep = { d: deep };
    const tooDeep = await req('POST', '/api/deviceProfile', { name: 'Deep', profileData: { configuration: deep } });
    expect(tooDeep.status).toBe(400);
    expect(tooDeep.body.message).toContain('nests deeper');
    const big = await req('POST', '/api/deviceProfile', { name: 'Big', profileData: { alarms: Array.from({ length: 3000 }, (_, i) => ({ id: `a${i}`, alarmType: 'x'.repeat(100) })) } });
    expect(big.status).toBe(400);
    expect(big.body.message).toContain('larger than');
    expect((await req('POST', '/api/deviceProfile', { name: 'By customer' }, customerToken)).status).toBe(403);
    expect(DeviceProfilePageSchema.parse((await req('GET', '/api/deviceProfiles?pageSize=100&page=0')).body).data.map((x) => x.name)).not.toContain('Foreign chain');
  });

  it('devices carry ThingsBoard\'s Device fields and get their profile by id, by type or by default', async () => {
    const def = (await req('GET', '/api/deviceProfileInfo/default')).body.id.id as string;
    const plain = DeviceSchema.parse((await req('POST', '/api/device', { name: 'plain' })).body);
    expect(plain).toMatchObject({
      type: 'default', deviceProfileId: { entityType: 'DEVICE_PROFILE', id: def }, customerId: { entityType: 'CUSTOMER', id: NULL_ENTITY_ID },
      deviceData: { configuration: { type: 'DEFAULT' }, transportConfiguration: { type: 'DEFAULT' } }, firmwareId: null, softwareId: null, externalId: null,
    });
    const typed = DeviceSchema.parse((await req('POST', '/api/device', { name: 'typed', type: 'meter' })).body);
    const meter = (await req('GET', '/api/deviceProfiles?pageSize=10&page=0&textSearch=meter')).body.data[0];
    expect(meter).toMatchObject({ name: 'meter', default: false });
    expect(typed.deviceProfileId.id).toBe(meter.id.id);
    const lamps = (await req('POST', '/api/deviceProfile', { name: 'Lamps' })).body;
    const byId = DeviceSchema.parse((await req('POST', '/api/device', { name: 'lamp', deviceProfileId: lamps.id, type: 'ignored' })).body);
    expect(byId).toMatchObject({ type: 'Lamps', deviceProfileId: lamps.id });
    const otherDefault = (await req('GET', '/api/deviceProfileInfo/default', undefined, f.otherToken)).body.id.id as string;
    expect((await req('POST', '/api/device', { name: 'stolen', deviceProfileId: { entityType: 'DEVICE_PROFILE', id: otherDefault } })).status).toBe(404);
    expect((await req('GET', '/api/tenant/devices?deviceName=stolen')).status).toBe(404);

    // Update: by profile id, by type, cleared type -> default; left out keeps it.
    const moved = await req('POST', '/api/device', { id: typed.id, name: 'typed', deviceProfileId: lamps.id });
    expect(moved.body).toMatchObject({ type: 'Lamps', deviceProfileId: lamps.id });
    expect((await req('POST', '/api/device', { id: typed.id, name: 'typed 2' })).body).toMatchObject({ name: 'typed 2', type: 'Lamps' });
    expect((await req('POST', '/api/device', { id: typed.id, name: 'typed 2', type: 'meter' })).body.deviceProfileId.id).toBe(meter.id.id);
    expect((await req('POST', '/api/device', { id: typed.id, name: 'typed 2', type: '' })).body).toMatchObject({ type: 'default', deviceProfileId: { id: def } });
    expect((await req('POST', '/api/device', { id: typed.id, name: 'typed 2', deviceProfileId: { entityType: 'DEVICE_PROFILE', id: otherDefault } })).status).toBe(404);

    // /api/tenant/devices filters by type in storage (paging stays right).
    const lampsPage = DevicePageSchema.parse((await req('GET', '/api/tenant/devices?pageSize=1&page=0&type=Lamps')).body);
    expect(lampsPage).toMatchObject({ totalElements: 1, hasNext: false });
    expect(lampsPage.data[0]?.name).toBe('lamp');
  });

  it('lists device infos with customer title, profile name and active state, filtered as ThingsBoard', async () => {
    const a = (await req('POST', '/api/device', { name: 'info-a', type: 'info-type' })).body;
    const b = (await req('POST', '/api/device', { name: 'info-b', type: 'info-type' })).body;
    expect((await req('POST', `/api/customer/${customerId}/device/${a.id.id}`)).status).toBe(200);
    await f.storage.attributes.save([{ entityId: b.id.id, scope: 'SERVER_SCOPE', key: 'active', value: true, lastUpdateTs: Date.now() }]);

    const info = DeviceInfoSchema.parse((await req('GET', `/api/device/info/${a.id.id}`)).body);
    expect(info).toMatchObject({ name: 'info-a', customerId: { entityType: 'CUSTOMER', id: customerId }, customerTitle: 'Profile customer', customerIsPublic: false, deviceProfileName: 'info-type', active: false });
    expect((await req('GET', `/api/device/info/${a.id.id}`, undefined, customerToken)).status).toBe(200);
    expect((await req('GET', `/api/device/info/${b.id.id}`, undefined, customerToken)).status).toBe(404);
    expect((await req('GET', `/api/device/info/${a.id.id}`, undefined, f.otherToken)).status).toBe(404);

    const q = 'pageSize=10&page=0&sortProperty=name&sortOrder=ASC';
    const names = (r: { body: unknown }): string[] => DeviceInfoPageSchema.parse(r.body).data.map((d) => d.name);
    expect(names(await req('GET', `/api/tenant/deviceInfos?${q}&type=info-type`))).toEqual(['info-a', 'info-b']);
    expect(names(await req('GET', `/api/tenant/deviceInfos?${q}&deviceProfileId=${a.deviceProfileId.id}&active=true`))).toEqual(['info-b']);
    expect(names(await req('GET', `/api/tenant/deviceInfos?${q}&type=info-type&active=false`))).toEqual(['info-a']);
    expect(names(await req('GET', `/api/tenant/deviceInfos?${q}&textSearch=INFO-B`))).toEqual(['info-b']);
    expect((await req('GET', `/api/tenant/deviceInfos?${q}&deviceProfileId=nope`)).status).toBe(400);
    expect((await req('GET', `/api/tenant/deviceInfos?${q}&active=maybe`)).status).toBe(400);
    expect((await req('GET', `/api/tenant/deviceInfos?${q}`, undefined, customerToken)).status).toBe(403);
    expect(names(await req('GET', `/api/customer/${customerId}/deviceInfos?${q}`, undefined, customerToken))).toEqual(['info-a']);
    expect(names(await req('GET', `/api/customer/${customerId}/deviceInfos?${q}&active=true`))).toEqual([]);
    expect((await req('GET', `/api/customer/${customerId}/deviceInfos?${q}`, undefined, f.otherToken)).status).toBe(404);
    const sorted = DeviceInfoPageSchema.parse((await req('GET', '/api/tenant/deviceInfos?pageSize=100&page=0&sortProperty=deviceProfileName&sortOrder=ASC')).body);
    expect(sorted.data.length).toBeGreaterThan(2);
  });
});
