import { connectAsync, type IClientOptions, type MqttClient } from 'mqtt';
import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  TEST_DOUBLE_PROVISION_KEY,
  TEST_DOUBLE_PROVISION_SECRET,
  createClaimingTestDouble,
  createProvisioningTestDouble,
} from '@rivulet/transport-service/testing';
import { DEVICE, GATEWAY_TOKEN, TOKEN, closeAll, nextMessage, reasonOf, startTransport, type Harness } from './test-harness';

afterEach(closeAll);

const REQUEST = JSON.stringify({ deviceName: 'new-device', provisionDeviceKey: TEST_DOUBLE_PROVISION_KEY, provisionDeviceSecret: TEST_DOUBLE_PROVISION_SECRET });
const V5: IClientOptions = { protocolVersion: 5 };

/** A provisioning connection (user name "provision", no password), subscribed to its answer. */
async function provisioningClient(h: Harness, extra: IClientOptions = {}): Promise<MqttClient> {
  const c = await connectAsync(h.url, { username: 'provision', reconnectPeriod: 0, connectTimeout: 5000, ...extra });
  await c.subscribeAsync('/provision/response', { qos: 1 });
  return c;
}

async function ask(c: MqttClient, payload: string): Promise<unknown> {
  const answer = nextMessage(c, '/provision/response');
  await c.publishAsync('/provision/request', payload, { qos: 1 }).catch(() => {});
  return JSON.parse((await answer).payload) as unknown;
}

/** SUBACK return codes, also when mqtt.js rejects a refused subscription. */
async function grantedOf(p: Promise<unknown>): Promise<number[]> {
  return p.then(
    (g) => (g as Array<{ qos: number }>).map((x) => x.qos),
    (e: { packet?: { granted?: number[] } }) => e.packet?.granted ?? [],
  );
}

function closed(c: MqttClient): Promise<void> {
  return new Promise((resolve) => (c.connected ? c.once('close', () => resolve()) : resolve()));
}

