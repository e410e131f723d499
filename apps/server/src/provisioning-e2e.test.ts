import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import type { IClientOptions, MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Rivulet } from './app';
import { api, createDevice, eventually, login, startSuiteServer, startTestServer, tempDir } from './test-helpers';

const execFileP = promisify(execFile);

/**
 * Device provisioning and claiming end to end (issue #14): the whole server on PostgreSQL, devices
 * are real clients (mqtt.js, mosquitto_rr, curl, coap-client-notls). A device provisions itself,
 * then sends telemetry with the credentials it received, read back over REST; a device announces
 * a claim over MQTT and a customer user claims it over REST.
 */
describe('provisioning and claiming with real device clients', () => {
  const server = startSuiteServer({ database: 'provisioning_e2e' });

  /** A device profile made as a tenant administrator makes one (ThingsBoard's POST /api/deviceProfile). */
  async function restProfile(name: string, type: 'ALLOW_CREATE_NEW_DEVICES' | 'CHECK_PRE_PROVISIONED_DEVICES', key: string, secret: string): Promise<string> {
    const body = {
      name,
      type: 'DEFAULT',
      transportType: 'DEFAULT',
      provisionType: type,
      provisionDeviceKey: key,
      profileData: { configuration: { type: 'DEFAULT' }, transportConfiguration: { type: 'DEFAULT' }, provisionConfiguration: { type, provisionDeviceSecret: secret }, alarms: null },
    };
    const r = await api<{ id: { id: string } }>(server.app.url, server.jwt, '/api/deviceProfile', { method: 'POST', body });
    if (r.status !== 200) throw new Error(`create device profile: ${r.status} ${JSON.stringify(r.body)}`);
    return r.body.id.id;
  }
  let preProfileId: string;

  /** A pre-provisioned device: made over REST with the "check pre-provisioned" profile; its id and token. */
  async function preDevice(name: string): Promise<{ id: string; token: string }> {
    const d = await api<{ id: { id: string } }>(server.app.url, server.jwt, '/api/device', { method: 'POST', body: { name, deviceProfileId: { entityType: 'DEVICE_PROFILE', id: preProfileId } } });
    if (d.status !== 200) throw new Error(`create device: ${d.status} ${JSON.stringify(d.body)}`);
    const c = await api<{ credentialsId: string }>(server.app.url, server.jwt, `/api/device/${d.body.id.id}/credentials`);
    return { id: d.body.id.id, token: c.body.credentialsId };
  }

  beforeAll(async () => {
    await restProfile('field sensors', 'ALLOW_CREATE_NEW_DEVICES', 'e2e-create-key', 'e2e-create-secret');
    preProfileId = await restProfile('factory sensors', 'CHECK_PRE_PROVISIONED_DEVICES', 'e2e-pre-key', 'e2e-pre-secret');
  });

  const createRequest = (deviceName: string, extra: Record<string, string> = {}) =>
    JSON.stringify({ deviceName, provisionDeviceKey: 'e2e-create-key', provisionDeviceSecret: 'e2e-create-secret', ...extra });
  const preRequest = (deviceName: string) => JSON.stringify({ deviceName, provisionDeviceKey: 'e2e-pre-key', provisionDeviceSecret: 'e2e-pre-secret' });

  async function mqttClient(opts: IClientOptions): Promise<MqttClient> {
    return server.connectMqtt({ connectTimeout: 5000, ...opts });
  }

  /** ThingsBoard's MQTT provisioning with mqtt.js: user name "provision", answer on /provision/response. */
  async function provisionOverMqtt(request: string): Promise<Record<string, unknown>> {
    const c = await mqttClient({ username: 'provision' });
    await c.subscribeAsync('/provision/response', { qos: 1 });
    const answer = new Promise<Buffer>((resolve) => c.once('message', (_t, payload) => resolve(payload)));
    await c.publishAsync('/provision/request', request, { qos: 1 });
    const body = JSON.parse((await answer).toString('utf8')) as Record<string, unknown>;
    await c.endAsync();
    return body;
  }

  async function deviceIdByName(name: string): Promise<string> {
    const r = await api<{ id: { id: string } }>(server.app.url, server.jwt, `/api/tenant/devices?deviceName=${encodeURIComponent(name)}`);
    expect(r.status).toBe(200);
    return r.body.id.id;
  }

  async function latest(deviceId: string, key: string): Promise<string | undefined> {
    const r = await api<Record<string, Array<{ value: string }>>>(server.app.url, server.jwt, `/api/plugins/telemetry/DEVICE/${deviceId}/values/timeseries?keys=${key}`);
    return r.body[key]?.[0]?.value;
  }

  it('MQTT (mqtt.js), allow create: the device gets a token and sends telemetry with it', async () => {
    const answer = await provisionOverMqtt(createRequest('e2e-mqtt-created'));
    expect(answer).toMatchObject({ status: 'SUCCESS', credentialsType: 'ACCESS_TOKEN' });
    const token = answer.credentialsValue as string;
    const device = await mqttClient({ username: token });
    await device.publishAsync('v1/devices/me/telemetry', JSON.stringify({ temperature: 21.5 }), { qos: 1 });
    const id = await deviceIdByName('e2e-mqtt-created');
    expect(await eventually(() => latest(id, 'temperature'))).toBe('21.5');
    const d = await api<{ type: string }>(server.app.url, server.jwt, `/api/device/${id}`);
    expect(d.body.type).toBe('field sensors');
  });

  it('MQTT (mqtt.js), allow create with MQTT basic credentials: the device connects with them', async () => {
    const answer = await provisionOverMqtt(createRequest('e2e-mqtt-basic', { credentialsType: 'MQTT_BASIC', clientId: 'e2e-client', username: 'e2e-user', password: 'e2e-pass' }));
    expect(answer).toEqual({ status: 'SUCCESS', credentialsType: 'MQTT_BASIC', credentialsValue: { clientId: 'e2e-client', userName: 'e2e-user', password: 'e2e-pass' } });
    const device = await mqttClient({ clientId: 'e2e-client', username: 'e2e-user', password: 'e2e-pass' });
    await device.publishAsync('v1/devices/me/telemetry', JSON.stringify({ humidity: 40 }), { qos: 1 });
    const id = await deviceIdByName('e2e-mqtt-basic');
    expect(await eventually(() => latest(id, 'humidity'))).toBe('40');
  });

  it('MQTT (mosquitto_rr, MQTT 3.1.1), check pre-provisioned: the answer is the prepared device\'s token, then mosquitto_pub sends telemetry', async () => {
    const pre = await preDevice('e2e-mosquitto-pre');
    const rr = await execFileP(
      'mosquitto_rr',
      ['-V', '311', '-h', '127.0.0.1', '-p', String(server.app.mqttPort), '-u', 'provision', '-t', '/provision/request', '-e', '/provision/response', '-m', preRequest('e2e-mosquitto-pre'), '-W', '10'],
      { timeout: 15_000 },
    );
    expect(JSON.parse(rr.stdout)).toEqual({ status: 'SUCCESS', credentialsType: 'ACCESS_TOKEN', credentialsValue: pre.token });
    await execFileP('mosquitto_pub', ['-h', '127.0.0.1', '-p', String(server.app.mqttPort), '-u', pre.token, '-q', '1', '-t', 'v1/devices/me/telemetry', '-m', '{"pressure":1013}'], { timeout: 15_000 });
    expect(await eventually(() => latest(pre.id, 'pressure'))).toBe('1013');
    // once: asking again is refused
    const again = await execFileP(
      'mosquitto_rr',
      ['-V', '311', '-h', '127.0.0.1', '-p', String(server.app.mqttPort), '-u', 'provision', '-t', '/provision/request', '-e', '/provision/response', '-m', preRequest('e2e-mosquitto-pre'), '-W', '10'],
      { timeout: 15_000 },
    );
    expect(JSON.parse(again.stdout)).toEqual({ status: 'FAILURE', errorMsg: 'Failed to provision device!' });
  });

  it('HTTP (curl), allow create and check pre-provisioned: each device posts telemetry with its token', async () => {
    const curl = async (url: string, body: string) => (await execFileP('curl', ['-s', '-X', 'POST', '-H', 'content-type: application/json', '-d', body, url], { timeout: 15_000 })).stdout;
    const created = JSON.parse(await curl(`${server.app.url}/api/v1/provision`, createRequest('e2e-http-created'))) as { status: string; credentialsValue: string };
    expect(created).toMatchObject({ status: 'SUCCESS', credentialsType: 'ACCESS_TOKEN' });
    await curl(`${server.app.url}/api/v1/${created.credentialsValue}/telemetry`, '{"voltage":3.3}');
    const id = await deviceIdByName('e2e-http-created');
    expect(await eventually(() => latest(id, 'voltage'))).toBe('3.3');

    const pre = await preDevice('e2e-http-pre');
    const answer = JSON.parse(await curl(`${server.app.url}/api/v1/provision`, preRequest('e2e-http-pre'))) as { credentialsValue: string };
    expect(answer).toEqual({ status: 'SUCCESS', credentialsType: 'ACCESS_TOKEN', credentialsValue: pre.token });
    await curl(`${server.app.url}/api/v1/${answer.credentialsValue}/telemetry`, '{"current":0.25}');
    expect(await eventually(() => latest(pre.id, 'current'))).toBe('0.25');

    // refusals as ThingsBoard answers them
    expect(JSON.parse(await curl(`${server.app.url}/api/v1/provision`, createRequest('e2e-http-created')))).toEqual({ status: 'FAILURE', errorMsg: 'Failed to provision device!' });
    expect(JSON.parse(await curl(`${server.app.url}/api/v1/provision`, JSON.stringify({ deviceName: 'e2e-http-x', provisionDeviceKey: 'e2e-create-key', provisionDeviceSecret: 'wrong' })))).toEqual({
      status: 'NOT_FOUND',
      errorMsg: 'Provision data was not found!',
    });
  });

  it('CoAP (coap-client-notls), allow create and check pre-provisioned: each device posts telemetry with its token', async () => {
    const base = `coap://127.0.0.1:${server.app.coapPort}`;
    const coap = async (url: string, body: string) => (await execFileP('coap-client-notls', ['-B', '5', '-m', 'post', '-t', 'json', url, '-e', body], { timeout: 15_000 })).stdout.trim();
    const created = JSON.parse(await coap(`${base}/api/v1/provision`, createRequest('e2e-coap-created'))) as { status: string; credentialsValue: string };
    expect(created).toMatchObject({ status: 'SUCCESS', credentialsType: 'ACCESS_TOKEN' });
    await coap(`${base}/api/v1/${created.credentialsValue}/telemetry`, '{"lux":300}');
    const id = await deviceIdByName('e2e-coap-created');
    expect(await eventually(() => latest(id, 'lux'))).toBe('300');

    const pre = await preDevice('e2e-coap-pre');
    expect(JSON.parse(await coap(`${base}/api/v1/provision`, preRequest('e2e-coap-pre')))).toEqual({ status: 'SUCCESS', credentialsType: 'ACCESS_TOKEN', credentialsValue: pre.token });
    await coap(`${base}/api/v1/${pre.token}/telemetry`, '{"co2":415}');
    expect(await eventually(() => latest(pre.id, 'co2'))).toBe('415');
  });

  it('claiming: the device announces over MQTT (mqtt.js), a customer user claims it over REST, the device is the customer\'s', async () => {
    const c = await api<{ id: { id: string } }>(server.app.url, server.jwt, '/api/customer', { method: 'POST', body: { title: 'Claiming customer' } });
    const customerId = c.body.id.id;
    expect((await api(server.app.url, server.jwt, '/api/user', { method: 'POST', body: { email: 'owner@claim-e2e.test', authority: 'CUSTOMER_USER', customerId: { id: customerId }, password: 'claim-e2e-pw' } })).status).toBe(200);
    const customerJwt = await login(server.app.url, { username: 'owner@claim-e2e.test', password: 'claim-e2e-pw' });

    const d = await createDevice(server.app.url, server.jwt, 'e2e-claimable');
    const device = await mqttClient({ username: d.token });
    await device.publishAsync('v1/devices/me/claim', JSON.stringify({ secretKey: 'e2e-claim-key', durationMs: 60_000 }), { qos: 1 });
    // the claim request is stored where the API reads it
    await eventually(async () => {
      const r = await api<Array<{ key: string }>>(server.app.url, server.jwt, `/api/plugins/telemetry/DEVICE/${d.id}/values/attributes/SERVER_SCOPE?keys=claimingData`);
      return r.body.length === 1;
    });
    expect(await api(server.app.url, customerJwt, '/api/customer/device/e2e-claimable/claim', { method: 'POST', body: { secretKey: 'not-the-key' } })).toEqual({ status: 400, body: 'FAILURE' });
    // a wrong key spent the claim: the device announces again
    await device.publishAsync('v1/devices/me/claim', JSON.stringify({ secretKey: 'e2e-claim-key', durationMs: 60_000 }), { qos: 1 });
    const claimed = await eventually(async () => {
      const r = await api<{ response: string; device: { customerId: { id: string } } }>(server.app.url, customerJwt, '/api/customer/device/e2e-claimable/claim', { method: 'POST', body: { secretKey: 'e2e-claim-key' } });
      return r.status === 200 ? r : undefined;
    });
    expect(claimed.body).toMatchObject({ response: 'SUCCESS', device: { customerId: { id: customerId } } });
    const after = await api<{ customerId: { id: string } }>(server.app.url, server.jwt, `/api/device/${d.id}`);
    expect(after.body.customerId.id).toBe(customerId);
    // the customer user sees it now
    expect((await api(server.app.url, customerJwt, `/api/device/${d.id}`)).status).toBe(200);
  });

  it('claiming over HTTP (curl): POST /api/v1/{token}/claim, then the REST claim', async () => {
    const c = await api<{ id: { id: string } }>(server.app.url, server.jwt, '/api/customer', { method: 'POST', body: { title: 'HTTP claimers' } });
    expect((await api(server.app.url, server.jwt, '/api/user', { method: 'POST', body: { email: 'http@claim-e2e.test', authority: 'CUSTOMER_USER', customerId: { id: c.body.id.id }, password: 'claim-e2e-pw2' } })).status).toBe(200);
    const customerJwt = await login(server.app.url, { username: 'http@claim-e2e.test', password: 'claim-e2e-pw2' });
    const d = await createDevice(server.app.url, server.jwt, 'e2e-claimable-http');
    const out = await execFileP('curl', ['-s', '-o', '/dev/null', '-w', '%{http_code}', '-X', 'POST', '-H', 'content-type: application/json', '-d', '{"secretKey":"http-key"}', `${server.app.url}/api/v1/${d.token}/claim`], { timeout: 15_000 });
    expect(out.stdout).toBe('200');
    const r = await api<{ response: string }>(server.app.url, customerJwt, '/api/customer/device/e2e-claimable-http/claim', { method: 'POST', body: { secretKey: 'http-key' } });
    expect(r.status).toBe(200);
    expect((await api<{ customerId: { id: string } }>(server.app.url, server.jwt, `/api/device/${d.id}`)).body.customerId.id).toBe(c.body.id.id);
  });

  it('claiming through a gateway (mqtt.js, v1/gateway/claim): a device behind the gateway is claimed by name', async () => {
    const c = await api<{ id: { id: string } }>(server.app.url, server.jwt, '/api/customer', { method: 'POST', body: { title: 'Gateway claimers' } });
    expect((await api(server.app.url, server.jwt, '/api/user', { method: 'POST', body: { email: 'gw@claim-e2e.test', authority: 'CUSTOMER_USER', customerId: { id: c.body.id.id }, password: 'claim-e2e-pw3' } })).status).toBe(200);
    const customerJwt = await login(server.app.url, { username: 'gw@claim-e2e.test', password: 'claim-e2e-pw3' });
    const gw = await api<{ id: { id: string } }>(server.app.url, server.jwt, '/api/device', { method: 'POST', body: { name: 'e2e-gateway', additionalInfo: { gateway: true } } });
    const token = (await api<{ credentialsId: string }>(server.app.url, server.jwt, `/api/device/${gw.body.id.id}/credentials`)).body.credentialsId;
    const gateway = await mqttClient({ username: token });
    await gateway.publishAsync('v1/gateway/claim', JSON.stringify({ 'e2e-behind-gateway': { secretKey: 'gw-key', durationMs: 60_000 } }), { qos: 1 });
    const claimed = await eventually(async () => {
      const r = await api<{ device: { id: { id: string }; customerId: { id: string } } }>(server.app.url, customerJwt, '/api/customer/device/e2e-behind-gateway/claim', { method: 'POST', body: { secretKey: 'gw-key' } });
      return r.status === 200 ? r : undefined;
    });
    expect(claimed.body.device.customerId.id).toBe(c.body.id.id);
    expect((await api<{ customerId: { id: string } }>(server.app.url, server.jwt, `/api/device/${claimed.body.device.id.id}`)).body.customerId.id).toBe(c.body.id.id);
  });
});

