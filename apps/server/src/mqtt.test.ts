import { connectAsync, type IClientOptions, type MqttClient } from 'mqtt';
import { reasonOf } from '@rivulet/testing';
import { describe, expect, it } from 'vitest';
import { api, createDevice, eventually, startSuiteServer } from './test-helpers';

/**
 * The MQTT transport through the whole server (issue #3): REST, the rule engine and a real
 * PostgreSQL server around it; devices are mqtt.js clients.
 */
describe('MQTT through the whole server', () => {
  const server = startSuiteServer({ database: 'mqtt', env: { RIVULET_RPC_PICKUP_TIMEOUT_MS: '200', RIVULET_DEVICE_INACTIVITY_TIMEOUT_MS: '400' } });

  async function device(token: string, opts: IClientOptions = {}, url?: string): Promise<MqttClient> {
    return server.connectMqtt({ username: token, ...opts }, url);
  }

  /** A device client that answers every server-side RPC with `reply(method, params)`. */
  async function rpcDevice(token: string, reply: (method: string, params: unknown) => unknown): Promise<MqttClient> {
    const c = await device(token);
    await c.subscribeAsync('v1/devices/me/rpc/request/+', { qos: 1 });
    c.on('message', (topic, payload) => {
      const id = topic.startsWith('v1/devices/me/rpc/request/') ? topic.slice('v1/devices/me/rpc/request/'.length) : undefined;
      if (id === undefined) return;
      const req = JSON.parse(payload.toString()) as { method: string; params: unknown };
      c.publish(`v1/devices/me/rpc/response/${id}`, JSON.stringify(reply(req.method, req.params)), { qos: 1 });
    });
    return c;
  }

  it('two-way RPC: REST -> device over MQTT -> its reply is the REST answer', async () => {
    const d = await createDevice(server.app.url, server.jwt, 'rpc-twoway');
    await rpcDevice(d.token, (method, params) => ({ method, echoed: params, gpio: 'ok' }));
    const r = await api(server.app.url, server.jwt, `/api/rpc/twoway/${d.id}`, { method: 'POST', body: { method: 'setGpio', params: { pin: 23, value: 1 }, timeout: 5000 } });
    expect(r).toEqual({ status: 200, body: { method: 'setGpio', echoed: { pin: 23, value: 1 }, gpio: 'ok' } });
  });

  it('one-way RPC: 200 once delivered; 504 when the device has no session, or does not answer in time', async () => {
    const d = await createDevice(server.app.url, server.jwt, 'rpc-oneway');
    const none = await api<{ status: number; message: string }>(server.app.url, server.jwt, `/api/rpc/oneway/${d.id}`, { method: 'POST', body: { method: 'reboot', params: {} } });
    expect(none.status).toBe(504);
    expect(none.body.message).toMatch(/no active session/);

    const c = await device(d.token);
    await c.subscribeAsync('v1/devices/me/rpc/request/+');
    const got = new Promise<string>((resolve) => c.once('message', (_t, p) => resolve(p.toString())));
    const one = await api(server.app.url, server.jwt, `/api/rpc/oneway/${d.id}`, { method: 'POST', body: { method: 'reboot', params: { delay: 1 } } });
    expect(one.status).toBe(200);
    expect(JSON.parse(await got)).toEqual({ method: 'reboot', params: { delay: 1 } });

    // subscribed but silent: two-way times out
    const silent = await api(server.app.url, server.jwt, `/api/rpc/twoway/${d.id}`, { method: 'POST', body: { method: 'status', params: {}, timeout: 300 } });
    expect(silent.status).toBe(504);
    // unknown device: 404; bad body: 400
    expect((await api(server.app.url, server.jwt, `/api/rpc/twoway/${globalThis.crypto.randomUUID()}`, { method: 'POST', body: { method: 'x', params: {} } })).status).toBe(404);
    expect((await api(server.app.url, server.jwt, `/api/rpc/twoway/${d.id}`, { method: 'POST', body: { params: {} } })).status).toBe(400);
  });

  it('a shared attribute saved over REST reaches the subscribed device at once; a deletion too', async () => {
    const d = await createDevice(server.app.url, server.jwt, 'shared-attrs');
    const c = await device(d.token);
    await c.subscribeAsync('v1/devices/me/attributes', { qos: 1 });
    const received: unknown[] = [];
    c.on('message', (topic, p) => topic === 'v1/devices/me/attributes' && received.push(JSON.parse(p.toString())));
    const base = `/api/plugins/telemetry/DEVICE/${d.id}`;
    expect((await api(server.app.url, server.jwt, `${base}/attributes/SHARED_SCOPE`, { method: 'POST', body: { targetTemperature: 22.5 } })).status).toBe(200);
    await eventually(async () => received.length === 1);
    expect((await api(server.app.url, server.jwt, `${base}/SHARED_SCOPE?keys=targetTemperature`, { method: 'DELETE' })).status).toBe(200);
    await eventually(async () => received.length === 2);
    expect(received).toEqual([{ targetTemperature: 22.5 }, { deleted: ['targetTemperature'] }]);
    // and the attribute request answers from storage
    await api(server.app.url, server.jwt, `${base}/attributes/SHARED_SCOPE`, { method: 'POST', body: { interval: 30 } });
    await c.publishAsync('v1/devices/me/attributes', '{"fw":"1.2.3"}', { qos: 1 });
    await c.subscribeAsync('v1/devices/me/attributes/response/+');
    const answer = await eventually(async () => {
      const got = new Promise<string>((resolve) => c.once('message', (t, p) => t === 'v1/devices/me/attributes/response/1' && resolve(p.toString())));
      await c.publishAsync('v1/devices/me/attributes/request/1', '{"clientKeys":"fw","sharedKeys":"interval"}', { qos: 1 });
      const body = JSON.parse(await got) as { client?: unknown };
      return body.client ? body : undefined; // the client attribute is stored asynchronously after the PUBACK
    });
    expect(answer).toEqual({ client: { fw: '1.2.3' }, shared: { interval: 30 } });
  });

  it('client-side RPC answered by a rule chain with the RPC reply node', async () => {
    // the default root chain only logs device RPC (as ThingsBoard's); this chain replies with the request
    const root = await server.app.storage.ruleChains.getRoot(server.app.tenantId);
    const chain = {
      firstNodeIndex: 0,
      nodes: [
        { type: 'rivulet.filter.msgTypeSwitch', name: 'switch', configuration: {}, additionalInfo: { layoutX: 0, layoutY: 0 } },
        { type: 'org.thingsboard.rule.engine.rpc.TbSendRPCReplyNode', name: 'reply', configuration: { requestIdMetaDataAttribute: 'requestId' }, additionalInfo: { layoutX: 0, layoutY: 0 } },
        { type: 'rivulet.action.saveTimeseries', name: 'save', configuration: {}, additionalInfo: { layoutX: 0, layoutY: 0 } },
      ],
      connections: [
        { fromIndex: 0, toIndex: 1, type: 'RPC Request from Device' },
        { fromIndex: 0, toIndex: 2, type: 'Post telemetry' },
      ],
    };
    const id = globalThis.crypto.randomUUID();
    await server.app.storage.ruleChains.save({ id, tenantId: server.app.tenantId, name: 'RPC reply test', root: true, debugMode: false, metadata: chain as never });
    server.app.ruleEngine!.invalidate(server.app.tenantId);
    try {
      const d = await createDevice(server.app.url, server.jwt, 'client-rpc');
      const c = await device(d.token);
      await c.subscribeAsync('v1/devices/me/rpc/response/+');
      const response = new Promise<string>((resolve) => c.on('message', (t, p) => t === 'v1/devices/me/rpc/response/42' && resolve(p.toString())));
      await c.publishAsync('v1/devices/me/rpc/request/42', '{"method":"getCurrentTime","params":{"tz":"UTC"}}', { qos: 1 });
      expect(JSON.parse(await response)).toEqual({ method: 'getCurrentTime', params: { tz: 'UTC' } });
    } finally {
      if (root) await server.app.storage.ruleChains.setRoot(server.app.tenantId, root.id);
      server.app.ruleEngine!.invalidate(server.app.tenantId);
    }
  });

  it('device state: connect and activity set active and the times; inactivity after the timeout', async () => {
    const d = await createDevice(server.app.url, server.jwt, 'state-device');
    const before = Date.now();
    const c = await device(d.token);
    await c.publishAsync('v1/devices/me/telemetry', '{"t":1}', { qos: 1 });
    const attrs = async () => {
      const r = await api<Array<{ key: string; value: unknown }>>(server.app.url, server.jwt, `/api/plugins/telemetry/DEVICE/${d.id}/values/attributes/SERVER_SCOPE`);
      return Object.fromEntries(r.body.map((a) => [a.key, a.value]));
    };
    const connected = await eventually(async () => {
      // activity keeps it active (the test timeout is short) while the state is written
      await c.publishAsync('v1/devices/me/telemetry', '{"t":2}', { qos: 1 });
      const a = await attrs();
      return a.active === true && typeof a.lastConnectTime === 'number' ? a : undefined;
    });
    expect(connected.lastConnectTime as number).toBeGreaterThanOrEqual(before);
    await c.endAsync();
    const inactive = await eventually(async () => {
      const a = await attrs();
      return a.active === false ? a : undefined;
    });
    expect(inactive).toMatchObject({ lastConnectTime: connected.lastConnectTime });
    expect(inactive.lastDisconnectTime as number).toBeGreaterThanOrEqual(connected.lastConnectTime as number);
    expect(inactive.inactivityAlarmTime as number).toBeGreaterThanOrEqual(inactive.lastDisconnectTime as number);
  });

  it('gateway: a device flagged as gateway creates its devices on first sight; their telemetry is stored', async () => {
    const gw = await api<{ id: { id: string } }>(server.app.url, server.jwt, '/api/device', { method: 'POST', body: { name: 'gw-1', type: 'gateway', additionalInfo: { gateway: true } } });
    expect(gw.status).toBe(200);
    const token = (await api<{ credentialsId: string }>(server.app.url, server.jwt, `/api/device/${gw.body.id.id}/credentials`)).body.credentialsId;
    const c = await device(token);
    await c.publishAsync('v1/gateway/telemetry', JSON.stringify({ 'Behind GW 1': [{ ts: 1_000, values: { temperature: 42, humidity: 80 } }] }), { qos: 1 });
    const child = await eventually(async () => server.app.storage.devices.findByName(server.app.tenantId, 'Behind GW 1'));
    expect(child.additionalInfo).toEqual({ lastConnectedGateway: gw.body.id.id });
    await eventually(async () => (await server.app.storage.timeseries.count(child.id)) === 2);
  });

  it('MQTT basic credentials saved over REST (ThingsBoard shape) authenticate a device', async () => {
    const d = await createDevice(server.app.url, server.jwt, 'basic-device');
    const creds = (await api<Record<string, unknown>>(server.app.url, server.jwt, `/api/device/${d.id}/credentials`)).body;
    const value = JSON.stringify({ clientId: 'basic-client', userName: 'basic-user', password: 'basic-pass' });
    const saved = await api<{ credentialsType: string }>(server.app.url, server.jwt, '/api/device/credentials', { method: 'POST', body: { ...creds, credentialsType: 'MQTT_BASIC', credentialsValue: value } });
    expect(saved.status).toBe(200);
    const c = await device('basic-user', { clientId: 'basic-client', password: 'basic-pass' });
    await c.publishAsync('v1/devices/me/telemetry', JSON.stringify({ ts: 5_000, values: { basic: 1 } }), { qos: 1 });
    await eventually(async () => (await server.app.storage.timeseries.count(d.id)) === 1);
    const refused = await reasonOf(connectAsync(`mqtt://127.0.0.1:${server.app.mqttPort}`, { clientId: 'basic-client', username: 'basic-user', password: 'wrong', reconnectPeriod: 0 }));
    expect(refused).toBe(5);
  });

  it('MQTT over WebSocket on the HTTP port (/mqtt)', async () => {
    const d = await createDevice(server.app.url, server.jwt, 'ws-device');
    const c = await device(d.token, {}, `${server.app.url.replace('http', 'ws')}/mqtt`);
    await c.publishAsync('v1/devices/me/telemetry', JSON.stringify({ ts: 7_000, values: { overWs: true } }), { qos: 1 });
    await eventually(async () => (await server.app.storage.timeseries.count(d.id)) === 1);
  });

  it('1,000 devices connected at once, each publishing at QoS 1: every acknowledged point stored exactly once', async () => {
    const N = 1000;
    const MESSAGES = 3;
    const devices: Array<{ id: string; token: string }> = [];
    for (let i = 0; i < N; i += 100) {
      const batch = await Promise.all(
        Array.from({ length: Math.min(100, N - i) }, (_, j) => server.app.storage.devices.create({ tenantId: server.app.tenantId, name: `fleet-${i + j}`, type: 'fleet' })),
      );
      for (const b of batch) devices.push({ id: b.device.id, token: b.credentials.credentialsId });
    }
    const before = await server.app.storage.timeseries.count();
    const fleet: MqttClient[] = [];
    try {
      for (let i = 0; i < N; i += 200) {
        fleet.push(...(await Promise.all(devices.slice(i, i + 200).map((d) => connectAsync(`mqtt://127.0.0.1:${server.app.mqttPort}`, { username: d.token, reconnectPeriod: 0 })))));
      }
      expect(fleet.every((c) => c.connected)).toBe(true);
      let acked = 0;
      await Promise.all(
        fleet.map(async (c) => {
          for (let m = 0; m < MESSAGES; m++) {
            // 3 points per message, as in ThingsBoard's performance test; distinct ts per message
            await c.publishAsync('v1/devices/me/telemetry', JSON.stringify({ ts: 1_000_000 + m, values: { temperature: 20 + m, humidity: 50, pressure: 1000 } }), { qos: 1 });
            acked += 3;
          }
        }),
      );
      expect(acked).toBe(N * MESSAGES * 3);
      await eventually(async () => (await server.app.storage.timeseries.count()) - before >= acked, 15_000);
      expect((await server.app.storage.timeseries.count()) - before).toBe(acked);
      for (const d of [devices[0]!, devices[N - 1]!]) {
        const h = await server.app.storage.timeseries.findHistory(d.id, { keys: ['temperature'], startTs: 0, endTs: 2_000_000 });
        expect(h.temperature?.map((p) => p.value).sort()).toEqual([20, 21, 22]);
      }
    } finally {
      await Promise.all(fleet.map((c) => c.endAsync(true).catch(() => {})));
    }
  }, 30_000);
});
