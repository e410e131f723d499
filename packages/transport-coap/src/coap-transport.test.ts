import { afterEach, describe, expect, it, vi } from 'vitest';
import { createRpcCaller, DeviceChannel, RpcChannel } from '@rivulet/broadcast';
import {
  AttributeScope,
  MsgType,
  newId,
  silentLogger,
  type AttributesEvent,
  type Msg,
  type ToDeviceRpcRequest,
  type ToServerRpcReply,
} from '@rivulet/core';
import { Topics, createMemoryQueue } from '@rivulet/queue';
import { createSocket } from 'node:dgram';
import { MessageType, decodeMessage, encodeMessage, uintOption } from './coap-message';
import {
  DEVICE,
  MAX_PAYLOAD,
  NOW,
  OTHER,
  OTHER_TOKEN,
  Opt,
  TOKEN,
  closeAll,
  coapCall,
  coapObserve,
  rawClient,
  rawRequest,
  startTransport,
  waitForConsumed,
  type Harness,
} from './test-harness';
import { telemetryMsgShape, testRateLimiter } from '@rivulet/testing';

afterEach(closeAll);

const TELEMETRY = `api/v1/${TOKEN}/telemetry`;

function expectTelemetry(m: Msg | undefined, ts: number, data: Record<string, unknown>, device = DEVICE): void {
  expect(m).toMatchObject(telemetryMsgShape(ts, device));
  expect(m?.data).toEqual(data);
}

function attributesEvent(entityId: string, scope: AttributesEvent['scope'], values: Record<string, unknown>, deleted?: string[]): AttributesEvent {
  return {
    entityId,
    scope,
    values: Object.entries(values).map(([key, value]) => ({ key, value: value as never, lastUpdateTs: NOW })),
    ...(deleted ? { deleted } : {}),
  };
}

function rpcRequest(over: Partial<ToDeviceRpcRequest> = {}): ToDeviceRpcRequest {
  return {
    requestId: 'req-uuid-1',
    tenantId: DEVICE.tenantId,
    deviceId: DEVICE.deviceId,
    method: 'setGpio',
    params: { pin: 23, value: 1 },
    oneway: false,
    expirationTime: Date.now() + 60_000,
    ...over,
  };
}

describe('POST /api/v1/{token}/telemetry and /attributes (coap package client)', () => {
  it.each([
    ['a flat object', '{"temperature":42,"humidity":73}', [[NOW, { temperature: 42, humidity: 73 }]]],
    ['{ts, values}', '{"ts":1451649600512,"values":{"temperature":42}}', [[1451649600512, { temperature: 42 }]]],
    ['an array of {ts, values}', '[{"ts":1,"values":{"a":1}},{"ts":2,"values":{"a":2}}]', [[1, { a: 1 }], [2, { a: 2 }]]],
    ['shell-stripped quotes, as ThingsBoard docs make devices send', '{temperature:25}', [[NOW, { temperature: 25 }]]],
  ] as const)('%s: 2.01, one produce call keyed by the device', async (_name, body, groups) => {
    const h = await startTransport();
    const res = await coapCall(h.port, { pathname: `/${TELEMETRY}`, payload: body });
    expect(res.code).toBe('2.01');
    expect(res.payload).toBe('');
    expect(h.queue.produceCalls).toHaveLength(1);
    expect(h.queue.produceCalls[0]?.topic).toBe(Topics.RULE_ENGINE);
    expect(h.queue.produceCalls[0]?.records.map((r) => r.key)).toEqual(groups.map(() => DEVICE.deviceId));
    const msgs = await waitForConsumed(h, groups.length);
    groups.forEach(([ts, data], i) => expectTelemetry(msgs[i], ts, data));
    expect(h.transport.stats()).toMatchObject({ requests: 1, acceptedRequests: 1, acceptedMessages: groups.length });
  });

  it('attributes: one POST_ATTRIBUTES_REQUEST, 2.01', async () => {
    const h = await startTransport();
    const res = await coapCall(h.port, { pathname: `/api/v1/${TOKEN}/attributes`, payload: '{"fw_version":"1.0.3","battery":"87","gone":null}' });
    expect(res.code).toBe('2.01');
    const [m] = await waitForConsumed(h, 1);
    expect(m).toMatchObject({ type: MsgType.POST_ATTRIBUTES_REQUEST, originator: { id: DEVICE.deviceId }, metadata: { ts: String(NOW) } });
    expect(m?.data).toEqual({ fw_version: '1.0.3', battery: 87 });
  });

  it('a non-confirmable request is processed and answered with a NON 2.01', async () => {
    const h = await startTransport();
    const c = await rawClient(h.port);
    const res = await c.exchange(rawRequest({ path: TELEMETRY, payload: '{"n":1}', messageId: 100, confirmable: false }));
    expect(res).toMatchObject({ type: MessageType.NON, codeText: '2.01' });
    await waitForConsumed(h, 1);
  });

  it('[] and {} are accepted at once with nothing queued', async () => {
    const h = await startTransport();
    expect((await coapCall(h.port, { pathname: `/${TELEMETRY}`, payload: '[]' })).code).toBe('2.01');
    expect((await coapCall(h.port, { pathname: `/api/v1/${TOKEN}/attributes`, payload: '{}' })).code).toBe('2.01');
    expect(h.queue.produceCalls).toHaveLength(0);
  });

  it.each([
    ['malformed JSON', '{"a":', /JSON/],
    ['an empty payload', '', /Empty payload/],
    ['a JSON string', '"just a string"', /must be a JSON object/],
  ])('4.00 with a diagnostic for %s, nothing queued', async (_name, body, message) => {
    const h = await startTransport();
    const res = await coapCall(h.port, { pathname: `/${TELEMETRY}`, payload: body });
    expect(res.code).toBe('4.00');
    expect(res.payload).toMatch(message);
    expect(h.queue.produceCalls).toHaveLength(0);
  });

  it('4.01 for an unknown token; nothing queued, the token not echoed', async () => {
    const h = await startTransport();
    const res = await coapCall(h.port, { pathname: '/api/v1/NOPE/telemetry', payload: '{"a":1}' });
    expect(res.code).toBe('4.01');
    expect(res.payload).toBe('Authentication failed: invalid device access token');
    expect(h.queue.produceCalls).toHaveLength(0);
    expect(h.stateEvents).toEqual([]);
  });

  it('4.13 with Size1 for a single datagram over the limit', async () => {
    const h = await startTransport();
    const c = await rawClient(h.port);
    const res = await c.exchange(rawRequest({ path: TELEMETRY, payload: `{"k":"${'x'.repeat(MAX_PAYLOAD)}"}`, messageId: 1 }));
    expect(res.codeText).toBe('4.13');
    expect(res.options.find(([n]) => n === Opt.SIZE1)?.[1]).toEqual(uintOption(MAX_PAYLOAD));
    expect(h.queue.produceCalls).toHaveLength(0);
  });

  it('activity is reported for every authenticated request', async () => {
    const h = await startTransport();
    await coapCall(h.port, { pathname: `/${TELEMETRY}`, payload: '{"a":1}' });
    await coapCall(h.port, { pathname: `/api/v1/${OTHER_TOKEN}/attributes`, payload: '{"b":1}' });
    expect(h.stateEvents).toEqual([
      { kind: 'activity', deviceId: DEVICE.deviceId },
      { kind: 'activity', deviceId: OTHER.deviceId },
    ]);
  });
});

