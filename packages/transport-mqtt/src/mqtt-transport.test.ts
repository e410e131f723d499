import { connect as rawConnect, type Socket } from 'node:net';
import { connectAsync } from 'mqtt';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createRpcCaller, DeviceChannel, RpcChannel } from '@rivulet/broadcast';
import { MsgType, newId, type ToServerRpcReply } from '@rivulet/core';
import { createMemoryQueue } from '@rivulet/queue';
import { testRateLimiter } from '@rivulet/testing';
import {
  BASIC,
  DEVICE,
  GATEWAY,
  GATEWAY_TOKEN,
  OTHER,
  OTHER_TOKEN,
  TOKEN,
  closeAll,
  collect,
  nextMessage,
  reasonOf,
  startTransport,
  waitForConsumed,
} from './test-harness';

afterEach(closeAll);

describe('CONNECT', () => {
  it('takes the access token as user name; a wrong or missing one gets CONNACK 5 and the connection closes', async () => {
    const h = await startTransport();
    const c = await h.connect(TOKEN);
    expect(c.connected).toBe(true);
    for (const username of ['WRONG', undefined]) {
      expect(await reasonOf(connectAsync(h.url, { ...(username ? { username } : {}), reconnectPeriod: 0 })), String(username)).toBe(5);
    }
    expect(h.transport.stats()).toMatchObject({ connections: 1, connectionsAccepted: 1, connectionsRefused: { notAuthorized: 2 } });
  });

  it('takes MQTT basic credentials (client id, user name and password together)', async () => {
    const h = await startTransport();
    const c = await connectAsync(h.url, { clientId: BASIC.clientId, username: BASIC.username, password: BASIC.password, reconnectPeriod: 0 });
    await c.publishAsync('v1/devices/me/telemetry', '{"pressure":3}', { qos: 1 });
    const [m] = await waitForConsumed(h, 1);
    expect(m?.originator.id).toBe(OTHER.deviceId);
    await c.endAsync();
    expect(await reasonOf(connectAsync(h.url, { clientId: BASIC.clientId, username: BASIC.username, password: 'nope', reconnectPeriod: 0 }))).toBe(5);
  });

  it('reports connect and disconnect of each session to the device state service', async () => {
    const h = await startTransport();
    const c = await h.connect(TOKEN);
    await vi.waitFor(() => expect(h.stateEvents).toContainEqual({ kind: 'connect', deviceId: DEVICE.deviceId }));
    await c.endAsync();
    await vi.waitFor(() => expect(h.stateEvents).toContainEqual({ kind: 'disconnect', deviceId: DEVICE.deviceId }));
    expect(h.transport.stats().connections).toBe(0);
  });

  it('past maxConnections answers CONNACK 3 (server unavailable)', async () => {
    const h = await startTransport({ config: { maxConnections: 2 } });
    await h.connect(TOKEN);
    await h.connect(OTHER_TOKEN);
    expect(await reasonOf(connectAsync(h.url, { username: TOKEN, reconnectPeriod: 0 }))).toBe(3);
    expect(h.transport.stats().connectionsRefused.serverUnavailable).toBe(1);
  });
});

