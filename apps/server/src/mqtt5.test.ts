import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { connectAsync, type MqttClient } from 'mqtt';
import { createTestDatabase } from '@rivulet/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Rivulet } from './app';
import { api, createDevice, eventually, login, startTestServer, tempDir } from './test-helpers';

const execFileP = promisify(execFile);

/**
 * MQTT 5 devices through the whole server (issue #14): mqtt.js with protocolVersion 5 and
 * `mosquitto_pub -V mqttv5`, the default root chain and a real PostgreSQL server.
 */
describe('MQTT 5 through the whole server', () => {
  let app: Rivulet;
  let db: { url: string; drop(): Promise<void> };
  let jwt: string;
  const dir = tempDir();
  const clients: MqttClient[] = [];

  beforeAll(async () => {
    db = await createTestDatabase('mqtt5');
    app = await startTestServer({ DATABASE_URL: db.url, RIVULET_DATA_DIR: dir.dir });
    jwt = await login(app.url);
  });
  afterAll(async () => {
    await Promise.all(clients.map((c) => c.endAsync(true).catch(() => {})));
    await app?.stop();
    await db?.drop();
    dir.remove();
  });

  async function device5(token: string): Promise<MqttClient> {
    const c = await connectAsync(`mqtt://127.0.0.1:${app.mqttPort}`, { username: token, protocolVersion: 5, reconnectPeriod: 0 });
    clients.push(c);
    return c;
  }

  it('mqtt.js v5: telemetry is stored; a refused payload gets PUBACK 0x99 and the session goes on', async () => {
    const d = await createDevice(app.url, jwt, 'mqtt5-telemetry');
    const c = await device5(d.token);
    const refused = await c.publishAsync('v1/devices/me/telemetry', 'not json at all {', { qos: 1 }).then(
      () => 0,
      (e: Error & { code?: number }) => e.code,
    );
    expect(refused).toBe(0x99);
    await c.publishAsync('v1/devices/me/telemetry', JSON.stringify({ ts: 1_700_000_000_000, values: { temperature: 21.5 } }), { qos: 1 });
    await eventually(async () => (await app.storage.timeseries.count(d.id)) === 1);
    const h = await app.storage.timeseries.findHistory(d.id, { keys: ['temperature'], startTs: 0, endTs: 2_000_000_000_000 });
    expect(JSON.stringify(h)).toContain('21.5');
    expect(c.connected).toBe(true);
  });

  it('mqtt.js v5: a shared attribute saved over REST reaches the device; it answers a two-way RPC', async () => {
    const d = await createDevice(app.url, jwt, 'mqtt5-rpc');
    const c = await device5(d.token);
    await c.subscribeAsync('v1/devices/me/attributes', { qos: 1 });
    await c.subscribeAsync('v1/devices/me/rpc/request/+', { qos: 1 });
    const shared = new Promise<unknown>((resolve) => c.on('message', (t, p) => t === 'v1/devices/me/attributes' && resolve(JSON.parse(p.toString()))));
    c.on('message', (topic, payload) => {
      if (!topic.startsWith('v1/devices/me/rpc/request/')) return;
      const req = JSON.parse(payload.toString()) as { method: string; params: unknown };
      const id = topic.slice('v1/devices/me/rpc/request/'.length);
      c.publish(`v1/devices/me/rpc/response/${id}`, JSON.stringify({ answered: req.method, params: req.params }), { qos: 1 });
    });
    const base = `/api/plugins/telemetry/DEVICE/${d.id}`;
    expect((await api(app.url, jwt, `${base}/attributes/SHARED_SCOPE`, { method: 'POST', body: { targetTemperature: 22.5 } })).status).toBe(200);
    expect(await shared).toEqual({ targetTemperature: 22.5 });
    const r = await api(app.url, jwt, `/api/rpc/twoway/${d.id}`, { method: 'POST', body: { method: 'setGpio', params: { pin: 4 }, timeout: 5000 } });
    expect(r).toEqual({ status: 200, body: { answered: 'setGpio', params: { pin: 4 } } });
  });

  it('mqtt.js v5: the attribute response carries the correlation data of the request', async () => {
    const d = await createDevice(app.url, jwt, 'mqtt5-correlation');
    const c = await device5(d.token);
    await c.subscribeAsync('v1/devices/me/attributes/response/+', { qos: 1 });
    const got = new Promise<{ body: unknown; correlation: string | undefined }>((resolve) =>
      c.on('message', (_t, p, packet) => resolve({ body: JSON.parse(p.toString()), correlation: packet.properties?.correlationData?.toString() })),
    );
    await c.publishAsync('v1/devices/me/attributes/request/7', '{"sharedKeys":"nothing"}', {
      qos: 1,
      properties: { correlationData: Buffer.from('req-7'), responseTopic: 'v1/devices/me/attributes/response/7' },
    });
    expect(await got).toEqual({ body: {}, correlation: 'req-7' });
  });

  it('MQTT 5 over WebSocket (/mqtt on the HTTP port): telemetry is stored', async () => {
    const d = await createDevice(app.url, jwt, 'mqtt5-ws');
    const c = await connectAsync(`${app.url.replace(/^http/, 'ws')}/mqtt`, { username: d.token, protocolVersion: 5, reconnectPeriod: 0 });
    clients.push(c);
    await c.publishAsync('v1/devices/me/telemetry', '{"pressure":1013}', { qos: 1 });
    await eventually(async () => (await app.storage.timeseries.count(d.id)) === 1);
  });

  it('mosquitto_pub -V mqttv5 publishes telemetry that is stored; a wrong token is refused', async () => {
    const d = await createDevice(app.url, jwt, 'mqtt5-mosquitto');
    const args = ['-V', 'mqttv5', '-q', '1', '-h', '127.0.0.1', '-p', String(app.mqttPort), '-t', 'v1/devices/me/telemetry'];
    await execFileP('mosquitto_pub', [...args, '-u', d.token, '-m', '{"humidity":40}'], { timeout: 10_000 });
    await eventually(async () => (await app.storage.timeseries.count(d.id)) === 1);
    const wrong = await execFileP('mosquitto_pub', [...args, '-u', 'NO-SUCH-TOKEN', '-m', '{"humidity":41}'], { timeout: 10_000 }).then(
      () => undefined,
      (e: Error & { stderr?: string }) => e.stderr ?? e.message,
    );
    expect(wrong).toMatch(/bad user name or password/i);
  });
});