describe('block-wise requests (Block1, RFC 7959)', () => {
  /** Blocks of `payload` as libcoap sends them: a new token per block, one Request-Tag. */
  function blocks(payload: Buffer, size: number, firstMid: number): Buffer[] {
    const szx = Math.log2(size) - 4;
    const out: Buffer[] = [];
    for (let num = 0; num * size < payload.length; num++) {
      const more = (num + 1) * size < payload.length;
      out.push(
        rawRequest({
          path: TELEMETRY,
          messageId: firstMid + num,
          token: Buffer.from([0xb0, num]),
          payload: payload.subarray(num * size, (num + 1) * size),
          options: [
            [Opt.BLOCK1, uintOption((num << 4) | (more ? 8 : 0) | szx)],
            [Opt.SIZE1, uintOption(payload.length)],
            [Opt.REQUEST_TAG, Buffer.from([0xca, 0xfe])],
          ],
        }),
      );
    }
    return out;
  }

  it('a payload larger than one datagram arrives in 64-byte blocks: 2.31 for each, 2.01 with Block1 for the last, one message', async () => {
    const h = await startTransport();
    const c = await rawClient(h.port);
    const payload = Buffer.from(JSON.stringify({ note: 'n'.repeat(300), t: 1 }));
    const answers = [];
    for (const b of blocks(payload, 64, 500)) answers.push(await c.exchange(b));
    expect(answers.slice(0, -1).map((a) => a.codeText)).toEqual(Array(answers.length - 1).fill('2.31'));
    const last = answers.at(-1);
    expect(last?.codeText).toBe('2.01');
    expect(last?.options.some(([n]) => n === Opt.BLOCK1)).toBe(true);
    const [m] = await waitForConsumed(h, 1);
    expect(m?.data).toEqual({ note: 'n'.repeat(300), t: 1 });
    expect(h.transport.stats().blockTransfers).toBe(0);
  });

  it('4.13 as soon as the blocks pass the limit (Size1 announcing it is enough)', async () => {
    const h = await startTransport();
    const c = await rawClient(h.port);
    const [first] = blocks(Buffer.alloc(MAX_PAYLOAD + 100, 'a'), 64, 600);
    const res = await c.exchange(first as Buffer);
    expect(res.codeText).toBe('4.13');
    expect(h.queue.produceCalls).toHaveLength(0);
  });

  it('4.08 for a block out of order', async () => {
    const h = await startTransport();
    const c = await rawClient(h.port);
    const bs = blocks(Buffer.alloc(200, 'a'), 64, 700);
    await c.exchange(bs[0] as Buffer);
    expect((await c.exchange(bs[2] as Buffer)).codeText).toBe('4.08');
  });
});

