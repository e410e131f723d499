import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { promisify } from 'node:util';
import type { IClientOptions, MqttClient } from 'mqtt';
import { afterAll, describe, expect, it } from 'vitest';
import { api, createDevice, curl, eventually, queueEnv, startSuiteServer } from './test-helpers';

const execFileP = promisify(execFile);

/**
 * Number types in what devices read back (docs/api.md, "Number types"): a DOUBLE of integral value
 * (written 1.0) is 1.0 in attribute answers (MQTT 3.1.1 and 5, the gateway API, HTTP, CoAP) and in
 * shared-attribute updates (MQTT, gateway, HTTP long poll, CoAP observe), a LONG stays 2. Real
 * clients (mqtt.js, mosquitto_rr, mosquitto_sub, curl, coap-client-notls); payloads are checked as
 * raw text, since JSON.parse would lose the ".0" under test.
 */
describe.each(['memory', 'kafka'] as const)('number types in answers to devices (%s queue)', (queueKind) => {
  const server = startSuiteServer({ database: `numdev${queueKind}`, env: queueEnv(queueKind, 'numd') });
  const children: ChildProcess[] = [];
  afterAll(() => {
    for (const c of children) if (c.exitCode === null && c.pid !== undefined) process.kill(-c.pid, 'SIGTERM');
  });

  /** A shared attribute post over REST (ThingsBoard's `/api/plugins/telemetry/DEVICE/{id}/SHARED_SCOPE`), raw text. */
  async function postShared(id: string, body: string): Promise<void> {
    const r = await curl('POST', `${server.app.url}/api/plugins/telemetry/DEVICE/${id}/SHARED_SCOPE`, body, { 'x-authorization': `Bearer ${server.jwt}` });
    expect(r.status).toBe(200);
  }

  /** Waits until the device's attributes of `scope` hold every key (stored through the rule engine). */
  async function stored(id: string, scope: string, keys: string[]): Promise<void> {
    await eventually(async () => {
      const r = await curl('GET', `${server.app.url}/api/plugins/telemetry/DEVICE/${id}/values/attributes/${scope}`, undefined, { 'x-authorization': `Bearer ${server.jwt}` });
      return keys.every((k) => r.text.includes(`"key":"${k}"`));
    });
  }

  /** An mqtt.js device whose messages are kept as raw text, by topic. */
  async function mqttDevice(username: string, opts: IClientOptions = {}): Promise<{ c: MqttClient; next(topic: string): Promise<string> }> {
    const c = await server.connectMqtt({ username, ...opts });
    const got: Array<{ topic: string; text: string }> = [];
    c.on('message', (topic, payload) => got.push({ topic, text: payload.toString('utf8') }));
    return {
      c,
      next: (topic) =>
        eventually(async () => {
          const i = got.findIndex((m) => m.topic === topic);
          return i === -1 ? undefined : got.splice(i, 1)[0]!.text;
        }),
    };
  }

  /** A device with client attributes ca = 1.0 (DOUBLE), cn = 2 (LONG) and shared mode = 1.0, level = 2, stored. */
  async function deviceWithAttributes(name: string): Promise<{ id: string; token: string }> {
    const d = await createDevice(server.app.url, server.jwt, `${name}-${queueKind}`);
    expect((await curl('POST', `${server.app.url}/api/v1/${d.token}/attributes`, '{"ca":1.0,"cn":2}')).status).toBe(200);
    await postShared(d.id, '{"mode":1.0,"level":2}');
    await stored(d.id, 'CLIENT_SCOPE', ['ca', 'cn']);
    await stored(d.id, 'SHARED_SCOPE', ['mode', 'level']);
    return d;
  }

  /** An answer holding ca, cn, mode, level: 1.0, 2, 1.0, 2 as text, and still valid JSON. */
  function expectAnswer(text: string): void {
    expect(text).toMatch(/"client":\{[^}]*"ca":1\.0[,}]/);
    expect(text).toMatch(/"client":\{[^}]*"cn":2[,}]/);
    expect(text).toMatch(/"shared":\{[^}]*"mode":1\.0[,}]/);
    expect(text).toMatch(/"shared":\{[^}]*"level":2[,}]/);
    expect(JSON.parse(text)).toEqual({ client: { ca: 1, cn: 2 }, shared: { mode: 1, level: 2 } });
  }

  it('MQTT 3.1.1 (mqtt.js): the attribute answer and a shared-attribute update print a DOUBLE as 1.0, a LONG as 2', async () => {
    const d = await deviceWithAttributes('mqtt-answers');
    const { c, next } = await mqttDevice(d.token);
    await c.subscribeAsync(['v1/devices/me/attributes', 'v1/devices/me/attributes/response/+'], { qos: 1 });
    await c.publishAsync('v1/devices/me/attributes/request/1', '{"clientKeys":"ca,cn","sharedKeys":"mode,level"}', { qos: 1 });
    expectAnswer(await next('v1/devices/me/attributes/response/1'));
    // an answer without a double keeps the plain serializer's text
    await c.publishAsync('v1/devices/me/attributes/request/2', '{"sharedKeys":"level"}', { qos: 1 });
    expect(await next('v1/devices/me/attributes/response/2')).toBe('{"shared":{"level":2}}');
    await postShared(d.id, '{"mode":3.0,"level":4}');
    const update = await next('v1/devices/me/attributes');
    expect(update).toMatch(/"mode":3\.0[,}]/);
    expect(update).toMatch(/"level":4[,}]/);
    await postShared(d.id, '{"level":5}');
    expect(await next('v1/devices/me/attributes')).toBe('{"level":5}');
  });

  it('MQTT 5 (mqtt.js, mosquitto_rr, mosquitto_sub): the attribute answer and a shared-attribute update keep 1.0', async () => {
    const d = await deviceWithAttributes('mqtt5-answers');
    const { c, next } = await mqttDevice(d.token, { protocolVersion: 5 });
    await c.subscribeAsync(['v1/devices/me/attributes', 'v2/a/res/+'], { qos: 1 });
    await c.publishAsync('v2/a/req/1', '{"clientKeys":"ca,cn","sharedKeys":"mode,level"}', { qos: 1 });
    expectAnswer(await next('v2/a/res/1'));

    const rr = await execFileP(
      'mosquitto_rr',
      ['-h', '127.0.0.1', '-p', String(server.app.mqttPort), '-u', d.token, '-t', 'v1/devices/me/attributes/request/9', '-e', 'v1/devices/me/attributes/response/9', '-m', '{"clientKeys":"ca,cn","sharedKeys":"mode,level"}', '-W', '10'],
      { timeout: 15_000 },
    );
    expectAnswer(rr.stdout.trim());

    // mosquitto_sub (-d prints the SUBACK, after which the update cannot be missed; stdbuf: its
    // output is line-buffered, a pipe would hold the SUBACK line back)
    const sub = spawn('stdbuf', ['-oL', 'mosquitto_sub', '-d', '-h', '127.0.0.1', '-p', String(server.app.mqttPort), '-V', 'mqttv5', '-u', d.token, '-t', 'v1/devices/me/attributes', '-C', '1', '-W', '20'], { detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    children.push(sub);
    let out = '';
    sub.stdout?.on('data', (b: Buffer) => (out += b.toString('utf8')));
    sub.stderr?.on('data', (b: Buffer) => (out += b.toString('utf8')));
    await eventually(async () => {
      if (sub.exitCode !== null) throw new Error(`mosquitto_sub exited: ${out}`);
      return out.includes('SUBACK');
    });
    await postShared(d.id, '{"mode":6.0,"level":7}');
    const fromSub = await eventually(async () => out.split('\n').find((l) => l.startsWith('{')));
    expect(fromSub).toMatch(/"mode":6\.0[,}]/);
    expect(fromSub).toMatch(/"level":7[,}]/);
    const fromMqttJs = await next('v1/devices/me/attributes');
    expect(fromMqttJs).toMatch(/"mode":6\.0[,}]/);
  });

  it('gateway (mqtt.js): attribute answers of a device behind it and its shared-attribute update keep 1.0', async () => {
    const gw = await api<{ id: { id: string } }>(server.app.url, server.jwt, '/api/device', { method: 'POST', body: { name: `gw-numbers-${queueKind}`, type: 'gateway', additionalInfo: { gateway: true } } });
    expect(gw.status).toBe(200);
    const token = (await api<{ credentialsId: string }>(server.app.url, server.jwt, `/api/device/${gw.body.id.id}/credentials`)).body.credentialsId;
    const { c, next } = await mqttDevice(token);
    await c.subscribeAsync(['v1/gateway/attributes', 'v1/gateway/attributes/response'], { qos: 1 });
    const name = `behind-gw-${queueKind}`;
    await c.publishAsync('v1/gateway/connect', JSON.stringify({ device: name }), { qos: 1 });
    const child = await eventually(async () => server.app.storage.devices.findByName(server.app.tenantId, name));
    await postShared(child.id, '{"mode":1.0,"level":2}');
    const update = await next('v1/gateway/attributes');
    expect(update).toMatch(new RegExp(`^\\{"device":"${name}","data":\\{"mode":1\\.0,"level":2\\}\\}$`));

    await c.publishAsync('v1/gateway/attributes/request', JSON.stringify({ id: 1, device: name, client: false, key: 'mode' }), { qos: 1 });
    expect(await next('v1/gateway/attributes/response')).toBe(`{"id":1,"device":"${name}","value":1.0}`);
    await c.publishAsync('v1/gateway/attributes/request', JSON.stringify({ id: 2, device: name, client: false, keys: ['mode', 'level'] }), { qos: 1 });
    const values = await next('v1/gateway/attributes/response');
    expect(values).toMatch(/"values":\{[^}]*"mode":1\.0[,}]/);
    expect(values).toMatch(/"values":\{[^}]*"level":2[,}]/);
    await c.publishAsync('v1/gateway/attributes/request', JSON.stringify({ id: 3, device: name, shared: ['mode'] }), { qos: 1 });
    expect(await next('v1/gateway/attributes/response')).toBe(`{"id":3,"device":"${name}","shared":{"mode":1.0}}`);
    await c.publishAsync('v1/gateway/attributes/request', JSON.stringify({ id: 4, device: name, client: false, key: 'level' }), { qos: 1 });
    expect(await next('v1/gateway/attributes/response')).toBe(`{"id":4,"device":"${name}","value":2}`);
  });

  it('HTTP (curl): the attribute answer and the attribute-update long poll keep 1.0', async () => {
    const d = await deviceWithAttributes('http-answers');
    const got = await curl('GET', `${server.app.url}/api/v1/${d.token}/attributes?clientKeys=ca,cn&sharedKeys=mode,level`);
    expect(got.status).toBe(200);
    expectAnswer(got.text);
    expect((await curl('GET', `${server.app.url}/api/v1/${d.token}/attributes?sharedKeys=level`)).text).toBe('{"shared":{"level":2}}');

    // the long poll must be waiting before the post: a poll that missed it times out, and the next one tries again
    let update: string | undefined;
    for (let attempt = 0; attempt < 5 && update === undefined; attempt++) {
      const poll = curl('GET', `${server.app.url}/api/v1/${d.token}/attributes/updates?timeout=3000`);
      await new Promise((r) => setTimeout(r, 300));
      await postShared(d.id, '{"mode":8.0,"level":9}');
      const r = await poll;
      if (r.status === 200) update = r.text;
    }
    expect(update).toMatch(/"mode":8\.0[,}]/);
    expect(update).toMatch(/"level":9[,}]/);
  });

  it('CoAP (coap-client-notls): the attribute answer, the observe registration and its update keep 1.0', async () => {
    const d = await deviceWithAttributes('coap-answers');
    const base = `coap://127.0.0.1:${server.app.coapPort}/api/v1/${d.token}`;
    const got = await execFileP('coap-client-notls', ['-B', '5', '-m', 'get', `${base}/attributes?clientKeys=ca,cn&sharedKeys=mode,level`], { timeout: 15_000 });
    expectAnswer(got.stdout.trim());

    const obs = spawn('coap-client-notls', ['-m', 'get', '-s', '30', '-B', '30', `${base}/attributes`], { detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    children.push(obs);
    let out = '';
    obs.stdout?.on('data', (b: Buffer) => (out += b.toString('utf8')));
    // the registration answer carries the current shared attributes
    await eventually(async () => out.includes('"mode":'));
    expect(out).toMatch(/"mode":1\.0[,}]/);
    expect(out).toMatch(/"level":2[,}]/);
    await postShared(d.id, '{"mode":10.0}');
    await eventually(async () => out.includes('{"mode":10.0}'));
    process.kill(-obs.pid!, 'SIGTERM');
  });
});