describe('telemetry and attributes', () => {
  it('PUBACK comes only after the queue accepted the messages (a full queue holds it back)', async () => {
    const h = await startTransport({ queue: createMemoryQueue({ partitions: 1, capacity: 1 }) });
    const release = h.gate.hold();
    try {
      const c = await h.connect(TOKEN);
      await c.publishAsync('v1/devices/me/telemetry', '{"n":1}', { qos: 1 });
      await waitForConsumed(h, 1); // delivered, not committed: the partition is full
      let acked = false;
      const second = c.publishAsync('v1/devices/me/telemetry', '{"n":2}', { qos: 1 }).then(() => (acked = true));
      await vi.waitFor(() => expect(h.transport.stats().publishes).toBe(2));
      await new Promise((r) => setTimeout(r, 200));
      expect(acked).toBe(false);
      release();
      await second;
      expect((await waitForConsumed(h, 2))[1]?.data).toEqual({ n: 2 });
    } finally {
      release();
    }
  });

  it('turns each ThingsBoard payload shape into messages with the device metadata', async () => {
    const h = await startTransport();
    const c = await h.connect(TOKEN);
    await c.publishAsync('v1/devices/me/telemetry', '[{"ts":1000,"values":{"a":1}},{"ts":2000,"values":{"a":"2"}}]', { qos: 1 });
    await c.publishAsync('v2/t', '{temperature:25}', { qos: 1 });
    await c.publishAsync('v1/devices/me/attributes', '{"fw":"1.0.3","gone":null}', { qos: 1 });
    const msgs = await waitForConsumed(h, 4);
    expect(msgs.map((m) => [m.type, m.data])).toEqual([
      [MsgType.POST_TELEMETRY_REQUEST, { a: 1 }],
      [MsgType.POST_TELEMETRY_REQUEST, { a: 2 }],
      [MsgType.POST_TELEMETRY_REQUEST, { temperature: 25 }],
      [MsgType.POST_ATTRIBUTES_REQUEST, { fw: '1.0.3' }],
    ]);
    expect(msgs[0]).toMatchObject({
      ts: 1000,
      tenantId: DEVICE.tenantId,
      originator: { entityType: 'DEVICE', id: DEVICE.deviceId },
      metadata: { deviceName: DEVICE.deviceName, deviceType: DEVICE.deviceType, ts: '1000' },
    });
    expect(h.transport.stats()).toMatchObject({ publishes: 3, acceptedMessages: 4 });
  });

  it('QoS 0 publishes are queued too; a retained flag is ignored', async () => {
    const h = await startTransport();
    const c = await h.connect(TOKEN);
    c.publish('v1/devices/me/telemetry', '{"q0":1}', { qos: 0, retain: true });
    expect((await waitForConsumed(h, 1))[0]?.data).toEqual({ q0: 1 });
    // nothing retained: a later subscriber gets nothing
    const other = await h.connect(OTHER_TOKEN);
    const got = collect(other);
    await other.subscribeAsync('v1/devices/me/attributes');
    await new Promise((r) => setTimeout(r, 100));
    expect(got).toEqual([]);
  });
});

/** MQTT 3.1.1 packets built by hand, for a client that does not wait for CONNACK. */
const mqttStr = (v: string) => {
  const b = Buffer.from(v, 'utf8');
  return Buffer.concat([Buffer.from([b.length >> 8, b.length & 0xff]), b]);
};
const withHeader = (first: number, body: Buffer) => {
  const len: number[] = [];
  let n = body.length;
  do {
    let byte = n % 128;
    n = Math.floor(n / 128);
    if (n > 0) byte |= 0x80;
    len.push(byte);
  } while (n > 0);
  return Buffer.concat([Buffer.from([first, ...len]), body]);
};
const rawConnectPacket = (clientId: string, username: string) =>
  withHeader(0x10, Buffer.concat([mqttStr('MQTT'), Buffer.from([4, 0x82, 0, 60]), mqttStr(clientId), mqttStr(username)]));
const rawPublishQos1 = (topic: string, id: number, payload: string) =>
  withHeader(0x32, Buffer.concat([mqttStr(topic), Buffer.from([id >> 8, id & 0xff]), Buffer.from(payload, 'utf8')]));