describe('deduplication of retransmitted requests (RFC 7252 §4.5)', () => {
  it('the same confirmable request sent twice is answered twice, identically, and queued once', async () => {
    const h = await startTransport();
    const c = await rawClient(h.port);
    const datagram = rawRequest({ path: TELEMETRY, payload: '{"ts":5,"values":{"t":1}}', messageId: 0x1234 });
    const first = await c.exchange(datagram);
    await waitForConsumed(h, 1);
    const second = await c.exchange(datagram);
    expect(first).toMatchObject({ type: MessageType.ACK, codeText: '2.01', messageId: 0x1234 });
    expect(second).toEqual(first);
    expect(h.queue.produceCalls).toHaveLength(1);
    expect(h.transport.stats()).toMatchObject({ requests: 1, duplicatesAnswered: 1, acceptedMessages: 1 });
  });

  it('a copy arriving while the first is still being processed is not processed again', async () => {
    // capacity 1 and a held consumer: the second post waits in produce(), i.e. stays in flight
    const q = createMemoryQueue({ partitions: 1, capacity: 1, logger: silentLogger });
    // a queue of one message: only the device's own messages here, not the RPC lifecycle ones
    const h = await startTransport({ queue: q, services: { rpcEvents: false } });
    const c = await rawClient(h.port);
    const release = h.gate.hold();
    try {
      await c.exchange(rawRequest({ path: TELEMETRY, payload: '{"n":1}', messageId: 1 }));
      await waitForConsumed(h, 1);
      const datagram = rawRequest({ path: TELEMETRY, payload: '{"n":2}', messageId: 2 });
      await c.send(datagram);
      await vi.waitFor(() => expect(h.queue.produceCalls).toHaveLength(2));
      await c.send(datagram);
      await vi.waitFor(() => expect(h.transport.stats().duplicatesDropped).toBe(1));
      expect(c.received).toHaveLength(1);
      release();
      const answer = await c.nth(1);
      expect(answer).toMatchObject({ codeText: '2.01', messageId: 2 });
      // a third copy, after the answer, gets the answer again
      expect(await c.exchange(datagram)).toEqual(answer);
      await waitForConsumed(h, 2);
      expect(h.queue.produceCalls).toHaveLength(2);
      expect(h.transport.stats()).toMatchObject({ duplicatesDropped: 1, duplicatesAnswered: 1 });
    } finally {
      release();
    }
  });

  it('the same message id from another endpoint is another request', async () => {
    const h = await startTransport();
    const a = await rawClient(h.port);
    const b = await rawClient(h.port);
    const datagram = rawRequest({ path: TELEMETRY, payload: '{"a":1}', messageId: 77 });
    await a.exchange(datagram);
    await b.exchange(datagram);
    await waitForConsumed(h, 2);
  });

  it('non-confirmable copies are deduplicated too', async () => {
    const h = await startTransport();
    const c = await rawClient(h.port);
    const datagram = rawRequest({ path: TELEMETRY, payload: '{"a":1}', messageId: 78, confirmable: false });
    await c.exchange(datagram);
    await c.exchange(datagram);
    expect(h.queue.produceCalls).toHaveLength(1);
  });

  it('an answer slower than piggybackReplyMs: empty ACK, then a separate CON response; a copy gets the empty ACK; once queued', async () => {
    const q = createMemoryQueue({ partitions: 1, capacity: 1, logger: silentLogger });
    const h = await startTransport({ queue: q, config: { piggybackReplyMs: 20 } });
    const c = await rawClient(h.port);
    const release = h.gate.hold();
    try {
      await c.exchange(rawRequest({ path: TELEMETRY, payload: '{"n":1}', messageId: 1 }));
      await waitForConsumed(h, 1);
      const token = Buffer.from([7, 7, 7]);
      const datagram = rawRequest({ path: TELEMETRY, payload: '{"n":2}', messageId: 2, token });
      const emptyAck = await c.exchange(datagram);
      expect(emptyAck).toMatchObject({ type: MessageType.ACK, codeText: '0.00', messageId: 2 });
      expect(await c.exchange(datagram)).toEqual(emptyAck);
      release();
      const separate = await c.nth(3);
      expect(separate).toMatchObject({ type: MessageType.CON, codeText: '2.01' });
      expect(separate.token).toEqual(token);
      // the client acknowledges it: the server stops retransmitting and forgets it
      await c.send(encodeMessage({ type: MessageType.ACK, code: '0.00', messageId: separate.messageId }));
      await vi.waitFor(() => expect(h.transport.stats().pendingOutgoing).toBe(0));
      await waitForConsumed(h, 2);
      expect(h.queue.produceCalls).toHaveLength(2);
    } finally {
      release();
    }
  });

  it('sustained load: 20,000 requests keep the exchange store at its cap and leave no timer per request behind', async () => {
    const cap = 500;
    const total = 20_000;
    const h = await startTransport({ config: { dedupMaxEntries: cap } });
    const timersBefore = process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
    let sent = 0;
    let answered = 0;
    let maxEntries = 0;
    const failures: string[] = [];
    // 20 endpoints, one request in flight each, the next sent when the answer arrives
    const sockets = Array.from({ length: 20 }, () => createSocket('udp4'));
    await new Promise<void>((resolve) => {
      for (const sock of sockets) {
        let mid = 0;
        const next = (): void => {
          if (sent >= total) return;
          sent++;
          mid = (mid + 1) & 0xffff;
          sock.send(rawRequest({ path: TELEMETRY, payload: `{"ts":${sent},"values":{"v":1}}`, messageId: mid }), h.port, '127.0.0.1');
        };
        sock.on('message', (m) => {
          const d = decodeMessage(m);
          if (d?.codeText !== '2.01') failures.push(String(d?.codeText));
          maxEntries = Math.max(maxEntries, h.transport.stats().dedupEntries);
          if (++answered === total) resolve();
          else next();
        });
        sock.bind(0, '127.0.0.1', next);
      }
    });
    await Promise.all(sockets.map((sock) => new Promise<void>((r) => sock.close(() => r()))));
    expect(failures).toEqual([]);
    const stats = h.transport.stats();
    expect(stats.acceptedMessages).toBe(total);
    expect(maxEntries).toBeLessThanOrEqual(cap);
    expect(stats.dedupEntries).toBe(cap);
    expect(stats.dedupEvicted).toBe(total - cap);
    expect(stats.pendingOutgoing).toBe(0);
    // the coap package arms a 202 s timer per answer; every one of them was cancelled
    const timersAfter = process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
    expect(timersAfter - timersBefore).toBeLessThan(50);
  });
});

