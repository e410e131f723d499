import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { createDevice, curl, eventually, openWebSocket, queueEnv, startSuiteServer } from './test-helpers';

const execFileP = promisify(execFile);

/**
 * Number types as ThingsBoard keeps them, end to end (docs/api.md, "Number types"): a number written
 * 1.0 by a device (MQTT, HTTP, CoAP) or a REST call is stored as a DOUBLE and read back as 1.0, an
 * integer 1 as a LONG, through the rule engine on the memory queue and on Kafka (its wire form).
 * Devices are real clients (mqtt.js, curl, coap-client-notls); answers are read as raw text with
 * curl, since JSON.parse would lose the very ".0" under test.
 */
describe.each(['memory', 'kafka'] as const)('number types end to end (%s queue)', (queueKind) => {
  const server = startSuiteServer({ database: `numbers${queueKind}`, env: queueEnv(queueKind, 'num') });

  const auth = () => ({ 'x-authorization': `Bearer ${server.jwt}` });
  const timeseries = (id: string, strict: boolean) => curl('GET', `${server.app.url}/api/plugins/telemetry/DEVICE/${id}/values/timeseries?keys=t,n&useStrictDataTypes=${strict}`, undefined, auth());
  const attributes = (id: string, scope: string) => curl('GET', `${server.app.url}/api/plugins/telemetry/DEVICE/${id}/values/attributes/${scope}`, undefined, auth());

  /** Waits for both keys, then checks the raw answers: t a double, n a long, strict and as strings. */
  async function expectTelemetry(id: string, t: string, n: string): Promise<void> {
    const strict = await eventually(async () => {
      const r = await timeseries(id, true);
      return r.text.includes('"t":') && r.text.includes('"n":') ? r.text : undefined;
    });
    expect(strict).toMatch(new RegExp(`"t":\\[\\{"ts":\\d+,"value":${t.replace('.', '\\.')}\\}\\]`));
    expect(strict).toMatch(new RegExp(`"n":\\[\\{"ts":\\d+,"value":${n}\\}\\]`));
    const loose = (await timeseries(id, false)).text;
    expect(loose).toMatch(new RegExp(`"t":\\[\\{"ts":\\d+,"value":"${t.replace('.', '\\.')}"\\}\\]`));
    expect(loose).toMatch(new RegExp(`"n":\\[\\{"ts":\\d+,"value":"${n}"\\}\\]`));
    expect(JSON.parse(strict)).toBeTruthy(); // still valid JSON
  }

  async function expectAttributes(id: string, scope: string, t: string, n: string, keys = ['at', 'an']): Promise<void> {
    const text = await eventually(async () => {
      const r = await attributes(id, scope);
      return keys.every((k) => r.text.includes(`"key":"${k}"`)) ? r.text : undefined;
    });
    expect(text).toMatch(new RegExp(`"key":"${keys[0]}","value":${t.replace('.', '\\.')}[,}]`));
    expect(text).toMatch(new RegExp(`"key":"${keys[1]}","value":${n}[,}]`));
    expect(JSON.parse(text)).toBeTruthy();
  }

  it('MQTT (mqtt.js): telemetry and client attributes', async () => {
    const d = await createDevice(server.app.url, server.jwt, `mqtt-numbers-${queueKind}`);
    const c = await server.connectMqtt({ username: d.token });
    await c.publishAsync('v1/devices/me/telemetry', '{"t":1.0,"n":1}', { qos: 1 });
    await c.publishAsync('v1/devices/me/attributes', '{"at":2.50,"an":7,"az":-0.0}', { qos: 1 });
    await expectTelemetry(d.id, '1.0', '1');
    await expectAttributes(d.id, 'CLIENT_SCOPE', '2.5', '7');
    await expectAttributes(d.id, 'CLIENT_SCOPE', '0.0', '7', ['az', 'an']);
  });

  it('HTTP (curl): telemetry and client attributes', async () => {
    const d = await createDevice(server.app.url, server.jwt, `http-numbers-${queueKind}`);
    expect((await curl('POST', `${server.app.url}/api/v1/${d.token}/telemetry`, '{"t":1.0,"n":1}')).status).toBe(200);
    expect((await curl('POST', `${server.app.url}/api/v1/${d.token}/attributes`, '{"at":3.0,"an":3}')).status).toBe(200);
    await expectTelemetry(d.id, '1.0', '1');
    await expectAttributes(d.id, 'CLIENT_SCOPE', '3.0', '3');
  });

  it('CoAP (coap-client-notls): telemetry and client attributes', async () => {
    const d = await createDevice(server.app.url, server.jwt, `coap-numbers-${queueKind}`);
    const base = `coap://127.0.0.1:${server.app.coapPort}/api/v1/${d.token}`;
    await execFileP('coap-client-notls', ['-B', '5', '-m', 'post', '-t', 'json', '-e', '{"t":1.0,"n":1}', `${base}/telemetry`], { timeout: 15_000 });
    await execFileP('coap-client-notls', ['-B', '5', '-m', 'post', '-t', 'json', '-e', '{"at":-4.000,"an":-4}', `${base}/attributes`], { timeout: 15_000 });
    await expectTelemetry(d.id, '1.0', '1');
    await expectAttributes(d.id, 'CLIENT_SCOPE', '-4.0', '-4');
  });

  it('REST posts: time series and server attributes; a later LONG of the same key reads as a long', async () => {
    const d = await createDevice(server.app.url, server.jwt, `rest-numbers-${queueKind}`);
    const prefix = `${server.app.url}/api/plugins/telemetry/DEVICE/${d.id}`;
    expect((await curl('POST', `${prefix}/timeseries/ANY`, '{"t":1.0,"n":1}', auth())).status).toBe(200);
    expect((await curl('POST', `${prefix}/attributes/SERVER_SCOPE`, '{"at":5.0,"an":5}', auth())).status).toBe(200);
    await expectTelemetry(d.id, '1.0', '1');
    await expectAttributes(d.id, 'SERVER_SCOPE', '5.0', '5');
    expect((await curl('POST', `${prefix}/attributes/SERVER_SCOPE`, '{"at":5}', auth())).status).toBe(200);
    await eventually(async () => /"key":"at","value":5[,}]/.test((await attributes(d.id, 'SERVER_SCOPE')).text));
  });

  it('strings that look like numbers, huge integers and nested values keep their types', async () => {
    const d = await createDevice(server.app.url, server.jwt, `edge-numbers-${queueKind}`);
    const body = '{"s":"1.0x","e":"1e3","big":9223372036854775808,"j":{"a":1.0},"x":1e3,"y":1E-7}';
    expect((await curl('POST', `${server.app.url}/api/v1/${d.token}/telemetry`, body)).status).toBe(200);
    const text = await eventually(async () => {
      const r = await curl('GET', `${server.app.url}/api/plugins/telemetry/DEVICE/${d.id}/values/timeseries?keys=s,e,big,j,x,y&useStrictDataTypes=true`, undefined, auth());
      return ['"s"', '"e"', '"big"', '"j"', '"x"', '"y"'].every((k) => r.text.includes(k)) ? r.text : undefined;
    });
    const v = JSON.parse(text) as Record<string, Array<{ value: unknown }>>;
    expect(v.s?.[0]?.value).toBe('1.0x');
    expect(v.e?.[0]?.value).toBe('1e3'); // scientific notation is not cast (NumberUtils.isParsable)
    expect(v.big?.[0]?.value).toBe('9223372036854775808'); // beyond a long: the digits as a string
    expect(v.j?.[0]?.value).toEqual({ a: 1 });
    expect(text).toMatch(/"x":\[\{"ts":\d+,"value":1000\}\]/); // 1e3 is a LONG
    expect(v.y?.[0]?.value).toBe(1e-7);
  });

  it('WebSocket: a double of integral value arrives as "1.0", a long as "1"', async () => {
    const d = await createDevice(server.app.url, server.jwt, `ws-numbers-${queueKind}`);
    const { ws, frames } = await openWebSocket(server.app.url);
    try {
      ws.send(JSON.stringify({ authCmd: { cmdId: 0, token: server.jwt } }));
      ws.send(JSON.stringify({ cmds: [{ type: 'TIMESERIES', cmdId: 10, entityType: 'DEVICE', entityId: d.id, scope: 'LATEST_TELEMETRY', keys: 't,n' }] }));
      await eventually(async () => frames.some((f) => f.subscriptionId === 10));
      expect((await curl('POST', `${server.app.url}/api/v1/${d.token}/telemetry`, '{"t":1.0,"n":1}')).status).toBe(200);
      const values = await eventually(async () => {
        const got: Record<string, string> = {};
        for (const f of frames) if (f.subscriptionId === 10) for (const [k, list] of Object.entries(f.data ?? {})) if (list[0]) got[k] = list[0][1];
        return got.t !== undefined && got.n !== undefined ? got : undefined;
      });
      expect(values).toEqual({ t: '1.0', n: '1' });
    } finally {
      ws.close();
    }
  });
});
