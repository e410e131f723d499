import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LiveChannel } from '@rivulet/broadcast';
import { DeviceCredentialsSchema, DevicePageSchema, DeviceSchema } from '@rivulet/api-types';
import { type DeviceEvent } from '@rivulet/core';
import type { Storage } from '@rivulet/storage';
import { startTwoTenants, type TestApi, type TestUser } from './test-storage';

describe('device REST API', () => {
  let storage: Storage;
  let t: TestApi;
  let admin: TestUser;
  let other: TestUser;
  let token: string;
  let otherToken: string;
  const events: DeviceEvent[] = [];

  beforeAll(async () => {
    ({ storage, t, admin, other, token, otherToken } = await startTwoTenants('dev'));
    t.broadcast.subscribe(LiveChannel.DEVICES, (e) => events.push(e as DeviceEvent));
  });
  afterAll(async () => {
    await t.close();
    await storage.close();
  });

  async function create(body: Record<string, unknown>, query = ''): Promise<{ status: number; body: any }> {
    return t.request('POST', `/api/device${query}`, { token, body });
  }

  it('creates a device in ThingsBoard shape, type defaulting to "default", and reads it back', async () => {
    const r = await create({ name: 'Thermo 1', label: 'Kitchen', additionalInfo: { floor: 2 } });
    expect(r.status).toBe(200);
    const d = DeviceSchema.parse(r.body);
    expect(d).toMatchObject({
      id: { entityType: 'DEVICE' },
      tenantId: { entityType: 'TENANT', id: admin.tenantId },
      name: 'Thermo 1',
      type: 'default',
      label: 'Kitchen',
      additionalInfo: { floor: 2 },
    });
    const get = await t.request('GET', `/api/device/${d.id.id}`, { token });
    expect(get).toMatchObject({ status: 200, body: d });
  });

  it('refuses a duplicate name with ThingsBoard\'s 400 message', async () => {
    await create({ name: 'Dup' });
    const r = await create({ name: 'Dup' });
    expect(r.status).toBe(400);
    expect(r.body).toMatchObject({ message: 'Device with such name already exists!', errorCode: 31 });
  });

  it('refuses a body without a name, naming the field', async () => {
    const r = await create({ type: 'x' });
    expect(r.status).toBe(400);
    expect(r.body.message).toMatch(/^name: /);
  });

  it('updates when the body has an id (ThingsBoard save), keeping fields left out', async () => {
    const created = (await create({ name: 'To rename', type: 'sensor', label: 'L' })).body;
    const r = await create({ ...created, name: 'Renamed', label: undefined });
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ id: created.id, name: 'Renamed', type: 'sensor', label: 'L', createdTime: created.createdTime });
    expect(events).toContainEqual({ tenantId: admin.tenantId, deviceId: created.id.id, kind: 'updated' });
    const cleared = await create({ id: created.id, name: 'Renamed', label: null });
    expect(cleared.body.label).toBeNull();
    // Renaming onto another device's name is the duplicate error.
    await create({ name: 'Taken' });
    expect((await create({ id: created.id, name: 'Taken' })).body.message).toBe('Device with such name already exists!');
    // Updating a device that does not exist (or is another tenant's) is 404.
    expect((await create({ id: { entityType: 'DEVICE', id: '00000000-0000-4000-8000-000000000000' }, name: 'Ghost' })).status).toBe(404);
  });

  it('sets the access token from ?accessToken= and serves the credentials', async () => {
    const d = (await create({ name: 'With token' }, '?accessToken=my-token-1')).body;
    const r = await t.request('GET', `/api/device/${d.id.id}/credentials`, { token });
    expect(r.status).toBe(200);
    expect(DeviceCredentialsSchema.parse(r.body)).toMatchObject({
      deviceId: { entityType: 'DEVICE', id: d.id.id },
      credentialsType: 'ACCESS_TOKEN',
      credentialsId: 'my-token-1',
      credentialsValue: null,
    });
    const taken = await create({ name: 'Same token' }, '?accessToken=my-token-1');
    expect(taken.status).toBe(400);
    expect(taken.body.message).toBe('Specified credentials are already registered!');
    expect((await create({ name: 'Bad token' }, '?accessToken=has%20space')).status).toBe(400);
  });

  it('changes credentials, publishes the change, and refuses a token already in use', async () => {
    const a = (await create({ name: 'Cred A' }, '?accessToken=cred-a')).body;
    await create({ name: 'Cred B' }, '?accessToken=cred-b');
    const creds = (await t.request('GET', `/api/device/${a.id.id}/credentials`, { token })).body;
    const r = await t.request('POST', '/api/device/credentials', { token, body: { ...creds, credentialsId: 'cred-a2' } });
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ credentialsId: 'cred-a2', deviceId: { id: a.id.id } });
    expect(events).toContainEqual({ tenantId: admin.tenantId, deviceId: a.id.id, kind: 'credentials' });
    expect((await storage.devices.findByCredentials('ACCESS_TOKEN', 'cred-a2'))?.id).toBe(a.id.id);
    expect(await storage.devices.findByCredentials('ACCESS_TOKEN', 'cred-a')).toBeNull();

    const conflict = await t.request('POST', '/api/device/credentials', { token, body: { ...creds, credentialsId: 'cred-b' } });
    expect(conflict.status).toBe(400);
    expect(conflict.body.message).toBe('Specified credentials are already registered!');

    const basic = await t.request('POST', '/api/device/credentials', { token, body: { ...creds, credentialsType: 'MQTT_BASIC' } });
    expect(basic.status).toBe(400);
    // Another tenant cannot change them.
    const foreign = await t.request('POST', '/api/device/credentials', { token: otherToken, body: { ...creds, credentialsId: 'stolen' } });
    expect(foreign.status).toBe(404);
  });

  it('pages, searches, sorts and filters by type', async () => {
    for (let i = 0; i < 12; i++) await create({ name: `page-${String(i).padStart(2, '0')}`, type: i % 3 === 0 ? 'gauge' : 'meter' });
    const first = await t.request('GET', '/api/tenant/devices?pageSize=5&page=0&textSearch=page-&sortProperty=name&sortOrder=ASC', { token });
    expect(first.status).toBe(200);
    const p1 = DevicePageSchema.parse(first.body);
    expect(p1).toMatchObject({ totalElements: 12, totalPages: 3, hasNext: true });
    expect(p1.data.map((d) => d.name)).toEqual(['page-00', 'page-01', 'page-02', 'page-03', 'page-04']);
    const last = (await t.request('GET', '/api/tenant/devices?pageSize=5&page=2&textSearch=PAGE-&sortProperty=name&sortOrder=desc', { token })).body;
    expect(last.hasNext).toBe(false);
    expect(last.data.map((d: any) => d.name)).toEqual(['page-01', 'page-00']);

    const gauges = (await t.request('GET', '/api/tenant/devices?pageSize=3&page=0&textSearch=page-&type=gauge&sortProperty=name', { token })).body;
    expect(gauges).toMatchObject({ totalElements: 4, totalPages: 2, hasNext: true });
    expect(gauges.data.map((d: any) => d.name)).toEqual(['page-00', 'page-03', 'page-06']);

    // pageSize defaults to 10 and is capped at 1000.
    expect((await t.request('GET', '/api/tenant/devices?textSearch=page-', { token })).body.data).toHaveLength(10);
    expect((await t.request('GET', '/api/tenant/devices?pageSize=100000', { token })).status).toBe(200);
  });

  it('answers 400 for bad paging parameters', async () => {
    for (const q of ['pageSize=abc', 'pageSize=0', 'page=-1', 'page=1.5', 'sortOrder=UP', 'sortProperty=password']) {
      const r = await t.request('GET', `/api/tenant/devices?${q}`, { token });
      expect(r.status, q).toBe(400);
      expect(r.body.errorCode, q).toBe(31);
    }
  });

  it('finds a device by name', async () => {
    await create({ name: 'Find me' });
    const r = await t.request('GET', `/api/tenant/devices?deviceName=${encodeURIComponent('Find me')}`, { token });
    expect(r).toMatchObject({ status: 200, body: { name: 'Find me' } });
    expect((await t.request('GET', '/api/tenant/devices?deviceName=nope', { token })).status).toBe(404);
  });

  it('deletes a device and publishes the deletion', async () => {
    const d = (await create({ name: 'Doomed' })).body;
    const r = await t.request('DELETE', `/api/device/${d.id.id}`, { token });
    expect(r.status).toBe(200);
    expect(events).toContainEqual({ tenantId: admin.tenantId, deviceId: d.id.id, kind: 'deleted' });
    expect((await t.request('GET', `/api/device/${d.id.id}`, { token })).status).toBe(404);
    expect((await t.request('DELETE', `/api/device/${d.id.id}`, { token })).status).toBe(404);
  });

  it('answers 400 for an id that is not a UUID', async () => {
    const r = await t.request('GET', '/api/device/not-a-uuid', { token });
    expect(r.status).toBe(400);
    expect(r.body.message).toContain('not-a-uuid');
  });

  it('answers 400 for a malformed JSON body with the parser\'s message', async () => {
    const r = await t.request('POST', '/api/device', { token, rawBody: '{name: }' });
    expect(r.status).toBe(400);
    expect(r.body.message).toMatch(/^Invalid JSON: /);
  });

  it('keeps tenants apart: another tenant sees none of these devices', async () => {
    const mine = (await create({ name: 'Private' })).body;
    expect((await t.request('GET', `/api/device/${mine.id.id}`, { token: otherToken })).status).toBe(404);
    expect((await t.request('GET', `/api/device/${mine.id.id}/credentials`, { token: otherToken })).status).toBe(404);
    expect((await t.request('DELETE', `/api/device/${mine.id.id}`, { token: otherToken })).status).toBe(404);
    expect((await t.request('GET', '/api/tenant/devices?deviceName=Private', { token: otherToken })).status).toBe(404);
    const page = (await t.request('GET', '/api/tenant/devices?pageSize=100', { token: otherToken })).body;
    expect(page.totalElements).toBe(0);
    // The same name is free in the other tenant.
    expect((await t.request('POST', '/api/device', { token: otherToken, body: { name: 'Private' } })).status).toBe(200);
    expect((await t.request('GET', `/api/device/${mine.id.id}`, { token })).status).toBe(200);
  });
});