describe('GET /api/v1/{token}/attributes', () => {
  it('2.05 with the asked keys of each scope (Uri-Query options)', async () => {
    const h = await startTransport();
    const res = await coapCall(h.port, { method: 'GET', pathname: `/api/v1/${TOKEN}/attributes`, query: 'clientKeys=attribute1,fw&sharedKeys=interval' });
    expect(res.code).toBe('2.05');
    expect(res.headers['Content-Format']).toBe('application/json');
    expect(JSON.parse(res.payload)).toEqual({ client: { attribute1: 'value1', fw: '1.0' }, shared: { interval: 60 } });
    expect(h.attributeRequests).toEqual([{ deviceId: DEVICE.deviceId, clientKeys: ['attribute1', 'fw'], sharedKeys: ['interval'] }]);
  });

  it('no keys: everything', async () => {
    const h = await startTransport();
    const res = await coapCall(h.port, { method: 'GET', pathname: `/api/v1/${TOKEN}/attributes` });
    expect(JSON.parse(res.payload)).toEqual({
      client: { attribute1: 'value1', attribute2: true, fw: '1.0' },
      shared: { shared1: 'value2', shared2: false, interval: 60 },
    });
  });

  it('4.04 when nothing is found (as ThingsBoard answers), 4.01 for a bad token', async () => {
    const h = await startTransport();
    expect((await coapCall(h.port, { method: 'GET', pathname: `/api/v1/${TOKEN}/attributes`, query: 'clientKeys=nope' })).code).toBe('4.04');
    expect((await coapCall(h.port, { method: 'GET', pathname: '/api/v1/NOPE/attributes' })).code).toBe('4.01');
  });

  it('an answer larger than one block goes block-wise (Block2) and arrives whole', async () => {
    const h = await startTransport();
    h.attributes.set(DEVICE.deviceId, { client: { big: 'b'.repeat(3000) }, shared: {} });
    const res = await coapCall(h.port, { method: 'GET', pathname: `/api/v1/${TOKEN}/attributes` });
    expect(res.code).toBe('2.05');
    expect(JSON.parse(res.payload)).toEqual({ client: { big: 'b'.repeat(3000) } });
  });
});

