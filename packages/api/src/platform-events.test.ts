import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Msg } from '@rivulet/core';
import { createMemoryQueue, Topics, type Queue, type Subscription } from '@rivulet/queue';
import { closeTwoTenants, startTwoTenants, type TwoTenants } from './test-storage';

/**
 * Platform events as ThingsBoard's EntityActionService produces them: type, originator, metadata
 * (userId, userName, userEmail, entityName, entityType, scope) and data, each in the caller's tenant.
 */
describe('platform events produced by the REST API', () => {
  let f: TwoTenants;
  let queue: Queue;
  let sub: Subscription;
  const seen: Msg[] = [];

  beforeAll(async () => {
    queue = createMemoryQueue();
    f = await startTwoTenants('events', { queue });
    sub = await queue.subscribe<Msg>({ topic: Topics.RULE_ENGINE, group: 'events-test', handler: async (records) => void seen.push(...records.map((r) => r.value)) });
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
    throw new Error(`no ${type} of ${originatorId}; seen ${seen.map((m) => m.type).join(',')}`);
  }

  it('device created, updated, deleted: ENTITY_CREATED / UPDATED / DELETED with the device and the user', async () => {
    const created = await req('POST', '/api/device', { name: 'ev-1', type: 'thermo' });
    expect(created.status).toBe(200);
    const id = created.body.id.id as string;
    const c = await next('ENTITY_CREATED', id);
    expect(c.tenantId).toBe(f.admin.tenantId);
    expect(c.originator).toEqual({ entityType: 'DEVICE', id });
    expect(c.metadata).toMatchObject({ userId: f.admin.userId, userName: f.admin.email, userEmail: f.admin.email, entityName: 'ev-1', entityType: 'DEVICE' });
    expect(c.data).toMatchObject({ id: { entityType: 'DEVICE', id }, name: 'ev-1', type: 'thermo' });

    expect((await req('POST', '/api/device', { id: { entityType: 'DEVICE', id }, name: 'ev-1b' })).status).toBe(200);
    expect((await next('ENTITY_UPDATED', id)).data).toMatchObject({ name: 'ev-1b' });
    expect((await req('DELETE', `/api/device/${id}`)).status).toBe(200);
    expect((await next('ENTITY_DELETED', id)).metadata).toMatchObject({ entityName: 'ev-1b' });
  });

  it('attributes and time series saved and deleted: ATTRIBUTES_UPDATED/DELETED (scope), TIMESERIES_UPDATED/DELETED', async () => {
    const id = (await req('POST', '/api/device', { name: 'ev-2' })).body.id.id as string;
    const base = `/api/plugins/telemetry/DEVICE/${id}`;
    expect((await req('POST', `${base}/attributes/SERVER_SCOPE`, { fw: 'v1.2', n: 3 })).status).toBe(200);
    const u = await next('ATTRIBUTES_UPDATED', id);
    expect(u.metadata).toMatchObject({ scope: 'SERVER_SCOPE', userId: f.admin.userId });
    expect(u.data).toEqual({ fw: 'v1.2', n: 3 });
    expect((await req('DELETE', `${base}/SERVER_SCOPE?keys=fw,n`)).status).toBe(200);
    const d = await next('ATTRIBUTES_DELETED', id);
    expect(d.metadata.scope).toBe('SERVER_SCOPE');
    expect(d.data).toEqual({ attributes: ['fw', 'n'] });

    expect((await req('POST', `${base}/timeseries/ANY`, { ts: 1000, values: { t: 21.5 } })).status).toBe(200);
    expect((await next('TIMESERIES_UPDATED', id)).data).toEqual({ timeseries: [{ ts: 1000, values: { t: 21.5 } }] });
    expect((await req('DELETE', `${base}/timeseries/delete?keys=t&startTs=0&endTs=2000`)).status).toBe(200);
    expect((await next('TIMESERIES_DELETED', id)).data).toEqual({ timeseries: ['t'], startTs: 0, endTs: 2000 });
  });

  it('tenant and customer server attributes saved and deleted: ATTRIBUTES_UPDATED/DELETED from the TENANT or CUSTOMER, scope SERVER_SCOPE', async () => {
    const customerId = (await req('POST', '/api/customer', { title: 'Attr Co' })).body.id.id as string;
    for (const originator of [{ entityType: 'TENANT', id: f.admin.tenantId }, { entityType: 'CUSTOMER', id: customerId }]) {
      const base = `/api/plugins/telemetry/${originator.entityType}/${originator.id}`;
      expect((await req('POST', `${base}/attributes/SERVER_SCOPE`, { maxTemp: 30, ratio: 2.5 })).status).toBe(200);
      const u = await next('ATTRIBUTES_UPDATED', originator.id);
      expect(u.tenantId).toBe(f.admin.tenantId);
      expect(u.originator).toEqual(originator);
      expect(u.metadata).toMatchObject({ scope: 'SERVER_SCOPE', userId: f.admin.userId, userName: f.admin.email });
      expect(u.data).toEqual({ maxTemp: 30, ratio: 2.5 });
      expect((await req('DELETE', `${base}/SERVER_SCOPE?keys=maxTemp`)).status).toBe(200);
      const d = await next('ATTRIBUTES_DELETED', originator.id);
      expect(d.originator).toEqual(originator);
      expect(d.metadata.scope).toBe('SERVER_SCOPE');
      expect(d.data).toEqual({ attributes: ['maxTemp'] });
    }
    // refused calls (another scope, another tenant) produce nothing
    const before = seen.length;
    expect((await req('POST', `/api/plugins/telemetry/TENANT/${f.admin.tenantId}/attributes/SHARED_SCOPE`, { x: 1 })).status).toBe(400);
    expect((await req('POST', `/api/plugins/telemetry/TENANT/${f.admin.tenantId}/attributes/SERVER_SCOPE`, { x: 1 }, f.otherToken)).status).toBe(404);
    expect((await req('DELETE', `/api/plugins/telemetry/CUSTOMER/${customerId}/SERVER_SCOPE?keys=ratio`, undefined, f.otherToken)).status).toBe(404);
    // an event that does go out after them: what came before it is all there is
    expect((await req('POST', `/api/plugins/telemetry/TENANT/${f.admin.tenantId}/attributes/SERVER_SCOPE`, { marker: 1 })).status).toBe(200);
    await expect.poll(() => seen.slice(before).some((m) => (m.data as { marker?: number }).marker === 1), { timeout: 2_000 }).toBe(true);
    expect(seen.slice(before).map((m) => [m.type, m.originator.id, m.data])).toEqual([['ATTRIBUTES_UPDATED', f.admin.tenantId, { marker: 1 }]]);
  });

  it('alarm raised, acknowledged, cleared: ENTITY_CREATED, ALARM_ACK, ALARM_CLEAR from the alarm originator, the alarm as data', async () => {
    const id = (await req('POST', '/api/device', { name: 'ev-3' })).body.id.id as string;
    const raised = await req('POST', '/api/alarm', { type: 'Overheat', originator: { entityType: 'DEVICE', id }, severity: 'MAJOR' });
    expect(raised.status).toBe(200);
    const alarmId = raised.body.id.id as string;
    const created = seen.length;
    const c = await next('ENTITY_CREATED', id).then(() => seen.find((m) => m.type === 'ENTITY_CREATED' && (m.data as { id?: { id?: string } }).id?.id === alarmId));
    expect(c?.metadata).toMatchObject({ entityName: 'Overheat', entityType: 'DEVICE' });
    expect(created).toBeGreaterThan(0);
    expect((await req('POST', `/api/alarm/${alarmId}/ack`)).status).toBe(200);
    expect((await next('ALARM_ACK', id)).data).toMatchObject({ id: { entityType: 'ALARM', id: alarmId }, status: 'ACTIVE_ACK' });
    expect((await req('POST', `/api/alarm/${alarmId}/clear`)).status).toBe(200);
    const clear = await next('ALARM_CLEAR', id);
    expect(clear.data).toMatchObject({ status: 'CLEARED_ACK', cleared: true });
    expect(clear.metadata.userId).toBe(f.admin.userId);
  });

  it('customers and dashboards: ENTITY_CREATED/DELETED; a device assigned and unassigned: ENTITY_ASSIGNED/UNASSIGNED with the customer', async () => {
    const customer = await req('POST', '/api/customer', { title: 'Acme' });
    expect(customer.status).toBe(200);
    const customerId = customer.body.id.id as string;
    expect((await next('ENTITY_CREATED', customerId)).metadata).toMatchObject({ entityType: 'CUSTOMER', entityName: 'Acme' });
    const deviceId = (await req('POST', '/api/device', { name: 'ev-5' })).body.id.id as string;
    expect((await req('POST', `/api/customer/${customerId}/device/${deviceId}`)).status).toBe(200);
    const a = await next('ENTITY_ASSIGNED', deviceId);
    expect(a.metadata).toMatchObject({ assignedCustomerId: customerId, assignedCustomerName: 'Acme', customerId, entityType: 'DEVICE' });
    expect(a.data).toMatchObject({ customerId: { entityType: 'CUSTOMER', id: customerId } });
    expect((await req('DELETE', `/api/customer/device/${deviceId}`)).status).toBe(200);
    expect((await next('ENTITY_UNASSIGNED', deviceId)).metadata).toMatchObject({ unassignedCustomerId: customerId, unassignedCustomerName: 'Acme' });
    expect((await req('DELETE', `/api/customer/${customerId}`)).status).toBe(200);
    await next('ENTITY_DELETED', customerId);

    const dash = await req('POST', '/api/dashboard', { title: 'Plant', configuration: { widgets: { w: { secret: 1 } } } });
    expect(dash.status).toBe(200);
    const dashId = dash.body.id.id as string;
    const d = await next('ENTITY_CREATED', dashId);
    expect(d.metadata).toMatchObject({ entityType: 'DASHBOARD', entityName: 'Plant' });
    expect((d.data as { configuration: unknown }).configuration).toBe('');
    expect((await req('DELETE', `/api/dashboard/${dashId}`)).status).toBe(200);
    await next('ENTITY_DELETED', dashId);
  });

  it("each event carries the caller's tenant; another tenant's device is 404 and produces nothing", async () => {
    const id = (await req('POST', '/api/device', { name: 'ev-4' })).body.id.id as string;
    const before = seen.length;
    const r = await req('POST', `/api/plugins/telemetry/DEVICE/${id}/attributes/SERVER_SCOPE`, { x: 1 }, f.otherToken);
    expect(r.status).toBe(404);
    expect((await req('DELETE', `/api/plugins/telemetry/DEVICE/${id}/SERVER_SCOPE?keys=x`, undefined, f.otherToken)).status).toBe(404);
    expect((await req('DELETE', `/api/device/${id}`, undefined, f.otherToken)).status).toBe(404);
    const own = (await req('POST', '/api/device', { name: 'ev-other' }, f.otherToken)).body.id.id as string;
    const o = await next('ENTITY_CREATED', own);
    expect(o.tenantId).toBe(f.other.tenantId);
    expect(o.metadata.userId).toBe(f.other.userId);
    const since = seen.slice(before);
    expect(since.filter((m) => m.originator.id === id)).toEqual([]);
    expect(seen.filter((m) => m.tenantId !== f.admin.tenantId && m.tenantId !== f.other.tenantId)).toEqual([]);
    expect(seen.filter((m) => m.tenantId === f.other.tenantId).map((m) => m.originator.id)).toEqual([own]);
  });
});

describe('platform events against a queue that holds producers back', () => {
  it('the REST call answers after a bounded wait; the event goes out once the queue has room', async () => {
    // A real memory queue with room for one record and a consumer that does not finish until told:
    // the second produce waits for room, as a full queue or a lagging Kafka group makes it wait.
    const queue = createMemoryQueue({ partitions: 1, capacity: 1 });
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    const seen: Msg[] = [];
    const sub = await queue.subscribe<Msg>({ topic: Topics.RULE_ENGINE, group: 'held', maxBatch: 1, handler: async (records) => { await held; seen.push(...records.map((r) => r.value)); } });
    const f = await startTwoTenants('events-held', { queue });
    try {
      const req = (body: unknown) => f.t.request('POST', '/api/device', { token: f.token, body });
      expect((await req({ name: 'held-1' })).status).toBe(200); // taken by the consumer, which holds it
      expect((await req({ name: 'held-2' })).status).toBe(200); // fills the one slot
      const t0 = Date.now();
      const third = await req({ name: 'held-3' }); // no room: its event waits
      expect(third.status).toBe(200);
      expect(Date.now() - t0).toBeGreaterThanOrEqual(1_500);
      expect(Date.now() - t0).toBeLessThan(6_000);
      release();
      const id3 = third.body.id.id as string;
      await expect.poll(() => seen.some((m) => m.type === 'ENTITY_CREATED' && m.originator.id === id3), { timeout: 10_000 }).toBe(true);
    } finally {
      release();
      await sub.stop();
      await queue.close();
      await closeTwoTenants(f);
    }
  });
});
