import { randomBytes } from 'node:crypto';
import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { Rivulet } from './app';
import { api, createDevice, eventually, login, startTestServer, SYSADMIN, tempDir } from './test-helpers';

/**
 * Dead letters end to end, on the memory queue and on Kafka: a root chain calls a REST endpoint that hangs; the
 * pack timeout gives the message up to the dead-letter topic; the system administrator lists it and,
 * once the endpoint answers, replays it through the chain.
 */
describe.each(['memory', 'kafka'] as const)('dead letters over REST (%s queue)', (queueKind) => {
  let app: Rivulet;
  let endpoint: Server;
  let answering = false;
  const bodies: string[] = [];
  const hung: ServerResponse[] = [];
  let jwt: string;
  let sysJwt: string;
  const dir = tempDir();
  beforeAll(async () => {
    endpoint = createServer((req, res) => {
      let body = '';
      req.on('data', (c) => (body += c));
      req.on('end', () => {
        bodies.push(body);
        if (answering) res.writeHead(200, { 'content-type': 'application/json' }).end(body);
        else hung.push(res);
      });
    });
    await new Promise<void>((r) => endpoint.listen(0, '127.0.0.1', r));
    const port = (endpoint.address() as AddressInfo).port;
    // On Kafka: the run's broker, topics and groups of this test's own (a prefix).
    const kafka: Record<string, string> = queueKind === 'kafka' ? { RIVULET_QUEUE: 'kafka', KAFKA_BROKERS: inject('kafkaBrokers'), RIVULET_QUEUE_PREFIX: `dl${randomBytes(4).toString('hex')}.` } : {};
    app = await startTestServer({ RIVULET_DATA_DIR: dir.dir, RIVULET_OUTBOUND_ALLOW: '127.0.0.1/32', RIVULET_RULE_ENGINE_PACK_TIMEOUT_MS: '500', ...kafka });
    jwt = await login(app.url);
    sysJwt = await login(app.url, SYSADMIN);
    const chain = {
      ruleChain: { name: 'Call out', type: 'CORE', root: false, debugMode: false, configuration: null },
      metadata: {
        firstNodeIndex: 0,
        nodes: [
          { type: 'org.thingsboard.rule.engine.filter.TbMsgTypeSwitchNode', name: 'switch', debugMode: false, configuration: { version: 0 } },
          { type: 'rivulet.external.restApiCall', name: 'call', debugMode: false, configuration: { restEndpointUrlPattern: `http://127.0.0.1:${port}/ingest`, readTimeoutMs: 60_000 } },
        ],
        connections: [{ fromIndex: 0, toIndex: 1, type: 'Post telemetry' }],
        ruleChainConnections: null,
      },
    };
    const imported = await api<{ id: { id: string } }>(app.url, jwt, '/api/ruleChain/import', { method: 'POST', body: chain });
    expect(imported.status, JSON.stringify(imported.body)).toBe(200);
    expect((await api(app.url, jwt, `/api/ruleChain/${imported.body.id.id}/root`, { method: 'POST' })).status).toBe(200);
  });
  afterAll(async () => {
    for (const r of hung) r.destroy();
    await app?.stop();
    endpoint.closeAllConnections();
    await new Promise<void>((r) => endpoint.close(() => r()));
    dir.remove();
  });

  interface Listed {
    data: Array<{ id: string; reason: string; error: string | null; tenantId: string | null; attempts: number | null; msg: { type: string; originator: { id: string }; data: unknown } | null }>;
    count: number;
  }

  it('a timed-out message is listed to the system administrator and replayed once the endpoint answers', async () => {
    const device = await createDevice(app.url, jwt, 'slow-sensor');
    const r = await fetch(`${app.url}/api/v1/${device.token}/telemetry`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ level: 7 }) });
    expect(r.status).toBe(200);
    const listed = await eventually(async () => {
      const l = await api<Listed>(app.url, sysJwt, '/api/admin/deadLetters');
      return l.body.data.find((d) => d.msg?.originator.id === device.id && d.msg.type === 'POST_TELEMETRY_REQUEST') ? l : undefined;
    }, 15_000);
    expect(listed.status).toBe(200);
    const entry = listed.body.data.find((d) => d.msg?.originator.id === device.id)!;
    expect(entry).toMatchObject({ reason: 'timed-out', error: 'Not processed within the pack timeout (500 ms)', tenantId: app.tenantId, attempts: 1, msg: { data: { level: 7 } } });
    expect(bodies).toEqual(['{"level":7}']);
    // Tenant filter, and only the system administrator.
    expect((await api<Listed>(app.url, sysJwt, `/api/admin/deadLetters?tenantId=${app.tenantId}`)).body.count).toBe(listed.body.count);
    expect((await api<Listed>(app.url, sysJwt, '/api/admin/deadLetters?tenantId=someone-else')).body.count).toBe(0);
    expect((await api(app.url, jwt, '/api/admin/deadLetters')).status).toBe(403);
    expect((await api(app.url, jwt, '/api/admin/deadLetters/replay', { method: 'POST', body: {} })).status).toBe(403);
    expect((await api(app.url, sysJwt, '/api/admin/deadLetters?limit=0')).status).toBe(400);
    expect((await api(app.url, sysJwt, '/api/admin/deadLetters/replay', { method: 'POST', body: { ids: 'all' } })).status).toBe(400);

    answering = true;
    const replay = await api<{ replayed: number; notFound: string[] }>(app.url, sysJwt, '/api/admin/deadLetters/replay', { method: 'POST', body: { ids: [entry.id, '9:999'] } });
    expect(replay).toMatchObject({ status: 200, body: { replayed: 1, notFound: ['9:999'] } });
    await eventually(async () => bodies.length === 2, 10_000);
    expect(bodies[1]).toBe('{"level":7}');
    const after = await api<Listed>(app.url, sysJwt, '/api/admin/deadLetters');
    expect(after.body.data.some((d) => d.id === entry.id)).toBe(false);
    expect(app.ruleEngine!.stats()).toMatchObject({ timedOut: 1, deadLettered: 1 });
  });
});
