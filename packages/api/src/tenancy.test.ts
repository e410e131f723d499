import pg from 'pg';
import { WebSocket } from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LiveChannel } from '@rivulet/broadcast';
import { CustomerSchema, DevicePageSchema, DeviceSchema, TenantPageSchema, TenantSchema, TokenPairSchema, UserPageSchema, UserSchema } from '@rivulet/api-types';
import { type DeviceEvent } from '@rivulet/core';
import { NULL_ENTITY_ID, type Storage } from '@rivulet/storage';
import { createTestDatabase } from '@rivulet/testing';
import { bootstrapSysAdmin } from './bootstrap';
import { createTenantUser, startTestApi, type TestApi, type TestUser } from './test-storage';

/**
 * Tenancy end to end on a real PostgreSQL server: the system administrator creates a tenant and its
 * administrator, who activates the account, creates a customer, a customer user and devices, and
 * assigns one; the customer user reaches that device only; deleting the tenant removes its rows.
 */
const SYSADMIN = { email: 'sysadmin@tenancy.test', password: 'sysadmin-password-1' };

function claims(token: string): Record<string, unknown> {
  return JSON.parse(Buffer.from(token.split('.')[1] as string, 'base64url').toString('utf8')) as Record<string, unknown>;
}

/** Opens a WebSocket, authenticates and sends one TIMESERIES subscription; resolves with the first answer to it. */
async function wsSubscribe(t: TestApi, token: string, entityId: string): Promise<{ errorCode: number; data: unknown }> {
  const ws = new WebSocket(`${t.wsUrl}/api/ws`);
  try {
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });
    const answer = new Promise<{ errorCode: number; data: unknown }>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('no WebSocket answer')), 5000);
      ws.on('message', (raw) => {
        const m = JSON.parse(String(raw)) as { subscriptionId: number | null; errorCode: number; data: unknown };
        if (m.subscriptionId === 7) {
          clearTimeout(timer);
          resolve({ errorCode: m.errorCode, data: m.data });
        }
      });
    });
    ws.send(JSON.stringify({ authCmd: { cmdId: 0, token }, cmds: [{ type: 'TIMESERIES', cmdId: 7, entityType: 'DEVICE', entityId, scope: 'LATEST_TELEMETRY' }] }));
    return await answer;
  } finally {
    ws.close();
  }
}

/** A WebSocket session subscribed to one device's telemetry (cmdId 7), queueing what arrives. */
async function openLive(t: TestApi, token: string, entityId: string): Promise<{ next(): Promise<any>; silent(ms: number): Promise<void>; closed: Promise<number>; close(): void }> {
  const ws = new WebSocket(`${t.wsUrl}/api/ws`);
  const queue: unknown[] = [];
  let waiter: ((m: unknown) => void) | null = null;
  ws.on('message', (raw) => {
    const m: unknown = JSON.parse(String(raw));
    if (waiter) {
      const w = waiter;
      waiter = null;
      w(m);
    } else queue.push(m);
  });
  const closed = new Promise<number>((resolve) => ws.on('close', (code) => resolve(code)));
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
  ws.send(JSON.stringify({ authCmd: { cmdId: 0, token }, cmds: [{ type: 'TIMESERIES', cmdId: 7, entityType: 'DEVICE', entityId, scope: 'LATEST_TELEMETRY' }] }));
  return {
    next: () =>
      queue.length > 0
        ? Promise.resolve(queue.shift())
        : new Promise((resolve, reject) => {
            const timer = setTimeout(() => reject(new Error('no WebSocket message in time')), 5000);
            waiter = (m) => {
              clearTimeout(timer);
              resolve(m);
            };
          }),
    async silent(ms) {
      await new Promise((r) => setTimeout(r, ms));
      expect(queue).toEqual([]);
    },
    closed,
    close: () => ws.close(),
  };
}

