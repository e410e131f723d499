import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import type { MqttClient } from 'mqtt';
import { reasonOf } from '@rivulet/testing';
import { describe, expect, it } from 'vitest';
import { api, createDevice, eventually, startSuiteServer } from './test-helpers';

const execFileP = promisify(execFile);

/**
 * MQTT 5 devices through the whole server (issue #14): mqtt.js with protocolVersion 5 and
 * `mosquitto_pub -V mqttv5`, the default root chain and a real PostgreSQL server.
 */
describe('MQTT 5 through the whole server', () => {
  const server = startSuiteServer({ database: 'mqtt5' });

  async function device5(token: string, url?: string): Promise<MqttClient> {
    return server.connectMqtt({ username: token, protocolVersion: 5 }, url);
  }
  it('mqtt.js v5: telemetry is stored; a refused payload gets PUBACK 0x99 and the session goes on', async () => {
    const d = await createDevice(server.app.url, server.jwt, 'mqtt5-telemetry');
    const c = await device5(d.token);
    const refused = await reasonOf(c.publishAsync('v1/devices/me/telemetry', 'not json at all {', { qos: 1 }));
    expect(refused).toBe(0x99);
    await c.publishAsync('v1/devices/me/telemetry', JSON.stringify({ ts: 1_700_000_000_000, values: { temperature: 21.5 } }), { qos: 1 });
    await eventually(async () => (await server.app.storage.timeseries.count(d.id)) === 1);
    const h = await server.app.storage.timeseries.findHistory(d.id, { keys: ['temperature'], startTs: 0, endTs: 2_000_000_000_000 });
    expect(JSON.stringify(h)).toContain('21.5');
    expect(c.connected).toBe(true);
  });

  it('mqtt.js v5: a shared attribute saved over REST reaches the device; it answers a two-way RPC', async () => {
    const d = await createDevice(server.app.url, server.jwt, 'mqtt5-rpc');
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
    expect((await api(server.app.url, server.jwt, `${base}/attributes/SHARED_SCOPE`, { method: 'POST', body: { targetTemperature: 22.5 } })).status).toBe(200);
    expect(await shared).toEqual({ targetTemperature: 22.5 });
    const r = await api(server.app.url, server.jwt, `/api/rpc/twoway/${d.id}`, { method: 'POST', body: { method: 'setGpio', params: { pin: 4 }, timeout: 5000 } });
    expect(r).toEqual({ status: 200, body: { answered: 'setGpio', params: { pin: 4 } } });
  });

  it('mqtt.js v5: the attribute response carries the correlation data of the request', async () => {
    const d = await createDevice(server.app.url, server.jwt, 'mqtt5-correlation');
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
    const d = await createDevice(server.app.url, server.jwt, 'mqtt5-ws');
    const c = await device5(d.token, `${server.app.url.replace(/^http/, 'ws')}/mqtt`);
    await c.publishAsync('v1/devices/me/telemetry', '{"pressure":1013}', { qos: 1 });
    await eventually(async () => (await server.app.storage.timeseries.count(d.id)) === 1);
  });

  it('mosquitto_pub -V mqttv5 publishes telemetry that is stored; a wrong token is refused', async () => {
    const d = await createDevice(server.app.url, server.jwt, 'mqtt5-mosquitto');
    const args = ['-V', 'mqttv5', '-q', '1', '-h', '127.0.0.1', '-p', String(server.app.mqttPort), '-t', 'v1/devices/me/telemetry'];
    await execFileP('mosquitto_pub', [...args, '-u', d.token, '-m', '{"humidity":40}'], { timeout: 10_000 });
    await eventually(async () => (await server.app.storage.timeseries.count(d.id)) === 1);
    const wrong = await execFileP('mosquitto_pub', [...args, '-u', 'NO-SUCH-TOKEN', '-m', '{"humidity":41}'], { timeout: 10_000 }).then(
      () => undefined,
      (e: Error & { stderr?: string }) => e.stderr ?? e.message,
    );
    expect(wrong).toMatch(/bad user name or password/i);
  });
});
