import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { connectAsync, type MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { api, eventually } from '../test-helpers';
import { settle, startIsolationWorld, type IsolationWorld } from './isolation-fixture';

const execFileP = promisify(execFile);

/**
 * Isolation matrix, device transports (issue #12): tenant B's gateway names tenant A's device on
 * every gateway topic, B's device answers an RPC A is waiting for, and A's device id is tried as a
 * token over MQTT, CoAP (libcoap's client) and HTTP. Nothing reaches A's data or A's session.
 */
describe('isolation matrix: MQTT, CoAP and HTTP device APIs', () => {
  let w: IsolationWorld;
  let before: unknown;
  let gateway: MqttClient;
  const gatewayGot: Array<{ topic: string; payload: string }> = [];
  beforeAll(async () => {
    w = await startIsolationWorld('transports');
    before = await w.snapshotA();
    gateway = await connectAsync(`mqtt://127.0.0.1:${w.app.mqttPort}`, { username: w.b.token, reconnectPeriod: 0 });
    await gateway.subscribeAsync(['v1/gateway/attributes', 'v1/gateway/rpc', 'v1/gateway/attributes/response', 'v1/devices/me/attributes/response/+'], { qos: 1 });
    gateway.on('message', (topic, payload) => gatewayGot.push({ topic, payload: payload.toString() }));
  }, 60_000);
  afterAll(async () => {
    await gateway?.endAsync(true).catch(() => {});
    await w?.close();
  });

  it('B’s gateway naming A’s device on every gateway topic reaches only a device of its own tenant', async () => {
    const name = w.a.deviceName;
    const publishes: Array<[string, unknown]> = [
      ['v1/gateway/connect', { device: name, type: 'sensor' }],
      ['v1/gateway/telemetry', { [name]: [{ ts: 1_000, values: { temperature: 666 } }] }],
      ['v1/gateway/attributes', { [name]: { firmware: 'evil' } }],
      ['v1/gateway/attributes/request', { id: 1, device: name, client: false, key: 'setpoint' }],
      ['v1/gateway/attributes/request', { id: 2, device: name, client: true, keys: ['firmware'] }],
      ['v1/gateway/rpc', { device: name, id: 0, data: { success: true } }],
      ['v1/gateway/disconnect', { device: name }],
    ];
    for (const [topic, body] of publishes) await gateway.publishAsync(topic, JSON.stringify(body), { qos: 1 });
    await eventually(async () => gatewayGot.filter((m) => m.topic === 'v1/gateway/attributes/response').length >= 2);
    // The answers are about B's own device of that name: A's setpoint (20) and firmware (1.0) never come back.
    for (const m of gatewayGot) expect(m.payload).not.toMatch(/20|1\.0/);
    const own = await w.app.storage.devices.findByName(w.b.tenantId, name);
    expect(own?.id).toBeDefined();
    expect(own?.id).not.toBe(w.a.deviceId);
  });

  it('B’s device answering with the id of an RPC A is waiting for does not answer A’s call', async () => {
    const call = api(w.app.url, w.a.jwt, `/api/rpc/twoway/${w.a.deviceId}`, { method: 'POST', body: { method: 'getState', params: {}, timeout: 1500 } });
    // A's own session got the request (it does not answer): its request id is what B replays.
    const req = await eventually(async () => w.received.find((m) => m.topic.startsWith('v1/devices/me/rpc/request/')));
    const id = req.topic.slice('v1/devices/me/rpc/request/'.length);
    await gateway.publishAsync(`v1/devices/me/rpc/response/${id}`, JSON.stringify({ hijacked: true }), { qos: 1 });
    await gateway.publishAsync('v1/gateway/rpc', JSON.stringify({ device: w.a.deviceName, id: Number(id), data: { hijacked: true } }), { qos: 1 });
    const r = await call;
    expect(r.status).not.toBe(200);
    expect(JSON.stringify(r.body)).not.toContain('hijacked');
    w.received.length = 0;
  });

  it('A’s device id (or B’s token with A’s id in the path) authenticates nothing over MQTT, CoAP and HTTP', async () => {
    await expect(connectAsync(`mqtt://127.0.0.1:${w.app.mqttPort}`, { username: w.a.deviceId, reconnectPeriod: 0, connectTimeout: 3000 })).rejects.toThrow();
    const coap = async (...args: string[]) => {
      const { stdout, stderr } = await execFileP('coap-client-notls', ['-B', '5', ...args], { timeout: 15_000 });
      return stdout + stderr;
    };
    const coapBase = `coap://127.0.0.1:${w.app.coapPort}/api/v1`;
    expect(await coap('-m', 'post', '-e', '{"temperature":666}', `${coapBase}/${w.a.deviceId}/telemetry`)).toMatch(/4\.01/);
    expect(await coap('-m', 'post', '-e', '{"firmware":"evil"}', `${coapBase}/${w.a.deviceId}/attributes`)).toMatch(/4\.01/);
    expect(await coap('-m', 'get', `${coapBase}/${w.a.deviceId}/attributes?sharedKeys=setpoint`)).toMatch(/4\.01/);
    // B's own token reads B's own (empty) attributes, never A's
    expect(await coap('-m', 'get', `${coapBase}/${w.b.token}/attributes?sharedKeys=setpoint&clientKeys=firmware`)).not.toMatch(/20|1\.0/);
    const http = (path: string, init: RequestInit = {}) => fetch(`${w.app.url}/api/v1/${path}`, { headers: { 'content-type': 'application/json' }, ...init });
    expect((await http(`${w.a.deviceId}/telemetry`, { method: 'POST', body: '{"temperature":666}' })).status).toBe(401);
    expect((await http(`${w.a.deviceId}/attributes`, { method: 'POST', body: '{"firmware":"evil"}' })).status).toBe(401);
    expect((await http(`${w.a.deviceId}/attributes?sharedKeys=setpoint`)).status).toBe(401);
    expect(await (await http(`${w.b.token}/attributes?sharedKeys=setpoint&clientKeys=firmware`)).text()).not.toMatch(/20|1\.0/);
  });

  it('after all of it, A’s stored state is unchanged and A’s MQTT session received nothing', async () => {
    await settle(500);
    expect(await w.snapshotA()).toEqual(before);
    expect(w.received).toEqual([]);
  });
});