describe('observe: shared attribute updates (GET /attributes, Observe)', () => {
  it('the registration answer carries the current shared attributes; SHARED_SCOPE changes follow, other scopes and devices do not', async () => {
    const h = await startTransport();
    const obs = await coapObserve(h.port, `/api/v1/${TOKEN}/attributes`);
    expect(obs.code).toBe('2.05');
    await vi.waitFor(() => expect(obs.notifications).toHaveLength(1));
    expect(JSON.parse(obs.notifications[0] as string)).toEqual({ shared1: 'value2', shared2: false, interval: 60 });
    h.broadcast.publish(DeviceChannel.SHARED_ATTRIBUTES, attributesEvent(DEVICE.deviceId, AttributeScope.CLIENT_SCOPE, { ignored: 1 }));
    h.broadcast.publish(DeviceChannel.SHARED_ATTRIBUTES, attributesEvent(OTHER.deviceId, AttributeScope.SHARED_SCOPE, { ignored: 2 }));
    h.broadcast.publish(DeviceChannel.SHARED_ATTRIBUTES, attributesEvent(DEVICE.deviceId, AttributeScope.SHARED_SCOPE, { targetTemperature: 22.5 }));
    await vi.waitFor(() => expect(obs.notifications).toHaveLength(2));
    expect(JSON.parse(obs.notifications[1] as string)).toEqual({ targetTemperature: 22.5 });
    h.broadcast.publish(DeviceChannel.SHARED_ATTRIBUTES, attributesEvent(DEVICE.deviceId, AttributeScope.SHARED_SCOPE, {}, ['interval']));
    await vi.waitFor(() => expect(obs.notifications).toHaveLength(3));
    expect(JSON.parse(obs.notifications[2] as string)).toEqual({ deleted: ['interval'] });
    expect(h.transport.stats()).toMatchObject({ observations: 1, observedDevices: 1, notifications: 2 });
    expect(h.stateEvents).toContainEqual({ kind: 'connect', deviceId: DEVICE.deviceId });
  });

  it('a GET with Observe=1 and the same token cancels it: 2.02, no more notifications, the device disconnects', async () => {
    const h = await startTransport();
    const c = await rawClient(h.port);
    const token = Buffer.from([1, 2, 3, 4]);
    const first = await c.exchange(rawRequest({ method: 'GET', path: `api/v1/${TOKEN}/attributes`, messageId: 10, token, observe: 0 }));
    expect(first).toMatchObject({ type: MessageType.ACK, codeText: '2.05' });
    expect(first.options.some(([n]) => n === Opt.OBSERVE)).toBe(true);
    const cancel = await c.exchange(rawRequest({ method: 'GET', path: `api/v1/${TOKEN}/attributes`, messageId: 11, token, observe: 1 }));
    expect(cancel.codeText).toBe('2.02');
    expect(h.transport.stats().observations).toBe(0);
    expect(h.stateEvents.filter((e) => e.kind !== 'activity')).toEqual([
      { kind: 'connect', deviceId: DEVICE.deviceId },
      { kind: 'disconnect', deviceId: DEVICE.deviceId },
    ]);
    h.broadcast.publish(DeviceChannel.SHARED_ATTRIBUTES, attributesEvent(DEVICE.deviceId, AttributeScope.SHARED_SCOPE, { x: 1 }));
    expect(h.transport.stats().notifications).toBe(0);
  });

  it('a RST in reply to a notification cancels the observation (RFC 7641 §3.6)', async () => {
    const h = await startTransport();
    const c = await rawClient(h.port);
    await c.exchange(rawRequest({ method: 'GET', path: `api/v1/${TOKEN}/attributes`, messageId: 20, observe: 0 }));
    h.broadcast.publish(DeviceChannel.SHARED_ATTRIBUTES, attributesEvent(DEVICE.deviceId, AttributeScope.SHARED_SCOPE, { x: 1 }));
    const note = await c.nth(1);
    // the registration was confirmable, so notifications are too
    expect(note).toMatchObject({ type: MessageType.CON, codeText: '2.05' });
    expect(JSON.parse(note.payload.toString())).toEqual({ x: 1 });
    await c.send(encodeMessage({ type: MessageType.RST, code: '0.00', messageId: note.messageId }));
    await vi.waitFor(() => expect(h.transport.stats().observations).toBe(0));
    expect(h.stateEvents).toContainEqual({ kind: 'disconnect', deviceId: DEVICE.deviceId });
    expect(h.transport.stats().pendingOutgoing).toBe(0);
  });

  it('re-registering with the same token replaces the observation; a device keeps at most maxObservationsPerDevice', async () => {
    const h = await startTransport({ config: { maxObservationsPerDevice: 2 } });
    const c = await rawClient(h.port);
    const token = Buffer.from([9]);
    await c.exchange(rawRequest({ method: 'GET', path: `api/v1/${TOKEN}/attributes`, messageId: 30, token, observe: 0 }));
    await c.exchange(rawRequest({ method: 'GET', path: `api/v1/${TOKEN}/attributes`, messageId: 31, token, observe: 0 }));
    expect(h.transport.stats().observations).toBe(1);
    await c.exchange(rawRequest({ method: 'GET', path: `api/v1/${TOKEN}/rpc`, messageId: 32, token: Buffer.from([10]), observe: 0 }));
    await c.exchange(rawRequest({ method: 'GET', path: `api/v1/${TOKEN}/rpc`, messageId: 33, token: Buffer.from([11]), observe: 0 }));
    expect(h.transport.stats().observations).toBe(2);
    expect(h.stateEvents.filter((e) => e.kind === 'connect')).toHaveLength(1);
  });

  it('5.03 without an Observe option when the server holds maxObservations', async () => {
    const h = await startTransport({ config: { maxObservations: 1 } });
    const c = await rawClient(h.port);
    await c.exchange(rawRequest({ method: 'GET', path: `api/v1/${TOKEN}/attributes`, messageId: 40, token: Buffer.from([1]), observe: 0 }));
    const refused = await c.exchange(rawRequest({ method: 'GET', path: `api/v1/${OTHER_TOKEN}/attributes`, messageId: 41, token: Buffer.from([2]), observe: 0 }));
    expect(refused.codeText).toBe('5.03');
    expect(refused.options.some(([n]) => n === Opt.OBSERVE)).toBe(false);
  });

  it('4.01 for a bad token, without an Observe option', async () => {
    const h = await startTransport();
    const c = await rawClient(h.port);
    const res = await c.exchange(rawRequest({ method: 'GET', path: 'api/v1/NOPE/attributes', messageId: 50, observe: 0 }));
    expect(res.codeText).toBe('4.01');
    expect(res.options.some(([n]) => n === Opt.OBSERVE)).toBe(false);
    expect(h.transport.stats().observations).toBe(0);
  });
});

