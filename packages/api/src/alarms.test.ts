import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AlarmPageSchema, AlarmSchema } from '@rivulet/api-types';
import { newId } from '@rivulet/core';
import type { Storage } from '@rivulet/storage';
import { startTwoTenants, type TestApi, type TestUser } from './test-storage';

describe('alarm REST API', () => {
  let storage: Storage;
  let t: TestApi;
  let admin: TestUser;
  let other: TestUser;
  let token: string;
  let otherToken: string;
  let deviceId: string;
  let device2Id: string;

  beforeAll(async () => {
    ({ storage, t, admin, other, token, otherToken } = await startTwoTenants('alarm'));
    deviceId = (await storage.devices.create({ tenantId: admin.tenantId, name: 'Boiler', label: 'Basement' })).device.id;
    device2Id = (await storage.devices.create({ tenantId: admin.tenantId, name: 'Pump' })).device.id;
  });
  afterAll(async () => {
    await t.close();
    await storage.close();
  });

  const req = (method: string, path: string, body?: unknown, as = token) => t.request(method, path, { token: as, ...(body === undefined ? {} : { body }) });
  const create = (body: Record<string, unknown>, as = token) => req('POST', '/api/alarm', body, as);

  it('creates an alarm in ThingsBoard’s shape, then updates the active one of the same type', async () => {
    const r = await create({ type: 'High Temperature', originator: { entityType: 'DEVICE', id: deviceId }, severity: 'MAJOR', details: { t: 91 } });
    expect(r.status).toBe(200);
    const a = AlarmSchema.parse(r.body);
    expect(a).toMatchObject({
      id: { entityType: 'ALARM' },
      tenantId: { entityType: 'TENANT', id: admin.tenantId },
      type: 'High Temperature',
      name: 'High Temperature',
      originator: { entityType: 'DEVICE', id: deviceId },
      originatorName: 'Boiler',
      originatorLabel: 'Basement',
      severity: 'MAJOR',
      status: 'ACTIVE_UNACK',
      acknowledged: false,
      cleared: false,
      ackTs: 0,
      clearTs: 0,
      details: { t: 91 },
    });
    expect(a.startTs).toBe(a.endTs);
    const again = await create({ type: 'High Temperature', originator: { entityType: 'DEVICE', id: deviceId }, severity: 'CRITICAL', details: { t: 99 } });
    expect(again.body).toMatchObject({ id: a.id, severity: 'CRITICAL', details: { t: 99 }, startTs: a.startTs });
    // update by id (ThingsBoard's save of an alarm read earlier)
    const byId = await create({ ...again.body, severity: 'MINOR' });
    expect(byId.body).toMatchObject({ id: a.id, severity: 'MINOR', details: { t: 99 } });
    expect((await req('GET', `/api/alarm/${a.id.id}`)).body).toEqual(byId.body);
    expect((await req('GET', `/api/alarm/info/${a.id.id}`)).body).toEqual(byId.body);
  });

  it('acknowledges and clears; a cleared alarm makes room for a new one', async () => {
    const a = (await create({ type: 'Door open', originator: { entityType: 'DEVICE', id: deviceId }, severity: 'WARNING' })).body;
    const acked = await req('POST', `/api/alarm/${a.id.id}/ack`);
    expect(acked.body).toMatchObject({ status: 'ACTIVE_ACK', acknowledged: true });
    expect(acked.body.ackTs).toBeGreaterThan(0);
    const cleared = await req('POST', `/api/alarm/${a.id.id}/clear`);
    expect(cleared.body).toMatchObject({ status: 'CLEARED_ACK', cleared: true, ackTs: acked.body.ackTs });
    expect((await create({ ...cleared.body, severity: 'MAJOR' })).status).toBe(400);
    const next = (await create({ type: 'Door open', originator: { entityType: 'DEVICE', id: deviceId }, severity: 'WARNING' })).body;
    expect(next.id.id).not.toBe(a.id.id);
    expect(next.status).toBe('ACTIVE_UNACK');
  });

  it('lists an entity’s alarms and all of the tenant’s, with ThingsBoard’s filters', async () => {
    const crit = (await create({ type: 'Overpressure', originator: { entityType: 'DEVICE', id: device2Id }, severity: 'CRITICAL' })).body;
    const minor = (await create({ type: 'Filter dirty', originator: { entityType: 'DEVICE', id: device2Id }, severity: 'MINOR' })).body;
    await req('POST', `/api/alarm/${minor.id.id}/clear`);

    const byEntity = AlarmPageSchema.parse((await req('GET', `/api/alarm/DEVICE/${device2Id}?pageSize=10&page=0`)).body);
    expect(byEntity.data.map((x) => x.type)).toEqual(['Filter dirty', 'Overpressure']);
    expect(byEntity.data[0]?.originatorName).toBe('Pump');
    const active = (await req('GET', `/api/alarm/DEVICE/${device2Id}?pageSize=10&page=0&searchStatus=ACTIVE`)).body;
    expect(active.data.map((x: { id: { id: string } }) => x.id.id)).toEqual([crit.id.id]);
    const clearedUnack = (await req('GET', `/api/alarm/DEVICE/${device2Id}?pageSize=10&page=0&status=CLEARED_UNACK`)).body;
    expect(clearedUnack.data.map((x: { type: string }) => x.type)).toEqual(['Filter dirty']);
    const both = await req('GET', `/api/alarm/DEVICE/${device2Id}?searchStatus=ACTIVE&status=ACTIVE_ACK`);
    expect(both.status).toBe(400);
    expect(both.body.message).toMatch(/can't be specified at the same time/);

    const all = AlarmPageSchema.parse((await req('GET', '/api/alarms?pageSize=100&page=0')).body);
    expect(all.totalElements).toBeGreaterThanOrEqual(5);
    expect(new Set(all.data.map((x) => x.originator.id))).toEqual(new Set([deviceId, device2Id]));
    const critical = (await req('GET', '/api/alarms?pageSize=100&severity=CRITICAL')).body;
    expect(critical.data.map((x: { type: string }) => x.type)).toEqual(['Overpressure']);
    const text = (await req('GET', '/api/alarms?pageSize=100&textSearch=pressure&searchStatus=ANY')).body;
    expect(text.data.map((x: { type: string }) => x.type)).toEqual(['Overpressure']);
    const paged = (await req('GET', '/api/alarms?pageSize=2&page=0&sortProperty=type&sortOrder=ASC')).body;
    expect(paged).toMatchObject({ hasNext: true });
    expect(paged.data).toHaveLength(2);
    // another tenant sees none of them
    expect((await req('GET', '/api/alarms?pageSize=10', undefined, otherToken)).body.totalElements).toBe(0);
    expect((await req('GET', `/api/alarm/DEVICE/${device2Id}`, undefined, otherToken)).status).toBe(404);
  });

  it('accepts the tenant itself as originator', async () => {
    const r = await create({ type: 'Quota', originator: { entityType: 'TENANT', id: admin.tenantId }, severity: 'INDETERMINATE' });
    expect(r.body).toMatchObject({ originator: { entityType: 'TENANT', id: admin.tenantId }, originatorName: `Tenant of ${admin.email}` });
    expect((await req('GET', `/api/alarm/TENANT/${admin.tenantId}`)).body.totalElements).toBe(1);
  });

  it('deletes an alarm', async () => {
    const a = (await create({ type: 'Temporary', originator: { entityType: 'DEVICE', id: deviceId }, severity: 'MINOR' })).body;
    expect((await req('DELETE', `/api/alarm/${a.id.id}`, undefined, otherToken)).status).toBe(404);
    const del = await req('DELETE', `/api/alarm/${a.id.id}`);
    expect(del).toMatchObject({ status: 200, body: true });
    expect((await req('GET', `/api/alarm/${a.id.id}`)).status).toBe(404);
  });

  it('refuses bad input with 400 and unknown alarms or originators with 404', async () => {
    const originator = { entityType: 'DEVICE', id: deviceId };
    expect((await create({ originator, severity: 'MAJOR' })).body.message).toMatch(/^type: /);
    expect((await create({ type: 'x', originator, severity: 'APOCALYPTIC' })).body.message).toMatch(/^severity: /);
    expect((await create({ type: 'x', originator: { entityType: 'ASSET', id: deviceId }, severity: 'MAJOR' })).status).toBe(400);
    expect((await create({ type: 'x', originator: { entityType: 'DEVICE', id: newId() }, severity: 'MAJOR' })).status).toBe(404);
    expect((await create({ type: 'x', originator, severity: 'MAJOR' }, otherToken)).status).toBe(404);
    expect((await req('GET', `/api/alarm/${newId()}`)).status).toBe(404);
    expect((await req('GET', '/api/alarm/not-a-uuid')).status).toBe(400);
    expect((await req('POST', `/api/alarm/${newId()}/ack`)).status).toBe(404);
    expect((await req('GET', `/api/alarm/ASSET/${deviceId}`)).status).toBe(400);
    expect((await req('GET', '/api/alarms?severity=HUGE')).status).toBe(400);
    expect((await t.request('GET', '/api/alarms')).status).toBe(401);
  });
});
