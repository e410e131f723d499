import { connect, type Socket } from 'node:net';
import { connectAsync } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Rivulet } from './app';
import { createDevice, login, startTestServer, tempDir, waitFor } from './test-helpers';

const MAX_CONNECTIONS = 20;

/** A raw TCP client of the HTTP port: records what it receives and whether the server closed it. */
function rawSocket(port: number): { s: Socket; state: { closed: boolean; data: string; connected: boolean } } {
  const s = connect(port, '127.0.0.1');
  const state = { closed: false, data: '', connected: false };
  s.on('connect', () => (state.connected = true));
  s.on('data', (d: Buffer) => (state.data += d.toString('latin1')));
  s.on('close', () => (state.closed = true));
  s.on('error', () => {});
  return { s, state };
}

describe('HTTP connection limits and timeouts (small values in this config)', () => {
  const dir = tempDir();
  let app: Rivulet;
  let base: string;
  let jwt: string;
  let device: { id: string; token: string };

  beforeAll(async () => {
    app = await startTestServer({
      RIVULET_DATA_DIR: dir.dir,
      RIVULET_HTTP_MAX_CONNECTIONS: String(MAX_CONNECTIONS),
      RIVULET_HTTP_HEADERS_TIMEOUT_MS: '1500',
      RIVULET_HTTP_REQUEST_TIMEOUT_MS: '3000',
      RIVULET_HTTP_MAX_REQUESTS_PER_SOCKET: '2',
      RIVULET_HTTP_LONG_POLLS_PER_DEVICE: '2',
    });
    base = app.url;
    jwt = await login(base);
    device = await createDevice(base, jwt, 'limits-device');
  }, 120_000);
  afterAll(async () => {
    await app.stop();
    dir.remove();
  });

  it('header-less sockets past the cap hold no more than the cap; the REST API and MQTT still answer', async () => {
    const flood = Array.from({ length: MAX_CONNECTIONS * 3 }, () => rawSocket(app.port));
    await waitFor(() => flood.every((f) => f.state.connected || f.state.closed), 10_000, () => 'flood connected');
    // all but the newest MAX_CONNECTIONS were closed by the server (well before the headers timeout)
    await waitFor(() => flood.filter((f) => f.state.closed).length >= MAX_CONNECTIONS * 2, 1_000, () => `closed ${flood.filter((f) => f.state.closed).length}`);
    // a well-behaved REST client connects while the flood holds every slot: it gets its answer
    const r = await fetch(`${base}/api/auth/user`, { headers: { 'x-authorization': `Bearer ${jwt}` } });
    expect(r.status).toBe(200);
    // and the device API over MQTT is unaffected
    const mqtt = await connectAsync(`mqtt://127.0.0.1:${app.mqttPort}`, { username: device.token, reconnectPeriod: 0 });
    await mqtt.publishAsync('v1/devices/me/telemetry', '{"flood":1}', { qos: 1 });
    await mqtt.endAsync();
    const stats = app.httpConnectionStats();
    expect(stats.evictedIdle).toBeGreaterThanOrEqual(MAX_CONNECTIONS * 2);
    expect(stats.open).toBeLessThanOrEqual(MAX_CONNECTIONS);
    for (const f of flood) f.s.destroy();
  });

  it('a request in progress is never evicted: past the cap with every slot busy, the new connection is closed at once', async () => {
    // MAX_CONNECTIONS requests in progress (headers sent, body still coming) hold every slot
    const busy = Array.from({ length: MAX_CONNECTIONS }, () => rawSocket(app.port));
    await waitFor(() => busy.every((b) => b.state.connected), 10_000, () => 'busy connected');
    for (const b of busy) b.s.write(`POST /api/v1/${device.token}/telemetry HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{`);
    // the server has read every request's headers (a request is in progress on each)
    await new Promise((r) => setTimeout(r, 300));
    const before = app.httpConnectionStats().refused;
    const late = rawSocket(app.port);
    await waitFor(() => late.state.closed, 2_000, () => 'late socket closed');
    expect(late.state.data).toBe('');
    expect(app.httpConnectionStats().refused).toBe(before + 1);
    // the busy ones are still open (the request timeout ends them later)
    expect(busy.filter((b) => b.state.closed)).toHaveLength(0);
    for (const b of busy) b.s.destroy();
    await waitFor(() => app.httpConnectionStats().open === 0, 5_000, () => JSON.stringify(app.httpConnectionStats()));
  });

  it('a header-less connection is answered 408 and closed at the headers timeout', async () => {
    const { state } = rawSocket(app.port);
    await waitFor(() => state.closed, 10_000, () => 'closed');
    expect(state.data).toMatch(/^HTTP\/1\.1 408 /);
  });

  it('a trickled body is cut at the request timeout (408), not after 300 s', async () => {
    const { s, state } = rawSocket(app.port);
    await waitFor(() => state.connected, 5_000, () => 'connected');
    s.write(`POST /api/v1/${device.token}/telemetry HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{`);
    const trickle = setInterval(() => s.writable && s.write(' '), 200);
    try {
      await waitFor(() => state.closed, 15_000, () => `data: ${state.data}`);
    } finally {
      clearInterval(trickle);
    }
    expect(state.data).toMatch(/^HTTP\/1\.1 408 /);
  });

  it('keep-alive: the answer to the RIVULET_HTTP_MAX_REQUESTS_PER_SOCKET-th request of a connection says Connection: close', async () => {
    const { s, state } = rawSocket(app.port);
    await waitFor(() => state.connected, 5_000, () => 'connected');
    const get = 'GET /api/health HTTP/1.1\r\nHost: x\r\n\r\n';
    s.write(get);
    await waitFor(() => (state.data.match(/HTTP\/1\.1 200/g) ?? []).length === 1, 5_000, () => state.data);
    expect(state.data.toLowerCase()).toContain('connection: keep-alive');
    s.write(get);
    await waitFor(() => (state.data.match(/HTTP\/1\.1 200/g) ?? []).length === 2, 5_000, () => state.data);
    const second = state.data.slice(state.data.lastIndexOf('HTTP/1.1 200')).toLowerCase();
    expect(second).toContain('connection: close');
    s.destroy();
  });

  it('long polls per device: a third RPC long poll replaces the oldest, which is answered 408 at once', async () => {
    const url = `${base}/api/v1/${device.token}/rpc?timeout=60000`;
    const controllers = [new AbortController(), new AbortController(), new AbortController()];
    const first = fetch(url, { signal: controllers[0]!.signal });
    await waitFor(() => app.httpConnectionStats().open >= 1, 5_000, () => 'first poll');
    await new Promise((r) => setTimeout(r, 200));
    const second = fetch(url, { signal: controllers[1]!.signal }).catch(() => undefined);
    await new Promise((r) => setTimeout(r, 200));
    const third = fetch(url, { signal: controllers[2]!.signal }).catch(() => undefined);
    const r = await first;
    expect(r.status).toBe(408);
    expect(((await r.json()) as { message: string }).message).toContain('a newer long poll of this device replaced this one');
    for (const c of controllers) c.abort();
    await Promise.all([second, third]);
  });

  it('long polls of many devices of one tenant holding every slot do not lock out others: the oldest is answered 408 and closed', async () => {
    const devices = await Promise.all(Array.from({ length: MAX_CONNECTIONS }, (_, i) => createDevice(base, jwt, `poller-${i}`)));
    const before = app.httpConnectionStats();
    // one RPC long poll per device (the idle keep-alive connections of the creates above are evicted first), sent one after another so the first is the oldest
    const polls: ReturnType<typeof rawSocket>[] = [];
    for (const d of devices) {
      const p = rawSocket(app.port);
      await waitFor(() => p.state.connected, 5_000, () => 'poll connected');
      p.s.write(`GET /api/v1/${d.token}/rpc?timeout=60000 HTTP/1.1\r\nHost: x\r\n\r\n`);
      polls.push(p);
      await new Promise((r) => setTimeout(r, 20));
    }
    await new Promise((r) => setTimeout(r, 300)); // every poll authenticated and waiting
    expect(polls.filter((p) => p.state.closed)).toHaveLength(0);
    // a REST client (another user of the same server) connects: it is served
    const r = await fetch(`${base}/api/auth/user`, { headers: { 'x-authorization': `Bearer ${jwt}` } });
    expect(r.status).toBe(200);
    // the oldest poll was answered 408 with the reason, then closed; the others still wait
    await waitFor(() => polls[0]!.state.closed, 2_000, () => 'oldest poll closed');
    expect(polls[0]!.state.data).toMatch(/^HTTP\/1\.1 408/);
    expect(polls[0]!.state.data).toContain('needed this connection for a new client');
    expect(polls.slice(1).filter((p) => p.state.closed)).toHaveLength(0);
    expect(app.httpConnectionStats().endedLongPolls).toBe(before.endedLongPolls + 1);
    expect(app.httpConnectionStats().refused).toBe(before.refused);
    for (const p of polls) p.s.destroy();
  });
});