describe('RPC (the exchange of core/device-rpc.ts, asked through core\'s RpcCaller)', () => {
  it('server-side: an observer of /rpc gets {"id","method","params"}; its reply on /rpc/{id} is the call\'s outcome', async () => {
    const h = await startTransport();
    const caller = createRpcCaller({ broadcast: h.broadcast });
    const obs = await coapObserve(h.port, `/api/v1/${TOKEN}/rpc`);
    expect(obs.code).toBe('2.03');
    const outcome = caller.call(rpcRequest({ requestId: newId() }));
    await vi.waitFor(() => expect(obs.notifications.filter((n) => n !== '')).toHaveLength(1));
    const command = JSON.parse(obs.notifications.filter((n) => n !== '')[0] as string);
    expect(command).toEqual({ id: 1, method: 'setGpio', params: { pin: 23, value: 1 } });
    const reply = await coapCall(h.port, { pathname: `/api/v1/${TOKEN}/rpc/1`, payload: '{"result":"ok"}' });
    expect(reply.code).toBe('2.01');
    expect(await outcome).toEqual({ kind: 'delivered', response: { result: 'ok' } });
    // answered once: a second reply to the same id is unknown
    expect((await coapCall(h.port, { pathname: `/api/v1/${TOKEN}/rpc/1`, payload: '{}' })).code).toBe('4.04');
    caller.close();
  });

  it('a two-way command not answered gives RPC_TIMEOUT at its own expiry (not at the next prune); the late reply is 4.04', async () => {
    const h = await startTransport();
    const caller = createRpcCaller({ broadcast: h.broadcast });
    const obs = await coapObserve(h.port, `/api/v1/${TOKEN}/rpc`);
    const expiresAt = Date.now() + 400;
    const outcome = caller.call(rpcRequest({ requestId: 'silent', expirationTime: expiresAt }));
    await vi.waitFor(() => expect(obs.notifications.filter((n) => n !== '')).toHaveLength(1));
    const timedOut = () => h.queue.produceCalls.some((c) => c.records.some((r) => (r.value as Msg).type === MsgType.RPC_TIMEOUT));
    expect(timedOut()).toBe(false);
    // (the harness's service clock is fixed: the wall clock tells when it came)
    await vi.waitFor(() => expect(timedOut()).toBe(true), { timeout: 3000, interval: 5 });
    expect(Date.now() - expiresAt).toBeGreaterThanOrEqual(-1);
    expect(Date.now() - expiresAt).toBeLessThan(500);
    expect(await outcome).toMatchObject({ kind: 'timeout' });
    expect((await coapCall(h.port, { pathname: `/api/v1/${TOKEN}/rpc/1`, payload: '{}' })).code).toBe('4.04');
    caller.close();
  });

  it('the pickup is published at once; one-way calls are done with it; no observer means no session', async () => {
    const h = await startTransport();
    const responses = h.published(RpcChannel.TO_DEVICE_RESPONSE);
    const caller = createRpcCaller({ broadcast: h.broadcast, pickupTimeoutMs: 50 });
    expect(await caller.call(rpcRequest({ requestId: newId(), oneway: true }))).toEqual({ kind: 'no-session' });
    const obs = await coapObserve(h.port, `/api/v1/${TOKEN}/rpc`);
    h.broadcast.publish(RpcChannel.TO_DEVICE, rpcRequest({ requestId: 'expired', expirationTime: Date.now() - 1 }));
    expect(await caller.call(rpcRequest({ requestId: 'ow', oneway: true }))).toEqual({ kind: 'delivered' });
    await vi.waitFor(() => expect(obs.notifications.filter((n) => n !== '')).toHaveLength(1));
    expect(responses).toEqual([{ requestId: 'ow', deviceId: DEVICE.deviceId, delivered: true }]);
    caller.close();
  });

  it('a RST to the command (the device rejected it) ends the call with an error', async () => {
    const h = await startTransport();
    const caller = createRpcCaller({ broadcast: h.broadcast });
    const c = await rawClient(h.port);
    await c.exchange(rawRequest({ method: 'GET', path: `api/v1/${TOKEN}/rpc`, messageId: 60, observe: 0 }));
    const outcome = caller.call(rpcRequest({ requestId: newId() }));
    const note = await c.nth(1);
    expect(JSON.parse(note.payload.toString())).toMatchObject({ id: 1, method: 'setGpio' });
    await c.send(encodeMessage({ type: MessageType.RST, code: '0.00', messageId: note.messageId }));
    expect(await outcome).toEqual({ kind: 'error', error: 'The device cancelled its RPC subscription before replying' });
    caller.close();
  });

  it('client-side: POST /rpc becomes TO_SERVER_RPC_REQUEST (requestId, sessionId); the rule chain reply comes back as 2.05', async () => {
    const h = await startTransport();
    const pending = coapCall(h.port, { pathname: `/api/v1/${TOKEN}/rpc`, payload: '{"method":"getCurrentTime","params":{}}' });
    const [m] = await waitForConsumed(h, 1);
    expect(m).toMatchObject({ type: MsgType.TO_SERVER_RPC_REQUEST, originator: { id: DEVICE.deviceId }, data: { method: 'getCurrentTime', params: {} } });
    const requestId = m?.metadata.requestId as string;
    const sessionId = m?.metadata.sessionId as string;
    expect(requestId).toMatch(/^\d+$/);
    expect(sessionId).toMatch(/^coap:/);
    const reply: ToServerRpcReply = { deviceId: DEVICE.deviceId, requestId, sessionId, body: { time: 1_700_000_000 } };
    // replies for another device or another session are not ours
    h.broadcast.publish(RpcChannel.TO_SERVER_REPLY, { ...reply, deviceId: OTHER.deviceId });
    h.broadcast.publish(RpcChannel.TO_SERVER_REPLY, { ...reply, sessionId: 'mqtt-session-9', body: 'wrong' });
    h.broadcast.publish(RpcChannel.TO_SERVER_REPLY, reply);
    const res = await pending;
    expect(res.code).toBe('2.05');
    expect(JSON.parse(res.payload)).toEqual({ time: 1_700_000_000 });
    expect(h.transport.stats().pendingRpc).toBe(0);
  });

  it('client-side: 5.04 when no reply comes in time; 4.00 without a method', async () => {
    const h = await startTransport({ config: { rpcTimeoutMs: 30 } });
    const res = await coapCall(h.port, { pathname: `/api/v1/${TOKEN}/rpc`, payload: '{"method":"getCurrentTime"}' });
    expect(res.code).toBe('5.04');
    expect(res.payload).toMatch(/No reply/);
    expect((await coapCall(h.port, { pathname: `/api/v1/${TOKEN}/rpc`, payload: '{"params":{}}' })).code).toBe('4.00');
    expect(h.transport.stats().pendingRpc).toBe(0);
  });
});

