import { connectAsync, type MqttClient } from 'mqtt';
import { hashPassword } from '@rivulet/api';
import { AttributeScope } from '@rivulet/core';
import { createTestDatabase } from '@rivulet/testing';
import type { Rivulet } from '../app';
import { api, createDevice, eventually, login, startTestServer, tempDir } from '../test-helpers';

/**
 * The isolation matrix's world: a real Rivulet on real PostgreSQL with two tenants. Tenant A has a
 * device with a live MQTT session (mqtt.js) subscribed to attribute updates and RPC, telemetry,
 * attributes in every scope, an alarm, a rule chain and a dashboard. Tenant B's callers (its admin
 * now; a customer user can be added to `callers` later) get A's ids and try everything.
 */
export interface Caller {
  name: string;
  tenantId: string;
  jwt: string;
}

export interface IsolationWorld {
  app: Rivulet;
  /** Tenant A's ids. */
  a: { tenantId: string; jwt: string; deviceId: string; deviceName: string; token: string; alarmId: string; chainId: string; dashboardId: string; deviceProfileId: string };
  /** Tenant B's admin, and B's own device (with its token) for transport probes. */
  b: Caller & { deviceId: string; token: string };
  /** Tenant admins who must not reach A: tenant B's admin. */
  callers: Caller[];
  /**
   * Customer users who must not reach A's device either: one of tenant B's customers, and one of
   * tenant A's own customers that A's device is not assigned to (same tenant, still no access).
   */
  customerCallers: Caller[];
  /** What A's device received over MQTT since setup (topic and payload). */
  received: Array<{ topic: string; payload: string }>;
  /** A's stored state (read from storage, not through the API under test). */
  snapshotA(): Promise<unknown>;
  close(): Promise<void>;
}