/**
 * The reported incident, in a real server process given few file descriptors (prlimit): header-less
 * connections used to take every descriptor, and the API and MQTT stopped answering while they were
 * held. With the connection cap below the descriptor limit, both keep answering.
 */
describe('header-less connections cannot exhaust the process\'s file descriptors', () => {
  const dir = tempDir();
  afterAll(() => dir.remove());

  it('600 header-less sockets against a server with 400 descriptors: the REST API and MQTT still answer', async () => {
    const { freePort } = await import('@rivulet/testing');
    const { ADMIN, startServerProcess } = await import('./test-helpers');
    const [port, mqttPort] = [await freePort(), await freePort()];
    const p = startServerProcess(
      {
        RIVULET_HTTP_PORT: String(port),
        RIVULET_HTTP_HOST: '127.0.0.1',
        RIVULET_MQTT_PORT: String(mqttPort),
        RIVULET_MQTT_HOST: '127.0.0.1',
        RIVULET_COAP_PORT: '0',
        RIVULET_DATA_DIR: dir.dir,
        RIVULET_ADMIN_PASSWORD: ADMIN.password,
        RIVULET_LOG_LEVEL: 'warn',
        RIVULET_HTTP_MAX_CONNECTIONS: '100',
      },
      { wrapper: ['prlimit', '--nofile=400:400', '--'] },
    );
    const flood: Array<ReturnType<typeof rawSocket>> = [];
    try {
      await waitFor(() => p.output().includes('listening on'), 90_000, p.output);
      const base = `http://127.0.0.1:${port}`;
      const jwt = await login(base);
      const dev = await createDevice(base, jwt, 'fd-device');
      for (let i = 0; i < 600; i++) flood.push(rawSocket(port));
      await waitFor(() => flood.every((f) => f.state.connected || f.state.closed), 20_000, () => 'flood connected');
      const r = await fetch(`${base}/api/auth/user`, { headers: { 'x-authorization': `Bearer ${jwt}` }, signal: AbortSignal.timeout(5_000) });
      expect(r.status).toBe(200);
      const mqtt = await connectAsync(`mqtt://127.0.0.1:${mqttPort}`, { username: dev.token, reconnectPeriod: 0, connectTimeout: 5_000 });
      await mqtt.publishAsync('v1/devices/me/telemetry', '{"fd":1}', { qos: 1 });
      await mqtt.endAsync();
    } finally {
      for (const f of flood) f.s.destroy();
      p.child.kill('SIGKILL');
    }
  }, 180_000);
});
