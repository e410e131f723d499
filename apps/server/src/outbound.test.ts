import { createServer as createNetServer, type AddressInfo, type Server as NetServer } from 'node:net';
import { createTestDatabase, startCountingListener, type CountingListener } from '@rivulet/testing';
import { Aedes } from 'aedes';
import { connectAsync, type MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Rivulet } from './app';
import { api, createDevice, eventually, login, startTestServer, tempDir } from './test-helpers';

/**
 * SSRF: rule nodes call out only where the deployment's outbound policy allows. The target is a
 * real listener on 127.0.0.1 that counts TCP connections; with the default policy it must see none,
 * whether a chain running in the server or a test run aims at it, directly or through another
 * spelling of loopback or a redirect. Test runs never call out at all: they record the call.
 */

const SECRET = 'loopback-secret-7f3a';
const REST = 'rivulet.external.restApiCall';
const MQTT = 'rivulet.external.mqttPublish';
const SAVE_TS = 'rivulet.action.saveTimeseries';

interface TestRunAnswer {
  ok: boolean;
  error: string | null;
  steps: Array<{ nodeIndex: number; error: string | null; outputs: Array<{ relation: string; msg: { data: unknown; metadata: Record<string, string> } }> }>;
  writes: Array<Record<string, unknown> & { kind: string }>;
}

function chainOf(nodes: Array<{ type: string; name: string; configuration: unknown }>, connections: Array<{ fromIndex: number; toIndex: number; type: string }> = []) {
  return {
    ruleChain: { name: 'outbound', type: 'CORE', root: false, debugMode: false, configuration: null },
    metadata: { firstNodeIndex: 0, nodes: nodes.map((n) => ({ ...n, debugMode: false })), connections, ruleChainConnections: null },
  };
}

/** REST API call to the URL in the message's data, its response saved as telemetry. */
const restChain = (url = '$[url]') =>
  chainOf(
    [
      { type: REST, name: 'call', configuration: { restEndpointUrlPattern: url, requestMethod: 'POST', headers: { 'Content-Type': 'application/json', Authorization: 'Bearer tenant-token-123' } } },
      { type: SAVE_TS, name: 'save', configuration: {} },
    ],
    [{ fromIndex: 0, toIndex: 1, type: 'Success' }],
  );