describe('tenancy on PostgreSQL: system administrator, tenants, customers, customer users', () => {
  let db: { url: string; drop(): Promise<void> };
  let storage: Storage;
  let sql: pg.Client;
  let t: TestApi;
  let other: TestUser;
  let otherDeviceId: string;
  const deviceEvents: DeviceEvent[] = [];
  const initialised: string[] = [];

  let sysToken: string;
  let tenantId: string;
  let adminToken: string;
  let adminEmail: string;
  let customerId: string;
  let otherCustomerId: string;
  let customerToken: string;
  let assigned: string;
  let unassigned: string;

  beforeAll(async () => {
    db = await createTestDatabase('tenancy');
    const mod = await import('@rivulet/storage-postgres');
    storage = await mod.createPostgresStorage({ url: db.url, poolSize: 4 });
    sql = new pg.Client({ connectionString: db.url });
    await sql.connect();
    await bootstrapSysAdmin({ storage, email: SYSADMIN.email, password: SYSADMIN.password });
    other = await createTenantUser(storage, 'admin@tenancy-other.test', 'pw-other-tenant');
    otherDeviceId = (await storage.devices.create({ tenantId: other.tenantId, name: 'Foreign meter' })).device.id;
    t = await startTestApi(storage, {
      async initTenant(id) {
        initialised.push(id);
      },
    });
    t.broadcast.subscribe(LiveChannel.DEVICES, (e) => deviceEvents.push(e as DeviceEvent));
    sysToken = await t.login(SYSADMIN);
  });
  afterAll(async () => {
    await t?.close();
    await sql?.end();
    await storage?.close();
    await db?.drop();
  });

  it('the system administrator has the null tenant id and creates, reads and lists tenants', async () => {
    expect(claims(sysToken)).toMatchObject({ tenantId: NULL_ENTITY_ID, customerId: NULL_ENTITY_ID, scopes: ['SYS_ADMIN'] });
    const me = await t.request('GET', '/api/auth/user', { token: sysToken });
    expect(UserSchema.parse(me.body)).toMatchObject({ authority: 'SYS_ADMIN', tenantId: { id: NULL_ENTITY_ID } });

    const created = await t.request('POST', '/api/tenant', { token: sysToken, body: { title: 'Acme Corp', email: 'ops@acme.test', country: 'NL' } });
    expect(created.status).toBe(200);
    const tenant = TenantSchema.parse(created.body);
    expect(tenant).toMatchObject({ title: 'Acme Corp', name: 'Acme Corp', email: 'ops@acme.test', country: 'NL', city: null });
    tenantId = tenant.id.id;
    expect(initialised).toEqual([tenantId]);
    expect((await t.request('GET', `/api/tenant/${tenantId}`, { token: sysToken })).body).toEqual(tenant);
    const page = await t.request('GET', '/api/tenants?pageSize=10&page=0&textSearch=acme&sortProperty=title&sortOrder=ASC', { token: sysToken });
    expect(TenantPageSchema.parse(page.body)).toMatchObject({ totalElements: 1, hasNext: false, data: [tenant] });
    const renamed = await t.request('POST', '/api/tenant', { token: sysToken, body: { ...tenant, title: 'Acme Corporation' } });
    expect(renamed.body).toMatchObject({ id: tenant.id, title: 'Acme Corporation', createdTime: tenant.createdTime });
    expect((await t.request('POST', '/api/tenant', { token: sysToken, body: { title: '' } })).status).toBe(400);
    expect((await t.request('GET', `/api/tenant/${NULL_ENTITY_ID}`, { token: sysToken })).status).toBe(404);
  });

  it('creates the tenant administrator pending activation; the activation link sets the password once', async () => {
    adminEmail = 'admin@acme.test';
    const r = await t.request('POST', '/api/user?sendActivationMail=false', {
      token: sysToken,
      body: { email: adminEmail, authority: 'TENANT_ADMIN', tenantId: { entityType: 'TENANT', id: tenantId }, firstName: 'Ada' },
    });
    expect(r.status).toBe(200);
    const user = UserSchema.parse(r.body);
    expect(user).toMatchObject({ authority: 'TENANT_ADMIN', tenantId: { id: tenantId }, customerId: { id: NULL_ENTITY_ID }, firstName: 'Ada', additionalInfo: { userCredentialsEnabled: false } });
    // Not activated yet: no password works.
    expect((await t.request('POST', '/api/auth/login', { body: { username: adminEmail, password: 'anything-at-all' } })).status).toBe(401);
    // The same e-mail again: ThingsBoard's 400.
    expect((await t.request('POST', '/api/user', { token: sysToken, body: { email: adminEmail, authority: 'TENANT_ADMIN', tenantId: { id: tenantId } } })).status).toBe(400);
    // A tenant that does not exist, a system administrator creating a customer user: refused.
    expect((await t.request('POST', '/api/user', { token: sysToken, body: { email: 'x@acme.test', authority: 'TENANT_ADMIN', tenantId: { id: '00000000-0000-4000-8000-000000000001' } } })).status).toBe(404);
    expect((await t.request('POST', '/api/user', { token: sysToken, body: { email: 'y@acme.test', authority: 'CUSTOMER_USER', tenantId: { id: tenantId } } })).status).toBe(403);

    const first = await t.request('GET', `/api/user/${user.id.id}/activationLink`, { token: sysToken });
    expect(first.status).toBe(200);
    expect(first.body).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/api\/noauth\/activate\?activateToken=[A-Za-z0-9_-]{43}$/);
    const info = await t.request('GET', `/api/user/${user.id.id}/activationLinkInfo`, { token: sysToken });
    expect(info.body).toMatchObject({ ttlMs: 24 * 3600 * 1000 });
    const oldToken = new URL(first.body as string).searchParams.get('activateToken');
    const token = new URL(info.body.value as string).searchParams.get('activateToken');
    // Asking again issued a new link: the older one no longer works.
    expect((await t.request('POST', '/api/noauth/activate', { body: { activateToken: oldToken, password: 'acme-admin-pass-1' } })).status).toBe(400);
    expect((await t.request('POST', '/api/noauth/activate', { body: { activateToken: token, password: 'short' } })).status).toBe(400);
    const activated = await t.request('POST', '/api/noauth/activate', { body: { activateToken: token, password: 'acme-admin-pass-1' } });
    expect(activated.status).toBe(200);
    expect(claims(TokenPairSchema.parse(activated.body).token)).toMatchObject({ tenantId, scopes: ['TENANT_ADMIN'] });
    // Spent.
    expect((await t.request('POST', '/api/noauth/activate', { body: { activateToken: token, password: 'another-pass-22' } })).status).toBe(400);
    expect((await t.request('GET', `/api/user/${user.id.id}/activationLink`, { token: sysToken })).body).toMatchObject({ status: 400, message: 'User is already activated!' });

    adminToken = await t.login({ email: adminEmail, password: 'acme-admin-pass-1' });
    // ThingsBoard's save with an id updates the names.
    const renamed = await t.request('POST', '/api/user', { token: sysToken, body: { ...user, firstName: 'Ada', lastName: 'Lovelace' } });
    expect(renamed.body).toMatchObject({ id: user.id, lastName: 'Lovelace', additionalInfo: { userCredentialsEnabled: true } });
    expect((await t.request('POST', '/api/user', { token: sysToken, body: { ...user, email: 'moved@acme.test' } })).status).toBe(400);
    expect((await t.request('POST', '/api/user', { token: adminToken, body: { ...user, id: { entityType: 'USER', id: (await storage.users.findByEmail(other.email))?.user.id } } })).status).toBe(404);
    const admins = await t.request('GET', `/api/tenant/${tenantId}/users?pageSize=10&page=0`, { token: sysToken });
    expect(UserPageSchema.parse(admins.body).data.map((u) => u.email)).toEqual([adminEmail]);
    // The system administrator is nobody's tenant user.
    expect((await t.request('GET', `/api/tenant/${NULL_ENTITY_ID}/users?pageSize=10&page=0`, { token: sysToken })).body.totalElements).toBe(0);
  });

  it('the tenant administrator keeps customers and their users, and assigns a device', async () => {
    const c = await t.request('POST', '/api/customer', { token: adminToken, body: { title: 'Customer A', email: 'a@customer.test' } });
    expect(c.status).toBe(200);
    const customer = CustomerSchema.parse(c.body);
    expect(customer).toMatchObject({ tenantId: { id: tenantId }, title: 'Customer A', name: 'Customer A', email: 'a@customer.test' });
    customerId = customer.id.id;
    expect((await t.request('POST', '/api/customer', { token: adminToken, body: { title: 'Customer A' } })).body).toMatchObject({
      status: 400,
      message: 'Customer with such title already exists!',
    });
    otherCustomerId = (await t.request('POST', '/api/customer', { token: adminToken, body: { title: 'Customer B' } })).body.id.id;
    const list = await t.request('GET', '/api/customers?pageSize=10&page=0&sortProperty=title', { token: adminToken });
    expect(list.body.data.map((x: { title: string }) => x.title)).toEqual(['Customer A', 'Customer B']);

    // A customer user with its password set directly (Rivulet's `password` field).
    const u = await t.request('POST', '/api/user?sendActivationMail=false', {
      token: adminToken,
      body: { email: 'user@customer.test', authority: 'CUSTOMER_USER', customerId: { entityType: 'CUSTOMER', id: customerId }, password: 'customer-pass-1' },
    });
    expect(u.status).toBe(200);
    expect(UserSchema.parse(u.body)).toMatchObject({ authority: 'CUSTOMER_USER', tenantId: { id: tenantId }, customerId: { id: customerId }, additionalInfo: { userCredentialsEnabled: true } });
    const users = await t.request('GET', `/api/customer/${customerId}/users?pageSize=10&page=0`, { token: adminToken });
    expect(users.body.data.map((x: { email: string }) => x.email)).toEqual(['user@customer.test']);
    const all = await t.request('GET', '/api/users?pageSize=10&page=0&sortProperty=email', { token: adminToken });
    expect(UserPageSchema.parse(all.body).data.map((x) => x.email)).toEqual([adminEmail, 'user@customer.test']);
    // A tenant administrator cannot create a system administrator, nor a user of another tenant's customer.
    expect((await t.request('POST', '/api/user', { token: adminToken, body: { email: 's@acme.test', authority: 'SYS_ADMIN' } })).status).toBe(403);
    const foreignCustomer = await storage.customers.create(other.tenantId, { title: 'Foreign customer' });
    expect((await t.request('POST', '/api/user', { token: adminToken, body: { email: 'f@acme.test', authority: 'CUSTOMER_USER', customerId: { id: foreignCustomer.id }, password: 'customer-pass-2' } })).status).toBe(404);

    assigned = DeviceSchema.parse((await t.request('POST', '/api/device', { token: adminToken, body: { name: 'Meter 1' } })).body).id.id;
    unassigned = (await t.request('POST', '/api/device', { token: adminToken, body: { name: 'Meter 2' } })).body.id.id;
    for (const id of [assigned, unassigned]) {
      expect((await t.request('POST', `/api/plugins/telemetry/DEVICE/${id}/timeseries/ANY`, { token: adminToken, body: { temperature: 21 } })).status).toBe(200);
      expect((await t.request('POST', `/api/plugins/telemetry/DEVICE/${id}/attributes/SHARED_SCOPE`, { token: adminToken, body: { interval: 5 } })).status).toBe(200);
    }
    const a = await t.request('POST', `/api/customer/${customerId}/device/${assigned}`, { token: adminToken });
    expect(a.status).toBe(200);
    expect(DeviceSchema.parse(a.body).customerId).toEqual({ entityType: 'CUSTOMER', id: customerId });
    expect((await t.request('GET', `/api/device/${unassigned}`, { token: adminToken })).body.customerId).toEqual({ entityType: 'CUSTOMER', id: NULL_ENTITY_ID });
    // Another tenant's device or customer: not found.
    expect((await t.request('POST', `/api/customer/${customerId}/device/${otherDeviceId}`, { token: adminToken })).status).toBe(404);
    expect((await t.request('POST', `/api/customer/${foreignCustomer.id}/device/${unassigned}`, { token: adminToken })).status).toBe(404);
    const devices = await t.request('GET', `/api/customer/${customerId}/devices?pageSize=10&page=0`, { token: adminToken });
    expect(DevicePageSchema.parse(devices.body).data.map((d) => d.id.id)).toEqual([assigned]);
  });

  it('the customer user sees only the device assigned to its customer', async () => {
    customerToken = await t.login({ email: 'user@customer.test', password: 'customer-pass-1' });
    expect(claims(customerToken)).toMatchObject({ tenantId, customerId, scopes: ['CUSTOMER_USER'] });
    const token = customerToken;

    const mine = await t.request('GET', `/api/customer/${customerId}/devices?pageSize=10&page=0`, { token });
    expect(mine.status).toBe(200);
    expect(mine.body.data.map((d: { id: { id: string } }) => d.id.id)).toEqual([assigned]);
    expect((await t.request('GET', `/api/customer/${customerId}`, { token })).body.title).toBe('Customer A');
    expect((await t.request('GET', '/api/users?pageSize=10&page=0', { token })).body.data.map((x: { email: string }) => x.email)).toEqual(['user@customer.test']);
    expect((await t.request('GET', '/api/users?pageSize=10&page=0', { token: sysToken })).status).toBe(403);
    expect((await t.request('GET', `/api/device/${assigned}`, { token })).status).toBe(200);
    const latest = await t.request('GET', `/api/plugins/telemetry/DEVICE/${assigned}/values/timeseries?keys=temperature`, { token });
    expect(latest.body.temperature[0].value).toBe('21');
    expect((await t.request('GET', `/api/plugins/telemetry/DEVICE/${assigned}/values/attributes`, { token })).body).toEqual([expect.objectContaining({ key: 'interval', value: 5 })]);

    // The same tenant's unassigned device, another tenant's device, another customer: not found.
    for (const id of [unassigned, otherDeviceId]) {
      expect((await t.request('GET', `/api/device/${id}`, { token })).status).toBe(404);
      expect((await t.request('GET', `/api/plugins/telemetry/DEVICE/${id}/values/timeseries`, { token })).status).toBe(404);
      expect((await t.request('GET', `/api/plugins/telemetry/DEVICE/${id}/values/attributes`, { token })).status).toBe(404);
      expect((await t.request('GET', `/api/plugins/telemetry/DEVICE/${id}/keys/timeseries`, { token })).status).toBe(404);
    }
    expect((await t.request('GET', `/api/customer/${otherCustomerId}/devices?pageSize=10&page=0`, { token })).status).toBe(404);
    expect((await t.request('GET', `/api/customer/${otherCustomerId}`, { token })).status).toBe(404);

    // Writes, tenant and system administration: forbidden, also on its own device.
    const forbidden: Array<[string, string, unknown?]> = [
      ['POST', `/api/plugins/telemetry/DEVICE/${assigned}/timeseries/ANY`, { temperature: 99 }],
      ['POST', `/api/plugins/telemetry/DEVICE/${assigned}/attributes/SHARED_SCOPE`, { interval: 1 }],
      ['DELETE', `/api/device/${assigned}`],
      ['GET', `/api/device/${assigned}/credentials`],
      ['POST', '/api/device', { name: 'Mine now' }],
      ['GET', '/api/tenant/devices?pageSize=10&page=0'],
      ['GET', '/api/customers?pageSize=10&page=0'],
      ['POST', '/api/customer', { title: 'Mine' }],
      ['DELETE', `/api/customer/${customerId}`],
      ['GET', `/api/customer/${customerId}/users?pageSize=10&page=0`],
      ['POST', `/api/customer/${customerId}/device/${unassigned}`],
      ['DELETE', `/api/customer/device/${assigned}`],
      ['POST', '/api/user', { email: 'me2@customer.test', authority: 'CUSTOMER_USER', customerId: { id: customerId } }],
      ['GET', '/api/tenants?pageSize=10&page=0'],
      ['POST', '/api/tenant', { title: 'Mine' }],
      ['GET', `/api/tenant/${tenantId}`],
      ['DELETE', `/api/tenant/${tenantId}`],
      ['GET', `/api/tenant/${tenantId}/users?pageSize=10&page=0`],
      ['POST', `/api/rpc/oneway/${assigned}`, { method: 'reboot', params: {} }],
      ['GET', '/api/tenant/dashboards?pageSize=10&page=0'],
      ['GET', '/api/ruleChains?pageSize=10&page=0'],
    ];
    for (const [method, path, body] of forbidden) {
      const r = await t.request(method, path, { token, ...(body === undefined ? {} : { body }) });
      expect({ method, path, status: r.status }).toEqual({ method, path, status: 403 });
    }
    // Nothing was written by those calls.
    expect((await t.request('GET', `/api/plugins/telemetry/DEVICE/${assigned}/values/timeseries?keys=temperature`, { token })).body.temperature[0].value).toBe('21');

    // WebSocket: its device streams, the others answer an error frame.
    const ok = await wsSubscribe(t, token, assigned);
    expect(ok.errorCode).toBe(0);
    expect(ok.data).toMatchObject({ temperature: [[expect.any(Number), '21']] });
    for (const id of [unassigned, otherDeviceId]) expect((await wsSubscribe(t, token, id)).errorCode).not.toBe(0);
  });

  it('unassigning takes the device away from the customer user at once, live WebSocket subscriptions included', async () => {
    const live = await openLive(t, customerToken, assigned);
    expect((await live.next()).errorCode).toBe(0);
    const r = await t.request('DELETE', `/api/customer/device/${assigned}`, { token: adminToken });
    expect(r.status).toBe(200);
    expect(r.body.customerId.id).toBe(NULL_ENTITY_ID);
    expect(deviceEvents).toContainEqual({ tenantId, deviceId: assigned, kind: 'updated' });
    // The live subscription ends with an error frame; later telemetry of the device does not reach it.
    expect(await live.next()).toMatchObject({ subscriptionId: 7, errorCode: expect.any(Number), data: null });
    await t.request('POST', `/api/plugins/telemetry/DEVICE/${assigned}/timeseries/ANY`, { token: adminToken, body: { temperature: 30 } });
    t.broadcast.publish(LiveChannel.TELEMETRY, { entityId: assigned, points: [{ key: 'temperature', ts: Date.now(), value: 30 }] });
    await live.silent(300);
    live.close();
    expect((await t.request('GET', `/api/device/${assigned}`, { token: customerToken })).status).toBe(404);
    expect((await wsSubscribe(t, customerToken, assigned)).errorCode).not.toBe(0);
    expect((await t.request('DELETE', `/api/customer/device/${assigned}`, { token: adminToken })).status).toBe(400);
    await t.request('POST', `/api/customer/${customerId}/device/${assigned}`, { token: adminToken });
  });

  it('the system administrator reads no tenant data, and a tenant administrator manages no tenants', async () => {
    for (const path of ['/api/tenant/devices?pageSize=10&page=0', `/api/device/${assigned}`, `/api/plugins/telemetry/DEVICE/${assigned}/values/timeseries`, '/api/customers?pageSize=10&page=0', `/api/customer/${customerId}/devices?pageSize=10&page=0`]) {
      const r = await t.request('GET', path, { token: sysToken });
      expect({ path, status: r.status }).toEqual({ path, status: 403 });
    }
    expect((await t.request('POST', '/api/device', { token: sysToken, body: { name: 'Sys device' } })).status).toBe(403);
    expect((await wsSubscribe(t, sysToken, assigned)).errorCode).not.toBe(0);

    expect((await t.request('GET', '/api/tenants?pageSize=10&page=0', { token: adminToken })).status).toBe(403);
    expect((await t.request('POST', '/api/tenant', { token: adminToken, body: { title: 'Mine' } })).status).toBe(403);
    expect((await t.request('DELETE', `/api/tenant/${other.tenantId}`, { token: adminToken })).status).toBe(403);
    expect((await t.request('GET', `/api/tenant/${tenantId}`, { token: adminToken })).status).toBe(200);
    expect((await t.request('GET', `/api/tenant/${other.tenantId}`, { token: adminToken })).status).toBe(404);
    expect((await t.request('GET', `/api/customer/${foreignCustomerId()}`, { token: adminToken })).status).toBe(404);
  });

  let foreignId: string | undefined;
  function foreignCustomerId(): string {
    return foreignId as string;
  }
  beforeAll(async () => {
    foreignId = (await storage.customers.create(other.tenantId, { title: 'Foreign for reads' })).id;
  });

  it('deleting a customer removes its users (their tokens stop working) and unassigns its devices', async () => {
    const temp = (await t.request('POST', '/api/customer', { token: adminToken, body: { title: 'Short-lived' } })).body.id.id as string;
    await t.request('POST', '/api/user', { token: adminToken, body: { email: 'temp@customer.test', authority: 'CUSTOMER_USER', customerId: { id: temp }, password: 'temp-pass-123' } });
    const tempToken = await t.login({ email: 'temp@customer.test', password: 'temp-pass-123' });
    await t.request('POST', `/api/customer/${temp}/device/${unassigned}`, { token: adminToken });
    expect((await t.request('GET', `/api/device/${unassigned}`, { token: tempToken })).status).toBe(200);
    const live = await openLive(t, tempToken, unassigned);
    expect((await live.next()).errorCode).toBe(0);
    expect((await t.request('DELETE', `/api/customer/${temp}`, { token: adminToken })).status).toBe(200);
    // Its open WebSocket session is closed (policy violation) once the customer is gone.
    expect(await live.closed).toBe(1008);
    expect((await t.request('GET', `/api/device/${unassigned}`, { token: tempToken })).status).toBe(401);
    expect((await t.request('GET', `/api/device/${unassigned}`, { token: adminToken })).body.customerId.id).toBe(NULL_ENTITY_ID);
  });

  it('deleting the tenant removes all its rows and nothing of the other tenant; its tokens stop working', async () => {
    const ids = [tenantId, assigned, unassigned, customerId, otherCustomerId];
    const counts = async (): Promise<Record<string, number>> => {
      const q = async (text: string, params: unknown[]): Promise<number> => Number((await sql.query<{ n: string }>(text, params)).rows[0]?.n);
      return {
        tenant: await q('SELECT count(*) AS n FROM tenant WHERE id = $1', [tenantId]),
        device: await q('SELECT count(*) AS n FROM device WHERE tenant_id = $1', [tenantId]),
        device_credentials: await q('SELECT count(*) AS n FROM device_credentials WHERE device_id = ANY($1::uuid[])', [[assigned, unassigned]]),
        customer: await q('SELECT count(*) AS n FROM customer WHERE tenant_id = $1', [tenantId]),
        tb_user: await q('SELECT count(*) AS n FROM tb_user WHERE tenant_id = $1', [tenantId]),
        ts_kv: await q('SELECT count(*) AS n FROM ts_kv WHERE entity_id = ANY($1::uuid[])', [ids]),
        ts_kv_latest: await q('SELECT count(*) AS n FROM ts_kv_latest WHERE entity_id = ANY($1::uuid[])', [ids]),
        attribute_kv: await q('SELECT count(*) AS n FROM attribute_kv WHERE entity_id = ANY($1::uuid[])', [ids]),
      };
    };
    const otherRows = async (): Promise<number> => Number((await sql.query<{ n: string }>('SELECT (SELECT count(*) FROM device WHERE tenant_id = $1) + (SELECT count(*) FROM tb_user WHERE tenant_id = $1) + (SELECT count(*) FROM customer WHERE tenant_id = $1) AS n', [other.tenantId])).rows[0]?.n);
    // A root chain, a dashboard and an alarm too.
    await storage.ruleChains.save({ id: '6f1c0f3e-8a4e-4a55-9c57-1f0b1f6a2b10', tenantId, name: 'Root', root: true, debugMode: false, metadata: { nodes: [] } });
    await t.request('POST', '/api/dashboard', { token: adminToken, body: { title: 'Board' } });
    await storage.alarms.createOrUpdate({ tenantId, type: 'High', originatorType: 'DEVICE', originatorId: assigned, severity: 'MAJOR', ts: Date.now() });

    const before = await counts();
    // Two devices, one of them with a second point; both customers; the admin and the customer user.
    expect(before).toEqual({ tenant: 1, device: 2, device_credentials: 2, customer: 2, tb_user: 2, ts_kv: 3, ts_kv_latest: 2, attribute_kv: 2 });
    const otherBefore = await otherRows();
    expect(otherBefore).toBeGreaterThan(0);

    expect((await t.request('DELETE', `/api/tenant/${tenantId}`, { token: adminToken })).status).toBe(403);
    const r = await t.request('DELETE', `/api/tenant/${tenantId}`, { token: sysToken });
    expect(r.status).toBe(200);
    expect(await counts()).toEqual({ tenant: 0, device: 0, device_credentials: 0, customer: 0, tb_user: 0, ts_kv: 0, ts_kv_latest: 0, attribute_kv: 0 });
    for (const table of ['rule_chain', 'dashboard', 'alarm']) {
      expect(Number((await sql.query<{ n: string }>(`SELECT count(*) AS n FROM ${table} WHERE tenant_id = $1`, [tenantId])).rows[0]?.n)).toBe(0);
    }
    expect(await otherRows()).toBe(otherBefore);
    expect(deviceEvents).toEqual(expect.arrayContaining([
      { tenantId, deviceId: assigned, kind: 'deleted' },
      { tenantId, deviceId: unassigned, kind: 'deleted' },
    ]));
    // The deleted tenant's users: their unexpired tokens are refused.
    expect((await t.request('GET', '/api/tenant/devices?pageSize=10&page=0', { token: adminToken })).status).toBe(401);
    expect((await t.request('GET', `/api/customer/${customerId}/devices?pageSize=10&page=0`, { token: customerToken })).status).toBe(401);
    expect((await t.request('POST', '/api/device', { token: adminToken, body: { name: 'Zombie' } })).status).toBe(401);
    expect((await t.request('GET', `/api/tenant/${tenantId}`, { token: sysToken })).status).toBe(404);
    expect((await t.request('DELETE', `/api/tenant/${tenantId}`, { token: sysToken })).status).toBe(404);
  });
});
