import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { connect, type AddressInfo, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { type Broadcast, createMemoryBroadcast, createRpcCaller, DeviceChannel, RpcChannel } from '@rivulet/broadcast';
import {
  AttributeScope,
  MsgType,
  newId,
  silentLogger,
  type AttributesEvent,
  type ToDeviceRpcRequest,
  type DeviceAuthenticator,
  type Msg,
} from '@rivulet/core';
import { Topics, createMemoryQueue, type Queue, type QueueRecord } from '@rivulet/queue';
import {
  DEVICE,
  OTHER,
  OTHER_TOKEN,
  TOKEN,
  consumeRuleEngine,
  mapAuthenticator,
  mapDeviceApi,
  recordingLogger,
  testAttributes,
  telemetryMsgShape,
  testRateLimiter,
  testTokens,
  type ConsumerGate,
  type LogEntry,
} from '@rivulet/testing';
import { createTransportService, type TransportService, type TransportServiceOptions } from '@rivulet/transport-service';
import {
  TEST_DOUBLE_PROVISION_KEY,
  TEST_DOUBLE_PROVISION_SECRET,
  createClaimingTestDouble,
  createProvisioningTestDouble,
} from '@rivulet/transport-service/testing';
import { createHttpTransport, type HttpTransport, type HttpTransportOptions } from './index';

const execFileP = promisify(execFile);

const NOW = 1_700_000_000_000;
const MAX_PAYLOAD = 4096;

/** A real queue with every produce call recorded (to check one call per request, keyed by device). */
function observedQueue(inner: Queue): Queue & { produceCalls: Array<{ topic: string; records: ReadonlyArray<QueueRecord<unknown>> }> } {
  const produceCalls: Array<{ topic: string; records: ReadonlyArray<QueueRecord<unknown>> }> = [];
  return {
    produceCalls,
    kind: inner.kind,
    produce(topic, records) {
      produceCalls.push({ topic, records });
      return inner.produce(topic, records);
    },
    subscribe: (o) => inner.subscribe(o),
    lag: (t, g) => inner.lag(t, g),
    deadLetter: (r, reason) => inner.deadLetter(r, reason),
    close: () => inner.close(),
  };
}

interface Harness {
  port: number;
  base: string;
  transport: HttpTransport;
  queue: ReturnType<typeof observedQueue>;
  auth: ReturnType<typeof mapAuthenticator>;
  deviceApi: ReturnType<typeof mapDeviceApi>;
  /** Messages consumed from the rule-engine topic, in order. */
  consumed: Msg[];
  logs: LogEntry[];
  /** Holds the consumer's batches while set (its promise resolves when released). */
  gate: ConsumerGate;
  broadcast: Broadcast;
}

const open: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const close of open.splice(0).reverse()) await close();
});

/**
 * A node:http server on 127.0.0.1:0 with the transport mounted the way the server composes it
 * (anything the transport declines gets 418, so a test can see it was declined), a real in-memory
 * queue and a consumer collecting what reached the rule-engine topic.
 */
