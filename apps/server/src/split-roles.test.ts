import mqtt from 'mqtt';
import WebSocket from 'ws';
import { createTestDatabase, freePort, waitRivuletReady } from '@rivulet/testing';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { renamingChain } from './fixtures/renaming-chain';
import { api, createDevice, eventually, login, roleProcesses, tempDir } from './test-helpers';

/**
 * Rivulet split into roles, each its own `npm start` process on the run's Kafka broker and a real
 * PostgreSQL database: transport, rule engine and API. A device's points go MQTT -> transport ->
 * Kafka -> rule engine -> PostgreSQL and are read back through the API process.
 */
describe('split roles: transport, rule-engine and api processes on Kafka', () => {
  const dir = tempDir('rivulet-split-');
  let roles: ReturnType<typeof roleProcesses>;
  let db: Awaited<ReturnType<typeof createTestDatabase>>;
  let mqttPort: number;
  const url = (name: string) => roles.url(name);

  beforeAll(async () => {
    db = await createTestDatabase('split');
    mqttPort = await freePort();
    roles = roleProcesses({ kafkaBrokers: inject('kafkaBrokers'), prefix: 'split', databaseUrl: db.url, dataDir: dir.dir });
    const start = roles.start;
    // The API process bootstraps the tenant; the others start beside it once it is there.
    const apiProc = await start('api', 'api');
    await waitRivuletReady(apiProc.proc, apiProc.url, 60_000);
    const others = [await start('transport', 'transport', { RIVULET_MQTT_PORT: String(mqttPort) }), await start('rule-engine', 'rule-engine')];
    await Promise.all(others.map((p) => waitRivuletReady(p.proc, p.url, 60_000)));
  }, 120_000);

  afterAll(async () => {
    await roles?.stop();
    await db?.drop();
    dir.remove();
  });

  it('every process answers /api/health and /api/ready with its own roles', async () => {
    for (const [name, roles] of [['api', ['api']], ['transport', ['transport']], ['rule-engine', ['rule-engine']]] as const) {
      const ready = await fetch(`${url(name)}/api/ready`);
      expect(ready.status, name).toBe(200);
      expect(await ready.json()).toEqual({ status: 'READY', roles, checks: { database: 'UP', queue: 'UP', roles: 'STARTED' } });
      expect((await fetch(`${url(name)}/api/health`)).status, name).toBe(200);
    }
    // a role a process does not run is not served there
    expect((await fetch(`${url('rule-engine')}/api/auth/user`)).status).toBe(404);
    expect((await fetch(`${url('transport')}/api/auth/user`)).status).toBe(404);
  });

  it('points published over MQTT on the transport process are stored by the rule-engine process and read on the api process', async () => {
    const jwt = await login(url('api'));
    const dev = await createDevice(url('api'), jwt, 'split-device');
    const c = await mqtt.connectAsync(`mqtt://127.0.0.1:${mqttPort}`, { username: dev.token, reconnectPeriod: 0 });
    try {
      for (let seq = 1; seq <= 50; seq++) await c.publishAsync('v1/devices/me/telemetry', JSON.stringify({ ts: 1_000 + seq, values: { seq } }), { qos: 1 });
    } finally {
      await c.endAsync();
    }
    const stored = await eventually(async () => {
      const r = await api<{ seq?: Array<{ ts: number; value: string }> }>(url('api'), jwt, `/api/plugins/telemetry/DEVICE/${dev.id}/values/timeseries?keys=seq&startTs=0&endTs=10000&limit=100`);
      return r.body.seq?.length === 50 ? r.body.seq : undefined;
    }, 20_000);
    expect(stored.map((p) => Number(p.value)).sort((a, b) => a - b)).toEqual(Array.from({ length: 50 }, (_, i) => i + 1));
  });

  it('a two-way RPC from the api process reaches the device on the transport process and its reply returns; a WebSocket client on the api process sees live points', async () => {
    const jwt = await login(url('api'));
    const dev = await createDevice(url('api'), jwt, 'split-rpc-live');
    const ws = new WebSocket(`${url('api').replace('http', 'ws')}/api/ws`);
    const live: string[] = [];
    let subscribed = false;
    ws.on('message', (m) => {
      const f = JSON.parse(String(m)) as { subscriptionId?: number; data?: Record<string, Array<[number, string]>> };
      if (f.subscriptionId !== 7) return;
      subscribed = true;
      for (const [, v] of f.data?.temperature ?? []) live.push(v);
    });
    await new Promise((r, j) => {
      ws.once('open', r);
      ws.once('error', j);
    });
    ws.send(JSON.stringify({ authCmd: { cmdId: 0, token: jwt } }));
    ws.send(JSON.stringify({ cmds: [{ type: 'TIMESERIES', cmdId: 7, entityType: 'DEVICE', entityId: dev.id, scope: 'LATEST_TELEMETRY', keys: 'temperature' }] }));
    await eventually(async () => subscribed);

    const c = await mqtt.connectAsync(`mqtt://127.0.0.1:${mqttPort}`, { username: dev.token, reconnectPeriod: 0 });
    try {
      await c.subscribeAsync('v1/devices/me/rpc/request/+', { qos: 1 });
      c.on('message', (topic, payload) => {
        const id = topic.split('/').pop();
        const req = JSON.parse(payload.toString()) as { method: string; params: unknown };
        c.publish(`v1/devices/me/rpc/response/${id}`, JSON.stringify({ answered: req.method, params: req.params }), { qos: 1 });
      });
      // the transport's session claim reaches the api process through the session registry
      const rpc = await eventually(async () => {
        const r = await api(url('api'), jwt, `/api/rpc/twoway/${dev.id}`, { method: 'POST', body: { method: 'getState', params: { pin: 7 }, timeout: 3000 } });
        return r.status === 200 ? r : undefined;
      }, 15_000);
      expect(rpc.body).toEqual({ answered: 'getState', params: { pin: 7 } });

      await c.publishAsync('v1/devices/me/telemetry', JSON.stringify({ temperature: 21.5 }), { qos: 1 });
      await eventually(async () => live.includes('21.5'), 15_000);
    } finally {
      await c.endAsync();
      ws.close();
    }
  });
  it('every process serves /metrics on its own listener: the transport its messages in, the rule engine its nodes and the Kafka lag', async () => {
    const scrape = async (name: string) => {
      const r = await fetch(`${url(name)}/metrics`);
      expect(r.status, name).toBe(200);
      return r.text();
    };
    const value = (text: string, series: string) => Number(text.split('\n').find((l) => l.startsWith(`${series} `))?.split(' ')[1] ?? NaN);
    // the earlier tests published 51 telemetry messages over MQTT on the transport process
    const transport = await scrape('transport');
    expect(value(transport, 'rivulet_messages_in_total{transport="mqtt",outcome="accepted",reason=""}')).toBeGreaterThanOrEqual(51);
    expect(transport).toContain('rivulet_info{roles="transport",queue="kafka"');
    expect(transport).not.toContain('rivulet_rule_node_messages_total{');
    // Kafka backpressure: produce() is not held (the rule engine keeps up)
    expect(transport).toContain('rivulet_queue_producers_held{topic="rivulet.rule-engine"} 0');
    const engine = await eventually(async () => {
      const t = await scrape('rule-engine');
      return value(t, 'rivulet_rule_node_messages_total{type="rivulet.action.saveTimeseries"}') >= 51 && value(t, 'rivulet_queue_consumer_lag{topic="rivulet.rule-engine",group="rule-engine"}') === 0 ? t : undefined;
    }, 15_000);
    expect(value(engine, 'rivulet_storage_batch_size_count{kind="timeseries"}')).toBeGreaterThan(0);
    // Kafka: no in-memory depth, the lag stands for it
    expect(engine).not.toContain('rivulet_queue_depth{');
    expect(await scrape('api')).toContain('rivulet_websocket_sessions 0');
  });
  it("a device profile's rule chain set and cleared on the api process routes the device's telemetry on the rule-engine process", async () => {
    const jwt = await login(url('api'));
    const chain = await api<{ id: { id: string } }>(url('api'), jwt, '/api/ruleChain/import', { method: 'POST', body: renamingChain('Split profile chain', 'viaProfile') });
    expect(chain.status, JSON.stringify(chain.body)).toBe(200);
    const profile = await api<{ id: { id: string } }>(url('api'), jwt, '/api/deviceProfile', { method: 'POST', body: { name: 'Split routed', defaultRuleChainId: { entityType: 'RULE_CHAIN', id: chain.body.id.id } } });
    expect(profile.status).toBe(200);
    const dev = await createDevice(url('api'), jwt, 'split-profile-device');
    // Created with type "sensor": moved to the profile over REST (the rule engine has not cached it yet, or drops it on the event).
    const moved = await api(url('api'), jwt, '/api/device', { method: 'POST', body: { id: { entityType: 'DEVICE', id: dev.id }, name: 'split-profile-device', deviceProfileId: profile.body.id } });
    expect(moved.status).toBe(200);
    const send = async (ts: number): Promise<void> => {
      const c = await mqtt.connectAsync(`mqtt://127.0.0.1:${mqttPort}`, { username: dev.token, reconnectPeriod: 0 });
      try {
        await c.publishAsync('v1/devices/me/telemetry', JSON.stringify({ ts, values: { t: ts } }), { qos: 1 });
      } finally {
        await c.endAsync();
      }
    };
    const keyOf = (ts: number) =>
      eventually(async () => {
        for (const key of ['viaProfile', 't']) {
          const r = await api<Record<string, unknown[]>>(url('api'), jwt, `/api/plugins/telemetry/DEVICE/${dev.id}/values/timeseries?keys=${key}&startTs=${ts}&endTs=${ts + 1}`);
          if ((r.body[key]?.length ?? 0) > 0) return key;
        }
        return undefined;
      }, 20_000);
    await send(1_000);
    expect(await keyOf(1_000)).toBe('viaProfile');
    // The profile change travels on the broadcast from the api process to the rule-engine process.
    const cleared = await api(url('api'), jwt, '/api/deviceProfile', { method: 'POST', body: { id: profile.body.id, name: 'Split routed', defaultRuleChainId: null } });
    expect(cleared.status).toBe(200);
    await eventually(async () => {
      await send(2_000 + (Date.now() % 1000));
      const r = await api<Record<string, unknown[]>>(url('api'), jwt, `/api/plugins/telemetry/DEVICE/${dev.id}/values/timeseries?keys=t&startTs=2000&endTs=3000`);
      return (r.body.t?.length ?? 0) > 0;
    }, 20_000);
  });

  it('provisioning and claiming across processes: a device provisions itself and announces a claim on the transport process; the customer user claims it on the api process', async () => {
    const jwt = await login(url('api'));
    const profile = await api<{ id: { id: string } }>(url('api'), jwt, '/api/deviceProfile', {
      method: 'POST',
      body: {
        name: 'split provisioned',
        provisionType: 'ALLOW_CREATE_NEW_DEVICES',
        provisionDeviceKey: 'split-key',
        profileData: { configuration: { type: 'DEFAULT' }, transportConfiguration: { type: 'DEFAULT' }, provisionConfiguration: { type: 'ALLOW_CREATE_NEW_DEVICES', provisionDeviceSecret: 'split-secret' }, alarms: null },
      },
    });
    expect(profile.status).toBe(200);
    const p = await mqtt.connectAsync(`mqtt://127.0.0.1:${mqttPort}`, { username: 'provision', reconnectPeriod: 0 });
    let token: string;
    try {
      await p.subscribeAsync('/provision/response', { qos: 1 });
      const answer = new Promise<Buffer>((r) => p.once('message', (_t, payload) => r(payload)));
      await p.publishAsync('/provision/request', JSON.stringify({ deviceName: 'split-provisioned', provisionDeviceKey: 'split-key', provisionDeviceSecret: 'split-secret' }), { qos: 1 });
      const body = JSON.parse((await answer).toString()) as { status: string; credentialsValue: string };
      expect(body.status).toBe('SUCCESS');
      token = body.credentialsValue;
    } finally {
      await p.endAsync();
    }
    const device = await api<{ id: { id: string }; deviceProfileId: { id: string } }>(url('api'), jwt, '/api/tenant/devices?deviceName=split-provisioned');
    expect(device.body.deviceProfileId.id).toBe(profile.body.id.id);

    const customer = await api<{ id: { id: string } }>(url('api'), jwt, '/api/customer', { method: 'POST', body: { title: 'Split claimers' } });
    expect((await api(url('api'), jwt, '/api/user', { method: 'POST', body: { email: 'claimer@split.test', authority: 'CUSTOMER_USER', customerId: { id: customer.body.id.id }, password: 'split-claimer-pw' } })).status).toBe(200);
    const customerJwt = await login(url('api'), { username: 'claimer@split.test', password: 'split-claimer-pw' });
    const c = await mqtt.connectAsync(`mqtt://127.0.0.1:${mqttPort}`, { username: token, reconnectPeriod: 0 });
    try {
      await c.publishAsync('v1/devices/me/telemetry', JSON.stringify({ provisioned: true }), { qos: 1 });
      await c.publishAsync('v1/devices/me/claim', JSON.stringify({ secretKey: 'split-claim', durationMs: 60_000 }), { qos: 1 });
      // the claim request stored by the transport process is what the api process checks
      const claimed = await eventually(async () => {
        const r = await api<{ response: string }>(url('api'), customerJwt, '/api/customer/device/split-provisioned/claim', { method: 'POST', body: { secretKey: 'split-claim' } });
        return r.status === 200 ? r : undefined;
      }, 15_000);
      expect(claimed.body.response).toBe('SUCCESS');
    } finally {
      await c.endAsync();
    }
    expect((await api<{ customerId: { id: string } }>(url('api'), jwt, `/api/device/${device.body.id.id}`)).body.customerId.id).toBe(customer.body.id.id);
    const stored = await eventually(async () => (await api<{ provisioned?: Array<{ value: string }> }>(url('api'), jwt, `/api/plugins/telemetry/DEVICE/${device.body.id.id}/values/timeseries?keys=provisioned`)).body.provisioned, 15_000);
    expect(stored[0]?.value).toBe('true');
  });
});
