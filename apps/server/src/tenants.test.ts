import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { api, eventually, startTestServer, tempDir } from './test-helpers';
import type { Rivulet } from './app';

/**
 * The whole server: a tenant the system administrator creates works like the bootstrap one (it gets
 * the default root rule chain, so its devices' telemetry is stored), and deleting it cuts its devices off.
 */
describe('tenants created over the API, on the whole server', () => {
  const dir = tempDir();
  let app: Rivulet;
  beforeAll(async () => {
    // A short inactivity timeout, so the device state service's later writes happen within the test.
    app = await startTestServer({ RIVULET_DATA_DIR: dir.dir, RIVULET_SYSADMIN_PASSWORD: 'sys-admin-pw-1', RIVULET_DEVICE_INACTIVITY_TIMEOUT_MS: '300' });
  });
  afterAll(async () => {
    await app?.stop();
    dir.remove();
  });

  async function login(username: string, password: string): Promise<string> {
    const r = await fetch(`${app.url}/api/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username, password }) });
    expect(r.status).toBe(200);
    return ((await r.json()) as { token: string }).token;
  }

  it('a new tenant stores its devices\' telemetry through its own root chain; deleted, its device is refused', async () => {
    const sys = await login('sysadmin@rivulet.local', 'sys-admin-pw-1');
    const tenant = await api<{ id: { id: string } }>(app.url, sys, '/api/tenant', { method: 'POST', body: { title: 'Second' } });
    expect(tenant.status).toBe(200);
    const tenantId = tenant.body.id.id;
    expect((await app.storage.ruleChains.getRoot(tenantId))?.root).toBe(true);
    const user = await api(app.url, sys, '/api/user', { method: 'POST', body: { email: 'admin@second.test', authority: 'TENANT_ADMIN', tenantId: { id: tenantId }, password: 'second-admin-pw' } });
    expect(user.status).toBe(200);
    const admin = await login('admin@second.test', 'second-admin-pw');
    const device = await api<{ id: { id: string } }>(app.url, admin, '/api/device?accessToken=second-tenant-token', { method: 'POST', body: { name: 'Sensor' } });
    expect(device.status).toBe(200);
    const post = await fetch(`${app.url}/api/v1/second-tenant-token/telemetry`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"temperature":19.5}' });
    expect(post.status).toBe(200);
    await eventually(async () => (await app.storage.timeseries.findLatest(device.body.id.id, ['temperature'])).length === 1);

    expect((await api(app.url, sys, `/api/tenant/${tenantId}`, { method: 'DELETE' })).status).toBe(200);
    // The transport's cached credentials were dropped: the device is unknown now.
    await eventually(async () => (await fetch(`${app.url}/api/v1/second-tenant-token/telemetry`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"temperature":1}' })).status === 401);
    expect(await app.storage.timeseries.count(device.body.id.id)).toBe(0);
    // Nothing is written for the deleted device afterwards (the device state service forgot it: no
    // inactivity attributes appear once its timeout passes).
    await new Promise((r) => setTimeout(r, 1500));
    expect(await app.storage.attributes.findKeys(device.body.id.id)).toEqual([]);
    expect(await app.storage.timeseries.count(device.body.id.id)).toBe(0);
  });
});