describe('a client that publishes before CONNACK', () => {
  it('gets every message acknowledged and processed in the order sent', async () => {
    const h = await startTransport();
    const acks: number[] = [];
    let connack: number[] | undefined;
    const s: Socket = rawConnect(h.port, '127.0.0.1');
    await new Promise<void>((r) => s.once('connect', () => r()));
    let buf = Buffer.alloc(0);
    s.on('data', (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      while (buf.length >= 4) {
        if (buf[0] === 0x20) connack = [buf[2]!, buf[3]!];
        else if (buf[0] === 0x40) acks.push(buf.readUInt16BE(2));
        buf = buf.subarray(4);
      }
    });
    // CONNECT and two QoS 1 publishes in one write, before any CONNACK could arrive
    s.write(Buffer.concat([rawConnectPacket('early-bird', TOKEN), rawPublishQos1('v1/devices/me/telemetry', 1, '{"i":0}'), rawPublishQos1('v1/devices/me/telemetry', 2, '{"i":1}')]));
    await vi.waitFor(() => expect(connack).toEqual([0, 0]), { timeout: 5000 });
    s.write(rawPublishQos1('v1/devices/me/telemetry', 3, '{"i":2}'));
    await vi.waitFor(() => expect(acks).toHaveLength(3), { timeout: 5000 });
    expect(acks).toEqual([1, 2, 3]);
    const msgs = await waitForConsumed(h, 3);
    expect(msgs.map((m) => (m.data as { i: number }).i)).toEqual([0, 1, 2]);
    s.destroy();
  });
});

describe('authorization and per-device delivery', () => {
  it('refuses filters outside the device API with SUBACK 0x80 and grants QoS 2 as 1', async () => {
    const h = await startTransport();
    const c = await h.connect(TOKEN);
    const filters = {
      '#': { qos: 0 as const },
      'v1/devices/me/telemetry': { qos: 1 as const },
      'v1/gateway/rpc': { qos: 1 as const },
      'v1/devices/me/attributes': { qos: 2 as const },
      'v1/devices/me/rpc/request/+': { qos: 1 as const },
      'v2/a/res/+': { qos: 0 as const },
    };
    // mqtt.js rejects a SUBACK holding any failure, with the packet attached
    const err = (await c.subscribeAsync(filters).catch((e: unknown) => e)) as { packet?: { granted: number[] } };
    expect(err.packet?.granted).toEqual([
      128, // '#'
      128, // telemetry is not something a device subscribes to
      128, // v1/gateway/rpc: not a gateway
      1, // QoS 2 granted as 1
      1,
      0,
    ]);
    expect(h.transport.stats().subscriptionsRefused).toBe(3);
  });

  it('two devices on the same topics: neither receives what the other publishes, each gets only its own updates', async () => {
    const h = await startTransport();
    const a = await h.connect(TOKEN);
    const b = await h.connect(OTHER_TOKEN);
    const gotA = collect(a);
    const gotB = collect(b);
    for (const c of [a, b]) await c.subscribeAsync(['v1/devices/me/attributes', 'v1/devices/me/rpc/request/+', 'v2/a'], { qos: 1 });
    // publishes on the shared names, on an unknown topic, and on the internal topics themselves
    for (const topic of ['v1/devices/me/attributes', 'v1/devices/me/rpc/request/1', 'v2/a', '$rivulet/session', '$rivulet/discard', 'anything']) {
      await a.publishAsync(topic, '{"method":"m","from":"a"}', { qos: 1 });
    }
    h.setShared(OTHER.deviceId, { target: 'b-only' });
    await vi.waitFor(() => expect(gotB.length).toBe(2));
    await new Promise((r) => setTimeout(r, 100));
    expect(gotB).toEqual([
      { topic: 'v1/devices/me/attributes', payload: '{"target":"b-only"}' },
      { topic: 'v2/a', payload: '{"target":"b-only"}' },
    ]);
    expect(gotA).toEqual([]);
  });
});

