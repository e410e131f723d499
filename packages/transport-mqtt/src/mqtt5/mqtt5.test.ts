import { connect as rawConnect } from 'node:net';
import { connectAsync, type IClientOptions } from 'mqtt';
import { afterEach, describe, expect, it } from 'vitest';
import { RpcChannel } from '@rivulet/broadcast';
import { MsgType, type ToServerRpcReply } from '@rivulet/core';
import { testRateLimiter } from '@rivulet/testing';
import { DEVICE, TOKEN, closeAll, reasonOf, startTransport, waitForConsumed, type Harness } from '../test-harness';
import { protocolLevel } from './sniff';

afterEach(closeAll);

const V5: IClientOptions = { protocolVersion: 5, reconnectPeriod: 0 };

async function device5(h: Harness, extra: IClientOptions = {}) {
  return h.connect(TOKEN, { ...V5, ...extra });
}

describe('MQTT 5 beside 3.1.1 (CONNECT sniffed, served on mqtt-packet)', () => {
  it('reads the protocol level of a CONNECT, and says "not a CONNECT" for anything else', () => {
    const v5 = Buffer.from([0x10, 0x10, 0x00, 0x04, 0x4d, 0x51, 0x54, 0x54, 0x05]);
    expect(protocolLevel(v5)).toBe(5);
    expect(protocolLevel(Buffer.from([0x10, 0x10, 0x00, 0x04, 0x4d, 0x51, 0x54, 0x54, 0x04]))).toBe(4);
    expect(protocolLevel(v5.subarray(0, 5))).toBeUndefined();
    expect(protocolLevel(Buffer.from('GET / HTTP/1.1\r\n'))).toBe(0);
  });

  it('telemetry over MQTT 5 is queued and acknowledged with reason code 0; 3.1.1 on the same port still works', async () => {
    const h = await startTransport();
    const c5 = await device5(h);
    const c4 = await h.connect(TOKEN);
    await c5.publishAsync('v1/devices/me/telemetry', '{"temperature":21}', { qos: 1 });
    await c4.publishAsync('v1/devices/me/telemetry', '{"temperature":22}', { qos: 1 });
    const msgs = await waitForConsumed(h, 2);
    expect(msgs.map((m) => [m.type, m.originator.id, m.data])).toEqual([
      [MsgType.POST_TELEMETRY_REQUEST, DEVICE.deviceId, { temperature: 21 }],
      [MsgType.POST_TELEMETRY_REQUEST, DEVICE.deviceId, { temperature: 22 }],
    ]);
    expect(h.transport.stats()).toMatchObject({ connections: 2, connectionsAccepted: 2 });
  });

  it('a payload ThingsBoard refuses gets PUBACK 0x99 and the connection stays open', async () => {
    const h = await startTransport();
    const c = await device5(h);
    expect(await reasonOf(c.publishAsync('v1/devices/me/telemetry', '{"temperature":', { qos: 1 }))).toBe(0x99);
    expect(await reasonOf(c.publishAsync('v1/devices/me/rpc/request/1', '{"params":{}}', { qos: 1 }))).toBe(0x99);
    expect(c.connected).toBe(true);
    await c.publishAsync('v1/devices/me/telemetry', '{"after":1}', { qos: 1 });
    const [m] = await waitForConsumed(h, 1);
    expect(m?.data).toEqual({ after: 1 });
    expect(h.transport.stats().rejected.malformedPayload).toBe(2);
  });

  it('a topic outside the device API gets 0x90, a gateway topic from a plain device 0x87', async () => {
    const h = await startTransport();
    const c = await device5(h);
    expect(await reasonOf(c.publishAsync('some/other/topic', '{}', { qos: 1 }))).toBe(0x90);
    expect(await reasonOf(c.publishAsync('v1/gateway/telemetry', '{}', { qos: 1 }))).toBe(0x87);
    expect(c.connected).toBe(true);
  });

  it('over the rate limit by more than the wait bound: PUBACK 0x97 (quota exceeded), the connection stays open', async () => {
    const h = await startTransport({ rateLimiter: testRateLimiter(1, 0), config: { rateLimitMaxWaitMs: 50 } });
    const c = await device5(h);
    await c.publishAsync('v1/devices/me/telemetry', '{"a":1}', { qos: 1 });
    expect(await reasonOf(c.publishAsync('v1/devices/me/telemetry', '{"a":2}', { qos: 1 }))).toBe(0x97);
    expect(c.connected).toBe(true);
  });

  it('unknown credentials get CONNACK 0x86, none at all 0x87', async () => {
    const h = await startTransport();
    expect(await reasonOf(connectAsync(h.url, { ...V5, username: 'WRONG' }))).toBe(0x86);
    expect(await reasonOf(connectAsync(h.url, { ...V5 }))).toBe(0x87);
    expect(h.transport.stats().connectionsRefused.notAuthorized).toBe(2);
  });

  it('CONNACK: session expiry answered 0 (no session kept), topic alias maximum, maximum packet size, QoS 1', async () => {
    const h = await startTransport({ config: { maxPayloadBytes: 1000 } });
    const c = await device5(h, { properties: { sessionExpiryInterval: 3600 } });
    const connack = await new Promise<{ sessionPresent: boolean; properties?: Record<string, unknown> }>((resolve) => {
      c.once('connect', resolve);
      c.reconnect();
    });
    expect(connack.sessionPresent).toBe(false);
    expect(connack.properties).toMatchObject({ sessionExpiryInterval: 0, topicAliasMaximum: 64, maximumPacketSize: 1000 + 4096, maximumQoS: 1, retainAvailable: false });
  });

  it('topic aliases: a publish sets one, later publishes with an empty topic use it', async () => {
    const h = await startTransport();
    const c = await device5(h);
    await c.publishAsync('v1/devices/me/telemetry', '{"n":1}', { qos: 1, properties: { topicAlias: 3 } });
    await c.publishAsync('', '{"n":2}', { qos: 1, properties: { topicAlias: 3 } });
    const msgs = await waitForConsumed(h, 2);
    expect(msgs.map((m) => m.data)).toEqual([{ n: 1 }, { n: 2 }]);
  });

  it('a packet over the maximum packet size gets DISCONNECT 0x95', async () => {
    const h = await startTransport({ config: { maxPayloadBytes: 1000 } });
    const c = await device5(h);
    const reason = new Promise<number | undefined>((resolve) => c.once('disconnect', (p) => resolve(p.reasonCode)));
    c.publish('v1/devices/me/telemetry', JSON.stringify({ big: 'x'.repeat(6000) }), { qos: 1 });
    expect(await reason).toBe(0x95);
  });

  it('client-side RPC: the rule chain reply carries the Correlation Data of the request', async () => {
    const h = await startTransport();
    const c = await device5(h);
    await c.subscribeAsync('v1/devices/me/rpc/response/+', { qos: 1 });
    const got = new Promise<{ body: unknown; correlation: string | undefined }>((resolve) =>
      c.on('message', (_t, p, packet) => resolve({ body: JSON.parse(p.toString()), correlation: packet.properties?.correlationData?.toString() })),
    );
    await c.publishAsync('v1/devices/me/rpc/request/9', '{"method":"getTime","params":{}}', { qos: 1, properties: { correlationData: Buffer.from('corr-9') } });
    const [m] = await waitForConsumed(h, 1);
    expect(m?.type).toBe(MsgType.TO_SERVER_RPC_REQUEST);
    const reply: ToServerRpcReply = { deviceId: DEVICE.deviceId, requestId: '9', sessionId: m?.metadata.sessionId as string, body: { time: 5 } };
    h.broadcast.publish(RpcChannel.TO_SERVER_REPLY, reply);
    expect(await got).toEqual({ body: { time: 5 }, correlation: 'corr-9' });
  });

  it('bytes that are no CONNECT close the connection', async () => {
    const h = await startTransport();
    const s = rawConnect(h.port, '127.0.0.1');
    s.write('GET / HTTP/1.1\r\n\r\n');
    await new Promise((resolve) => s.once('close', resolve));
  });
});
