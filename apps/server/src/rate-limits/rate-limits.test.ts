import { connectAsync, type MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Rivulet } from '../app';
import { eventually, startTestServer, tempDir } from '../test-helpers';
import { coapPost, createTenant, postTelemetry } from './rate-limit-fixture';

/**
 * Device and tenant message rates on every transport, through the whole server with real clients
 * (node's fetch, mqtt.js, libcoap's coap-client-notls). One device per tenant may send 1 message per
 * second, one tenant 2; MQTT and CoAP hold a message at most 1.5 s. Each case has a tenant of its
 * own, so the cases do not share a budget. A message is refused only when it would have to wait
 * (HTTP) or wait longer than 1.5 s (MQTT, CoAP), which a burst sent at once does whatever the
 * machine's speed; nothing here depends on how fast an answer comes.
 */
describe('device and tenant message rate limits on every transport', () => {
  const dir = tempDir();
  let app: Rivulet;
  const clients: MqttClient[] = [];
  beforeAll(async () => {
    app = await startTestServer({
      RIVULET_DATA_DIR: dir.dir,
      RIVULET_DEVICE_RATE_LIMIT: '1',
      RIVULET_TENANT_RATE_LIMIT: '2',
      RIVULET_RATE_LIMIT_MAX_WAIT_MS: '1500',
    });
  }, 60_000);
  afterAll(async () => {
    await Promise.all(clients.map((c) => c.endAsync(true).catch(() => {})));
    await app?.stop();
    dir.remove();
  });

  const stored = (deviceId: string) => app.storage.timeseries.count(deviceId);

  it('HTTP, per device: 429 with Retry-After and a ThingsBoard error body; the refused post is not stored', async () => {
    const t = await createTenant(app, 'http-device', 1);
    const [d] = t.devices;
    const answers = await Promise.all([1, 2].map((n) => postTelemetry(app, d!.token, { ts: n, values: { n } })));
    expect(answers.map((a) => a.status).sort()).toEqual([200, 429]);
    const refused = answers.find((a) => a.status === 429)!;
    expect(refused.retryAfter).toBe('1');
    expect(JSON.parse(refused.body)).toMatchObject({ status: 429, errorCode: 33, message: expect.stringMatching(/this device is over its message rate limit of 1 per second/) });
    await eventually(async () => (await stored(d!.id)) === 1);
    expect(app.rateLimitStats().transports.http?.refused.device).toBeGreaterThanOrEqual(1);
  });

  it('HTTP, per tenant: the tenant\'s third device in the same second gets 429 naming the tenant', async () => {
    const t = await createTenant(app, 'http-tenant', 3);
    const answers = await Promise.all(t.devices.map((d, i) => postTelemetry(app, d.token, { ts: 1, values: { i } })));
    expect(answers.map((a) => a.status).sort()).toEqual([200, 200, 429]);
    expect(JSON.parse(answers.find((a) => a.status === 429)!.body).message).toMatch(/this device's tenant is over its message rate limit of 2 per second/);
    const counts = await Promise.all(t.devices.map((d) => stored(d.id)));
    expect(counts.reduce((a, b) => a + b, 0)).toBeLessThanOrEqual(2);
    await eventually(async () => (await Promise.all(t.devices.map((d) => stored(d.id)))).reduce((a, b) => a + b, 0) === 2);
  });

  it('MQTT, per device: a publish over the rate has its PUBACK held and is stored; one further ahead than the bound closes the connection, unproduced', async () => {
    const t = await createTenant(app, 'mqtt-device', 2);
    // 2 publishes: the second waits 1 s, within the 1.5 s bound; both acknowledged and stored
    const a = await connectAsync(`mqtt://127.0.0.1:${app.mqttPort}`, { username: t.devices[0]!.token, reconnectPeriod: 0 });
    clients.push(a);
    const before = app.rateLimitStats().transports.mqtt?.delayed.device ?? 0;
    await Promise.all([1, 2].map((n) => a.publishAsync('v1/devices/me/telemetry', JSON.stringify({ ts: n, values: { n } }), { qos: 1 })));
    expect(app.rateLimitStats().transports.mqtt?.delayed.device).toBe(before + 1);
    await eventually(async () => (await stored(t.devices[0]!.id)) === 2);

    // 3 publishes at once on another device: the third would wait 2 s, past the bound: once the
    // first two are acknowledged, the connection closes without PUBACK for the third, unproduced
    const b = await connectAsync(`mqtt://127.0.0.1:${app.mqttPort}`, { username: t.devices[1]!.token, reconnectPeriod: 0 });
    clients.push(b);
    const closed = new Promise<void>((r) => b.once('close', () => r()));
    const acked: number[] = [];
    for (const n of [1, 2, 3]) void b.publishAsync('v1/devices/me/telemetry', JSON.stringify({ ts: n, values: { n } }), { qos: 1 }).then(() => acked.push(n), () => {});
    await closed;
    expect(app.rateLimitStats().transports.mqtt?.refused.device).toBeGreaterThanOrEqual(1);
    expect(acked).toEqual([1, 2]);
    await eventually(async () => (await stored(t.devices[1]!.id)) === 2);
    await new Promise((r) => setTimeout(r, 1000));
    expect(await stored(t.devices[1]!.id)).toBe(2);
  });

  it('MQTT, per tenant: the tenant\'s third device in the same second is held (PUBACK later), not refused; all stored', async () => {
    const t = await createTenant(app, 'mqtt-tenant', 3);
    const cs = await Promise.all(t.devices.map((d) => connectAsync(`mqtt://127.0.0.1:${app.mqttPort}`, { username: d.token, reconnectPeriod: 0 })));
    clients.push(...cs);
    const before = app.rateLimitStats().transports.mqtt?.delayed.tenant ?? 0;
    await Promise.all(cs.map((c, i) => c.publishAsync('v1/devices/me/telemetry', JSON.stringify({ ts: 1, values: { i } }), { qos: 1 })));
    expect(app.rateLimitStats().transports.mqtt?.delayed.tenant).toBe(before + 1);
    await eventually(async () => (await Promise.all(t.devices.map((d) => stored(d.id)))).every((n) => n === 1));
  });

  // Ten libcoap processes at once: however spread out their starts are on a busy machine, at 1 (or 2)
  // per second with a 1.5 s bound at most a few fit, so some are held and some refused.
  it('CoAP, per device: over the rate the answer is held; further ahead than the bound 4.29 with Max-Age, not stored', async () => {
    const t = await createTenant(app, 'coap-device', 1);
    const d = t.devices[0]!;
    const before = app.rateLimitStats().transports.coap ?? { delayed: { device: 0 }, refused: { device: 0 } };
    const outs = await Promise.all(Array.from({ length: 10 }, (_, n) => coapPost(app, d.token, { ts: n + 1, values: { n } })));
    const refused = outs.filter((o) => /4\.29/.test(o));
    const accepted = outs.filter((o) => /2\.01/.test(o)).length;
    expect(refused.length).toBeGreaterThanOrEqual(1);
    expect(accepted).toBeGreaterThanOrEqual(2);
    expect(accepted + refused.length).toBe(10);
    for (const o of refused) expect(o).toMatch(/Too many requests: the device is far over its message rate limit of 1 per second/);
    await eventually(async () => (await stored(d.id)) === accepted);
    const after = app.rateLimitStats().transports.coap!;
    expect(after.refused.device - before.refused.device).toBe(refused.length);
    expect(after.delayed.device - before.delayed.device).toBeGreaterThanOrEqual(1);
  });

  it('CoAP, per tenant: ten devices at once: some held, the ones past the bound 4.29 naming the tenant', async () => {
    const t = await createTenant(app, 'coap-tenant', 10);
    const outs = await Promise.all(t.devices.map((d, i) => coapPost(app, d.token, { ts: 1, values: { i } })));
    const refused = outs.filter((o) => /4\.29/.test(o));
    expect(refused.length).toBeGreaterThanOrEqual(1);
    for (const o of refused) expect(o).toMatch(/the device's tenant is far over its message rate limit of 2 per second/);
    const accepted = outs.filter((o) => /2\.01/.test(o)).length;
    expect(accepted + refused.length).toBe(10);
    await eventually(async () => (await Promise.all(t.devices.map((d) => stored(d.id)))).reduce((a, b) => a + b, 0) === accepted);
    expect(app.rateLimitStats().transports.coap?.refused.tenant).toBe(refused.length);
    expect(app.rateLimitStats().transports.coap?.delayed.tenant).toBeGreaterThanOrEqual(1);
  });
});