describe('attributes request and updates', () => {
  it('answers v1/devices/me/attributes/request/{id} on .../response/{id}', async () => {
    const h = await startTransport();
    const c = await h.connect(TOKEN);
    await c.subscribeAsync('v1/devices/me/attributes/response/+', { qos: 1 });
    const answer = nextMessage(c, 'v1/devices/me/attributes/response/7');
    await c.publishAsync('v1/devices/me/attributes/request/7', '{"clientKeys":"attribute1,attribute2","sharedKeys":"shared1"}', { qos: 1 });
    expect(JSON.parse((await answer).payload)).toEqual({ client: { attribute1: 'value1', attribute2: true }, shared: { shared1: 'value2' } });
    const all = nextMessage(c, 'v1/devices/me/attributes/response/8');
    await c.publishAsync('v1/devices/me/attributes/request/8', '', { qos: 1 });
    expect(JSON.parse((await all).payload)).toEqual({ client: { attribute1: 'value1', attribute2: true }, shared: { shared1: 'value2', interval: 60 } });
  });

  it('v2 short names: v2/a/req/{id} answered on v2/a/res/{id}', async () => {
    const h = await startTransport();
    const c = await h.connect(TOKEN);
    await c.subscribeAsync('v2/a/res/+');
    const answer = nextMessage(c, 'v2/a/res/1');
    await c.publishAsync('v2/a/req/1', '{"sharedKeys":"interval"}', { qos: 1 });
    expect(JSON.parse((await answer).payload)).toEqual({ shared: { interval: 60 } });
  });

  it('pushes shared-attribute changes and deletions to a subscribed device', async () => {
    const h = await startTransport();
    const c = await h.connect(TOKEN);
    await c.subscribeAsync('v1/devices/me/attributes', { qos: 1 });
    const update = nextMessage(c, 'v1/devices/me/attributes');
    h.setShared(DEVICE.deviceId, { targetTemperature: 22.5 });
    expect(JSON.parse((await update).payload)).toEqual({ targetTemperature: 22.5 });
    const deletion = nextMessage(c, 'v1/devices/me/attributes');
    h.broadcast.publish(DeviceChannel.SHARED_ATTRIBUTES, { entityId: DEVICE.deviceId, scope: 'SHARED_SCOPE', values: [], deleted: ['targetTemperature'] });
    expect(JSON.parse((await deletion).payload)).toEqual({ deleted: ['targetTemperature'] });
    // other scopes are not the device's business
    const got = collect(c);
    h.broadcast.publish(DeviceChannel.SHARED_ATTRIBUTES, { entityId: DEVICE.deviceId, scope: 'SERVER_SCOPE', values: [{ key: 'active', value: true, lastUpdateTs: 1 }] });
    await new Promise((r) => setTimeout(r, 50));
    expect(got).toEqual([]);
  });
});