describe('provisioning behind a trusted reverse proxy (RIVULET_TRUSTED_PROXIES)', () => {
  let app: Rivulet;
  const dir = tempDir();
  beforeAll(async () => {
    app = await startTestServer({ RIVULET_DATA_DIR: dir.dir, RIVULET_TRUSTED_PROXIES: '127.0.0.1', RIVULET_PROVISION_REQUESTS_PER_MINUTE: '2' });
  });
  afterAll(async () => {
    await app?.stop();
    dir.remove();
  });

  it('curl through the proxy: the per-address limit counts the client named by X-Forwarded-For, not the proxy', async () => {
    const body = JSON.stringify({ deviceName: 'behind-proxy', provisionDeviceKey: 'no-such-key', provisionDeviceSecret: 'no-such-secret' });
    const post = async (client: string) =>
      (await execFileP('curl', ['-s', '-o', '/dev/null', '-w', '%{http_code}', '-X', 'POST', '-H', 'content-type: application/json', '-H', `X-Forwarded-For: ${client}`, '-d', body, `${app.url}/api/v1/provision`], { timeout: 15_000 })).stdout;
    // Two requests per minute per client (a refusal counts): the third from the same client is 429 ...
    expect([await post('203.0.113.7'), await post('203.0.113.7'), await post('203.0.113.7')]).toEqual(['200', '200', '429']);
    // ... while another client behind the same proxy is still answered.
    expect(await post('198.51.100.20')).toBe('200');
  });
});