describe('MQTT device provisioning (CONNECT "provision", /provision/request -> /provision/response)', () => {
  for (const [name, extra] of [['3.1.1', {}], ['5', V5]] as const) {
    it(`MQTT ${name}: the provisioning service (a test double) answers on /provision/response`, async () => {
      const provisioning = createProvisioningTestDouble();
      const h = await startTransport({ services: { provisioning } });
      const c = await provisioningClient(h, extra);
      expect(await ask(c, REQUEST)).toEqual({ status: 'SUCCESS', credentialsType: 'ACCESS_TOKEN', credentialsValue: 'token-for-new-device' });
      expect(await ask(c, JSON.stringify({ deviceName: 'x', provisionDeviceKey: 'guess', provisionDeviceSecret: 'guess' }))).toEqual({ status: 'NOT_FOUND', errorMsg: 'Provision data was not found!' });
      expect(provisioning.calls.map((x) => [x.transport, (x.request as { deviceName: string }).deviceName])).toEqual([
        ['MQTT', 'new-device'],
        ['MQTT', 'x'],
      ]);
      expect(h.transport.stats().provisioning).toEqual({ connections: 1, requests: 2, closing: 1 });
    });

    it(`MQTT ${name}: the server closes the connection provisionCloseAfterMs after its answer (ThingsBoard: 60 s), not before`, async () => {
      const h = await startTransport({ config: { provisionCloseAfterMs: 400 }, services: { provisioning: createProvisioningTestDouble() } });
      const c = await provisioningClient(h, extra);
      const disconnects: number[] = [];
      c.on('disconnect', (p) => disconnects.push(p.reasonCode ?? -1));
      const gone = closed(c);
      expect(await ask(c, REQUEST)).toMatchObject({ status: 'SUCCESS' });
      const answeredAt = Date.now();
      expect(h.transport.stats().provisioning).toEqual({ connections: 1, requests: 1, closing: 1 });
      await gone;
      const after = Date.now() - answeredAt;
      expect(after).toBeGreaterThanOrEqual(350);
      expect(after).toBeLessThan(3000);
      // MQTT 5 is told why (normal disconnection); 3.1.1 has no server DISCONNECT, the socket just ends
      expect(disconnects).toEqual(name === '5' ? [0] : []);
      await vi.waitFor(() => expect(h.transport.stats().provisioning).toEqual({ connections: 0, requests: 1, closing: 0 }), { timeout: 2000, interval: 10 });
    });

    it(`MQTT ${name}: a device that leaves before the scheduled close leaves no timer behind; an unanswered connection is not closed`, async () => {
      const h = await startTransport({ services: { provisioning: createProvisioningTestDouble() } });
      const idle = await provisioningClient(h, extra);
      const c = await provisioningClient(h, extra);
      expect(await ask(c, REQUEST)).toMatchObject({ status: 'SUCCESS' });
      expect(await ask(c, REQUEST)).toMatchObject({ status: 'SUCCESS' });
      // armed once per connection (a second answer does not add a timer)
      expect(h.transport.stats().provisioning).toEqual({ connections: 2, requests: 2, closing: 1 });
      await c.endAsync();
      await vi.waitFor(() => expect(h.transport.stats().provisioning).toEqual({ connections: 1, requests: 2, closing: 0 }), { timeout: 2000, interval: 10 });
      expect(idle.connected).toBe(true);
      await idle.endAsync();
      await vi.waitFor(() => expect(h.transport.stats().provisioning.connections).toBe(0), { timeout: 2000, interval: 10 });
    });
  }

  it('a provisioning connection can do nothing else: other subscriptions refused, a telemetry publish closes it, nothing is queued', async () => {
    const h = await startTransport({ services: { provisioning: createProvisioningTestDouble() } });
    const c = await provisioningClient(h);
    expect(await grantedOf(c.subscribeAsync(['v1/devices/me/rpc/request/+', 'v1/devices/me/attributes']))).toEqual([128, 128]);
    const gone = closed(c);
    c.publish('v1/devices/me/telemetry', '{"t":1}', { qos: 1 });
    await gone;
    expect(h.consumed).toEqual([]);
    expect(h.transport.stats().rejected.unknownTopic).toBe(1);
  });

  it('MQTT 5: another topic gets PUBACK 0x87 and another filter SUBACK 0x87; the connection stays for its request', async () => {
    const provisioning = createProvisioningTestDouble();
    const h = await startTransport({ services: { provisioning } });
    const c = await provisioningClient(h, V5);
    expect(await reasonOf(c.publishAsync('v1/devices/me/telemetry', '{"t":1}', { qos: 1 }))).toBe(0x87);
    expect(await grantedOf(c.subscribeAsync('v1/devices/me/rpc/request/+'))).toEqual([0x87]);
    expect(await ask(c, REQUEST)).toMatchObject({ status: 'SUCCESS' });
    expect(h.consumed).toEqual([]);
  });

  it('requests are limited per source address, before the provisioning service sees them (3.1.1 and 5 share the budget)', async () => {
    const provisioning = createProvisioningTestDouble();
    const h = await startTransport({ services: { provisioning, provisionRequestsPerMinute: 2 } });
    const c4 = await provisioningClient(h);
    const c5 = await provisioningClient(h, V5);
    expect(await ask(c4, REQUEST)).toMatchObject({ status: 'SUCCESS' });
    expect(await ask(c5, REQUEST)).toMatchObject({ status: 'SUCCESS' });
    expect(await ask(c4, REQUEST)).toMatchObject({ status: 'FAILURE', errorMsg: expect.stringContaining('Too many provisioning requests') });
    const answer = nextMessage(c5, '/provision/response');
    expect(await reasonOf(c5.publishAsync('/provision/request', REQUEST, { qos: 1 }))).toBe(0x97);
    expect(JSON.parse((await answer).payload)).toMatchObject({ status: 'FAILURE' });
    expect(provisioning.calls).toHaveLength(2);
  });

  it('a malformed request closes a 3.1.1 connection (as ThingsBoard) and gets PUBACK 0x99 on MQTT 5; the service never sees it', async () => {
    const provisioning = createProvisioningTestDouble();
    const h = await startTransport({ services: { provisioning } });
    const c5 = await provisioningClient(h, V5);
    expect(await reasonOf(c5.publishAsync('/provision/request', '{"deviceName":', { qos: 1 }))).toBe(0x99);
    const c4 = await provisioningClient(h);
    const gone = closed(c4);
    c4.publish('/provision/request', '{"deviceName":', { qos: 1 });
    await gone;
    expect(provisioning.calls).toEqual([]);
  });

  it('without a provisioning service the CONNECT is refused: CONNACK 5 on 3.1.1, 0x87 with a reason string on MQTT 5', async () => {
    const h = await startTransport({ services: {} });
    expect(await reasonOf(connectAsync(h.url, { username: 'provision', reconnectPeriod: 0 }))).toBe(5);
    expect(await reasonOf(connectAsync(h.url, { username: 'provision', reconnectPeriod: 0, ...V5 }))).toBe(0x87);
  });
});