describe('RPC', () => {
  it('server-side two-way: the request reaches the subscribed device, its reply returns to the caller', async () => {
    const h = await startTransport();
    const caller = createRpcCaller({ broadcast: h.broadcast });
    const c = await h.connect(TOKEN);
    await c.subscribeAsync('v1/devices/me/rpc/request/+', { qos: 1 });
    c.on('message', (topic, payload) => {
      const m = /^v1\/devices\/me\/rpc\/request\/(\d+)$/.exec(topic);
      if (!m) return;
      const req = JSON.parse(payload.toString()) as { method: string; params: { pin: number } };
      c.publish(`v1/devices/me/rpc/response/${m[1]}`, JSON.stringify({ method: req.method, pin: req.params.pin, ok: true }), { qos: 1 });
    });
    const outcome = await caller.call({
      requestId: newId(),
      tenantId: DEVICE.tenantId,
      deviceId: DEVICE.deviceId,
      method: 'setGpio',
      params: { pin: 23 },
      oneway: false,
      expirationTime: Date.now() + 5000,
    });
    expect(outcome).toEqual({ kind: 'delivered', response: { method: 'setGpio', pin: 23, ok: true } });
    expect(h.transport.stats().rpc).toMatchObject({ delivered: 1, replied: 1 });
    caller.close();
  });

  it('server-side one-way is done on delivery; no session subscribed to RPC: no-session', async () => {
    const h = await startTransport();
    const caller = createRpcCaller({ broadcast: h.broadcast, pickupTimeoutMs: 50 });
    const c = await h.connect(TOKEN);
    const req = { tenantId: DEVICE.tenantId, deviceId: DEVICE.deviceId, method: 'reboot', params: {}, expirationTime: Date.now() + 5000 };
    expect(await caller.call({ ...req, requestId: newId(), oneway: true })).toEqual({ kind: 'no-session' });
    await c.subscribeAsync('v2/r/req/+');
    const arrived = nextMessage(c, (t) => t.startsWith('v2/r/req/'));
    expect(await caller.call({ ...req, requestId: newId(), oneway: true })).toEqual({ kind: 'delivered' });
    expect(JSON.parse((await arrived).payload)).toEqual({ method: 'reboot', params: {} });
    caller.close();
  });

  it('a device that disconnects before replying ends the call with an error', async () => {
    const h = await startTransport();
    const caller = createRpcCaller({ broadcast: h.broadcast });
    const c = await h.connect(TOKEN);
    await c.subscribeAsync('v1/devices/me/rpc/request/+');
    c.on('message', () => void c.end(true));
    const outcome = await caller.call({
      requestId: newId(),
      tenantId: DEVICE.tenantId,
      deviceId: DEVICE.deviceId,
      method: 'slow',
      params: {},
      oneway: false,
      expirationTime: Date.now() + 5000,
    });
    expect(outcome).toMatchObject({ kind: 'error' });
    caller.close();
  });

  it('client-side: the request becomes TO_SERVER_RPC_REQUEST; the rule chain reply reaches the asking session only', async () => {
    const h = await startTransport();
    const asker = await h.connect(TOKEN);
    const sibling = await h.connect(TOKEN); // same device, another session
    await asker.subscribeAsync('v1/devices/me/rpc/response/+');
    await sibling.subscribeAsync('v1/devices/me/rpc/response/+');
    const siblingGot = collect(sibling);
    const response = nextMessage(asker, 'v1/devices/me/rpc/response/1');
    await asker.publishAsync('v1/devices/me/rpc/request/1', '{"method":"getCurrentTime","params":{}}', { qos: 1 });
    const [m] = await waitForConsumed(h, 1);
    expect(m).toMatchObject({ type: MsgType.TO_SERVER_RPC_REQUEST, data: { method: 'getCurrentTime', params: {} }, metadata: { requestId: '1' } });
    const reply: ToServerRpcReply = { deviceId: DEVICE.deviceId, requestId: '1', sessionId: m?.metadata.sessionId as string, body: { time: 1234 } };
    h.broadcast.publish(RpcChannel.TO_SERVER_REPLY, reply);
    expect(JSON.parse((await response).payload)).toEqual({ time: 1234 });
    await new Promise((r) => setTimeout(r, 50));
    expect(siblingGot).toEqual([]);
  });
});