async function startBroker(): Promise<{ port: number; connections(): number; close(): Promise<void> }> {
  const broker = await Aedes.createBroker();
  const server: NetServer = createNetServer(broker.handle as never);
  let connections = 0;
  server.on('connection', () => connections++);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: (server.address() as AddressInfo).port,
    connections: () => connections,
    async close() {
      await new Promise<void>((r) => server.close(() => r()));
      await new Promise<void>((r) => broker.close(() => r()));
    },
  };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('SSRF: outbound calls from rule nodes', () => {
  let db: { url: string; drop(): Promise<void> };
  let db2: { url: string; drop(): Promise<void> };
  let target: CountingListener;
  let redirector: CountingListener;
  let broker: Awaited<ReturnType<typeof startBroker>>;
  let urls: string[];

  beforeAll(async () => {
    db = await createTestDatabase('outbound');
    db2 = await createTestDatabase('outbound_allowed');
    target = await startCountingListener({ host: '127.0.0.1', body: JSON.stringify({ secret: SECRET }) });
    // An allowed server that redirects to the denied target (Linux routes all of 127/8 to lo).
    redirector = await startCountingListener({
      host: '127.0.0.2',
      handler: (_req, res) => res.writeHead(302, { location: `http://127.0.0.1:${target.port}/after-redirect` }).end(),
    });
    broker = await startBroker();
    const p = target.port;
    urls = [
      `http://127.0.0.1:${p}/direct`,
      `http://0.0.0.0:${p}/unspecified`,
      `http://2130706433:${p}/decimal`,
      `http://0x7f000001:${p}/hex`,
      `http://0177.0.0.1:${p}/octal`,
      `http://127.1:${p}/short`,
      `http://[::ffff:127.0.0.1]:${p}/mapped`,
      `http://localhost:${p}/name`,
      `http://127.0.0.2:${redirector.port}/redirect`,
    ];
  });
  afterAll(async () => {
    await target?.close();
    await redirector?.close();
    await broker?.close();
    await db?.drop();
    await db2?.drop();
  });

  describe('default policy (only the redirector 127.0.0.2/32 allow-listed)', () => {
    let app: Rivulet;
    let jwt: string;
    const dir = tempDir();
    beforeAll(async () => {
      app = await startTestServer({
        DATABASE_URL: db.url,
        RIVULET_DATA_DIR: dir.dir,
        RIVULET_RULE_ENGINE_RETRIES: '0',
        RIVULET_OUTBOUND_ALLOW: '127.0.0.2/32',
      });
      jwt = await login(app.url);
    });
    afterAll(async () => {
      await app?.stop();
      dir.remove();
    });

    it('a test run records each REST call (secrets masked) and connects nowhere', async () => {
      for (const url of urls) {
        const r = await api<TestRunAnswer>(app.url, jwt, '/api/ruleChain/testRun', { method: 'POST', body: { chain: restChain(url), msg: { type: 'POST_TELEMETRY_REQUEST', data: { t: 1 } } } });
        expect(r.status, JSON.stringify(r.body)).toBe(200);
        expect(JSON.stringify(r.body)).not.toContain(SECRET);
        const http = r.body.writes.filter((w) => w.kind === 'http');
        expect(http, url).toEqual([
          expect.objectContaining({ method: 'POST', url, body: '{"t":1}', headers: expect.objectContaining({ Authorization: '***' }) }),
        ]);
        // The record says what the policy would decide where that needs no DNS.
        const policy = url.includes('localhost') ? 'decided after DNS, at call time' : url.includes('127.0.0.2') ? 'allowed' : expect.stringMatching(/^denied: .* denied by default$/);
        expect(http[0]!.policy, url).toEqual(policy);
        // The node went on with the simulated answer, marked as such.
        expect(r.body.steps[0]!.outputs[0]).toMatchObject({ relation: 'Success', msg: { metadata: { simulated: 'test-run' } } });
      }
      expect(target.connections()).toBe(0);
      expect(redirector.connections()).toBe(0);
    });

    it('a chain running in the server reaches neither the target nor, through the redirect, past the redirector', async () => {
      const imported = await api<{ id: { id: string } }>(app.url, jwt, '/api/ruleChain/import', { method: 'POST', body: restChain() });
      expect(imported.status, JSON.stringify(imported.body)).toBe(200);
      const chainId = imported.body.id.id;
      expect((await api(app.url, jwt, `/api/ruleChain/${chainId}/root`, { method: 'POST' })).status).toBe(200);
      const dev = await createDevice(app.url, jwt, 'ssrf-probe');
      for (const url of urls) {
        const res = await fetch(`${app.url}/api/v1/${dev.token}/telemetry`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ url }) });
        expect(res.status).toBe(200);
      }
      // Failures are always traced: one per message, each naming the policy.
      const failed = await eventually(async () => {
        const page = await app.storage.debugEvents.list(app.tenantId, chainId, 0, { pageSize: 100, page: 0 });
        // (The device's activity events, without a URL, fail too: "Invalid URL".)
        const errors = page.data.filter((e) => e.direction === 'OUT' && e.data !== null && typeof e.data === 'object' && 'url' in e.data);
        return errors.length >= urls.length ? errors : undefined;
      });
      expect(failed).toHaveLength(urls.length);
      for (const e of failed) expect(e.error).toMatch(/^outbound call to .* denied by RIVULET_OUTBOUND_\* policy/);
      expect(failed.map((e) => e.error).join('\n')).toContain('outbound call to 127.0.0.1');
      expect(target.connections()).toBe(0);
      // The allowed first hop was made; its redirect to loopback was refused before connecting.
      expect(redirector.requests.map((r) => r.url)).toEqual(['/redirect']);
      // Nothing came back to save.
      expect(await app.storage.timeseries.findLatest(dev.id)).toEqual([]);
    });

    it('an MQTT publish node aimed at a broker on loopback is denied and never connects', async () => {
      const chain = chainOf([{ type: MQTT, name: 'bridge', configuration: { host: '127.0.0.1', port: broker.port, topicPattern: 'out/${deviceName}', connectTimeoutSec: 2 } }]);
      const r = await api<TestRunAnswer>(app.url, jwt, '/api/ruleChain/testRun', { method: 'POST', body: { chain, msg: { type: 'POST_TELEMETRY_REQUEST', data: { t: 2 }, metadata: { deviceName: 'd1' } } } });
      expect(r.status).toBe(200);
      expect(r.body.writes).toEqual([expect.objectContaining({ kind: 'mqtt', host: '127.0.0.1', port: broker.port, topic: 'out/d1', payload: '{"t":2}' })]);

      const imported = await api<{ id: { id: string } }>(app.url, jwt, '/api/ruleChain/import', { method: 'POST', body: chain });
      const chainId = imported.body.id.id;
      expect((await api(app.url, jwt, `/api/ruleChain/${chainId}/root`, { method: 'POST' })).status).toBe(200);
      const dev = await createDevice(app.url, jwt, 'mqtt-probe');
      expect((await fetch(`${app.url}/api/v1/${dev.token}/telemetry`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"t":3}' })).status).toBe(200);
      const failed = await eventually(async () => {
        const page = await app.storage.debugEvents.list(app.tenantId, chainId, 0, { pageSize: 10, page: 0 });
        return page.data.find((e) => e.direction === 'OUT' && e.error);
      });
      expect(failed.error).toMatch(/outbound call to 127\.0\.0\.1 denied by RIVULET_OUTBOUND_\* policy/);
      expect(broker.connections()).toBe(0);
    });
  });

  describe('with the target allow-listed', () => {
    let app: Rivulet;
    let jwt: string;
    const dir = tempDir();
    beforeAll(async () => {
      app = await startTestServer({
        DATABASE_URL: db2.url,
        RIVULET_DATA_DIR: dir.dir,
        RIVULET_RULE_ENGINE_RETRIES: '0',
        RIVULET_OUTBOUND_ALLOW: '127.0.0.1/32',
      });
      jwt = await login(app.url);
    });
    afterAll(async () => {
      await app?.stop();
      dir.remove();
    });

    it('the REST call in a running chain works and its answer flows on; a test run still does not call', async () => {
      const before = target.connections();
      const tr = await api<TestRunAnswer>(app.url, jwt, '/api/ruleChain/testRun', { method: 'POST', body: { chain: restChain(`http://127.0.0.1:${target.port}/x`), msg: { type: 'POST_TELEMETRY_REQUEST', data: {} } } });
      expect(tr.body.writes.filter((w) => w.kind === 'http')).toHaveLength(1);
      expect(target.connections()).toBe(before);

      const imported = await api<{ id: { id: string } }>(app.url, jwt, '/api/ruleChain/import', { method: 'POST', body: restChain() });
      expect((await api(app.url, jwt, `/api/ruleChain/${imported.body.id.id}/root`, { method: 'POST' })).status).toBe(200);
      const dev = await createDevice(app.url, jwt, 'allowed-probe');
      await fetch(`${app.url}/api/v1/${dev.token}/telemetry`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ url: `http://127.0.0.1:${target.port}/allowed` }) });
      const saved = await eventually(async () => (await app.storage.timeseries.findLatest(dev.id, ['secret']))[0]);
      expect(saved.value).toBe(SECRET);
      expect(target.requests.at(-1)).toMatchObject({ method: 'POST', url: '/allowed' });
      expect(target.connections()).toBe(before + 1);
    });

    it('a test run of an MQTT publish node publishes nothing (a real subscriber sees nothing); the running chain does publish', async () => {
      const sub: MqttClient = await connectAsync({ host: '127.0.0.1', port: broker.port, clientId: 'watcher' });
      const seen: string[] = [];
      sub.on('message', (topic, payload) => seen.push(`${topic} ${payload.toString()}`));
      await sub.subscribeAsync('#', { qos: 1 });
      try {
        const chain = chainOf([{ type: MQTT, name: 'bridge', configuration: { host: '127.0.0.1', port: broker.port, topicPattern: 'out/${deviceName}' } }]);
        const r = await api<TestRunAnswer>(app.url, jwt, '/api/ruleChain/testRun', { method: 'POST', body: { chain, msg: { type: 'POST_TELEMETRY_REQUEST', data: { t: 4 }, metadata: { deviceName: 'dry' } } } });
        expect(r.body.ok).toBe(true);
        expect(r.body.writes).toEqual([expect.objectContaining({ kind: 'mqtt', topic: 'out/dry', payload: '{"t":4}' })]);
        await sleep(300);
        expect(seen).toEqual([]);

        const imported = await api<{ id: { id: string } }>(app.url, jwt, '/api/ruleChain/import', { method: 'POST', body: chain });
        expect((await api(app.url, jwt, `/api/ruleChain/${imported.body.id.id}/root`, { method: 'POST' })).status).toBe(200);
        const dev = await createDevice(app.url, jwt, 'wet');
        await fetch(`${app.url}/api/v1/${dev.token}/telemetry`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"t":5}' });
        // (The device's activity events go out too.)
        await eventually(async () => seen.includes('out/wet {"t":5}'));
      } finally {
        await sub.endAsync();
      }
    });
  });
});