async function start(
  opts: {
    queue?: Queue;
    consume?: boolean;
    auth?: DeviceAuthenticator;
    transport?: Partial<Omit<HttpTransportOptions, 'service'>>;
    /** Options of the transport service the harness builds (provisioning, claiming, state, rate limiter, clock, ...). */
    services?: Partial<TransportServiceOptions>;
  } = {},
): Promise<Harness> {
  const inner = opts.queue ?? createMemoryQueue({ partitions: 2, logger: silentLogger });
  const queue = observedQueue(inner);
  const auth = mapAuthenticator(testTokens());
  const deviceApi = mapDeviceApi(testAttributes());
  const logs: LogEntry[] = [];
  const broadcast = createMemoryBroadcast();
  const service: TransportService = createTransportService({
    queue,
    auth: opts.auth ?? auth,
    deviceApi,
    broadcast,
    logger: recordingLogger(logs),
    now: () => NOW,
    ...opts.services,
  });
  const transport = createHttpTransport({
    service,
    logger: recordingLogger(logs),
    maxPayloadBytes: MAX_PAYLOAD,
    ...opts.transport,
  });
  const { consumed, gate } = await consumeRuleEngine(inner, { subscribe: opts.consume !== false });
  const server: Server = createServer((req, res) => {
    if (transport.handle(req, res)) return;
    res.writeHead(418, { 'content-type': 'text/plain' });
    res.end('declined by the transport');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  open.push(async () => {
    transport.stop();
    server.closeAllConnections();
    await new Promise<void>((r) => server.close(() => r()));
    await queue.close().catch(() => {});
  });
  return { port, base: `http://127.0.0.1:${port}`, transport, queue, auth, deviceApi, consumed, logs, gate, broadcast };
}

const post = (h: Harness, path: string, body: string, init: RequestInit = {}) =>
  fetch(`${h.base}${path}`, { method: 'POST', body, headers: { 'content-type': 'application/json' }, ...init });

/** The JSON error body ThingsBoard answers with. */
async function errorBody(res: Response): Promise<{ status: number; message: string; errorCode: number; timestamp: number }> {
  return (await res.json()) as { status: number; message: string; errorCode: number; timestamp: number };
}

async function waitForConsumed(h: Harness, n: number): Promise<Msg[]> {
  await vi.waitFor(() => expect(h.consumed).toHaveLength(n), { timeout: 5000, interval: 5 });
  return h.consumed;
}

/** Runs a documented shell command through sh -c, the way a user pastes it. */
async function shell(h: Harness, command: string, cwd?: string): Promise<{ stdout: string; stderr: string }> {
  return execFileP('sh', ['-c', command], {
    cwd,
    env: { ...process.env, THINGSBOARD_HOST_NAME: `127.0.0.1:${h.port}`, THINGSBOARD_HOST: `127.0.0.1:${h.port}`, ACCESS_TOKEN: TOKEN },
    timeout: 10_000,
  });
}

/** A raw TCP client, for what fetch cannot do: stop mid-body, or watch an answer arrive before the body ends. */
function rawClient(port: number) {
  const socket: Socket = connect(port, '127.0.0.1');
  let received = '';
  socket.setEncoding('latin1');
  socket.on('data', (d: string) => (received += d));
  socket.on('error', () => {});
  const closed = new Promise<void>((r) => socket.on('close', () => r()));
  return {
    socket,
    closed,
    write: (s: string) => new Promise<void>((r) => socket.write(s, () => r())),
    async waitFor(pattern: RegExp): Promise<string> {
      await vi.waitFor(() => expect(received).toMatch(pattern), { timeout: 5000, interval: 5 });
      return received;
    },
  };
}

function expectTelemetry(m: Msg | undefined, ts: number, data: Record<string, unknown>, device = DEVICE): void {
  expect(m).toMatchObject(telemetryMsgShape(ts, device));
  expect(m?.data).toEqual(data);
}

describe('HTTP device API with the real curl, ThingsBoard documented commands verbatim', () => {
  it('shell-stripped telemetry: --data "{"temperature":25}" arrives as {temperature:25} and is queued', async () => {
    const h = await start();
    const { stderr } = await shell(
      h,
      `curl -v -X POST --data "{"temperature":25}" http://127.0.0.1:${h.port}/api/v1/${TOKEN}/telemetry --header "Content-Type:application/json"`,
    );
    expect(stderr).toContain('> Content-Length: 16'); // the shell really sent {temperature:25}
    expect(stderr).toMatch(/< HTTP\/1\.1 200 OK/);
    const [m] = await waitForConsumed(h, 1);
    expectTelemetry(m, NOW, { temperature: 25 });
  });

  it('shell-stripped attributes: --data "{"attribute1": "value1", "attribute2":true, "attribute3": 43.0}"', async () => {
    const h = await start();
    const { stderr } = await shell(
      h,
      'curl -v -X POST --data "{"attribute1": "value1", "attribute2":true, "attribute3": 43.0}" http://$THINGSBOARD_HOST_NAME/api/v1/$ACCESS_TOKEN/attributes --header "Content-Type:application/json"',
    );
    expect(stderr).toMatch(/< HTTP\/1\.1 200 OK/);
    const [m] = await waitForConsumed(h, 1);
    expect(m).toMatchObject({
      type: MsgType.POST_ATTRIBUTES_REQUEST,
      originator: { entityType: 'DEVICE', id: DEVICE.deviceId },
      metadata: { deviceName: DEVICE.deviceName, deviceType: DEVICE.deviceType, ts: String(NOW) },
    });
    expect(m?.data).toEqual({ attribute1: 'value1', attribute2: true, attribute3: 43 });
  });

  it('telemetry from a file: -d @telemetry-data.json', async () => {
    const h = await start();
    const dir = await mkdtemp(join(tmpdir(), 'rivulet-http-'));
    try {
      await writeFile(join(dir, 'telemetry-data.json'), '{"temperature":21, "humidity":55.0, "active": false}');
      const { stderr } = await shell(
        h,
        'curl -v -X POST -d @telemetry-data.json http://$THINGSBOARD_HOST/api/v1/$ACCESS_TOKEN/telemetry --header "Content-Type:application/json"',
        dir,
      );
      expect(stderr).toMatch(/< HTTP\/1\.1 200 OK/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
    const [m] = await waitForConsumed(h, 1);
    expectTelemetry(m, NOW, { temperature: 21, humidity: 55, active: false });
  });

  it('an array of {ts, values}: one message per ts group', async () => {
    const h = await start();
    const { stdout } = await shell(
      h,
      `curl -s -X POST -H "Content-Type: application/json" -d '[{"ts":1451649600512,"values":{"temperature":42,"humidity":73}},{"ts":1451649601000,"values":{"temperature":43,"humidity":72}}]' "http://$THINGSBOARD_HOST/api/v1/$ACCESS_TOKEN/telemetry"`,
    );
    expect(stdout).toBe('');
    const msgs = await waitForConsumed(h, 2);
    expectTelemetry(msgs[0], 1451649600512, { temperature: 42, humidity: 73 });
    expectTelemetry(msgs[1], 1451649601000, { temperature: 43, humidity: 72 });
  });

  it('attribute request: GET ?clientKeys=attribute1,attribute2&sharedKeys=shared1,shared2', async () => {
    const h = await start();
    const { stdout, stderr } = await shell(
      h,
      'curl -v -X GET "http://$THINGSBOARD_HOST_NAME/api/v1/$ACCESS_TOKEN/attributes?clientKeys=attribute1,attribute2&sharedKeys=shared1,shared2"',
    );
    expect(stderr).toMatch(/< HTTP\/1\.1 200 OK/);
    expect(stderr).toMatch(/< Content-Type: application\/json/i);
    expect(JSON.parse(stdout)).toEqual({ client: { attribute1: 'value1', attribute2: true }, shared: { shared1: 'value2', shared2: false } });
  });

  it('a chunked upload over the cap gets 413 from curl too', async () => {
    const h = await start();
    const big = `{"k":"${'x'.repeat(MAX_PAYLOAD * 4)}"}`;
    const { stdout } = await shell(
      h,
      `printf '%s' '${big}' | curl -s -w '\\n%{http_code}' -X POST -H "Transfer-Encoding: chunked" --data-binary @- "http://$THINGSBOARD_HOST/api/v1/$ACCESS_TOKEN/telemetry"`,
    );
    const [body, code] = stdout.split('\n');
    expect(code).toBe('413');
    expect(JSON.parse(body ?? '')).toMatchObject({ status: 413, errorCode: 31 });
  });
});

describe('POST /api/v1/{token}/telemetry', () => {
  it.each([
    ['a flat object', '{"temperature":42,"humidity":73}', [[NOW, { temperature: 42, humidity: 73 }]]],
    ['{ts, values}', '{"ts":1451649600512,"values":{"temperature":42}}', [[1451649600512, { temperature: 42 }]]],
    ['an array of flat objects', '[{"a":1},{"b":"x"}]', [[NOW, { a: 1 }], [NOW, { b: 'x' }]]],
    ['an array of {ts, values}', '[{"ts":1,"values":{"a":1}},{"ts":2,"values":{"a":2}},{"ts":3,"values":{"a":3}}]', [[1, { a: 1 }], [2, { a: 2 }], [3, { a: 3 }]]],
    ['a mixed array', '[{"ts":5,"values":{"a":1}},{"b":2}]', [[5, { a: 1 }], [NOW, { b: 2 }]]],
    ['{ts} without values (flat: ts is a key)', '{"ts":5,"temperature":1}', [[NOW, { ts: 5, temperature: 1 }]]],
    ['values of every type, null dropped', '{"s":"on","l":7,"d":1.5,"b":true,"j":{"x":[1,2]},"n":null}', [[NOW, { s: 'on', l: 7, d: 1.5, b: true, j: { x: [1, 2] } }]]],
    ['numeric strings (type casting on by default)', '{"t":"25.5","id":"007x"}', [[NOW, { t: 25.5, id: '007x' }]]],
  ] as const)('%s', async (_name, body, groups) => {
    const h = await start();
    const res = await post(h, `/api/v1/${TOKEN}/telemetry`, body);
    expect(res.status).toBe(200);
    expect(await res.text()).toBe('');
    // every message of the request in ONE produce call, keyed by the device
    expect(h.queue.produceCalls).toHaveLength(1);
    const call = h.queue.produceCalls[0];
    expect(call?.topic).toBe(Topics.RULE_ENGINE);
    expect(call?.records.map((r) => r.key)).toEqual(groups.map(() => DEVICE.deviceId));
    const msgs = await waitForConsumed(h, groups.length);
    groups.forEach(([ts, data], i) => expectTelemetry(msgs[i], ts, data));
    expect(h.transport.stats()).toMatchObject({ requests: 1, acceptedRequests: 1, acceptedMessages: groups.length });
  });

  it('keeps numeric strings when type casting is off', async () => {
    const h = await start({ transport: { typeCasting: false } });
    expect((await post(h, `/api/v1/${TOKEN}/telemetry`, '{"t":"25.5"}')).status).toBe(200);
    const [m] = await waitForConsumed(h, 1);
    expect(m?.data).toEqual({ t: '25.5' });
  });

  it('stamps flat payloads with the server time (Date.now by default)', async () => {
    const h = await start({ services: { now: undefined } });
    const before = Date.now();
    expect((await post(h, `/api/v1/${TOKEN}/telemetry`, '{"a":1}')).status).toBe(200);
    const [m] = await waitForConsumed(h, 1);
    expect(m?.ts).toBeGreaterThanOrEqual(before);
    expect(m?.ts).toBeLessThanOrEqual(Date.now());
    expect(m?.metadata.ts).toBe(String(m?.ts));
  });

  it('messages of different devices carry their own originator', async () => {
    const h = await start();
    await post(h, `/api/v1/${TOKEN}/telemetry`, '{"a":1}');
    await post(h, `/api/v1/${OTHER_TOKEN}/telemetry`, '{"b":2}');
    const msgs = await waitForConsumed(h, 2);
    const byDevice = Object.fromEntries(msgs.map((m) => [m.originator.id, m]));
    expectTelemetry(byDevice[DEVICE.deviceId], NOW, { a: 1 });
    expectTelemetry(byDevice[OTHER.deviceId], NOW, { b: 2 }, OTHER);
    expect(h.queue.produceCalls.map((c) => c.records[0]?.key).sort()).toEqual([DEVICE.deviceId, OTHER.deviceId]);
  });

  it('answers [] with 200 at once, queueing nothing (ThingsBoard hangs: its issue #6746)', async () => {
    // a queue that would never accept anything: an answer proves produce was not awaited
    const inner = createMemoryQueue({});
    const stuck: Queue = {
      kind: 'stuck',
      produce: () => new Promise<void>(() => {}),
      subscribe: (o) => inner.subscribe(o),
      lag: (t, g) => inner.lag(t, g),
      deadLetter: (r, reason) => inner.deadLetter(r, reason),
      close: () => inner.close(),
    };
    const h = await start({ queue: stuck, consume: false });
    const res = await post(h, `/api/v1/${TOKEN}/telemetry`, '[]');
    expect(res.status).toBe(200);
    expect(await res.text()).toBe('');
    expect(h.queue.produceCalls).toHaveLength(0);
  });

  it('401 with a JSON error for an unknown token; nothing queued', async () => {
    const h = await start();
    const res = await post(h, '/api/v1/WRONG_TOKEN/telemetry', '{"temperature":25}');
    expect(res.status).toBe(401);
    expect(res.headers.get('content-type')).toBe('application/json');
    expect(await errorBody(res)).toMatchObject({ status: 401, errorCode: 10, message: expect.stringMatching(/Authentication failed/) });
    expect(h.queue.produceCalls).toHaveLength(0);
    expect(h.transport.stats().rejected.unauthorized).toBe(1);
  });

  it('checks the token before the payload (401, not 400, for garbage with a wrong token)', async () => {
    const h = await start();
    expect((await post(h, '/api/v1/WRONG_TOKEN/telemetry', '{{{')).status).toBe(401);
  });

  it('401 for an empty token, without asking the authenticator', async () => {
    const h = await start();
    expect((await post(h, '/api/v1//telemetry', '{"a":1}')).status).toBe(401);
    expect(h.auth.calls).toEqual([]);
  });

  it('400 with the parser message for malformed JSON', async () => {
    const h = await start();
    const res = await post(h, `/api/v1/${TOKEN}/telemetry`, '{"temperature":');
    expect(res.status).toBe(400);
    expect(await errorBody(res)).toMatchObject({
      status: 400,
      errorCode: 30,
      message: 'Invalid JSON: Unexpected end of input at position 15',
    });
    const res2 = await post(h, `/api/v1/${TOKEN}/telemetry`, '{"a":1} trailing');
    expect(res2.status).toBe(400);
    expect((await errorBody(res2)).message).toBe("Invalid JSON: Unexpected character 't' after the end of the JSON value at position 8");
    expect(h.queue.produceCalls).toHaveLength(0);
    expect(h.transport.stats().rejected.badRequest).toBe(2);
  });

  it.each([
    ['a number', '42', 'Telemetry payload must be a JSON object, got a number'],
    ['an array of numbers', '[1,2]', 'Telemetry element 0 must be a JSON object, got a number'],
    ['values that are not an object', '{"ts":1,"values":[1]}', 'Telemetry payload: "values" must be a JSON object'],
    ['a bad ts', '{"ts":"soon","values":{"a":1}}', 'Telemetry payload: "ts" must be a number of milliseconds since the epoch'],
  ])('400 with a clear message for a bad shape: %s', async (_name, body, message) => {
    const h = await start();
    const res = await post(h, `/api/v1/${TOKEN}/telemetry`, body);
    expect(res.status).toBe(400);
    expect(await errorBody(res)).toMatchObject({ status: 400, message });
    expect(h.queue.produceCalls).toHaveLength(0);
  });

  describe('413 over maxPayloadBytes', () => {
    const oversized = `{"k":"${'x'.repeat(MAX_PAYLOAD)}"}`;

    it('with Content-Length', async () => {
      const h = await start();
      const res = await post(h, `/api/v1/${TOKEN}/telemetry`, oversized);
      expect(res.status).toBe(413);
      expect(await errorBody(res)).toMatchObject({ status: 413, errorCode: 31, message: `Payload too large: the limit is ${MAX_PAYLOAD} bytes` });
      expect(h.queue.produceCalls).toHaveLength(0);
      expect(h.transport.stats().rejected.payloadTooLarge).toBe(1);
    });

    it('with chunked transfer encoding', async () => {
      const h = await start();
      const bytes = new TextEncoder().encode(oversized);
      const body = new ReadableStream<Uint8Array>({
        start(c) {
          // several chunks, none over the cap on its own
          for (let i = 0; i < bytes.length; i += 1000) c.enqueue(bytes.subarray(i, i + 1000));
          c.close();
        },
      });
      const res = await fetch(`${h.base}/api/v1/${TOKEN}/telemetry`, { method: 'POST', body, duplex: 'half' } as RequestInit);
      expect(res.status).toBe(413);
      expect(await errorBody(res)).toMatchObject({ status: 413 });
      expect(h.queue.produceCalls).toHaveLength(0);
    });

    it('exactly maxPayloadBytes is accepted', async () => {
      const h = await start();
      const body = `{"k":"${'x'.repeat(MAX_PAYLOAD - 8)}"}`;
      expect(Buffer.byteLength(body)).toBe(MAX_PAYLOAD);
      expect((await post(h, `/api/v1/${TOKEN}/telemetry`, body)).status).toBe(200);
    });

    it('is answered from Content-Length alone, before any body byte', async () => {
      const h = await start();
      const c = rawClient(h.port);
      await c.write(`POST /api/v1/${TOKEN}/telemetry HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000\r\n\r\n`);
      expect(await c.waitFor(/^HTTP\/1\.1 413 /)).toContain('"status":413');
      c.socket.destroy();
    });

    it('is answered as soon as a chunked body passes the cap, without waiting for its end', async () => {
      const h = await start();
      const c = rawClient(h.port);
      const chunk = 'x'.repeat(MAX_PAYLOAD + 1);
      await c.write(`POST /api/v1/${TOKEN}/telemetry HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n${chunk.length.toString(16)}\r\n${chunk}\r\n`);
      expect(await c.waitFor(/^HTTP\/1\.1 413 /)).toContain('"status":413');
      c.socket.destroy();
    });
  });

  describe('backpressure', () => {
    it('a full queue keeps the HTTP answer pending until it accepts the messages', async () => {
      // capacity 1 and a consumer holding its batch: the second post's produce has to wait
      const h = await start({ queue: createMemoryQueue({ partitions: 1, capacity: 1, logger: silentLogger }) });
      const release = h.gate.hold();
      try {
        expect((await post(h, `/api/v1/${TOKEN}/telemetry`, '{"n":1}')).status).toBe(200);
        await waitForConsumed(h, 1); // delivered, not committed: the partition is full
        let answered = false;
        const second = post(h, `/api/v1/${TOKEN}/telemetry`, '{"n":2}').then((r) => {
          answered = true;
          return r;
        });
        await vi.waitFor(() => expect(h.queue.produceCalls).toHaveLength(2));
        await new Promise((r) => setTimeout(r, 200));
        expect(answered).toBe(false);
        release();
        const res = await second;
        expect(res.status).toBe(200);
        const msgs = await waitForConsumed(h, 2);
        expect(msgs[1]?.data).toEqual({ n: 2 });
      } finally {
        release();
      }
    });

    it('a produce that rejects answers 503 with a JSON error', async () => {
      const closed = createMemoryQueue({});
      await closed.close();
      const h = await start({ queue: closed, consume: false });
      const res = await post(h, `/api/v1/${TOKEN}/telemetry`, '{"a":1}');
      expect(res.status).toBe(503);
      expect(res.headers.get('retry-after')).toBe('1');
      expect(await errorBody(res)).toMatchObject({ status: 503, errorCode: 2 });
      expect(h.transport.stats()).toMatchObject({ acceptedMessages: 0, rejected: { unavailable: 1 } });
      expect(h.logs.some((l) => l.level === 'warn' && l.msg === 'queue rejected device messages')).toBe(true);
    });
  });
});

describe('/api/v1/{token}/attributes', () => {
  it('POST: one POST_ATTRIBUTES_REQUEST message stamped with now', async () => {
    const h = await start();
    const res = await post(h, `/api/v1/${TOKEN}/attributes`, '{"fw_version":"1.0.3","serial":"SN-001","battery":"87","gone":null}');
    expect(res.status).toBe(200);
    expect(await res.text()).toBe('');
    expect(h.queue.produceCalls).toHaveLength(1);
    expect(h.queue.produceCalls[0]?.records.map((r) => r.key)).toEqual([DEVICE.deviceId]);
    const [m] = await waitForConsumed(h, 1);
    expect(m).toMatchObject({
      type: MsgType.POST_ATTRIBUTES_REQUEST,
      ts: NOW,
      tenantId: DEVICE.tenantId,
      originator: { entityType: 'DEVICE', id: DEVICE.deviceId },
      metadata: { deviceName: DEVICE.deviceName, deviceType: DEVICE.deviceType, ts: String(NOW) },
    });
    expect(m?.data).toEqual({ fw_version: '1.0.3', serial: 'SN-001', battery: 87 });
  });

  it('POST: 400 when not an object, 401 for a wrong token', async () => {
    const h = await start();
    const res = await post(h, `/api/v1/${TOKEN}/attributes`, '[{"a":1}]');
    expect(res.status).toBe(400);
    expect((await errorBody(res)).message).toBe('Attributes must be a JSON object, got an array');
    expect((await post(h, '/api/v1/nope/attributes', '{"a":1}')).status).toBe(401);
    expect(h.queue.produceCalls).toHaveLength(0);
  });

  it('GET: asked keys of each scope', async () => {
    const h = await start();
    const res = await fetch(`${h.base}/api/v1/${TOKEN}/attributes?clientKeys=fw,attribute1&sharedKeys=interval`);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ client: { fw: '1.0', attribute1: 'value1' }, shared: { interval: 60 } });
    expect(h.deviceApi.requests).toEqual([{ deviceId: DEVICE.deviceId, clientKeys: ['fw', 'attribute1'], sharedKeys: ['interval'] }]);
  });

  it('GET: no keys asks for everything; URL-encoded keys are decoded', async () => {
    const h = await start();
    const res = await fetch(`${h.base}/api/v1/${TOKEN}/attributes`);
    expect(await res.json()).toEqual({
      client: { attribute1: 'value1', attribute2: true, fw: '1.0' },
      shared: { shared1: 'value2', shared2: false, interval: 60 },
    });
    await fetch(`${h.base}/api/v1/${TOKEN}/attributes?sharedKeys=shared%31%2Cinterval`);
    expect(h.deviceApi.requests).toEqual([
      { deviceId: DEVICE.deviceId, clientKeys: undefined, sharedKeys: undefined },
      { deviceId: DEVICE.deviceId, clientKeys: undefined, sharedKeys: ['shared1', 'interval'] },
    ]);
  });

  it('GET: 401 for a wrong token, the service not asked', async () => {
    const h = await start();
    const res = await fetch(`${h.base}/api/v1/nope/attributes?clientKeys=a`);
    expect(res.status).toBe(401);
    expect(await errorBody(res)).toMatchObject({ status: 401, errorCode: 10 });
    expect(h.deviceApi.requests).toEqual([]);
  });
});

describe('routing', () => {
  it('declines paths outside /api/v1/ (the caller routes them)', async () => {
    const h = await start();
    for (const path of ['/api/device/x', '/api/v1', '/api/v2/token/telemetry', '/']) {
      const res = await fetch(`${h.base}${path}`);
      expect(res.status, path).toBe(418);
    }
    expect(h.transport.stats().requests).toBe(0);
  });

  it.each([
    ['POST', `/api/v1/${TOKEN}/firmware`, /^OTA updates .* not supported yet$/],
    ['POST', `/api/v1/${TOKEN}/unknown`, /^Unknown device API path: \/api\/v1\/\{token\}\/unknown$/],
    ['POST', `/api/v1/${TOKEN}/telemetry/`, /^Unknown device API path/],
    ['GET', `/api/v1/${TOKEN}`, /^Unknown device API path/],
  ])('404 with a JSON error: %s %s', async (method, path, message) => {
    const h = await start();
    const res = await fetch(`${h.base}${path}`, { method, ...(method === 'POST' ? { body: '{"method":"getTime","params":{}}' } : {}) });
    expect(res.status).toBe(404);
    const body = await errorBody(res);
    expect(body).toMatchObject({ status: 404, errorCode: 32 });
    expect(body.message).toMatch(message);
    expect(body.message).not.toContain(TOKEN); // credentials are not echoed
  });

  it.each([
    ['GET', 'telemetry', 'POST'],
    ['PUT', 'telemetry', 'POST'],
    ['DELETE', 'attributes', 'GET, POST'],
  ])('405 for %s on %s, with Allow', async (method, resource, allow) => {
    const h = await start();
    const res = await fetch(`${h.base}/api/v1/${TOKEN}/${resource}`, { method });
    expect(res.status).toBe(405);
    expect(res.headers.get('allow')).toBe(allow);
    expect(await errorBody(res)).toMatchObject({ status: 405 });
  });

  it('400 for invalid percent-encoding in the token, and goes on serving', async () => {
    const h = await start();
    const res = await post(h, '/api/v1/%E0%A4%A/telemetry', '{"a":1}');
    expect(res.status).toBe(400);
    expect((await errorBody(res)).message).toMatch(/percent-encoding/);
    expect(h.auth.calls).toEqual([]);
    expect((await post(h, `/api/v1/${TOKEN}/telemetry`, '{"a":1}')).status).toBe(200);
  });

  it('percent-encoded tokens are decoded', async () => {
    const h = await start();
    expect((await post(h, `/api/v1/${encodeURIComponent(TOKEN).replace('_', '%5F')}/telemetry`, '{"a":1}')).status).toBe(200);
    expect(h.auth.calls).toEqual([TOKEN]);
  });
});

describe('robustness', () => {
  it('reports each authenticated request as device activity (device state), not a refused one', async () => {
    const active: string[] = [];
    const h = await start({ services: { state: { onConnect() {}, onDisconnect() {}, onActivity: (d) => void active.push(d.deviceId) } } });
    await post(h, `/api/v1/${TOKEN}/telemetry`, '{"a":1}');
    await post(h, '/api/v1/nope/telemetry', '{"a":1}');
    await fetch(`${h.base}/api/v1/${OTHER_TOKEN}/attributes`);
    expect(active).toEqual([DEVICE.deviceId, OTHER.deviceId]);
  });

  it('a client closing mid-body leaves the server serving the next request; nothing is queued', async () => {
    const h = await start();
    const c = rawClient(h.port);
    await c.write(`POST /api/v1/${TOKEN}/telemetry HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{"temperature":`);
    await vi.waitFor(() => expect(h.auth.calls).toEqual([TOKEN]));
    c.socket.destroy();
    await c.closed;
    await vi.waitFor(() => expect(h.transport.stats().rejected.aborted).toBe(1));
    expect((await post(h, `/api/v1/${TOKEN}/telemetry`, '{"temperature":26}')).status).toBe(200);
    const msgs = await waitForConsumed(h, 1);
    expect(msgs[0]?.data).toEqual({ temperature: 26 });
    expect(h.queue.produceCalls).toHaveLength(1);
  });

  it('an aborted fetch (AbortController) mid-stream does not disturb the server', async () => {
    const h = await start();
    const ac = new AbortController();
    const body = new ReadableStream<Uint8Array>({
      start(c) {
        c.enqueue(new TextEncoder().encode('{"temperature":'));
        // never closed: the body stays unfinished until the abort
      },
    });
    const pending = fetch(`${h.base}/api/v1/${TOKEN}/telemetry`, { method: 'POST', body, duplex: 'half', signal: ac.signal } as RequestInit);
    await vi.waitFor(() => expect(h.auth.calls).toHaveLength(1));
    ac.abort();
    await expect(pending).rejects.toThrow();
    await vi.waitFor(() => expect(h.transport.stats().rejected.aborted).toBe(1));
    expect((await post(h, `/api/v1/${TOKEN}/telemetry`, '{"ok":true}')).status).toBe(200);
  });

  it('an authenticator that throws answers 500 with a JSON error, logged', async () => {
    const h = await start({
      auth: {
        authenticateToken: () => Promise.reject(new Error('cache backend down')),
      },
    });
    const res = await post(h, `/api/v1/${TOKEN}/telemetry`, '{"a":1}');
    expect(res.status).toBe(500);
    expect(await errorBody(res)).toMatchObject({ status: 500, errorCode: 2, message: 'Internal server error' });
    const get = await fetch(`${h.base}/api/v1/${TOKEN}/attributes`);
    expect(get.status).toBe(500);
    const errors = h.logs.filter((l) => l.level === 'error');
    expect(errors).toHaveLength(2);
    expect(errors[0]?.msg).toBe('device authentication failed');
    expect((errors[0]?.fields.err as Error).message).toBe('cache backend down');
    expect(h.transport.stats().rejected.internal).toBe(2);
  });

  it('an authenticator that throws synchronously is handled the same way', async () => {
    const h = await start({
      auth: {
        authenticateToken: () => {
          throw new Error('sync failure');
        },
      },
    });
    expect((await post(h, `/api/v1/${TOKEN}/telemetry`, '{"a":1}')).status).toBe(500);
    expect((await post(h, `/api/v1/${TOKEN}/telemetry`, '{"a":1}')).status).toBe(500);
  });

  it('stop(): later requests get 503; the queue is not touched', async () => {
    const h = await start();
    h.transport.stop();
    const res = await post(h, `/api/v1/${TOKEN}/telemetry`, '{"a":1}');
    expect(res.status).toBe(503);
    expect(await errorBody(res)).toMatchObject({ status: 503, message: expect.stringMatching(/shutting down/) });
    expect(h.queue.produceCalls).toHaveLength(0);
    expect(h.transport.stats().rejected.unavailable).toBe(1);
  });

  it('logs nothing at info or above for ordinary traffic, good or bad', async () => {
    const h = await start();
    await post(h, `/api/v1/${TOKEN}/telemetry`, '{"a":1}');
    await post(h, '/api/v1/bad/telemetry', '{"a":1}');
    await post(h, `/api/v1/${TOKEN}/telemetry`, '{a');
    await fetch(`${h.base}/api/v1/${TOKEN}/attributes`);
    expect(h.logs.filter((l) => l.level !== 'debug')).toEqual([]);
  });

  it('stats count requests, accepted messages and rejections by reason', async () => {
    const h = await start();
    await post(h, `/api/v1/${TOKEN}/telemetry`, '[{"a":1},{"b":2}]');
    await post(h, `/api/v1/${TOKEN}/attributes`, '{"c":3}');
    await post(h, '/api/v1/bad/telemetry', '{"a":1}');
    await post(h, `/api/v1/${TOKEN}/telemetry`, 'x}');
    await fetch(`${h.base}/api/v1/${TOKEN}/telemetry`);
    await fetch(`${h.base}/api/v1/${TOKEN}/firmware`, { method: 'POST' });
    expect(h.transport.stats()).toEqual({
      requests: 6,
      acceptedRequests: 2,
      acceptedMessages: 3,
      rejected: {
        badRequest: 1,
        unauthorized: 1,
        notFound: 1,
        methodNotAllowed: 1,
        payloadTooLarge: 0,
        rateLimited: 0,
        unavailable: 0,
        timeout: 0,
        internal: 0,
        aborted: 0,
        longPollEnded: 0,
        longPollReplaced: 0,
        notImplemented: 0,
      },
      waiting: 0,
    });
  });
});

describe('RPC and shared-attribute long polls (ThingsBoard\'s DeviceApiController)', () => {
  const command = (over: Partial<ToDeviceRpcRequest> = {}): ToDeviceRpcRequest => ({
    requestId: newId(),
    tenantId: DEVICE.tenantId,
    deviceId: DEVICE.deviceId,
    method: 'setGpio',
    params: { pin: 23, value: 1 },
    oneway: false,
    expirationTime: Date.now() + 30_000,
    ...over,
  });

  it('curl, as documented: GET /rpc?timeout=20000 gets the command; POST /rpc/{id} is its reply, the caller\'s outcome', async () => {
    const h = await start();
    const caller = createRpcCaller({ broadcast: h.broadcast });
    const poll = shell(h, 'curl -s -X GET "http://$THINGSBOARD_HOST_NAME/api/v1/$ACCESS_TOKEN/rpc?timeout=20000"');
    await vi.waitFor(() => expect(h.transport.stats().waiting).toBe(1));
    const outcome = caller.call(command());
    const { stdout } = await poll;
    expect(JSON.parse(stdout)).toEqual({ id: 1, method: 'setGpio', params: { pin: 23, value: 1 } });
    const reply = await shell(h, `curl -s -w '%{http_code}' -X POST -d '{"pin":23,"value":1}' http://$THINGSBOARD_HOST_NAME/api/v1/$ACCESS_TOKEN/rpc/1 --header "Content-Type:application/json"`);
    expect(reply.stdout).toBe('200');
    expect(await outcome).toEqual({ kind: 'delivered', response: { pin: 23, value: 1 } });
    // answered once
    expect((await post(h, `/api/v1/${TOKEN}/rpc/1`, '{}')).status).toBe(404);
    caller.close();
  });

  it('one command per poll; a one-way call is done with the pickup; no poll waiting means no session', async () => {
    const h = await start();
    const caller = createRpcCaller({ broadcast: h.broadcast, pickupTimeoutMs: 50 });
    expect(await caller.call(command({ oneway: true }))).toEqual({ kind: 'no-session' });
    const first = fetch(`${h.base}/api/v1/${TOKEN}/rpc?timeout=5000`);
    const second = fetch(`${h.base}/api/v1/${TOKEN}/rpc?timeout=5000`);
    await vi.waitFor(() => expect(h.transport.stats().waiting).toBe(2));
    expect(await caller.call(command({ oneway: true, method: 'reboot' }))).toEqual({ kind: 'delivered' });
    expect(await (await first).json()).toMatchObject({ id: 1, method: 'reboot' });
    expect(h.transport.stats().waiting).toBe(1);
    expect(await caller.call(command({ oneway: true, method: 'blink' }))).toEqual({ kind: 'delivered' });
    expect(await (await second).json()).toMatchObject({ id: 2, method: 'blink' });
    caller.close();
  });

  it('408 when nothing comes within ?timeout=; 400 for a timeout that is not a number', async () => {
    const h = await start();
    const res = await fetch(`${h.base}/api/v1/${TOKEN}/rpc?timeout=30`);
    expect(res.status).toBe(408);
    expect(await errorBody(res)).toMatchObject({ status: 408, message: expect.stringMatching(/no RPC command/) });
    expect((await fetch(`${h.base}/api/v1/${TOKEN}/attributes/updates?timeout=30`)).status).toBe(408);
    expect((await fetch(`${h.base}/api/v1/${TOKEN}/rpc?timeout=soon`)).status).toBe(400);
    expect(h.transport.stats()).toMatchObject({ waiting: 0, rejected: { timeout: 2, badRequest: 1 } });
  });

  it('GET /attributes/updates answers with the next shared attribute change; other scopes and devices do not count', async () => {
    const h = await start();
    const ev = (entityId: string, scope: AttributesEvent['scope'], values: Record<string, number>, deleted?: string[]): AttributesEvent => ({
      entityId,
      scope,
      values: Object.entries(values).map(([key, value]) => ({ key, value, lastUpdateTs: NOW })),
      ...(deleted ? { deleted } : {}),
    });
    const poll = shell(h, 'curl -s -X GET "http://$THINGSBOARD_HOST_NAME/api/v1/$ACCESS_TOKEN/attributes/updates?timeout=20000"');
    await vi.waitFor(() => expect(h.transport.stats().waiting).toBe(1));
    h.broadcast.publish(DeviceChannel.SHARED_ATTRIBUTES, ev(DEVICE.deviceId, AttributeScope.CLIENT_SCOPE, { ignored: 1 }));
    h.broadcast.publish(DeviceChannel.SHARED_ATTRIBUTES, ev(OTHER.deviceId, AttributeScope.SHARED_SCOPE, { ignored: 2 }));
    h.broadcast.publish(DeviceChannel.SHARED_ATTRIBUTES, ev(DEVICE.deviceId, AttributeScope.SHARED_SCOPE, { targetTemperature: 21 }, ['old']));
    expect(JSON.parse((await poll).stdout)).toEqual({ targetTemperature: 21, deleted: ['old'] });
  });

  it('client-side: POST /rpc becomes TO_SERVER_RPC_REQUEST; the rule chain reply (this session only) is the answer', async () => {
    const h = await start();
    const pending = post(h, `/api/v1/${TOKEN}/rpc`, '{"method":"getCurrentTime","params":{}}');
    const [m] = await waitForConsumed(h, 1);
    expect(m).toMatchObject({ type: MsgType.TO_SERVER_RPC_REQUEST, originator: { id: DEVICE.deviceId }, data: { method: 'getCurrentTime', params: {} } });
    const requestId = m?.metadata.requestId as string;
    const sessionId = m?.metadata.sessionId as string;
    expect(sessionId).toMatch(/^http:/);
    h.broadcast.publish(RpcChannel.TO_SERVER_REPLY, { deviceId: DEVICE.deviceId, requestId, sessionId: 'another-session', body: 'wrong' });
    h.broadcast.publish(RpcChannel.TO_SERVER_REPLY, { deviceId: DEVICE.deviceId, requestId, sessionId, body: { time: 1234 } });
    const res = await pending;
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ time: 1234 });
    expect((await post(h, `/api/v1/${TOKEN}/rpc`, '{"params":{}}')).status).toBe(400);
  });

  it('client-side: 408 when the rule chain does not answer in time', async () => {
    const h = await start({ transport: { requestTimeoutMs: 30 } });
    const res = await post(h, `/api/v1/${TOKEN}/rpc`, '{"method":"getCurrentTime","params":{}}');
    expect(res.status).toBe(408);
    expect(h.transport.stats().waiting).toBe(0);
  });

  it('a client that gives up its poll leaves nothing behind; stop() answers the polls still waiting 503', async () => {
    const h = await start();
    const ac = new AbortController();
    const gone = fetch(`${h.base}/api/v1/${TOKEN}/rpc?timeout=20000`, { signal: ac.signal });
    await vi.waitFor(() => expect(h.transport.stats().waiting).toBe(1));
    ac.abort();
    await expect(gone).rejects.toThrow();
    await vi.waitFor(() => expect(h.transport.stats().waiting).toBe(0));
    const waiting = fetch(`${h.base}/api/v1/${TOKEN}/attributes/updates?timeout=20000`);
    await vi.waitFor(() => expect(h.transport.stats().waiting).toBe(1));
    h.transport.stop();
    expect((await waiting).status).toBe(503);
    expect(h.transport.stats().waiting).toBe(0);
  });

  it('401 for a bad token, 405 for a wrong method', async () => {
    const h = await start();
    expect((await fetch(`${h.base}/api/v1/nope/rpc?timeout=10`)).status).toBe(401);
    expect((await fetch(`${h.base}/api/v1/${TOKEN}/rpc`, { method: 'PUT' })).status).toBe(405);
    expect((await fetch(`${h.base}/api/v1/${TOKEN}/rpc/1`)).status).toBe(405);
    expect((await fetch(`${h.base}/api/v1/${TOKEN}/attributes/updates`, { method: 'POST' })).status).toBe(405);
  });
});