describe('gateway API', () => {
  it('connects devices behind it, creates them on first sight, and relays telemetry, attributes, updates and RPC', async () => {
    const h = await startTransport();
    const caller = createRpcCaller({ broadcast: h.broadcast });
    const gw = await h.connect(GATEWAY_TOKEN);
    await gw.subscribeAsync(['v1/gateway/attributes', 'v1/gateway/rpc', 'v1/gateway/attributes/response'], { qos: 1 });
    await gw.publishAsync('v1/gateway/connect', '{"device":"Device A","type":"Sensor A"}', { qos: 1 });
    expect(h.gatewayDevices.get('Device A')).toMatchObject({ deviceName: 'Device A', deviceType: 'Sensor A', tenantId: GATEWAY.tenantId });
    await gw.publishAsync('v1/gateway/telemetry', '{"Device A":[{"ts":1483228800000,"values":{"temperature":42}}],"Device B":[{"ts":1483228801000,"values":{"temperature":43}}]}', { qos: 1 });
    await gw.publishAsync('v1/gateway/attributes', '{"Device A":{"fw_version":"1.0.3","battery":87}}', { qos: 1 });
    const msgs = await waitForConsumed(h, 3);
    expect(msgs.map((m) => [m.type, m.originator.id, m.metadata.deviceName, m.data])).toEqual([
      [MsgType.POST_TELEMETRY_REQUEST, 'child-Device A', 'Device A', { temperature: 42 }],
      [MsgType.POST_TELEMETRY_REQUEST, 'child-Device B', 'Device B', { temperature: 43 }],
      [MsgType.POST_ATTRIBUTES_REQUEST, 'child-Device A', 'Device A', { fw_version: '1.0.3', battery: 87 }],
    ]);
    expect(h.stateEvents).toContainEqual({ kind: 'connect', deviceId: 'child-Device B' });

    // shared attribute update for a device behind the gateway
    const update = nextMessage(gw, 'v1/gateway/attributes');
    h.setShared('child-Device A', { interval: 5 });
    expect(JSON.parse((await update).payload)).toEqual({ device: 'Device A', data: { interval: 5 } });

    // attribute request, both forms
    const r1 = nextMessage(gw, 'v1/gateway/attributes/response');
    await gw.publishAsync('v1/gateway/attributes/request', '{"id":1,"device":"Device A","client":false,"key":"interval"}', { qos: 1 });
    expect(JSON.parse((await r1).payload)).toEqual({ id: 1, device: 'Device A', value: 5 });
    const r2 = nextMessage(gw, 'v1/gateway/attributes/response');
    await gw.publishAsync('v1/gateway/attributes/request', '{"id":2,"device":"Device A","shared":["interval"]}', { qos: 1 });
    expect(JSON.parse((await r2).payload)).toEqual({ id: 2, device: 'Device A', shared: { interval: 5 } });
    // ThingsBoard's JsonConverter: one name asked (a one-element "keys" too) gets "value", several
    // get "values" of those found, nothing found gets neither field
    const ask = async (id: number, request: Record<string, unknown>) => {
      const r = nextMessage(gw, 'v1/gateway/attributes/response');
      await gw.publishAsync('v1/gateway/attributes/request', JSON.stringify({ id, device: 'Device A', client: false, ...request }), { qos: 1 });
      return JSON.parse((await r).payload) as unknown;
    };
    expect(await ask(3, { keys: ['interval'] })).toEqual({ id: 3, device: 'Device A', value: 5 });
    expect(await ask(4, { keys: ['interval', 'missing'] })).toEqual({ id: 4, device: 'Device A', values: { interval: 5 } });
    expect(await ask(5, { key: 'missing' })).toEqual({ id: 5, device: 'Device A' });
    expect(await ask(6, { keys: ['missing'] })).toEqual({ id: 6, device: 'Device A' });

    // server-side RPC to a device behind the gateway
    gw.on('message', (topic, payload) => {
      if (topic !== 'v1/gateway/rpc') return;
      const req = JSON.parse(payload.toString()) as { device: string; data: { id: number; method: string } };
      gw.publish('v1/gateway/rpc', JSON.stringify({ device: req.device, id: req.data.id, data: { success: true, method: req.data.method } }), { qos: 1 });
    });
    const outcome = await caller.call({
      requestId: newId(),
      tenantId: GATEWAY.tenantId,
      deviceId: 'child-Device A',
      method: 'toggle_gpio',
      params: { pin: 1 },
      oneway: false,
      expirationTime: Date.now() + 5000,
    });
    expect(outcome).toEqual({ kind: 'delivered', response: { success: true, method: 'toggle_gpio' } });

    // disconnect: no more updates for it
    await gw.publishAsync('v1/gateway/disconnect', '{"device":"Device A"}', { qos: 1 });
    expect(h.stateEvents).toContainEqual({ kind: 'disconnect', deviceId: 'child-Device A' });
    caller.close();
  });

  it('a device that is not a gateway: gateway topics are unknown topics (acknowledged, ignored)', async () => {
    const h = await startTransport();
    const c = await h.connect(TOKEN);
    await c.publishAsync('v1/gateway/telemetry', '{"X":{"a":1}}', { qos: 1 });
    expect(h.gatewayDevices.size).toBe(0);
    expect(h.transport.stats().rejected.unknownTopic).toBe(1);
  });
});

