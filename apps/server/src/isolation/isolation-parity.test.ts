import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { connectAsync, type IClientOptions, type MqttClient } from 'mqtt';
import pg from 'pg';
import { AttributeScope } from '@rivulet/core';
import { createTestDatabase } from '@rivulet/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Rivulet } from '../app';
import { api, createTenantWithAdmin, eventually, login, startTestServer, SYSADMIN, tempDir } from '../test-helpers';

const execFileP = promisify(execFile);

/**
 * Tenant isolation of the ThingsBoard-parity features (device profiles, profile routing,
 * provisioning, claiming, device attribute requests, getSessionLimits), attacked as a hostile
 * tenant, customer user, device and unauthenticated client would: the real server on PostgreSQL,
 * REST over fetch, devices over mqtt.js, curl and coap-client-notls. Each case is an attack that
 * must stay refused.
 */
describe('isolation of device profiles, provisioning and claiming against hostile tenants, customers and devices', () => {
  let app: Rivulet;
  let db: { url: string; drop(): Promise<void> };
  let sys: string;
  const dir = tempDir();
  const clients: MqttClient[] = [];
  /** The victim tenant A and the attacker tenant B; each with a customer user. */
  let A: Tenant;
  let B: Tenant;

  interface Tenant {
    tenantId: string;
    jwt: string;
    customerId: string;
    customerJwt: string;
    /** A profile of the tenant with provisioning (ALLOW_CREATE_NEW_DEVICES) and a rule chain of its own. */
    profileId: string;
    chainId: string;
    provisionKey: string;
    provisionSecret: string;
  }

  type Json = Record<string, unknown>;

  function profileBody(name: string, o: { key?: string; secret?: string; type?: string; chainId?: string; id?: string } = {}): Json {
    const type = o.type ?? 'ALLOW_CREATE_NEW_DEVICES';
    return {
      ...(o.id ? { id: { entityType: 'DEVICE_PROFILE', id: o.id } } : {}),
      name,
      type: 'DEFAULT',
      transportType: 'DEFAULT',
      provisionType: type,
      ...(o.key !== undefined ? { provisionDeviceKey: o.key } : {}),
      ...(o.chainId ? { defaultRuleChainId: { entityType: 'RULE_CHAIN', id: o.chainId } } : {}),
      profileData: { configuration: { type: 'DEFAULT' }, transportConfiguration: { type: 'DEFAULT' }, provisionConfiguration: { type, provisionDeviceSecret: o.secret ?? null }, alarms: null },
    };
  }

  async function makeTenant(n: string, tenantProfileId?: string): Promise<Tenant> {
    const t = await createTenantWithAdmin(app.url, sys, { title: `Tenant ${n}`, email: `admin@${n}.iso.test`, password: `pw-${n}-admin`, ...(tenantProfileId ? { tenantProfileId } : {}) });
    const c = await api<{ id: { id: string } }>(app.url, t.jwt, '/api/customer', { method: 'POST', body: { title: `Customer ${n}` } });
    const u = await api(app.url, t.jwt, '/api/user', { method: 'POST', body: { email: `user@${n}.iso.test`, authority: 'CUSTOMER_USER', customerId: { id: c.body.id.id }, password: `pw-${n}-user` } });
    expect(u.status, JSON.stringify(u.body)).toBe(200);
    const chain = await api<{ id: { id: string } }>(app.url, t.jwt, '/api/ruleChain', { method: 'POST', body: { name: `chain ${n}` } });
    expect(chain.status, JSON.stringify(chain.body)).toBe(200);
    const key = `key-${n}`;
    const secret = `secret-${n}`;
    const p = await api<{ id: { id: string } }>(app.url, t.jwt, '/api/deviceProfile', { method: 'POST', body: profileBody(`profile ${n}`, { key, secret, chainId: chain.body.id.id }) });
    expect(p.status, JSON.stringify(p.body)).toBe(200);
    return {
      tenantId: t.tenantId,
      jwt: t.jwt,
      customerId: c.body.id.id,
      customerJwt: await login(app.url, { username: `user@${n}.iso.test`, password: `pw-${n}-user` }),
      profileId: p.body.id.id,
      chainId: chain.body.id.id,
      provisionKey: key,
      provisionSecret: secret,
    };
  }

  async function device(t: Tenant, name: string, extra: Json = {}): Promise<{ id: string; token: string }> {
    const d = await api<{ id: { id: string } }>(app.url, t.jwt, '/api/device', { method: 'POST', body: { name, ...extra } });
    expect(d.status, JSON.stringify(d.body)).toBe(200);
    const c = await api<{ credentialsId: string }>(app.url, t.jwt, `/api/device/${d.body.id.id}/credentials`);
    return { id: d.body.id.id, token: c.body.credentialsId };
  }

  async function mqttClient(opts: IClientOptions): Promise<MqttClient> {
    const c = await connectAsync(`mqtt://127.0.0.1:${app.mqttPort}`, { reconnectPeriod: 0, connectTimeout: 5000, ...opts });
    clients.push(c);
    return c;
  }

  /** One request and its answer over MQTT (ThingsBoard's request/response topics). */
  async function mqttAsk(c: MqttClient, requestTopic: string, responseTopic: string, body: unknown): Promise<unknown> {
    await c.subscribeAsync(responseTopic, { qos: 1 });
    const answer = new Promise<unknown>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`no answer on ${responseTopic}`)), 8000);
      c.on('message', (topic, payload) => {
        if (topic !== responseTopic) return;
        clearTimeout(t);
        resolve(JSON.parse(payload.toString()));
      });
    });
    await c.publishAsync(requestTopic, JSON.stringify(body), { qos: 1 });
    return answer;
  }

  const curl = async (url: string, body?: string): Promise<{ status: number; text: string }> => {
    const args = ['-s', '-w', '\n%{http_code}', '-H', 'content-type: application/json', ...(body === undefined ? [] : ['-X', 'POST', '-d', body]), url];
    const out = (await execFileP('curl', args, { timeout: 15_000 })).stdout;
    const i = out.lastIndexOf('\n');
    return { status: Number(out.slice(i + 1)), text: out.slice(0, i) };
  };
  const coapPost = async (path: string, body: string): Promise<string> =>
    (await execFileP('coap-client-notls', ['-B', '5', '-m', 'post', '-t', 'json', `coap://127.0.0.1:${app.coapPort}${path}`, '-e', body], { timeout: 15_000 })).stdout.trim();
  const provisionRequest = (deviceName: string, key: string, secret: string, extra: Json = {}) => JSON.stringify({ deviceName, provisionDeviceKey: key, provisionDeviceSecret: secret, ...extra });
  const NOT_FOUND = { status: 'NOT_FOUND', errorMsg: 'Provision data was not found!' };
  const FAILURE = { status: 'FAILURE', errorMsg: 'Failed to provision device!' };

  beforeAll(async () => {
    db = await createTestDatabase('parity_isolation');
    app = await startTestServer({ DATABASE_URL: db.url, RIVULET_DATA_DIR: dir.dir, RIVULET_PROVISION_REQUESTS_PER_MINUTE: '1000', RIVULET_RULE_ENGINE_RETRIES: '1' });
    sys = await login(app.url, SYSADMIN);
    // A's tenant profile has limits of its own: B's devices must never be told A's.
    const tp = await api<{ id: { id: string } }>(app.url, sys, '/api/tenantProfile', {
      method: 'POST',
      body: { name: 'victim limits', profileData: { configuration: { type: 'DEFAULT', maxPayloadBytes: 4321, transportDeviceMsgRateLimit: 7 } } },
    });
    expect(tp.status, JSON.stringify(tp.body)).toBe(200);
    await app.tenantLimits.settled();
    A = await makeTenant('victim', tp.body.id.id);
    B = await makeTenant('attacker');
  });
  afterAll(async () => {
    await Promise.all(clients.map((c) => c.endAsync(true).catch(() => {})));
    await app?.stop();
    await db?.drop();
    dir.remove();
  });

  describe('device profiles over REST', () => {
    it("tenant B cannot read, update, delete or make default tenant A's profile by id (404), and A's profile is unchanged", async () => {
      const before = await api<Json>(app.url, A.jwt, `/api/deviceProfile/${A.profileId}`);
      expect(before.status).toBe(200);
      expect((await api(app.url, B.jwt, `/api/deviceProfile/${A.profileId}`)).status).toBe(404);
      expect((await api(app.url, B.jwt, `/api/deviceProfileInfo/${A.profileId}`)).status).toBe(404);
      const update = await api(app.url, B.jwt, '/api/deviceProfile', { method: 'POST', body: profileBody('taken over', { id: A.profileId, key: 'stolen-key', secret: 'stolen' }) });
      expect(update.status).toBe(404);
      expect((await api(app.url, B.jwt, `/api/deviceProfile/${A.profileId}`, { method: 'DELETE' })).status).toBe(404);
      expect((await api(app.url, B.jwt, `/api/deviceProfile/${A.profileId}/default`, { method: 'POST' })).status).toBe(404);
      const after = await api<Json>(app.url, A.jwt, `/api/deviceProfile/${A.profileId}`);
      expect(after.body).toEqual(before.body);
      // B's own default is still its default
      const bDefault = await api<{ id: { id: string } }>(app.url, B.jwt, '/api/deviceProfileInfo/default');
      expect(bDefault.body.id.id).not.toBe(A.profileId);
    });

    it("A's profiles appear in no list of B's; B's device infos filtered by A's profile are empty", async () => {
      await device(A, 'victim-listed', { deviceProfileId: { entityType: 'DEVICE_PROFILE', id: A.profileId } });
      const infos = await api<{ data: Array<{ id: { id: string }; tenantId: { id: string } }> }>(app.url, B.jwt, '/api/deviceProfileInfos?pageSize=100&page=0');
      expect(infos.status).toBe(200);
      expect(infos.body.data.length).toBeGreaterThan(0);
      expect(infos.body.data.every((p) => p.tenantId.id === B.tenantId)).toBe(true);
      const full = await api<{ data: Array<{ tenantId: { id: string } }> }>(app.url, B.jwt, '/api/deviceProfiles?pageSize=100&page=0');
      expect(full.body.data.every((p) => p.tenantId.id === B.tenantId)).toBe(true);
      const custInfos = await api<{ data: Array<{ tenantId: { id: string } }> }>(app.url, B.customerJwt, '/api/deviceProfileInfos?pageSize=100&page=0');
      expect(custInfos.status).toBe(200);
      expect(custInfos.body.data.every((p) => p.tenantId.id === B.tenantId)).toBe(true);
      const devs = await api<{ data: unknown[]; totalElements: number }>(app.url, B.jwt, `/api/tenant/deviceInfos?pageSize=100&page=0&deviceProfileId=${A.profileId}`);
      expect(devs.status).toBe(200);
      expect(devs.body).toMatchObject({ data: [], totalElements: 0 });
      // the same filter works for A (the device is there): the empty page above is isolation, not a broken filter
      const own = await api<{ totalElements: number }>(app.url, A.jwt, `/api/tenant/deviceInfos?pageSize=100&page=0&deviceProfileId=${A.profileId}`);
      expect(own.body.totalElements).toBe(1);
    });

    it("B cannot give its profile A's rule chain, nor its device A's profile (create or update)", async () => {
      const create = await api<{ message: string }>(app.url, B.jwt, '/api/deviceProfile', { method: 'POST', body: profileBody('with A chain', { chainId: A.chainId }) });
      expect(create.status).toBe(404);
      expect((await api<{ data: Array<{ name: string }> }>(app.url, B.jwt, '/api/deviceProfiles?pageSize=100&page=0&textSearch=with%20A%20chain')).body.data).toEqual([]);
      const update = await api(app.url, B.jwt, '/api/deviceProfile', { method: 'POST', body: profileBody('profile attacker', { id: B.profileId, key: B.provisionKey, secret: B.provisionSecret, chainId: A.chainId }) });
      expect(update.status).toBe(404);
      expect((await api<{ defaultRuleChainId: { id: string } }>(app.url, B.jwt, `/api/deviceProfile/${B.profileId}`)).body.defaultRuleChainId.id).toBe(B.chainId);

      const withA = await api(app.url, B.jwt, '/api/device', { method: 'POST', body: { name: 'b-with-a-profile', deviceProfileId: { entityType: 'DEVICE_PROFILE', id: A.profileId } } });
      expect(withA.status).toBe(404);
      expect((await api<{ data: unknown[] }>(app.url, B.jwt, '/api/tenant/deviceInfos?pageSize=100&page=0&textSearch=b-with-a-profile')).body.data).toEqual([]);
      const own = await device(B, 'b-own-device');
      const moved = await api(app.url, B.jwt, '/api/device', { method: 'POST', body: { id: { entityType: 'DEVICE', id: own.id }, name: 'b-own-device', deviceProfileId: { entityType: 'DEVICE_PROFILE', id: A.profileId } } });
      expect(moved.status).toBe(404);
      const got = await api<{ deviceProfileId: { id: string } }>(app.url, B.jwt, `/api/device/${own.id}`);
      expect(got.body.deviceProfileId.id).not.toBe(A.profileId);
    });

    it('customer users and the system administrator do not manage device profiles (403); profile infos carry no provisioning secrets', async () => {
      for (const jwt of [A.customerJwt, sys]) {
        expect((await api(app.url, jwt, '/api/deviceProfile', { method: 'POST', body: profileBody(`by ${jwt === sys ? 'sys' : 'customer'}`) })).status).toBe(403);
        expect((await api(app.url, jwt, `/api/deviceProfile/${A.profileId}`)).status).toBe(403);
        expect((await api(app.url, jwt, `/api/deviceProfile/${A.profileId}`, { method: 'DELETE' })).status).toBe(403);
        expect((await api(app.url, jwt, `/api/deviceProfile/${A.profileId}/default`, { method: 'POST' })).status).toBe(403);
        expect((await api(app.url, jwt, '/api/deviceProfiles?pageSize=10&page=0')).status).toBe(403);
      }
      const info = await api<Json>(app.url, A.customerJwt, `/api/deviceProfileInfo/${A.profileId}`);
      expect(info.status).toBe(200);
      const text = JSON.stringify(info.body) + JSON.stringify((await api(app.url, A.customerJwt, '/api/deviceProfileInfos?pageSize=100&page=0')).body);
      expect(text).not.toContain(A.provisionKey);
      expect(text).not.toContain(A.provisionSecret);
      expect((await api(app.url, A.jwt, `/api/deviceProfile/${A.profileId}`)).status).toBe(200);
    });

    it("a customer user lists only its customer's devices, whatever profile it filters by; no device of A's other customers or of B", async () => {
      const other = await api<{ id: { id: string } }>(app.url, A.jwt, '/api/customer', { method: 'POST', body: { title: 'Other customer of A' } });
      const mine = await device(A, 'cust-mine', { deviceProfileId: { entityType: 'DEVICE_PROFILE', id: A.profileId } });
      const theirs = await device(A, 'cust-theirs', { deviceProfileId: { entityType: 'DEVICE_PROFILE', id: A.profileId } });
      expect((await api(app.url, A.jwt, `/api/customer/${A.customerId}/device/${mine.id}`, { method: 'POST' })).status).toBe(200);
      expect((await api(app.url, A.jwt, `/api/customer/${other.body.id.id}/device/${theirs.id}`, { method: 'POST' })).status).toBe(200);
      const q = `pageSize=100&page=0&deviceProfileId=${A.profileId}`;
      const own = await api<{ data: Array<{ name: string }> }>(app.url, A.customerJwt, `/api/customer/${A.customerId}/deviceInfos?${q}`);
      expect(own.status).toBe(200);
      expect(own.body.data.map((d) => d.name)).toEqual(['cust-mine']);
      expect((await api(app.url, A.customerJwt, `/api/customer/${other.body.id.id}/deviceInfos?${q}`)).status).toBe(404);
      expect((await api(app.url, A.customerJwt, `/api/tenant/deviceInfos?${q}`)).status).toBe(403);
      expect((await api(app.url, B.customerJwt, `/api/customer/${A.customerId}/deviceInfos?${q}`)).status).toBe(404);
      expect((await api(app.url, B.jwt, `/api/customer/${A.customerId}/deviceInfos?${q}`)).status).toBe(404);
      // nor can a customer user create a device on a profile
      expect((await api(app.url, A.customerJwt, '/api/device', { method: 'POST', body: { name: 'cust-made', deviceProfileId: { entityType: 'DEVICE_PROFILE', id: A.profileId } } })).status).toBe(403);
    });
  });

  describe('profile routing', () => {
    it("storage refuses a profile naming another tenant's rule chain, however it is written", async () => {
      const p = await app.storage.deviceProfiles.get(B.tenantId, B.profileId);
      await expect(app.storage.deviceProfiles.update(B.tenantId, B.profileId, { ...p!, defaultRuleChainId: A.chainId })).rejects.toThrow(/rule chain/i);
      await expect(app.storage.deviceProfiles.create(B.tenantId, { name: 'direct with A chain', defaultRuleChainId: A.chainId })).rejects.toThrow(/rule chain/i);
      expect((await app.storage.deviceProfiles.get(B.tenantId, B.profileId))?.defaultRuleChainId).toBe(B.chainId);
    });
  });

  describe('profile routing past storage', () => {
    it("a profile forged in the database to name A's chain: B's device's messages fail (dead letter), A's chain never runs them", async () => {
      const TB = 'org.thingsboard.rule.engine';
      const audit = await api<{ id: { id: string } }>(app.url, A.jwt, '/api/ruleChain', { method: 'POST', body: { name: 'A audit' } });
      const meta = await api(app.url, A.jwt, '/api/ruleChain/metadata', {
        method: 'POST',
        body: { ruleChainId: { entityType: 'RULE_CHAIN', id: audit.body.id.id }, firstNodeIndex: 0, nodes: [{ type: `${TB}.telemetry.TbMsgTimeseriesNode`, name: 'Save', configuration: { defaultTTL: 0 } }], connections: [] },
      });
      expect(meta.status, JSON.stringify(meta.body)).toBe(200);
      const forged = await api<{ id: { id: string } }>(app.url, B.jwt, '/api/deviceProfile', { method: 'POST', body: profileBody('forged route', { type: 'DISABLED' }) });
      expect(forged.status).toBe(200);
      // the device starts on B's default profile (its creation event is routed, and cached, by that one)
      const d = await device(B, 'forged-routed');
      // what the API and storage refuse, written past them (the foreign key dropped for the moment)
      const sql = new pg.Client({ connectionString: db.url });
      await sql.connect();
      try {
        await sql.query('ALTER TABLE device_profile DROP CONSTRAINT device_profile_rule_chain_fk');
        await sql.query('UPDATE device_profile SET default_rule_chain_id = $1 WHERE id = $2', [audit.body.id.id, forged.body.id.id]);
        await sql.query('UPDATE device SET device_profile_id = $1 WHERE id = $2', [forged.body.id.id, d.id]);
        // a label change over REST announces the device: routing reads it (and the forged profile) again
        expect((await api(app.url, B.jwt, '/api/device', { method: 'POST', body: { id: { entityType: 'DEVICE', id: d.id }, name: 'forged-routed', label: 'reread' } })).status).toBe(200);
        const posted = await curl(`${app.url}/api/v1/${d.token}/telemetry`, JSON.stringify({ forged: 1 }));
        expect(posted.status).toBe(200);
        const letter = await eventually(async () => {
          const r = await api<{ data: Array<{ msg: { originator: { id: string } }; error: string }> }>(app.url, sys, `/api/admin/deadLetters?tenantId=${B.tenantId}`);
          return r.body.data.find((l) => l.msg.originator.id === d.id);
        }, 20_000);
        expect(letter.error).toMatch(/not found/);
        const stats = app.ruleEngine!.stats().chains;
        expect(stats.filter((c) => c.chainId === audit.body.id.id && c.tenantId !== A.tenantId)).toEqual([]);
        expect(stats.filter((c) => c.chainId === audit.body.id.id).flatMap((c) => c.nodes).every((n) => n.in === 0)).toBe(true);
        expect(await app.storage.timeseries.findLatest(d.id, ['forged'])).toEqual([]);
      } finally {
        await sql.query('UPDATE device_profile SET default_rule_chain_id = NULL WHERE id = $1', [forged.body.id.id]);
        await sql.query('ALTER TABLE device_profile ADD CONSTRAINT device_profile_rule_chain_fk FOREIGN KEY (tenant_id, default_rule_chain_id) REFERENCES rule_chain (tenant_id, id)');
        await sql.end();
      }
    });
  });

  describe('device profile rule node', () => {
    it("dynamic values read the device's own and its tenant's attributes only: B's twin device never alarms on A's thresholds", async () => {
      const rule = (source: 'CURRENT_TENANT' | 'CURRENT_DEVICE', attribute: string) => ({
        key: { type: 'TIME_SERIES', key: 'temperature' },
        valueType: 'NUMERIC',
        predicate: { type: 'NUMERIC', operation: 'GREATER', value: { defaultValue: 1000, userValue: null, dynamicValue: { sourceType: source, sourceAttribute: attribute, inherit: false } } },
      });
      const alarm = (type: string, source: 'CURRENT_TENANT' | 'CURRENT_DEVICE', attribute: string) => ({
        id: type,
        alarmType: type,
        createRules: { MAJOR: { condition: { condition: [rule(source, attribute)], spec: { type: 'SIMPLE' } }, schedule: null, alarmDetails: null, dashboardId: null } },
        clearRule: null,
        propagate: false,
        propagateRelationTypes: null,
      });
      const body = {
        name: 'dynamic thresholds',
        profileData: {
          configuration: { type: 'DEFAULT' },
          transportConfiguration: { type: 'DEFAULT' },
          provisionConfiguration: { type: 'DISABLED', provisionDeviceSecret: null },
          alarms: [alarm('Tenant Limit', 'CURRENT_TENANT', 'maxTemp'), alarm('Device Limit', 'CURRENT_DEVICE', 'devMax')],
        },
      };
      const twins: Record<'A' | 'B', { id: string; token: string }> = {} as never;
      for (const [label, t] of [['A', A], ['B', B]] as const) {
        const p = await api<{ id: { id: string } }>(app.url, t.jwt, '/api/deviceProfile', { method: 'POST', body });
        expect(p.status, JSON.stringify(p.body)).toBe(200);
        twins[label] = await device(t, 'dyn-twin', { deviceProfileId: { entityType: 'DEVICE_PROFILE', id: p.body.id.id } });
      }
      // A's thresholds are low: its tenant's maxTemp and its device's devMax; B has none (the default 1000 holds)
      const ts = Date.now();
      await app.storage.attributes.save([{ entityId: A.tenantId, scope: AttributeScope.SERVER_SCOPE, key: 'maxTemp', value: 10, lastUpdateTs: ts }]);
      expect((await api(app.url, A.jwt, `/api/plugins/telemetry/DEVICE/${twins.A.id}/attributes/SERVER_SCOPE`, { method: 'POST', body: { devMax: 10 } })).status).toBe(200);
      const alarmTypes = async (t: Tenant, id: string) =>
        (await api<{ data: Array<{ type: string }> }>(app.url, t.jwt, `/api/alarm/DEVICE/${id}?pageSize=10&page=0`)).body.data.map((a) => a.type).sort();
      // B's twin first: nothing of A's is cached anywhere yet
      const bc = await mqttClient({ username: twins.B.token });
      await bc.publishAsync('v1/devices/me/telemetry', JSON.stringify({ temperature: 50 }), { qos: 1 });
      await eventually(async () => (await app.storage.timeseries.findLatest(twins.B.id, ['temperature'])).length > 0);
      const ac = await mqttClient({ username: twins.A.token });
      await ac.publishAsync('v1/devices/me/telemetry', JSON.stringify({ temperature: 50 }), { qos: 1 });
      expect(await eventually(async () => ((await alarmTypes(A, twins.A.id)).length === 2 ? alarmTypes(A, twins.A.id) : null))).toEqual(['Device Limit', 'Tenant Limit']);
      // and after A's values are loaded, B's twin reports again
      await bc.publishAsync('v1/devices/me/telemetry', JSON.stringify({ temperature: 60 }), { qos: 1 });
      await eventually(async () => (await app.storage.timeseries.findLatest(twins.B.id, ['temperature']))[0]?.value === 60);
      await new Promise((r) => setTimeout(r, 300));
      expect(await alarmTypes(B, twins.B.id)).toEqual([]);
      // B's own thresholds do apply to it (the rules run): over 1000 both alarms
      await bc.publishAsync('v1/devices/me/telemetry', JSON.stringify({ temperature: 2000 }), { qos: 1 });
      expect(await eventually(async () => ((await alarmTypes(B, twins.B.id)).length === 2 ? alarmTypes(B, twins.B.id) : null))).toEqual(['Device Limit', 'Tenant Limit']);
    });
  });

  describe('provisioning', () => {
    it("B cannot take A's provision key (create, update, padded with spaces): ThingsBoard's 400, and A's key still provisions into A", async () => {
      const msg = 'Device profile with such provision device key already exists!';
      const created = await api<{ message: string }>(app.url, B.jwt, '/api/deviceProfile', { method: 'POST', body: profileBody('key thief', { key: A.provisionKey, secret: 'thief' }) });
      expect(created).toMatchObject({ status: 400, body: { message: msg } });
      const padded = await api<{ message: string }>(app.url, B.jwt, '/api/deviceProfile', { method: 'POST', body: profileBody('key thief 2', { key: `  ${A.provisionKey} `, secret: 'thief' }) });
      expect(padded).toMatchObject({ status: 400, body: { message: msg } });
      const updated = await api<{ message: string }>(app.url, B.jwt, '/api/deviceProfile', {
        method: 'POST',
        body: profileBody('profile attacker', { id: B.profileId, key: A.provisionKey, secret: 'thief', chainId: B.chainId }),
      });
      expect(updated).toMatchObject({ status: 400, body: { message: msg } });
      expect((await api<{ provisionDeviceKey: string }>(app.url, B.jwt, `/api/deviceProfile/${B.profileId}`)).body.provisionDeviceKey).toBe(B.provisionKey);

      // A's key with the thief's secret is unknown; with A's secret the device is A's
      const thief = await curl(`${app.url}/api/v1/provision`, provisionRequest('thief-device', A.provisionKey, 'thief'));
      expect(JSON.parse(thief.text)).toEqual(NOT_FOUND);
      const ok = JSON.parse((await curl(`${app.url}/api/v1/provision`, provisionRequest('victim-provisioned', A.provisionKey, A.provisionSecret))).text) as { status: string; credentialsValue: string };
      expect(ok.status).toBe('SUCCESS');
      const d = await app.storage.devices.findByCredentials('ACCESS_TOKEN', ok.credentialsValue);
      expect(d).toMatchObject({ tenantId: A.tenantId, name: 'victim-provisioned', deviceProfileId: A.profileId });
    });

    it('a wrong secret answers exactly as an unknown key, over MQTT, HTTP and CoAP (no oracle for keys)', async () => {
      const wrong = provisionRequest('guess', A.provisionKey, `${A.provisionSecret}x`);
      const unknown = provisionRequest('guess', 'no-such-key', 'whatever');
      const empty = provisionRequest('guess', A.provisionKey, '');
      for (const body of [wrong, unknown, empty]) {
        const http = await curl(`${app.url}/api/v1/provision`, body);
        expect(JSON.parse(http.text)).toEqual(NOT_FOUND);
        expect(JSON.parse(await coapPost('/api/v1/provision', body))).toEqual(NOT_FOUND);
        const c = await mqttClient({ username: 'provision' });
        expect(await mqttAsk(c, '/provision/request', '/provision/response', JSON.parse(body))).toEqual(NOT_FOUND);
      }
      expect(await app.storage.devices.findByName(A.tenantId, 'guess')).toBeNull();
    });

    it("an eavesdropper on /provision/response (or '#') never hears another connection's credentials; a provisioning connection cannot speak as a device", async () => {
      const spy = await mqttClient({ username: 'provision' });
      const heard: string[] = [];
      spy.on('message', (topic, payload) => heard.push(`${topic} ${payload.toString()}`));
      await spy.subscribeAsync('/provision/response', { qos: 1 });
      // a wildcard subscription is refused (SUBACK failure) or simply delivers nothing
      await spy.subscribeAsync('#', { qos: 1 }).catch(() => undefined);
      const deviceSpy = await mqttClient({ username: (await device(B, 'wildcard-spy')).token });
      deviceSpy.on('message', (topic, payload) => heard.push(`${topic} ${payload.toString()}`));
      for (const t of ['#', '/provision/response', 'v1/devices/+/attributes', '+/+/+/+']) await deviceSpy.subscribeAsync(t, { qos: 1 }).catch(() => undefined);

      const victim = await mqttClient({ username: 'provision' });
      const answer = (await mqttAsk(victim, '/provision/request', '/provision/response', JSON.parse(provisionRequest('eavesdropped', A.provisionKey, A.provisionSecret)))) as { status: string; credentialsValue: string };
      expect(answer.status).toBe('SUCCESS');
      // the provisioned device's first telemetry and an update of its shared attributes: nobody else hears them either
      const d = await app.storage.devices.findByCredentials('ACCESS_TOKEN', answer.credentialsValue);
      const dc = await mqttClient({ username: answer.credentialsValue });
      await dc.subscribeAsync('v1/devices/me/attributes', { qos: 1 });
      const gotShared = new Promise<void>((resolve) => dc.on('message', (topic) => topic === 'v1/devices/me/attributes' && resolve()));
      await dc.publishAsync('v1/devices/me/telemetry', JSON.stringify({ eaves: 1 }), { qos: 1 });
      expect((await api(app.url, A.jwt, `/api/plugins/telemetry/DEVICE/${d!.id}/attributes/SHARED_SCOPE`, { method: 'POST', body: { eavesShared: 1 } })).status).toBe(200);
      await gotShared;
      await new Promise((r) => setTimeout(r, 300));
      expect(heard).toEqual([]);

      // the provisioning connection may not publish device data (ThingsBoard closes it)
      const rogue = await mqttClient({ username: 'provision' });
      const closed = new Promise<void>((resolve) => rogue.once('close', () => resolve()));
      rogue.publish('v1/devices/me/telemetry', JSON.stringify({ rogue: 1 }), { qos: 1 }, () => {});
      await Promise.race([closed, new Promise((r) => setTimeout(r, 3000))]);
      expect(await app.storage.devices.findByName(A.tenantId, 'provision')).toBeNull();
      expect(await app.storage.devices.findByName(B.tenantId, 'provision')).toBeNull();
    });

    it("MQTT basic credentials of B (provisioned or saved) cannot shadow A's: A's device, connecting with its client id, stays A's", async () => {
      // A's device: MQTT basic with a user name and a password (the user name is no secret; the password is)
      const victim = await device(A, 'basic-victim');
      const setA = await api(app.url, A.jwt, '/api/device/credentials', {
        method: 'POST',
        body: { deviceId: { entityType: 'DEVICE', id: victim.id }, credentialsType: 'MQTT_BASIC', credentialsId: 'basic', credentialsValue: JSON.stringify({ clientId: null, userName: 'victim-user', password: 'victim-pw' }) },
      });
      expect(setA.status, JSON.stringify(setA.body)).toBe(200);
      // B asks for {the victim's client id, the victim's user name, no password}: first by provisioning, then over REST on a device of its own
      const provisioned = JSON.parse(
        (await curl(`${app.url}/api/v1/provision`, provisionRequest('basic-squatter', B.provisionKey, B.provisionSecret, { credentialsType: 'MQTT_BASIC', clientId: 'victim-client', username: 'victim-user' }))).text,
      ) as unknown;
      expect(provisioned).toEqual(FAILURE);
      expect(await app.storage.devices.findByName(B.tenantId, 'basic-squatter')).toBeNull();
      const own = await device(B, 'basic-squatter-rest');
      const setB = await api<{ message: string }>(app.url, B.jwt, '/api/device/credentials', {
        method: 'POST',
        body: { deviceId: { entityType: 'DEVICE', id: own.id }, credentialsType: 'MQTT_BASIC', credentialsId: 'basic', credentialsValue: JSON.stringify({ clientId: 'victim-client', userName: 'victim-user', password: null }) },
      });
      expect(setB.status).toBe(400);
      // the same with an access token's value as the user name: a device connecting with its token and that client id stays itself
      const tokenVictim = await device(A, 'token-victim');
      const setB2 = await api(app.url, B.jwt, '/api/device/credentials', {
        method: 'POST',
        body: { deviceId: { entityType: 'DEVICE', id: own.id }, credentialsType: 'MQTT_BASIC', credentialsId: 'basic', credentialsValue: JSON.stringify({ clientId: 'token-victim-client', userName: tokenVictim.token, password: null }) },
      });
      expect(setB2.status).toBe(400);

      // A's devices connect with those client ids: their telemetry is A's
      const c = await mqttClient({ clientId: 'victim-client', username: 'victim-user', password: 'victim-pw' });
      await c.publishAsync('v1/devices/me/telemetry', JSON.stringify({ hijack: 1 }), { qos: 1 });
      const t = await mqttClient({ clientId: 'token-victim-client', username: tokenVictim.token });
      await t.publishAsync('v1/devices/me/telemetry', JSON.stringify({ hijack: 2 }), { qos: 1 });
      await eventually(async () => (await app.storage.timeseries.findLatest(victim.id, ['hijack'])).length > 0);
      await eventually(async () => (await app.storage.timeseries.findLatest(tokenVictim.id, ['hijack'])).length > 0);
      expect(await app.storage.timeseries.findLatest(own.id, ['hijack'])).toEqual([]);
    });

    it("a provision request naming A's device with B's key never reaches A's device or its credentials", async () => {
      const victim = await device(A, 'victim-named');
      // ALLOW_CREATE_NEW_DEVICES: B gets a device of its own of that name
      const created = JSON.parse((await curl(`${app.url}/api/v1/provision`, provisionRequest('victim-named', B.provisionKey, B.provisionSecret))).text) as { status: string; credentialsValue: string };
      expect(created.status).toBe('SUCCESS');
      expect(created.credentialsValue).not.toBe(victim.token);
      expect(await app.storage.devices.findByCredentials('ACCESS_TOKEN', created.credentialsValue)).toMatchObject({ tenantId: B.tenantId, name: 'victim-named' });
      // asking for the victim's token: refused, the token stays A's
      const tokenGrab = JSON.parse((await curl(`${app.url}/api/v1/provision`, provisionRequest('grab-token', B.provisionKey, B.provisionSecret, { credentialsType: 'ACCESS_TOKEN', token: victim.token }))).text) as unknown;
      expect(tokenGrab).toEqual(FAILURE);
      expect(await app.storage.devices.findByCredentials('ACCESS_TOKEN', victim.token)).toMatchObject({ id: victim.id, tenantId: A.tenantId });
      expect(await app.storage.devices.findByName(B.tenantId, 'grab-token')).toBeNull();
      // MQTT basic credentials whose user name is the victim's token: refused too
      const basicGrab = JSON.parse((await curl(`${app.url}/api/v1/provision`, provisionRequest('grab-basic', B.provisionKey, B.provisionSecret, { credentialsType: 'MQTT_BASIC', username: victim.token, password: 'p' }))).text) as unknown;
      expect(basicGrab).toEqual(FAILURE);
      expect(await app.storage.devices.findByName(B.tenantId, 'grab-basic')).toBeNull();

      // CHECK_PRE_PROVISIONED_DEVICES: B's pre-provisioning profile never answers A's device
      const pre = await api<{ id: { id: string } }>(app.url, B.jwt, '/api/deviceProfile', {
        method: 'POST',
        body: profileBody('attacker pre', { type: 'CHECK_PRE_PROVISIONED_DEVICES', key: 'attacker-pre-key', secret: 'attacker-pre-secret' }),
      });
      expect(pre.status).toBe(200);
      const answer = JSON.parse(await coapPost('/api/v1/provision', provisionRequest('victim-named', 'attacker-pre-key', 'attacker-pre-secret'))) as unknown;
      expect(answer).toEqual(FAILURE);
      expect(JSON.stringify(answer)).not.toContain(victim.token);
      // the victim still speaks as itself
      const c = await mqttClient({ username: victim.token });
      await c.publishAsync('v1/devices/me/telemetry', JSON.stringify({ alive: 1 }), { qos: 1 });
      await eventually(async () => (await app.storage.timeseries.findLatest(victim.id, ['alive'])).length > 0);
    });
  });

  describe('claiming', () => {
    async function announceClaim(token: string, secretKey: string): Promise<void> {
      const r = await curl(`${app.url}/api/v1/${token}/claim`, JSON.stringify({ secretKey, durationMs: 60_000 }));
      expect(r.status).toBe(200);
    }
    const claimingData = async (id: string) => (await app.storage.attributes.find(id, AttributeScope.SERVER_SCOPE, ['claimingData']))[0]?.value;

    it("B's customer user cannot claim A's device by name, even with its secret; A's pending claim is left intact", async () => {
      const victim = await device(A, 'claim-victim');
      await announceClaim(victim.token, 'victim-claim-secret');
      const pending = await eventually(() => claimingData(victim.id));
      const r = await api(app.url, B.customerJwt, `/api/customer/device/claim-victim/claim`, { method: 'POST', body: { secretKey: 'victim-claim-secret' } });
      expect(r.status).toBe(404);
      const wrong = await api(app.url, B.customerJwt, `/api/customer/device/claim-victim/claim`, { method: 'POST', body: { secretKey: 'guess' } });
      expect(wrong.status).toBe(404);
      expect(await claimingData(victim.id)).toBe(pending);
      expect((await api<{ customerId: { id: string } }>(app.url, A.jwt, `/api/device/${victim.id}`)).body.customerId.id).toBe('13814000-1dd2-11b2-8080-808080808080');
      // A's own customer still claims it
      const own = await api<{ response: string }>(app.url, A.customerJwt, `/api/customer/device/claim-victim/claim`, { method: 'POST', body: { secretKey: 'victim-claim-secret' } });
      expect(own).toMatchObject({ status: 200, body: { response: 'SUCCESS' } });
    });

    it("re-claiming: B's customer user and tenant administrator cannot take A's device from its customer", async () => {
      const victim = await device(A, 'reclaim-victim');
      expect((await api(app.url, A.jwt, `/api/customer/${A.customerId}/device/${victim.id}`, { method: 'POST' })).status).toBe(200);
      for (const jwt of [B.customerJwt, B.jwt]) expect((await api(app.url, jwt, '/api/customer/device/reclaim-victim/claim', { method: 'DELETE' })).status).toBe(404);
      expect((await api<{ customerId: { id: string } }>(app.url, A.jwt, `/api/device/${victim.id}`)).body.customerId.id).toBe(A.customerId);
    });

    it('the claim secret is readable by no device (MQTT, HTTP, CoAP attribute requests), nor by customer users of an unassigned device', async () => {
      const d = await device(A, 'claim-secret-holder');
      await announceClaim(d.token, 'hidden-claim-secret');
      await eventually(() => claimingData(d.id));
      const keys = 'claimingData,claimingAllowed,provisionState';
      // the device itself
      const c = await mqttClient({ username: d.token });
      const mqtt = await mqttAsk(c, 'v1/devices/me/attributes/request/1', 'v1/devices/me/attributes/response/1', { clientKeys: keys, sharedKeys: keys });
      expect(JSON.stringify(mqtt)).not.toContain('hidden-claim-secret');
      const all = await mqttAsk(c, 'v1/devices/me/attributes/request/2', 'v1/devices/me/attributes/response/2', {});
      expect(JSON.stringify(all)).not.toContain('hidden-claim-secret');
      const http = await curl(`${app.url}/api/v1/${d.token}/attributes?clientKeys=${keys}&sharedKeys=${keys}`);
      expect(http.status).toBe(200);
      expect(http.text).not.toContain('hidden-claim-secret');
      const httpAll = await curl(`${app.url}/api/v1/${d.token}/attributes`);
      expect(httpAll.text).not.toContain('hidden-claim-secret');
      const coap = (await execFileP('coap-client-notls', ['-B', '5', '-m', 'get', `coap://127.0.0.1:${app.coapPort}/api/v1/${d.token}/attributes?clientKeys=${keys}&sharedKeys=${keys}`], { timeout: 15_000 })).stdout;
      expect(coap).not.toContain('hidden-claim-secret');
      // customer users (of this tenant and of the other) see no unassigned device
      for (const jwt of [A.customerJwt, B.customerJwt, B.jwt]) {
        const r = await api(app.url, jwt, `/api/plugins/telemetry/DEVICE/${d.id}/values/attributes/SERVER_SCOPE`);
        expect(r.status).toBe(404);
        expect(JSON.stringify(r.body)).not.toContain('hidden-claim-secret');
      }
      // a device writing a client attribute of that name changes nothing about the claim
      await c.publishAsync('v1/devices/me/attributes', JSON.stringify({ claimingData: JSON.stringify({ secretKey: '', expirationTime: Date.now() + 60_000 }) }), { qos: 1 });
      await eventually(async () => (await app.storage.attributes.find(d.id, AttributeScope.CLIENT_SCOPE, ['claimingData'])).length > 0);
      expect(JSON.parse(String(await claimingData(d.id)))).toMatchObject({ secretKey: 'hidden-claim-secret' });
      expect((await api(app.url, A.customerJwt, '/api/customer/device/claim-secret-holder/claim', { method: 'POST', body: { secretKey: '' } })).body).toBe('FAILURE');
    });
  });

  describe('device API', () => {
    it("attribute requests of B's device never answer A's device's attributes, whatever keys it names (MQTT, HTTP, CoAP)", async () => {
      const victim = await device(A, 'attr-victim');
      const attacker = await device(B, 'attr-attacker');
      const shared = await api(app.url, A.jwt, `/api/plugins/telemetry/DEVICE/${victim.id}/attributes/SHARED_SCOPE`, { method: 'POST', body: { victimShared: 'victim-shared-value' } });
      expect(shared.status).toBe(200);
      const vc = await mqttClient({ username: victim.token });
      await vc.publishAsync('v1/devices/me/attributes', JSON.stringify({ victimClient: 'victim-client-value' }), { qos: 1 });
      await eventually(async () => (await app.storage.attributes.find(victim.id, AttributeScope.CLIENT_SCOPE, ['victimClient'])).length > 0);
      // the victim reads its own (the requests work)
      expect(await mqttAsk(vc, 'v1/devices/me/attributes/request/1', 'v1/devices/me/attributes/response/1', { clientKeys: 'victimClient', sharedKeys: 'victimShared' })).toEqual({
        client: { victimClient: 'victim-client-value' },
        shared: { victimShared: 'victim-shared-value' },
      });
      const ac = await mqttClient({ username: attacker.token });
      const mqtt = await mqttAsk(ac, 'v1/devices/me/attributes/request/1', 'v1/devices/me/attributes/response/1', { clientKeys: 'victimClient', sharedKeys: 'victimShared' });
      expect(mqtt).toEqual({});
      const http = await curl(`${app.url}/api/v1/${attacker.token}/attributes?clientKeys=victimClient&sharedKeys=victimShared`);
      expect(JSON.parse(http.text)).toEqual({});
      const coap = (await execFileP('coap-client-notls', ['-B', '5', '-m', 'get', `coap://127.0.0.1:${app.coapPort}/api/v1/${attacker.token}/attributes?clientKeys=victimClient&sharedKeys=victimShared`], { timeout: 15_000 })).stdout;
      expect(coap).not.toContain('victim');
    });

    it("getSessionLimits answers the device's own tenant's limits, never another tenant's", async () => {
      const victim = await device(A, 'limits-victim');
      const attacker = await device(B, 'limits-attacker');
      const ask = async (token: string) => mqttAsk(await mqttClient({ username: token }), 'v1/devices/me/rpc/request/1', 'v1/devices/me/rpc/response/1', { method: 'getSessionLimits', params: {} });
      const a = (await ask(victim.token)) as { maxPayloadSize: number; rateLimits: { messages: string } };
      const b = (await ask(attacker.token)) as { maxPayloadSize: number; rateLimits: { messages: string } };
      expect(a.maxPayloadSize).toBe(4321);
      expect(a.rateLimits.messages).toContain('7:');
      expect(b.maxPayloadSize).not.toBe(4321);
      expect(b.rateLimits.messages).not.toContain('7:');
      expect(JSON.stringify(b)).not.toContain(A.tenantId);
    });
  });
});