describe('MQTT device claiming (v1/devices/me/claim, v1/gateway/claim)', () => {
  it('hands {"secretKey","durationMs"} (both optional) to the claiming service (a test double), then PUBACK', async () => {
    const claiming = createClaimingTestDouble();
    const h = await startTransport({ services: { claiming } });
    const c = await h.connect(TOKEN);
    await c.publishAsync('v1/devices/me/claim', '{"secretKey":"s3cr3t","durationMs":60000}', { qos: 1 });
    await c.publishAsync('v1/devices/me/claim', '', { qos: 1 });
    expect(claiming.calls.map((x) => [x.device.deviceId, x.request])).toEqual([
      [DEVICE.deviceId, { secretKey: 's3cr3t', durationMs: 60000 }],
      [DEVICE.deviceId, { secretKey: '', durationMs: undefined }],
    ]);
    expect(h.consumed).toEqual([]);
  });

  it('a gateway claims devices behind it: each named device is created if new and claimed', async () => {
    const claiming = createClaimingTestDouble();
    const h = await startTransport({ services: { claiming } });
    const gw = await h.connect(GATEWAY_TOKEN);
    await gw.publishAsync('v1/gateway/claim', JSON.stringify({ 'Device A': { secretKey: 'a', durationMs: 1000 }, 'Device B': {} }), { qos: 1 });
    expect(claiming.calls.map((x) => [x.device.deviceName, x.request])).toEqual([
      ['Device A', { secretKey: 'a', durationMs: 1000 }],
      ['Device B', { secretKey: '', durationMs: undefined }],
    ]);
    expect(h.gatewayDevices.has('Device A')).toBe(true);
  });

  it('a malformed claim is refused (3.1.1: closed without PUBACK; MQTT 5: PUBACK 0x99) and claims nothing', async () => {
    const claiming = createClaimingTestDouble();
    const h = await startTransport({ services: { claiming } });
    const c5 = await h.connect(TOKEN, V5);
    expect(await reasonOf(c5.publishAsync('v1/devices/me/claim', '{"durationMs":-5}', { qos: 1 }))).toBe(0x99);
    const gw = await h.connect(GATEWAY_TOKEN, V5);
    expect(await reasonOf(gw.publishAsync('v1/gateway/claim', '{"Device A":{"secretKey":1}}', { qos: 1 }))).toBe(0x99);
    expect(h.gatewayDevices.size).toBe(0);
    const c4 = await h.connect(TOKEN);
    const gone = closed(c4);
    c4.publish('v1/devices/me/claim', '[1,2]', { qos: 1 });
    await gone;
    expect(claiming.calls).toEqual([]);
  });

  it('without a claiming service a claim is refused, never acknowledged: 3.1.1 closes without PUBACK, MQTT 5 PUBACK 0x83', async () => {
    const h = await startTransport({ services: {} });
    const c5 = await h.connect(TOKEN, V5);
    expect(await reasonOf(c5.publishAsync('v1/devices/me/claim', '{}', { qos: 1 }))).toBe(0x83);
    expect(c5.connected).toBe(true);
    const c4 = await h.connect(TOKEN);
    let acked = false;
    const gone = closed(c4);
    c4.publish('v1/devices/me/claim', '{}', { qos: 1 }, (err) => {
      if (!err) acked = true;
    });
    await gone;
    await vi.waitFor(() => expect(c4.connected).toBe(false));
    expect(acked).toBe(false);
  });
});