describe('provisioning and claiming (through the transport service; core services are test doubles)', () => {
  const REQUEST = JSON.stringify({ deviceName: 'new-device', provisionDeviceKey: TEST_DOUBLE_PROVISION_KEY, provisionDeviceSecret: TEST_DOUBLE_PROVISION_SECRET });

  it('curl POST /api/v1/provision: 200 with ThingsBoard\'s answer, a refusal included; 429 with Retry-After past the per-address rate', async () => {
    const provisioning = createProvisioningTestDouble();
    const h = await start({ services: { provisioning, provisionRequestsPerMinute: 2 } });
    const ok = await shell(h, `curl -s -w '\\n%{http_code}' -X POST -H 'Content-Type: application/json' -d '${REQUEST}' http://$THINGSBOARD_HOST/api/v1/provision`);
    expect(ok.stdout.split('\n')).toEqual(['{"status":"SUCCESS","credentialsType":"ACCESS_TOKEN","credentialsValue":"token-for-new-device"}', '200']);
    const refused = await post(h, '/api/v1/provision', '{"deviceName":"x","provisionDeviceKey":"guess","provisionDeviceSecret":"guess"}');
    expect(refused.status).toBe(200);
    expect(await refused.json()).toEqual({ status: 'NOT_FOUND', errorMsg: 'Provision data was not found!' });
    const limited = await shell(h, `curl -s -i -X POST -d '${REQUEST}' http://$THINGSBOARD_HOST/api/v1/provision`);
    expect(limited.stdout).toMatch(/^HTTP\/1\.1 429/);
    expect(limited.stdout).toMatch(/retry-after: \d+/i);
    expect(limited.stdout).toContain('Too many provisioning requests');
    expect(provisioning.calls.map((c) => c.transport)).toEqual(['HTTP', 'HTTP']);
    expect(h.consumed).toEqual([]);
  });

  it('POST /api/v1/provision: 400 for a body that is not JSON, 405 for GET, 501 without a provisioning service', async () => {
    const provisioning = createProvisioningTestDouble();
    const h = await start({ services: { provisioning } });
    expect((await post(h, '/api/v1/provision', '{"deviceName":')).status).toBe(400);
    expect((await fetch(`${h.base}/api/v1/provision`)).status).toBe(405);
    expect(provisioning.calls).toEqual([]);
    const bare = await start();
    const res = await post(bare, '/api/v1/provision', REQUEST);
    expect(res.status).toBe(501);
    expect((await errorBody(res)).message).toBe('Device provisioning is not available on this server');
  });

  it('curl POST /api/v1/{token}/claim: 200 once the claiming service took it; body optional; 400 malformed, 401 unknown token, 501 without the service', async () => {
    const claiming = createClaimingTestDouble();
    const h = await start({ services: { claiming } });
    const { stderr } = await shell(h, `curl -v -X POST -H 'Content-Type: application/json' -d '{"secretKey":"s3cr3t","durationMs":60000}' http://$THINGSBOARD_HOST/api/v1/$ACCESS_TOKEN/claim`);
    expect(stderr).toMatch(/< HTTP\/1\.1 200 OK/);
    expect((await post(h, `/api/v1/${TOKEN}/claim`, '')).status).toBe(200);
    expect((await post(h, `/api/v1/${TOKEN}/claim`, '{"durationMs":"soon"}')).status).toBe(400);
    expect((await post(h, '/api/v1/nope/claim', '{}')).status).toBe(401);
    expect(claiming.calls.map((c) => [c.device.deviceId, c.request])).toEqual([
      [DEVICE.deviceId, { secretKey: 's3cr3t', durationMs: 60000 }],
      [DEVICE.deviceId, { secretKey: '', durationMs: undefined }],
    ]);
    const bare = await start({ services: {} });
    const res = await post(bare, `/api/v1/${TOKEN}/claim`, '{}');
    expect(res.status).toBe(501);
    expect((await errorBody(res)).message).toBe('Device claiming is not available on this server');
  });
});