describe('routing and limits', () => {
  it.each([
    ['POST', `/api/v1/${TOKEN}`, '4.00', /Missing resource/],
    ['POST', '/api/v1', '4.00', /Missing device access token/],
    ['POST', `/api/v1/${TOKEN}/unknown`, '4.04', /Unknown resource/],
    ['POST', '/other', '4.04', /Unknown resource/],
    ['POST', `/api/v1/${TOKEN}/firmware`, '4.04', /OTA updates over CoAP is not supported yet/],
    ['GET', '/api/v1/provision', '4.05', /use POST/],
    ['POST', '/api/v1/provision', '5.01', /Device provisioning is not available on this server/],
    ['POST', `/api/v1/${TOKEN}/telemetry/5`, '4.04', /Unknown resource/],
    ['GET', `/api/v1/${TOKEN}/telemetry`, '4.05', /use POST/],
    ['PUT', `/api/v1/${TOKEN}/attributes`, '4.05', /use GET, POST/],
    ['GET', `/api/v1/${TOKEN}/rpc`, '4.00', /Observe/],
    ['POST', `/api/v1/${TOKEN}/rpc/abc`, '4.00', /Invalid RPC request id/],
  ] as const)('%s %s: %s', async (method, pathname, code, message) => {
    const h = await startTransport();
    const res = await coapCall(h.port, { method, pathname, payload: '{"a":1}' });
    expect(res.code).toBe(code);
    expect(res.payload).toMatch(message);
    expect(res.payload).not.toContain(TOKEN);
    expect(h.authCalls).toEqual([]);
  });

  it('over the per-device rate the answers are held back, not refused: every request is queued', async () => {
    // the harness clock stands still: 50 requests fit the burst, the other 10 are held 20 ms apart
    const h = await startTransport({ services: { rateLimiter: testRateLimiter(50, 0) } });
    const c = await rawClient(h.port);
    for (let i = 0; i < 60; i++) await c.send(rawRequest({ path: TELEMETRY, payload: `{"ts":${i + 1},"values":{"n":${i}}}`, messageId: 400 + i }));
    await vi.waitFor(() => expect(c.received).toHaveLength(60), { timeout: 5000 });
    expect(c.received.every((m) => m.codeText === '2.01')).toBe(true);
    expect(h.transport.stats()).toMatchObject({ acceptedMessages: 60, held: 10 });
  });

  it('4.29 with Max-Age for a device so far over its rate that it would wait longer than rateLimitMaxWaitMs; other devices unaffected', async () => {
    const h = await startTransport({ services: { rateLimiter: testRateLimiter(1, 0) }, config: { rateLimitMaxWaitMs: 0 } });
    const c = await rawClient(h.port);
    const first = await c.exchange(rawRequest({ path: TELEMETRY, payload: '{"n":1}', messageId: 300 }));
    const second = await c.exchange(rawRequest({ path: TELEMETRY, payload: '{"n":2}', messageId: 301 }));
    expect([first.codeText, second.codeText]).toEqual(['2.01', '4.29']);
    expect(second.options.find(([n]) => n === 14)?.[1]).toEqual(uintOption(1));
    expect((await c.exchange(rawRequest({ path: `api/v1/${OTHER_TOKEN}/telemetry`, payload: '{"n":1}', messageId: 310 }))).codeText).toBe('2.01');
    expect(h.transport.stats().rejected.rateLimited).toBe(1);
    expect(h.queue.produceCalls).toHaveLength(2);
  });

  it('a queue that refuses answers 5.03', async () => {
    const closed = createMemoryQueue({});
    await closed.close();
    const h = await startTransport({ queue: closed, consume: false });
    const res = await coapCall(h.port, { pathname: `/${TELEMETRY}`, payload: '{"a":1}' });
    expect(res.code).toBe('5.03');
    expect(h.transport.stats().rejected.unavailable).toBe(1);
  });

  it('an authenticator that throws answers 5.00, logged', async () => {
    const h = await startTransport({ auth: { authenticateToken: () => Promise.reject(new Error('cache backend down')) } });
    const res = await coapCall(h.port, { pathname: `/${TELEMETRY}`, payload: '{"a":1}' });
    expect(res.code).toBe('5.00');
    expect(h.logs.some((l) => l.level === 'error' && l.msg === 'device authentication failed')).toBe(true);
  });

  it('the answer waits for the queue: a full queue holds it back until the message is accepted', async () => {
    const q = createMemoryQueue({ partitions: 1, capacity: 1, logger: silentLogger });
    // a queue of one message: only the device's own messages here, not the RPC lifecycle ones
    const h = await startTransport({ queue: q, services: { rpcEvents: false } });
    const c = await rawClient(h.port);
    const release = h.gate.hold();
    try {
      await c.exchange(rawRequest({ path: TELEMETRY, payload: '{"n":1}', messageId: 1 }));
      await waitForConsumed(h, 1);
      await c.send(rawRequest({ path: TELEMETRY, payload: '{"n":2}', messageId: 2 }));
      await vi.waitFor(() => expect(h.queue.produceCalls).toHaveLength(2));
      for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
      expect(c.received).toHaveLength(1);
      release();
      expect((await c.nth(1)).codeText).toBe('2.01');
    } finally {
      release();
    }
  });

  it('logs nothing at info or above for ordinary traffic, good or bad', async () => {
    const h = await startTransport();
    await coapCall(h.port, { pathname: `/${TELEMETRY}`, payload: '{"a":1}' });
    await coapCall(h.port, { pathname: '/api/v1/bad/telemetry', payload: '{"a":1}' });
    await coapCall(h.port, { pathname: `/${TELEMETRY}`, payload: '{a' });
    await coapCall(h.port, { method: 'GET', pathname: `/api/v1/${TOKEN}/attributes` });
    expect(h.logs.filter((l) => l.level !== 'debug' && l.msg !== 'coap transport listening')).toEqual([]);
  });
});

