import mqtt from 'mqtt';
import { createTestDatabase, freePort, waitRivuletReady } from '@rivulet/testing';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { api, createDevice, eventually, login, roleProcesses, tempDir } from './test-helpers';

/**
 * The broadcast between separate `npm start` processes on the run's Kafka broker: an api process
 * and a transport process. Server-side RPC and shared-attribute pushes asked on the api process
 * reach the MQTT device connected to the transport process through the session registry; a device
 * with no session anywhere is answered at once, well inside the pickup window (5 s here).
 */
describe('broadcast across processes: RPC and shared attributes from the api process to a device on the transport process', () => {
  const dir = tempDir('rivulet-bcast-');
  let roles: ReturnType<typeof roleProcesses>;
  const clients: mqtt.MqttClient[] = [];
  let db: Awaited<ReturnType<typeof createTestDatabase>>;
  let mqttPort: number;
  let apiUrl: string;
  let jwt: string;

  beforeAll(async () => {
    db = await createTestDatabase('bcast');
    mqttPort = await freePort();
    roles = roleProcesses({ kafkaBrokers: inject('kafkaBrokers'), prefix: 'bcast', databaseUrl: db.url, dataDir: dir.dir, env: { RIVULET_RPC_PICKUP_TIMEOUT_MS: '5000' } });
    const start = roles.start;
    const apiProc = await start('bc-api', 'api');
    await waitRivuletReady(apiProc.proc, apiProc.url, 60_000);
    const transport = await start('bc-transport', 'transport', { RIVULET_MQTT_PORT: String(mqttPort) });
    await waitRivuletReady(transport.proc, transport.url, 60_000);
    apiUrl = apiProc.url;
    jwt = await login(apiUrl);
  }, 120_000);

  afterAll(async () => {
    await Promise.all(clients.map((c) => c.endAsync(true).catch(() => {})));
    await roles?.stop();
    await db?.drop();
    dir.remove();
  });

  async function device(token: string): Promise<mqtt.MqttClient> {
    const c = await mqtt.connectAsync(`mqtt://127.0.0.1:${mqttPort}`, { username: token, reconnectPeriod: 0 });
    clients.push(c);
    return c;
  }

  const rpc = (deviceId: string, body: unknown) => api<Record<string, unknown>>(apiUrl, jwt, `/api/rpc/twoway/${deviceId}`, { method: 'POST', body });

  it('two-way RPC asked on the api process reaches the device on the transport process and its reply returns', async () => {
    const d = await createDevice(apiUrl, jwt, 'bc-rpc');
    const c = await device(d.token);
    await c.subscribeAsync('v1/devices/me/rpc/request/+', { qos: 1 });
    c.on('message', (topic, payload) => {
      const id = topic.slice('v1/devices/me/rpc/request/'.length);
      const req = JSON.parse(payload.toString()) as { method: string; params: unknown };
      c.publish(`v1/devices/me/rpc/response/${id}`, JSON.stringify({ method: req.method, echoed: req.params }), { qos: 1 });
    });
    // the api process learns of the session from the registry (a record on rivulet.sessions)
    const r = await eventually(async () => {
      const res = await rpc(d.id, { method: 'setGpio', params: { pin: 4 }, timeout: 5000 });
      return res.status === 200 ? res : undefined;
    }, 15_000);
    expect(r.body).toEqual({ method: 'setGpio', echoed: { pin: 4 } });

    // gone: answered 504 at once again, not after the 5 s pickup window
    await c.endAsync();
    await eventually(async () => {
      const t0 = Date.now();
      const res = await rpc(d.id, { method: 'setGpio', params: {}, timeout: 10_000 });
      return res.status === 504 && Date.now() - t0 < 1000 ? true : undefined;
    }, 15_000);
  }, 60_000);

  it('a device with no session anywhere is answered 504 at once, not after the pickup window', async () => {
    const d = await createDevice(apiUrl, jwt, 'bc-offline');
    const t0 = Date.now();
    const r = await rpc(d.id, { method: 'reboot', params: {}, timeout: 10_000 });
    const ms = Date.now() - t0;
    expect(r.status).toBe(504);
    expect(String(r.body.message)).toMatch(/no active session/);
    expect(ms).toBeLessThan(1000);
  });

  it('a shared attribute saved on the api process is pushed to the device on the transport process', async () => {
    const d = await createDevice(apiUrl, jwt, 'bc-attrs');
    const c = await device(d.token);
    await c.subscribeAsync('v1/devices/me/attributes', { qos: 1 });
    const got: unknown[] = [];
    const texts: string[] = [];
    c.on('message', (topic, payload) => {
      if (topic !== 'v1/devices/me/attributes') return;
      texts.push(payload.toString());
      got.push(JSON.parse(payload.toString()));
    });
    // until the registry record reached the api process, a save is not pushed (the device reads it on connect instead)
    await eventually(async () => {
      const saved = await api(apiUrl, jwt, `/api/plugins/telemetry/DEVICE/${d.id}/attributes/SHARED_SCOPE`, { method: 'POST', body: { targetTemperature: 22.5 } });
      expect(saved.status).toBe(200);
      await new Promise((r) => setTimeout(r, 200));
      return got.length > 0 ? true : undefined;
    }, 15_000);
    expect(got[0]).toEqual({ targetTemperature: 22.5 });
    // a DOUBLE of integral value crosses the broadcast marked and reaches the device as 1.0 (docs/api.md, "Number types")
    const before = texts.length;
    const raw = await fetch(`${apiUrl}/api/plugins/telemetry/DEVICE/${d.id}/attributes/SHARED_SCOPE`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-authorization': `Bearer ${jwt}` },
      body: '{"mode":1.0,"level":2}',
    });
    expect(raw.status).toBe(200);
    const text = await eventually(async () => texts.slice(before).find((t) => t.includes('"mode"')));
    expect(text).toBe('{"mode":1.0,"level":2}');
  }, 30_000);
});