describe('bad input', () => {
  /** Resolves when the client's connection closes. */
  const closed = (c: { once(ev: 'close', f: () => void): unknown }) => new Promise<void>((r) => c.once('close', r));

  it('malformed payload on 3.1.1: connection closed without PUBACK, counted, logged once per device', async () => {
    const h = await startTransport();
    for (let i = 0; i < 2; i++) {
      const c = await h.connect(TOKEN);
      const gone = closed(c);
      let acked = false;
      c.publish('v1/devices/me/telemetry', '{"temperature":', { qos: 1 }, (err) => (acked = !err));
      await gone;
      expect(acked).toBe(false);
    }
    expect(h.transport.stats().rejected.malformedPayload).toBe(2);
    const warned = h.logs.filter((l) => l.level === 'warn' && l.msg === 'mqtt device input refused');
    expect(warned).toHaveLength(1);
    expect(warned[0]?.fields).toMatchObject({ deviceId: DEVICE.deviceId, reason: 'malformedPayload', topic: 'v1/devices/me/telemetry' });
    expect(h.consumed).toEqual([]);
  });

  it('payload over maxPayloadBytes: refused (connection closed, no PUBACK); exactly the limit passes', async () => {
    const h = await startTransport({ config: { maxPayloadBytes: 1000 } });
    const c = await h.connect(TOKEN);
    const ok = `{"k":"${'x'.repeat(1000 - 8)}"}`;
    expect(Buffer.byteLength(ok)).toBe(1000);
    await c.publishAsync('v1/devices/me/telemetry', ok, { qos: 1 });
    const gone = closed(c);
    c.publish('v1/devices/me/telemetry', `{"k":"${'x'.repeat(1000)}"}`, { qos: 1 });
    await gone;
    // far over: refused from the fixed header, before the body is read
    const d = await h.connect(TOKEN);
    const gone2 = closed(d);
    d.publish('v1/devices/me/telemetry', Buffer.alloc(1_000_000, 0x20), { qos: 1 });
    await gone2;
    expect(h.transport.stats().rejected.payloadTooLarge).toBe(2);
    expect(h.consumed).toHaveLength(1);
  });

  it('unknown topic: acknowledged and ignored; the session goes on', async () => {
    const h = await startTransport();
    const c = await h.connect(TOKEN);
    await c.publishAsync('v1/devices/me/unknown', '{"a":1}', { qos: 1 });
    await c.publishAsync('v1/devices/me/telemetry', '{"a":2}', { qos: 1 });
    expect((await waitForConsumed(h, 1)).map((m) => m.data)).toEqual([{ a: 2 }]);
    expect(h.transport.stats().rejected.unknownTopic).toBe(1);
  });

  it('random bytes and malformed packets on the port leave the broker serving other devices', async () => {
    const h = await startTransport();
    const good = await h.connect(OTHER_TOKEN);
    const garbage: Buffer[] = [
      Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n'),
      Buffer.from([0x10, 0xff, 0xff, 0xff, 0xff, 0x7f]), // CONNECT with a Remaining Length of more than four bytes
      Buffer.from([0x10, 0x0c, 0x00, 0x04, 0x4d, 0x51, 0x54, 0x54, 0x04, 0x02, 0x00, 0x3c, 0x00, 0x00]), // CONNECT, truncated
      Buffer.from([0x30, 0x05, 0x00, 0x01, 0x61, 0x62, 0x63]), // PUBLISH before CONNECT
      Buffer.from([0xf0, 0x00]), // reserved packet type
      Buffer.from([0x10, 0xff, 0xff, 0xff, 0x7f]), // CONNECT declaring 256 MB
    ];
    for (let i = 0; i < 20; i++) {
      const bytes = Buffer.alloc(64 + i * 37);
      for (let j = 0; j < bytes.length; j++) bytes[j] = (j * 7919 + i * 104729) % 256;
      garbage.push(bytes);
    }
    // after a valid CONNECT: a PUBLISH with a broken topic length, a SUBSCRIBE without topics
    const connect = Buffer.from([0x10, 0x1b, 0x00, 0x04, 0x4d, 0x51, 0x54, 0x54, 0x04, 0x82, 0x00, 0x3c, 0x00, 0x01, 0x78, 0x00, 0x0d, ...Buffer.from(TOKEN)]);
    garbage.push(Buffer.concat([connect, Buffer.from([0x32, 0x04, 0xff, 0xff, 0x00, 0x01])]));
    garbage.push(Buffer.concat([connect, Buffer.from([0x82, 0x02, 0x00, 0x01])]));
    await Promise.all(
      garbage.map(
        (bytes) =>
          new Promise<void>((resolve) => {
            const s: Socket = rawConnect(h.port, '127.0.0.1', () => s.write(bytes));
            s.on('error', () => resolve());
            s.on('close', () => resolve());
            s.on('data', () => {});
            setTimeout(() => s.destroy(), 500);
          }),
      ),
    );
    await good.publishAsync('v1/devices/me/telemetry', '{"still":"serving"}', { qos: 1 });
    expect((await waitForConsumed(h, 1)).at(-1)?.data).toEqual({ still: 'serving' });
    const fresh = await h.connect(TOKEN);
    await fresh.publishAsync('v1/devices/me/telemetry', '{"fresh":true}', { qos: 1 });
    await waitForConsumed(h, 2);
    expect(h.transport.stats().connections).toBe(2);
  });
});

