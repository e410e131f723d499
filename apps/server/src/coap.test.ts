import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { createSocket, type Socket } from 'node:dgram';
import { promisify } from 'node:util';
import { createTestDatabase } from '@rivulet/testing';
import { MessageType, decodeMessage, encodeMessage, type DecodedMessage } from '@rivulet/transport-coap';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Rivulet } from './app';
import { api, createDevice, eventually, login, startTestServer, tempDir } from './test-helpers';

const execFileP = promisify(execFile);

/**
 * The CoAP transport through the whole server (issue #4): REST, the rule engine, device state and
 * a real PostgreSQL server around it; devices are libcoap's coap-client (coap-client-notls here)
 * and hand-built datagrams on a UDP socket.
 */
describe('CoAP through the whole server', () => {
  let app: Rivulet;
  let db: { url: string; drop(): Promise<void> };
  let jwt: string;
  let base: string;
  const dir = tempDir();
  const children: ChildProcess[] = [];
  const sockets: Socket[] = [];

  beforeAll(async () => {
    db = await createTestDatabase('coap');
    app = await startTestServer({ DATABASE_URL: db.url, RIVULET_DATA_DIR: dir.dir, RIVULET_RPC_PICKUP_TIMEOUT_MS: '300' });
    jwt = await login(app.url);
    base = `coap://127.0.0.1:${app.coapPort}`;
  });
  afterAll(async () => {
    for (const c of children) if (c.exitCode === null && c.pid !== undefined) process.kill(-c.pid, 'SIGTERM');
    for (const s of sockets) s.close();
    await app?.stop();
    await db?.drop();
    dir.remove();
  });

  /** libcoap's client, at most 5 s per exchange; it exits 0 even on failure, so its output is returned. */
  async function coapClient(...args: string[]): Promise<{ stdout: string; stderr: string }> {
    return execFileP('coap-client-notls', ['-B', '5', ...args], { timeout: 15_000 });
  }

  /** libcoap observing a resource (-s): everything it printed so far. */
  function observe(url: string): () => string {
    const child = spawn('coap-client-notls', ['-m', 'get', '-s', '60', '-B', '60', url], { detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    children.push(child);
    let out = '';
    child.stdout?.on('data', (d: Buffer) => (out += d.toString('utf8')));
    child.stderr?.on('data', (d: Buffer) => (out += d.toString('utf8')));
    return () => out;
  }

  async function udp(): Promise<{ send(b: Buffer): void; answer(mid: number): Promise<DecodedMessage>; answers(mid: number, n: number): Promise<DecodedMessage[]> }> {
    const s = createSocket('udp4');
    sockets.push(s);
    const got: DecodedMessage[] = [];
    s.on('message', (m) => {
      const d = decodeMessage(m);
      if (d) got.push(d);
    });
    await new Promise<void>((r) => s.bind(0, '127.0.0.1', () => r()));
    return {
      send: (b) => s.send(b, app.coapPort as number, '127.0.0.1'),
      answer: (mid) => eventually(async () => got.find((m) => m.messageId === mid), 5_000),
      answers: (mid, n) =>
        eventually(async () => {
          const all = got.filter((m) => m.messageId === mid);
          return all.length >= n ? all : undefined;
        }, 5_000),
    };
  }

  function post(token: string, resource: string, payload: string, messageId: number): Buffer {
    return encodeMessage({
      type: MessageType.CON,
      code: '0.02',
      messageId,
      token: Buffer.from([messageId & 0xff, 0x42]),
      options: ['api', 'v1', token, resource].map((seg) => [11, Buffer.from(seg)] as const),
      payload: Buffer.from(payload),
    });
  }

  const latest = async (id: string, keys: string) =>
    (await api<Record<string, Array<{ value: string }>>>(app.url, jwt, `/api/plugins/telemetry/DEVICE/${id}/values/timeseries?keys=${keys}`)).body;

  it("ThingsBoard's documented command stores the point, shell-stripped quotes and all", async () => {
    const d = await createDevice(app.url, jwt, 'coap-telemetry');
    const out = await execFileP('sh', ['-c', `coap-client-notls -B 5 -m post ${base}/api/v1/${d.token}/telemetry -t json -e "{"temperature":25}"`]);
    expect(out.stdout + out.stderr).toBe('');
    await eventually(async () => (await latest(d.id, 'temperature')).temperature?.[0]?.value === '25');
    const bad = await coapClient('-m', 'post', `${base}/api/v1/not-a-token/telemetry`, '-e', '{"a":1}');
    expect(bad.stderr).toMatch(/^4\.01 /);
  });

  it('an observer of /attributes receives a shared attribute changed over REST', async () => {
    const d = await createDevice(app.url, jwt, 'coap-observer');
    const set = (body: unknown) => api(app.url, jwt, `/api/plugins/telemetry/DEVICE/${d.id}/attributes/SHARED_SCOPE`, { method: 'POST', body });
    expect((await set({ interval: 60 })).status).toBe(200);
    const output = observe(`${base}/api/v1/${d.token}/attributes`);
    // the registration answer: the current shared attributes
    await eventually(async () => output().includes('{"interval":60}'));
    expect((await set({ targetTemperature: 21.5 })).status).toBe(200);
    await eventually(async () => output().includes('{"targetTemperature":21.5}'));
    // the observation is a session: the device is connected and active
    await eventually(async () => {
      const r = await api<Array<{ key: string; value: unknown }>>(app.url, jwt, `/api/plugins/telemetry/DEVICE/${d.id}/values/attributes?keys=active,lastConnectTime`);
      return r.body.some((a) => a.key === 'active' && a.value === true) && r.body.some((a) => a.key === 'lastConnectTime');
    });
  });

  it('an RPC sent over REST reaches the device observing /rpc, and its reply returns to the REST caller', async () => {
    const d = await createDevice(app.url, jwt, 'coap-rpc');
    const none = await api(app.url, jwt, `/api/rpc/twoway/${d.id}`, { method: 'POST', body: { method: 'getState', params: {} } });
    expect(none.status).toBe(504);
    const output = observe(`${base}/api/v1/${d.token}/rpc`);
    await eventually(async () => {
      // registered once the pickup works: a one-way call is answered 200 only then
      const r = await api(app.url, jwt, `/api/rpc/oneway/${d.id}`, { method: 'POST', body: { method: 'ping', params: {} } });
      return r.status === 200;
    });
    const call = api(app.url, jwt, `/api/rpc/twoway/${d.id}`, { method: 'POST', body: { method: 'setGpio', params: { pin: 23, value: 1 }, timeout: 10_000 } });
    // libcoap prints each notification's payload, one after the other
    const command = await eventually(async () => {
      const m = /\{"id":\d+,"method":"setGpio"[^}]*\}\}/.exec(output());
      return m ? (JSON.parse(m[0]) as { id: number; method: string; params: unknown }) : undefined;
    });
    expect(command).toMatchObject({ method: 'setGpio', params: { pin: 23, value: 1 } });
    const reply = await coapClient('-m', 'post', `${base}/api/v1/${d.token}/rpc/${command.id}`, '-e', '{"pin":23,"value":1,"ok":true}');
    expect(reply.stderr).toBe('');
    expect(await call).toEqual({ status: 200, body: { pin: 23, value: 1, ok: true } });
  });

  it('the same confirmable request sent twice (same message id) stores one point', async () => {
    const d = await createDevice(app.url, jwt, 'coap-dedup');
    const c = await udp();
    // no ts in the payload: a second processing would stamp a second point
    const datagram = post(d.token, 'telemetry', '{"t":1}', 0x7001);
    c.send(datagram);
    const first = await c.answer(0x7001);
    await eventually(async () => (await app.storage.timeseries.count(d.id)) === 1);
    await new Promise((r) => setTimeout(r, 5));
    c.send(datagram);
    const [, again] = await c.answers(0x7001, 2);
    expect(again).toEqual(first);
    // a later request of the same device is stored after anything queued before it
    c.send(post(d.token, 'telemetry', '{"marker":1}', 0x7002));
    expect((await c.answer(0x7002)).codeText).toBe('2.01');
    await eventually(async () => (await latest(d.id, 'marker')).marker !== undefined);
    expect(first).toMatchObject({ type: MessageType.ACK, codeText: '2.01' });
    expect(await app.storage.timeseries.count(d.id)).toBe(2);
  });

  it('malformed datagrams on the port leave the server serving others', async () => {
    const d = await createDevice(app.url, jwt, 'coap-junk');
    const c = await udp();
    for (const junk of [Buffer.alloc(0), Buffer.from([0x40]), Buffer.from([0x40, 0x02, 0x00, 0x03, 0xf1, 0x61]), Buffer.from('GET / HTTP/1.1\r\n\r\n'), Buffer.alloc(1200, 0xff)]) {
      c.send(junk);
    }
    c.send(post(d.token, 'telemetry', '{"alive":true}', 0x7101));
    expect((await c.answer(0x7101)).codeText).toBe('2.01');
    await eventually(async () => (await latest(d.id, 'alive')).alive?.[0]?.value === 'true');
  });
});