describe('device rate limit (the transport service\'s one limiter, shared with MQTT and CoAP)', () => {
  it('curl: a device over its rate gets 429 with Retry-After and ThingsBoard\'s error JSON; nothing of it is queued; another device is not affected', async () => {
    const rateLimiter = testRateLimiter(2, 0);
    const h = await start({ services: { rateLimiter } });
    const cmd = `curl -s -i -X POST -H 'Content-Type: application/json' -d '{"t":1}' http://$THINGSBOARD_HOST/api/v1/$ACCESS_TOKEN/telemetry`;
    expect((await shell(h, cmd)).stdout).toMatch(/^HTTP\/1\.1 200/);
    expect((await shell(h, cmd)).stdout).toMatch(/^HTTP\/1\.1 200/);
    const limited = (await shell(h, cmd)).stdout;
    expect(limited).toMatch(/^HTTP\/1\.1 429/);
    expect(limited).toMatch(/retry-after: [1-9]/i);
    expect(limited).toContain('"errorCode":33');
    expect(limited).toContain('this device is over its message rate limit of 2 per second');
    expect((await post(h, `/api/v1/${OTHER_TOKEN}/telemetry`, '{"t":2}')).status).toBe(200);
    await waitForConsumed(h, 3);
    await new Promise((r) => setTimeout(r, 50));
    expect(h.consumed).toHaveLength(3);
    expect(h.transport.stats().rejected.rateLimited).toBe(1);
    expect(rateLimiter.stats().transports.http?.refused.device).toBe(1);
  });
});