describe('per-device rate limit', () => {
  it('over the rate, PUBACKs wait instead of messages being dropped; order holds', async () => {
    const h = await startTransport({ rateLimiter: testRateLimiter(20, 0) });
    const c = await h.connect(TOKEN);
    const n = 40;
    await Promise.all(Array.from({ length: n }, (_, i) => c.publishAsync('v1/devices/me/telemetry', `{"i":${i}}`, { qos: 1 })));
    const msgs = await waitForConsumed(h, n);
    expect(msgs.map((m) => (m.data as { i: number }).i)).toEqual(Array.from({ length: n }, (_, i) => i));
    expect(h.transport.stats().throttled).toBeGreaterThan(0);
  });

  it('a publish further ahead than rateLimitMaxWaitMs closes the connection without PUBACK; held ones are not produced', async () => {
    // 1/s with a bound of 1.5 s: #0 goes, #1 waits 1 s, #2 would wait 2 s and closes the connection
    // once #0 and #1 are acknowledged
    const h = await startTransport({ rateLimiter: testRateLimiter(1, 0), config: { rateLimitMaxWaitMs: 1500 } });
    const c = await h.connect(TOKEN);
    const closed = new Promise<void>((r) => c.once('close', () => r()));
    const acks: number[] = [];
    for (let i = 0; i < 3; i++) void c.publishAsync('v1/devices/me/telemetry', `{"i":${i}}`, { qos: 1 }).then(() => acks.push(i), () => {});
    await closed;
    expect(acks).toEqual([0, 1]);
    await new Promise((r) => setTimeout(r, 500));
    expect(h.consumed.map((m) => (m.data as { i: number }).i)).toEqual([0, 1]);
    expect(h.transport.stats()).toMatchObject({ rateLimitRefused: 1, throttled: 1 });
  });
});