describe('malformed datagrams', () => {
  it('random bytes, truncated headers, bad versions and options: CON ones get RST, the rest are ignored; the server goes on serving', async () => {
    const h = await startTransport();
    const c = await rawClient(h.port);
    const valid = rawRequest({ path: TELEMETRY, payload: '{"ok":1}', messageId: 0x0101 });
    let seed = 42;
    const random = (n: number) => Buffer.from(Array.from({ length: n }, () => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) & 0xff));
    const junk: Buffer[] = [
      Buffer.alloc(0),
      Buffer.from([0x40]),
      Buffer.from([0x40, 0x02, 0x12]),
      // version 2
      Buffer.from([0x80, 0x02, 0x00, 0x01]),
      // token length 9 (reserved)
      Buffer.from([0x49, 0x02, 0x00, 0x02, 1, 2, 3, 4, 5, 6, 7, 8, 9]),
      // option delta nibble 15 (reserved) in a CON
      Buffer.from([0x40, 0x02, 0x00, 0x03, 0xf1, 0x61]),
      // option length running past the end, CON
      Buffer.from([0x40, 0x02, 0x00, 0x04, 0xb8, 0x61, 0x70]),
      // payload marker with no payload, CON
      Buffer.from([0x40, 0x02, 0x00, 0x05, 0xff]),
      // option length nibble 15 (reserved) in a CON
      Buffer.from([0x40, 0x02, 0x00, 0x0a, 0x1f]),
      // an empty message that is not empty
      Buffer.from([0x40, 0x00, 0x00, 0x06, 0x01]),
      // Block1 with the reserved SZX 7
      rawRequest({ path: TELEMETRY, payload: '{"a":1}', messageId: 7, options: [[Opt.BLOCK1, Buffer.from([0x0f])]] }),
      // Observe on a POST
      rawRequest({ path: TELEMETRY, payload: '{"a":1}', messageId: 8, observe: 0 }),
      // a response sent to the server
      encodeMessage({ type: MessageType.CON, code: '2.05', messageId: 9, payload: Buffer.from('x') }),
      ...Array.from({ length: 200 }, (_, i) => random(1 + (i % 60))),
      // a truncated request (with a message id of its own: the id is what deduplication goes by)
      rawRequest({ path: TELEMETRY, payload: '{"ok":1}', messageId: 0x0102 }).subarray(0, 10),
    ];
    for (const j of junk) await c.send(j);
    await c.send(valid);
    const answer = await c.answerTo(0x0101);
    expect(answer).toMatchObject({ codeText: '2.01', messageId: 0x0101 });
    const byId = new Map(c.received.map((m) => [m.messageId, m]));
    for (const mid of [3, 10]) expect(byId.get(mid), `message ${mid}`).toMatchObject({ type: MessageType.RST, codeText: '0.00' });
    // coap-packet reads an overlong option and an empty payload leniently: paths nobody serves
    for (const mid of [4, 5]) expect(byId.get(mid)?.codeText, `message ${mid}`).toMatch(/^4\./);
    expect(byId.get(7)?.codeText).toBe('4.00');
    expect(byId.get(8)?.codeText).toBe('4.00');
    expect(byId.has(9)).toBe(false);
    const [m] = await waitForConsumed(h, 1);
    expect(m?.data).toEqual({ ok: 1 });
    expect(h.transport.stats().malformed).toBeGreaterThan(5);
  });

  it('an empty confirmable message (CoAP ping) is answered with RST', async () => {
    const h = await startTransport();
    const c = await rawClient(h.port);
    const pong = await c.exchange(encodeMessage({ type: MessageType.CON, code: '0.00', messageId: 0x4242 }));
    expect(pong).toMatchObject({ type: MessageType.RST, messageId: 0x4242 });
    expect(h.transport.stats().pings).toBe(1);
  });
});

describe('stop()', () => {
  it('observers get a final 5.03; new requests get 5.03; a request in progress still reaches the queue and is answered', async () => {
    const q = createMemoryQueue({ partitions: 1, capacity: 1, logger: silentLogger });
    // a queue of one message: only the device's own messages here, not the RPC lifecycle ones
    const h = await startTransport({ queue: q, services: { rpcEvents: false } });
    const c = await rawClient(h.port);
    await c.exchange(rawRequest({ method: 'GET', path: `api/v1/${TOKEN}/rpc`, messageId: 1, observe: 0, token: Buffer.from([0xee]) }));
    const caller = createRpcCaller({ broadcast: h.broadcast });
    const call = caller.call(rpcRequest({ requestId: newId() }));
    await c.nth(1);
    const release = h.gate.hold();
    try {
      await c.exchange(rawRequest({ path: TELEMETRY, payload: '{"n":1}', messageId: 2 }));
      await waitForConsumed(h, 1);
      await c.send(rawRequest({ path: TELEMETRY, payload: '{"n":2}', messageId: 3 }));
      await vi.waitFor(() => expect(h.queue.produceCalls).toHaveLength(2));
      const stopping = h.transport.stop();
      const final = await c.nth(3);
      expect(final).toMatchObject({ codeText: '5.03' });
      expect(final.token).toEqual(Buffer.from([0xee]));
      expect(final.options.some(([n]) => n === Opt.OBSERVE)).toBe(false);
      const late = await c.exchange(rawRequest({ path: TELEMETRY, payload: '{"n":3}', messageId: 4 }));
      expect(late).toMatchObject({ messageId: 4, codeText: '5.03' });
      release();
      await stopping;
      expect((await c.answerTo(3)).codeText).toBe('2.01');
      expect(h.queue.produceCalls).toHaveLength(2);
      expect(h.stateEvents).toContainEqual({ kind: 'disconnect', deviceId: DEVICE.deviceId });
      expect(await call).toEqual({ kind: 'error', error: 'The CoAP transport stopped before the device replied' });
      caller.close();
    } finally {
      release();
    }
  });
});