/** A second tenant with its admin, made through storage (no sysadmin REST API yet); returns its JWT. */
export async function createTenantAdmin(app: Rivulet, email: string, password: string): Promise<Caller> {
  const tenant = await app.storage.tenants.create({ title: `tenant of ${email}` });
  await app.storage.users.create({ tenantId: tenant.id, email, authority: 'TENANT_ADMIN', passwordHash: await hashPassword(password) });
  const r = await fetch(`${app.url}/api/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: email, password }) });
  if (r.status !== 200) throw new Error(`login of ${email} failed: ${r.status}`);
  return { name: 'tenant B admin', tenantId: tenant.id, jwt: ((await r.json()) as { token: string }).token };
}

export async function startIsolationWorld(name: string): Promise<IsolationWorld> {
  const db = await createTestDatabase(`iso_${name}`);
  const dir = tempDir();
  // generators fire every 100 ms here (the default minimum is 1 s), so the tests check the originator, not the period
  const app = await startTestServer({ DATABASE_URL: db.url, RIVULET_DATA_DIR: dir.dir, RIVULET_RPC_PICKUP_TIMEOUT_MS: '300', RIVULET_MIN_GENERATOR_PERIOD_MS: '100' });
  const clients: MqttClient[] = [];
  try {
    const jwtA = await login(app.url);
    const dev = await createDevice(app.url, jwtA, 'a-thermostat');
    const session = await connectAsync(`mqtt://127.0.0.1:${app.mqttPort}`, { username: dev.token, reconnectPeriod: 0 });
    clients.push(session);
    await session.subscribeAsync(['v1/devices/me/attributes', 'v1/devices/me/rpc/request/+', 'v1/devices/me/attributes/response/+'], { qos: 1 });
    const received: IsolationWorld['received'] = [];
    session.on('message', (topic, payload) => received.push({ topic, payload: payload.toString() }));

    // A's data: telemetry from the device itself, attributes in each scope, an alarm, a chain, a dashboard.
    await session.publishAsync('v1/devices/me/telemetry', JSON.stringify({ temperature: 21 }), { qos: 1 });
    await session.publishAsync('v1/devices/me/attributes', JSON.stringify({ firmware: '1.0' }), { qos: 1 });
    await eventually(async () => (await app.storage.timeseries.findLatest(dev.id)).length > 0 && (await app.storage.attributes.find(dev.id, AttributeScope.CLIENT_SCOPE)).length > 0);
    const ok = (r: { status: number; body: unknown }, what: string) => {
      if (r.status !== 200) throw new Error(`${what}: ${r.status} ${JSON.stringify(r.body)}`);
      return r.body as Record<string, { id: string }>;
    };
    ok(await api(app.url, jwtA, `/api/plugins/telemetry/DEVICE/${dev.id}/attributes/SERVER_SCOPE`, { method: 'POST', body: { location: 'lab' } }), 'server attribute');
    ok(await api(app.url, jwtA, `/api/plugins/telemetry/DEVICE/${dev.id}/attributes/SHARED_SCOPE`, { method: 'POST', body: { setpoint: 20 } }), 'shared attribute');
    const alarm = ok(await api(app.url, jwtA, '/api/alarm', { method: 'POST', body: { type: 'Overheat', severity: 'MAJOR', originator: { entityType: 'DEVICE', id: dev.id } } }), 'alarm');
    const chain = ok(await api(app.url, jwtA, '/api/ruleChain', { method: 'POST', body: { name: 'A private chain' } }), 'chain');
    const dash = ok(await api(app.url, jwtA, '/api/dashboard', { method: 'POST', body: { title: 'A dashboard' } }), 'dashboard');
    await eventually(async () => received.some((m) => m.topic === 'v1/devices/me/attributes'));
    received.length = 0;

    const bAdmin = await createTenantAdmin(app, 'admin-b@rivulet.local', 'tenant-b-secret-1');
    const devB = await createDevice(app.url, bAdmin.jwt, 'b-gateway');
    ok(await api(app.url, bAdmin.jwt, '/api/device', { method: 'POST', body: { id: { entityType: 'DEVICE', id: devB.id }, name: 'b-gateway', type: 'gateway', additionalInfo: { gateway: true } } }), 'B gateway');

    const snapshotA = async () => ({
      device: await app.storage.devices.get(app.tenantId, dev.id),
      credentials: await app.storage.devices.getCredentials(dev.id),
      devices: (await app.storage.devices.list(app.tenantId, { pageSize: 100, page: 0 })).data.map((d) => d.name).sort(),
      latest: await app.storage.timeseries.findLatest(dev.id),
      points: await app.storage.timeseries.count(dev.id),
      // Without the activity attributes A's own session keeps writing on its own schedule.
      attributes: (await Promise.all([AttributeScope.CLIENT_SCOPE, AttributeScope.SERVER_SCOPE, AttributeScope.SHARED_SCOPE].map((s) => app.storage.attributes.find(dev.id, s)))).map((list) =>
        list.filter((kv) => !DEVICE_STATE_KEYS.has(kv.key)).sort((x, y) => x.key.localeCompare(y.key)),
      ),
      alarms: (await app.storage.alarms.list(app.tenantId, { pageSize: 100, page: 0 })).data,
      chains: (await app.storage.ruleChains.list(app.tenantId, { pageSize: 100, page: 0 })).data.map((c) => ({ ...c, updatedTime: 0 })),
      dashboards: await app.storage.dashboards.get(app.tenantId, dash.id!.id),
      deviceProfiles: (await app.storage.deviceProfiles.page(app.tenantId, { pageSize: 100, page: 0 })).data,
    });
    const customerUser = async (adminJwt: string, tenantId: string, label: string, email: string): Promise<Caller> => {
      const customer = ok(await api(app.url, adminJwt, '/api/customer', { method: 'POST', body: { title: `${label} customer` } }), `${label} customer`);
      const password = 'customer-secret-1';
      const body = { email, authority: 'CUSTOMER_USER', customerId: { entityType: 'CUSTOMER', id: customer.id!.id }, password };
      ok(await api(app.url, adminJwt, '/api/user', { method: 'POST', body }), `${label} customer user`);
      const r = await fetch(`${app.url}/api/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: email, password }) });
      if (r.status !== 200) throw new Error(`login of ${email} failed: ${r.status}`);
      return { name: `${label} customer user`, tenantId, jwt: ((await r.json()) as { token: string }).token };
    };
    const customerCallers = [
      await customerUser(bAdmin.jwt, bAdmin.tenantId, 'tenant B', 'user-b@customer.test'),
      await customerUser(jwtA, app.tenantId, 'tenant A (device not assigned)', 'user-a@customer.test'),
    ];
    const b = { ...bAdmin, deviceId: devB.id, token: devB.token };
    return {
      app,
      a: {
        tenantId: app.tenantId, jwt: jwtA, deviceId: dev.id, deviceName: 'a-thermostat', token: dev.token, alarmId: alarm.id!.id, chainId: chain.id!.id, dashboardId: dash.id!.id,
        deviceProfileId: (await app.storage.devices.get(app.tenantId, dev.id))!.deviceProfileId,
      },
      b,
      callers: [bAdmin],
      customerCallers,
      received,
      snapshotA,
      async close() {
        await Promise.all(clients.map((c) => c.endAsync(true).catch(() => {})));
        await app.stop();
        await db.drop();
        dir.remove();
      },
    };
  } catch (e) {
    await Promise.all(clients.map((c) => c.endAsync(true).catch(() => {})));
    await app.stop();
    await db.drop();
    dir.remove();
    throw e;
  }
}


const DEVICE_STATE_KEYS = new Set(['active', 'lastActivityTime', 'lastConnectTime', 'lastDisconnectTime', 'inactivityAlarmTime']);

/** Lets what a refused call might have set off (queue, rule engine, MQTT delivery) happen before asserting nothing did. */
export const settle = (ms = 300) => new Promise((r) => setTimeout(r, ms));

