import { execFileSync } from 'node:child_process';
import { request as httpRequest } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DeviceConnectivitySchema } from '@rivulet/api-types';
import type { Storage } from '@rivulet/storage';
import { startTwoTenants, type TestApi } from './test-storage';

/** The words bash makes of a command line (nothing runs: `set --` only splits and unquotes it). */
function argv(command: string): string[] {
  const out = execFileSync('bash', ['-c', `set -- ${command}; printf '%s\\0' "$@"`], { encoding: 'utf8' });
  return out.split('\0').slice(0, -1);
}

/** GET with a Host header of our choosing (fetch does not let a caller set it). */
function getWithHost(url: string, path: string, token: string, host: string): Promise<{ status: number; body: any }> {
  const u = new URL(url);
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: u.hostname, port: u.port, path, headers: { host, 'x-authorization': `Bearer ${token}` } }, (res) => {
      let text = '';
      res.on('data', (d: Buffer) => (text += d.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text ? JSON.parse(text) : undefined }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('GET /api/device-connectivity/{deviceId}', () => {
  let storage: Storage;
  let t: TestApi;
  let token: string;
  let otherToken: string;

  beforeAll(async () => {
    ({ storage, t, token, otherToken } = await startTwoTenants('conn', { deviceConnectivity: { mqttPort: 18831, coapPort: 15684 } }));
  });
  afterAll(async () => {
    await t.close();
    await storage.close();
  });

  async function device(name: string, accessToken: string, gateway = false): Promise<string> {
    const r = await t.request('POST', `/api/device?accessToken=${encodeURIComponent(accessToken)}`, { token, body: { name, additionalInfo: gateway ? { gateway: true } : null } });
    expect(r.status).toBe(200);
    return r.body.id.id as string;
  }

  it('answers ThingsBoard\'s per-protocol shape with the token, the host the caller reached and the configured ports', async () => {
    const id = await device('Conn 1', 'conn-token-1');
    const r = await getWithHost(t.url, `/api/device-connectivity/${id}`, token, 'iot.example.com:8080');
    expect(r.status).toBe(200);
    const c = DeviceConnectivitySchema.parse(r.body);
    expect(Object.keys(c).sort()).toEqual(['coap', 'http', 'mqtt']);
    expect(argv(c.http!.http!)).toEqual(['curl', '-v', '-X', 'POST', 'http://iot.example.com:8080/api/v1/conn-token-1/telemetry', '--header', 'Content-Type:application/json', '--data', '{"temperature":25}']);
    expect(argv(c.mqtt!.mqtt!)).toEqual(['mosquitto_pub', '-d', '-q', '1', '-h', 'iot.example.com', '-p', '18831', '-t', 'v1/devices/me/telemetry', '-u', 'conn-token-1', '-m', '{"temperature":25}']);
    expect(argv(c.coap!.coap!)).toEqual(['coap-client-notls', '-v', '6', '-m', 'post', '-t', 'application/json', '-e', '{"temperature":25}', 'coap://iot.example.com:15684/api/v1/conn-token-1/telemetry']);
  });

  it('quotes a token full of shell characters so the shell passes it through unchanged', async () => {
    const nasty = `it's$(touch${'${IFS}'}x)"\`;&|*`;
    const id = await device('Conn nasty', nasty);
    const r = await t.request('GET', `/api/device-connectivity/${id}`, { token });
    expect(r.status).toBe(200);
    const mqtt = argv(r.body.mqtt.mqtt as string);
    expect(mqtt[mqtt.indexOf('-u') + 1]).toBe(nasty);
    const curlUrl = argv(r.body.http.http as string)[4]!;
    expect(decodeURIComponent(new URL(curlUrl).pathname.split('/')[3]!)).toBe(nasty);
  });

  it('brackets an IPv6 host in URLs and refuses to echo a Host header that is not a plain host name', async () => {
    const id = await device('Conn v6', 'conn-token-v6');
    const v6 = await getWithHost(t.url, `/api/device-connectivity/${id}`, token, '[::1]:8080');
    expect(argv(v6.body.http.http as string)[4]).toBe('http://[::1]:8080/api/v1/conn-token-v6/telemetry');
    expect(argv(v6.body.mqtt.mqtt as string)).toContain('::1');
    expect(argv(v6.body.coap.coap as string).at(-1)).toBe('coap://[::1]:15684/api/v1/conn-token-v6/telemetry');
    const evil = await getWithHost(t.url, `/api/device-connectivity/${id}`, token, 'x;rm -rf ~');
    expect(evil.status).toBe(200);
    expect(JSON.stringify(evil.body)).not.toContain('rm -rf');
    expect(argv(evil.body.mqtt.mqtt as string)).toContain('localhost');
  });

  it('adds the gateway topics for a gateway device only', async () => {
    const plain = await t.request('GET', `/api/device-connectivity/${await device('Conn plain', 'conn-plain')}`, { token });
    expect(plain.body.gateway).toBeUndefined();
    const gw = await t.request('GET', `/api/device-connectivity/${await device('Conn gw', 'conn-gw', true)}`, { token });
    expect(Object.keys(gw.body.gateway as object)).toEqual(['connect', 'telemetry', 'attributes', 'disconnect']);
    const connect = argv(gw.body.gateway.connect as string);
    expect(connect[connect.indexOf('-t') + 1]).toBe('v1/gateway/connect');
    expect(connect[connect.indexOf('-u') + 1]).toBe('conn-gw');
    expect(JSON.parse(connect[connect.indexOf('-m') + 1]!)).toEqual({ device: 'Device A', type: 'sensor' });
  });

  it('answers 404 for another tenant\'s device and for an unknown one, 400 for a malformed id, 401 without a token', async () => {
    const id = await device('Conn mine', 'conn-mine');
    const foreign = await t.request('GET', `/api/device-connectivity/${id}`, { token: otherToken });
    expect(foreign.status).toBe(404);
    expect(JSON.stringify(foreign.body)).not.toContain('conn-mine');
    expect((await t.request('GET', '/api/device-connectivity/00000000-0000-4000-8000-000000000000', { token })).status).toBe(404);
    expect((await t.request('GET', '/api/device-connectivity/not-an-id', { token })).status).toBe(400);
    expect((await t.request('GET', `/api/device-connectivity/${id}`)).status).toBe(401);
  });
});
