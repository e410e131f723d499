import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { connectAsync, type MqttClient } from 'mqtt';
import { WebSocket } from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Rivulet } from './app';
import { ADMIN, api, createTenantWithAdmin, eventually, login, startTestServer, SYSADMIN, tempDir } from './test-helpers';

const execFileP = promisify(execFile);

/**
 * Tenant profiles over the whole server: the system administrator's REST API, and the limits a
 * profile sets enforced where they apply (REST device creation, gateways, the device API on HTTP,
 * MQTT and CoAP, the REST saves, the WebSocket API), per tenant: tenant A's profile never limits B.
 */
describe('tenant profiles and the limits they set, on the whole server', () => {
  const dir = tempDir();
  let app: Rivulet;
  let sys: string;
  const clients: MqttClient[] = [];
  const sockets: WebSocket[] = [];

  beforeAll(async () => {
    app = await startTestServer({ RIVULET_DATA_DIR: dir.dir });
    sys = await login(app.url, SYSADMIN);
  });
  afterAll(async () => {
    for (const c of clients) c.end(true);
    for (const s of sockets) s.terminate();
    await app?.stop();
    dir.remove();
  });

  let seq = 0;
  /** A tenant (in `profileId`, or the default profile) with an administrator; its JWT. */
  async function tenantWithAdmin(profileId?: string): Promise<{ tenantId: string; jwt: string }> {
    const n = ++seq;
    return createTenantWithAdmin(app.url, sys, { title: `Tenant ${n}`, email: `admin${n}@profiles.test`, password: 'tenant-admin-pw', ...(profileId ? { tenantProfileId: profileId } : {}) });
  }

  async function profile(name: string, configuration: Record<string, number>): Promise<string> {
    const r = await api<{ id: { id: string } }>(app.url, sys, '/api/tenantProfile', { method: 'POST', body: { name, profileData: { configuration: { type: 'DEFAULT', ...configuration } } } });
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    await app.tenantLimits.settled();
    return r.body.id.id;
  }

  async function device(jwt: string, name: string, additionalInfo?: object): Promise<{ status: number; body: { id: { id: string }; message: string; errorCode: number } }> {
    return api(app.url, jwt, `/api/device?accessToken=${encodeURIComponent(`tok-${name}`)}`, { method: 'POST', body: { name, ...(additionalInfo ? { additionalInfo } : {}) } });
  }

  it('the system administrator manages profiles ThingsBoard\'s way; tenants get the default one', async () => {
    const info = await api<{ id: { entityType: string; id: string }; name: string }>(app.url, sys, '/api/tenantProfileInfo/default');
    expect(info.status).toBe(200);
    expect(info.body).toMatchObject({ id: { entityType: 'TENANT_PROFILE' }, name: 'Default' });
    const defaultId = info.body.id.id;
    // the bootstrap tenant and a new one have the default profile
    expect((await api<{ tenantProfileId: { id: string } }>(app.url, sys, `/api/tenant/${app.tenantId}`)).body.tenantProfileId.id).toBe(defaultId);
    const t = await api<{ tenantProfileId: { id: string } }>(app.url, sys, '/api/tenant', { method: 'POST', body: { title: 'Plain' } });
    expect(t.body.tenantProfileId).toEqual({ entityType: 'TENANT_PROFILE', id: defaultId });

    const created = await api<{ id: { id: string }; default: boolean; profileData: { configuration: Record<string, unknown> } }>(app.url, sys, '/api/tenantProfile', {
      method: 'POST',
      body: { name: 'Small', description: 'few devices', profileData: { configuration: { type: 'DEFAULT', maxDevices: 5, maxAssets: 3 } } },
    });
    expect(created.status).toBe(200);
    // only the overrides it sets; ThingsBoard's fields Rivulet does not have are ignored
    expect(created.body).toMatchObject({ default: false, profileData: { configuration: { type: 'DEFAULT', maxDevices: 5 } } });
    expect(created.body.profileData.configuration).not.toHaveProperty('maxAssets');
    const id = created.body.id.id;
    expect((await api(app.url, sys, `/api/tenantProfile/${id}`)).body).toEqual(created.body);
    const page = await api<{ data: Array<{ name: string }>; totalElements: number }>(app.url, sys, '/api/tenantProfiles?pageSize=10&page=0&sortProperty=name&sortOrder=ASC');
    expect(page.body.data.map((p) => p.name)).toEqual(['Default', 'Small']);
    expect((await api<{ message: string }>(app.url, sys, '/api/tenantProfile', { method: 'POST', body: { name: 'Small' } })).body.message).toBe('Tenant profile with such name already exists!');

    // in use: refused; the default: refused; unused: deleted
    const user = await api<{ id: { id: string } }>(app.url, sys, '/api/tenant', { method: 'POST', body: { title: 'Uses Small', tenantProfileId: { id } } });
    expect(user.status).toBe(200);
    expect(await api(app.url, sys, `/api/tenantProfile/${id}`, { method: 'DELETE' })).toMatchObject({ status: 400, body: { message: 'The tenant profile referenced by the tenants cannot be deleted!' } });
    expect(await api(app.url, sys, `/api/tenantProfile/${defaultId}`, { method: 'DELETE' })).toMatchObject({ status: 400, body: { message: 'Deletion of Default Tenant Profile is prohibited!' } });
    expect((await api(app.url, sys, `/api/tenant/${user.body.id.id}`, { method: 'DELETE' })).status).toBe(200);
    expect((await api(app.url, sys, `/api/tenantProfile/${id}`, { method: 'DELETE' })).status).toBe(200);
    expect((await api(app.url, sys, `/api/tenantProfile/${id}`)).status).toBe(404);
    // an unknown profile for a tenant: 400; a tenant administrator: 403
    expect((await api(app.url, sys, '/api/tenant', { method: 'POST', body: { title: 'x', tenantProfileId: { id } } })).status).toBe(400);
    const admin = await login(app.url);
    expect((await api(app.url, admin, '/api/tenantProfiles?pageSize=10&page=0')).status).toBe(403);
    expect((await api(app.url, admin, '/api/tenantProfile', { method: 'POST', body: { name: 'mine' } })).status).toBe(403);
  });

  it('maxDevices: tenant A (profile maxDevices 2) gets 403 on its third device, over REST and from a gateway; tenant B (default) is not limited', async () => {
    const small = await profile('Two devices', { maxDevices: 2 });
    const a = await tenantWithAdmin(small);
    const b = await tenantWithAdmin();
    expect((await device(a.jwt, 'a1')).status).toBe(200);
    expect((await device(a.jwt, 'gw', { gateway: true })).status).toBe(200);
    const third = await device(a.jwt, 'a3');
    expect(third.status).toBe(403);
    expect(third.body.message).toMatch(/^Can't create more then 2 devices!/);
    expect(third.body.errorCode).toBe(41);
    for (let i = 1; i <= 4; i++) expect((await device(b.jwt, `b${i}`)).status).toBe(200);

    // existing devices keep working
    const post = await fetch(`${app.url}/api/v1/tok-a1/telemetry`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"t":1}' });
    expect(post.status).toBe(200);

    // the gateway's new sub-device is refused: no PUBACK, the connection closes, nothing is created
    const gw = await connectAsync(`mqtt://127.0.0.1:${app.mqttPort}`, { username: 'tok-gw', reconnectPeriod: 0 });
    clients.push(gw);
    const closed = new Promise<string>((r) => gw.once('close', () => r('closed')));
    const acked = gw.publishAsync('v1/gateway/telemetry', JSON.stringify({ 'Sub A': [{ ts: 1, values: { t: 1 } }] }), { qos: 1 }).then(() => 'acknowledged', () => 'closed');
    expect(await Promise.race([closed, acked])).toBe('closed');
    const list = await api<{ totalElements: number }>(app.url, a.jwt, '/api/tenant/devices?pageSize=10&page=0');
    expect(list.body.totalElements).toBe(2);

    // raising the limit in the profile takes effect at once, without a restart
    const raised = await api(app.url, sys, '/api/tenantProfile', { method: 'POST', body: { id: { id: small }, name: 'Two devices', profileData: { configuration: { maxDevices: 3 } } } });
    expect(raised.status).toBe(200);
    await app.tenantLimits.settled();
    expect((await device(a.jwt, 'a3')).status).toBe(200);
    expect((await device(a.jwt, 'a4')).status).toBe(403);
  });

  it('a 60,000-character key is refused on every path a key enters, and nothing is stored', async () => {
    const jwt = await login(app.url);
    const d = await device(jwt, 'keys');
    const id = d.body.id.id;
    const long = 'k'.repeat(60_000);
    const body = JSON.stringify({ [long]: 1 });

    // HTTP device API: 400 naming the limit
    for (const path of ['telemetry', 'attributes']) {
      const r = await fetch(`${app.url}/api/v1/tok-keys/${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
      expect(r.status).toBe(400);
      expect(await r.text()).toMatch(/60000 characters long: the limit is 255 \(maxKeyLength\)/);
    }
    // REST saves: 400 naming the limit
    for (const path of ['timeseries/ANY', 'attributes/SERVER_SCOPE']) {
      const r = await api<{ message: string }>(app.url, jwt, `/api/plugins/telemetry/DEVICE/${id}/${path}`, { method: 'POST', body: { [long]: 1 } });
      expect(r.status).toBe(400);
      expect(r.body.message).toMatch(/maxKeyLength/);
    }
    // MQTT: a malformed payload, as today: the connection closes without PUBACK
    for (const topic of ['v1/devices/me/telemetry', 'v1/devices/me/attributes']) {
      const c = await connectAsync(`mqtt://127.0.0.1:${app.mqttPort}`, { username: 'tok-keys', reconnectPeriod: 0 });
      clients.push(c);
      const closed = new Promise<void>((r) => c.once('close', () => r()));
      c.publish(topic, body, { qos: 1 });
      await closed;
    }
    // CoAP (libcoap's client): 4.00 for a key over the limit (one datagram: 300 characters)
    const coap = await execFileP('coap-client-notls', ['-B', '5', '-m', 'post', '-e', JSON.stringify({ ['c'.repeat(300)]: 1 }), `coap://127.0.0.1:${app.coapPort}/api/v1/tok-keys/telemetry`], { timeout: 15_000 });
    expect(coap.stdout + coap.stderr).toMatch(/4\.00/);

    // too many keys in one message: refused the same way
    const many = JSON.stringify(Object.fromEntries(Array.from({ length: 1001 }, (_, i) => [`k${i}`, i])));
    const r = await fetch(`${app.url}/api/v1/tok-keys/telemetry`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: many });
    expect(r.status).toBe(400);
    expect(await r.text()).toMatch(/1001 keys: the limit is 1000 per message \(maxKeysPerMessage\)/);

    // a well-behaved post after all that is stored, and it is the only key there is
    expect((await fetch(`${app.url}/api/v1/tok-keys/telemetry`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"ok":1}' })).status).toBe(200);
    await eventually(async () => (await app.storage.timeseries.findLatest(id)).length === 1);
    expect(await app.storage.timeseries.findKeys(id)).toEqual(['ok']);
    // (the device state service's server attributes are there; no long key is)
    expect((await app.storage.attributes.findKeys(id)).filter((k) => k.length > 255)).toEqual([]);
    expect(await app.storage.attributes.findKeys(id, 'CLIENT_SCOPE')).toEqual([]);
  });

  it('a profile\'s key limits apply to its tenant only', async () => {
    const strict = await profile('Short keys', { maxKeyLength: 8, maxKeysPerMessage: 2 });
    const a = await tenantWithAdmin(strict);
    const b = await tenantWithAdmin();
    await device(a.jwt, 'ka');
    await device(b.jwt, 'kb');
    const post = (token: string, body: object) => fetch(`${app.url}/api/v1/${token}/telemetry`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    expect((await post('tok-ka', { longerkey9: 1 })).status).toBe(400);
    expect((await post('tok-ka', { a: 1, b: 2, c: 3 })).status).toBe(400);
    expect((await post('tok-ka', { short: 1, b: 2 })).status).toBe(200);
    expect((await post('tok-kb', { longerkey9: 1, a: 1, b: 2 })).status).toBe(200);
  });

  it('maxPayloadBytes of a profile lowers the transports\' limit for its tenant only', async () => {
    const tiny = await profile('Tiny payloads', { maxPayloadBytes: 100 });
    const a = await tenantWithAdmin(tiny);
    const b = await tenantWithAdmin();
    await device(a.jwt, 'pa');
    await device(b.jwt, 'pb');
    const body = JSON.stringify({ text: 'x'.repeat(200) });
    const post = (token: string) => fetch(`${app.url}/api/v1/${token}/telemetry`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
    const refused = await post('tok-pa');
    expect(refused.status).toBe(413);
    expect(await refused.text()).toMatch(/the limit is 100 bytes/);
    expect((await post('tok-pb')).status).toBe(200);
    const coap = await execFileP('coap-client-notls', ['-B', '5', '-m', 'post', '-e', body, `coap://127.0.0.1:${app.coapPort}/api/v1/tok-pa/telemetry`], { timeout: 15_000 });
    expect(coap.stdout + coap.stderr).toMatch(/4\.13/);
    // a client-side RPC is a device payload too
    const rpc = await execFileP('coap-client-notls', ['-B', '5', '-m', 'post', '-e', JSON.stringify({ method: 'x', params: 'x'.repeat(200) }), `coap://127.0.0.1:${app.coapPort}/api/v1/tok-pa/rpc`], { timeout: 15_000 });
    expect(rpc.stdout + rpc.stderr).toMatch(/4\.13/);
    const c = await connectAsync(`mqtt://127.0.0.1:${app.mqttPort}`, { username: 'tok-pa', reconnectPeriod: 0 });
    clients.push(c);
    const closed = new Promise<void>((r) => c.once('close', () => r()));
    c.publish('v1/devices/me/telemetry', body, { qos: 1 });
    await closed;
  });

  it('WebSocket: past maxWsSessionsPerTenant a session is closed (1008), past maxWsSubscriptionsPerTenant a subscription gets an error; other tenants unaffected', async () => {
    const ws1 = await profile('One WS', { maxWsSessionsPerTenant: 1, maxWsSubscriptionsPerTenant: 1 });
    const a = await tenantWithAdmin(ws1);
    const b = await tenantWithAdmin();
    const da = (await device(a.jwt, 'wa')).body.id.id;
    const db = (await device(b.jwt, 'wb')).body.id.id;
    const wsUrl = app.url.replace('http', 'ws') + '/api/ws';

    function open(jwt: string): Promise<{ ws: WebSocket; frames: Array<Record<string, unknown>>; closed: Promise<{ code: number; reason: string }> }> {
      return new Promise((resolve, reject) => {
        const ws = new WebSocket(wsUrl);
        sockets.push(ws);
        const frames: Array<Record<string, unknown>> = [];
        const closed = new Promise<{ code: number; reason: string }>((r) => ws.once('close', (code, reason) => r({ code, reason: reason.toString() })));
        ws.on('message', (m) => frames.push(JSON.parse(m.toString()) as Record<string, unknown>));
        ws.once('open', () => {
          ws.send(JSON.stringify({ authCmd: { cmdId: 0, token: jwt } }));
          resolve({ ws, frames, closed });
        });
        ws.once('error', reject);
      });
    }
    const subscribe = (s: { ws: WebSocket }, cmdId: number, entityId: string) =>
      s.ws.send(JSON.stringify({ cmds: [{ type: 'TIMESERIES', cmdId, entityType: 'DEVICE', entityId, keys: 't' }] }));

    const first = await open(a.jwt);
    subscribe(first, 1, da);
    await eventually(async () => first.frames.find((f) => f.subscriptionId === 1 && f.errorCode === 0));
    subscribe(first, 2, da);
    const refusedSub = await eventually(async () => first.frames.find((f) => f.subscriptionId === 2));
    expect(refusedSub).toMatchObject({ errorCode: 2 });
    expect(String(refusedSub.errorMsg)).toMatch(/Max tenant subscriptions limit reached!/);

    const second = await open(a.jwt);
    expect(await second.closed).toEqual({ code: 1008, reason: 'Max tenant sessions limit reached!' });
    expect(first.ws.readyState).toBe(WebSocket.OPEN);

    // tenant B: two sessions, two subscriptions
    const b1 = await open(b.jwt);
    const b2 = await open(b.jwt);
    subscribe(b1, 1, db);
    subscribe(b2, 1, db);
    subscribe(b2, 2, db);
    await eventually(async () => b1.frames.some((f) => f.subscriptionId === 1 && f.errorCode === 0) && b2.frames.filter((f) => f.errorCode === 0).length === 2);

    // A's first session closed: a new one is admitted, and its subscription too
    first.ws.close();
    await first.closed;
    const third = await open(a.jwt);
    subscribe(third, 1, da);
    await eventually(async () => third.frames.find((f) => f.subscriptionId === 1 && f.errorCode === 0));
  });
});
