import type { MqttClient } from 'mqtt';
import { beforeAll, describe, expect, it } from 'vitest';
import { api, createDevice, eventually, startSuiteServer } from './test-helpers';

const TB = 'org.thingsboard.rule.engine';

/**
 * A chain written for ThingsBoard that switches on the RPC lifecycle messages (RPC Sent, RPC
 * Delivered, RPC Successful, RPC Timeout, RPC Failed) and records each as a time series of the
 * device, `<status>:<method or response>`.
 */
function rpcEventChain() {
  const node = (type: string, name: string, configuration: unknown, x: number) => ({ additionalInfo: { layoutX: x, layoutY: 100 }, type: `${TB}.${type}`, name, debugMode: false, configuration });
  const record = (key: string) =>
    node(
      'transform.TbTransformMsgNode',
      key,
      {
        scriptLang: 'JS',
        jsScript: `var v = msg.status + ':' + (msg.request ? msg.request.body.method : JSON.stringify(msg.response)); var out = {}; out['${key}'] = v; return {msg: out, metadata: metadata, msgType: 'POST_TELEMETRY_REQUEST'};`,
      },
      400,
    );
  const statuses = ['RPC Sent', 'RPC Delivered', 'RPC Successful', 'RPC Timeout', 'RPC Failed'];
  return {
    ruleChain: { additionalInfo: null, name: 'RPC events', type: 'CORE', firstRuleNodeId: null, root: false, debugMode: false, configuration: null },
    metadata: {
      firstNodeIndex: 0,
      nodes: [node('filter.TbMsgTypeSwitchNode', 'Message Type Switch', { version: 0 }, 100), node('telemetry.TbMsgTimeseriesNode', 'Save timeseries', { defaultTTL: 0 }, 700), ...statuses.map((s) => record(s.replace('RPC ', 'rpc')))],
      connections: [
        ...statuses.map((s, i) => ({ fromIndex: 0, toIndex: i + 2, type: s })),
        ...statuses.map((_s, i) => ({ fromIndex: i + 2, toIndex: 1, type: 'Success' })),
      ],
      ruleChainConnections: null,
    },
  };
}

describe('RPC lifecycle messages (RPC_SENT ... RPC_FAILED) reach a chain switching on them', () => {
  const server = startSuiteServer({ database: 'rpc_events' });

  beforeAll(async () => {
    const imported = await api<{ id: { id: string } }>(server.app.url, server.jwt, '/api/ruleChain/import', { method: 'POST', body: rpcEventChain() });
    expect(imported.status, JSON.stringify(imported.body)).toBe(200);
    expect((await api(server.app.url, server.jwt, `/api/ruleChain/${imported.body.id.id}/root`, { method: 'POST' })).status).toBe(200);
  });

  async function latest(deviceId: string, key: string, value: string): Promise<void> {
    await eventually(async () => (await server.app.storage.timeseries.findLatest(deviceId, [key])).find((p) => p.value === value));
  }

  /** An mqtt.js device that answers every command with {"ok":<method>} unless told to stay silent. */
  async function device(name: string, answer: boolean): Promise<{ id: string; client: MqttClient }> {
    const { id, token } = await createDevice(server.app.url, server.jwt, name);
    const client = await server.connectMqtt({ username: token });
    await client.subscribeAsync('v1/devices/me/rpc/request/+', { qos: 1 });
    client.on('message', (topic, payload) => {
      if (!answer) return;
      const { method } = JSON.parse(payload.toString('utf8')) as { method: string };
      client.publish(topic.replace('request', 'response'), JSON.stringify({ ok: method }));
    });
    return { id, client };
  }

  it('two-way answered: SENT, DELIVERED, SUCCESSFUL with the reply; one-way: SENT, DELIVERED, SUCCESSFUL', async () => {
    const d = await device('RPC events 1', true);
    const twoway = await api(server.app.url, server.jwt, `/api/rpc/twoway/${d.id}`, { method: 'POST', body: { method: 'setGpio', params: { pin: 1 } } });
    expect(twoway).toMatchObject({ status: 200, body: { ok: 'setGpio' } });
    await latest(d.id, 'rpcSent', 'SENT:setGpio');
    await latest(d.id, 'rpcDelivered', 'DELIVERED:{"ok":"setGpio"}');
    await latest(d.id, 'rpcSuccessful', 'SUCCESSFUL:{"ok":"setGpio"}');
    const oneway = await api(server.app.url, server.jwt, `/api/rpc/oneway/${d.id}`, { method: 'POST', body: { method: 'blink', params: {} } });
    expect(oneway.status).toBe(200);
    await latest(d.id, 'rpcSent', 'SENT:blink');
    await latest(d.id, 'rpcSuccessful', 'SUCCESSFUL:blink');
  });

  it('two-way unanswered: RPC_TIMEOUT; the device leaving with a call pending: RPC_FAILED', async () => {
    const d = await device('RPC events 2', false);
    const silent = await api(server.app.url, server.jwt, `/api/rpc/twoway/${d.id}`, { method: 'POST', body: { method: 'slow', params: {}, timeout: 500 } });
    expect(silent.status).toBe(504);
    await latest(d.id, 'rpcTimeout', 'TIMEOUT:null');
    const pending = api(server.app.url, server.jwt, `/api/rpc/twoway/${d.id}`, { method: 'POST', body: { method: 'never', params: {}, timeout: 10_000 } });
    await latest(d.id, 'rpcSent', 'SENT:never');
    await d.client.endAsync(true);
    expect((await pending).status).not.toBe(200);
    await latest(d.id, 'rpcFailed', 'FAILED:{"error":"The device disconnected before replying"}');
  });

  it("HTTP long poll: a two-way command taken by GET /api/v1/{token}/rpc and not answered gives RPC_TIMEOUT at its own expiry, not at a cleanup a minute later; the late reply is 404", async () => {
    const { id, token } = await createDevice(server.app.url, server.jwt, 'RPC events HTTP');
    const poll = fetch(`${server.app.url}/api/v1/${token}/rpc?timeout=20000`);
    // the poll is waiting (it holds the device's session) before the command is sent
    await eventually(async () => /rivulet_connected_devices\{transport="http"\} [1-9]/.test(await (await fetch(`${server.app.url}/metrics`)).text()));
    const sentAt = Date.now();
    const call = api(server.app.url, server.jwt, `/api/rpc/twoway/${id}`, { method: 'POST', body: { method: 'httpSlow', params: { a: 1 }, timeout: 1000 } });
    const polled = await poll;
    expect(polled.status).toBe(200);
    const command = (await polled.json()) as { id: number; method: string; params: unknown };
    expect(command).toMatchObject({ method: 'httpSlow', params: { a: 1 } });
    await latest(id, 'rpcSent', 'SENT:httpSlow');
    expect((await call).status).toBe(504);
    const timedOut = await eventually(async () => (await server.app.storage.timeseries.findLatest(id, ['rpcTimeout'])).find((p) => p.value === 'TIMEOUT:null'), 5000);
    const seenAt = Date.now();
    // the message's time is when the transport gave up: the expiry (sentAt + 1000), within about a second
    expect(timedOut.ts - sentAt).toBeGreaterThanOrEqual(950);
    expect(timedOut.ts - sentAt).toBeLessThan(2000);
    expect(seenAt - sentAt).toBeLessThan(4000);
    const late = await fetch(`${server.app.url}/api/v1/${token}/rpc/${command.id}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"done":true}' });
    expect(late.status).toBe(404);
    expect(await late.text()).toMatch(/unknown or expired/);
  });
});
