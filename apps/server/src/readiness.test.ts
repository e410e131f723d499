import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createTestDatabase } from '@rivulet/testing';
import { createPostgresStorage } from '@rivulet/storage-postgres';
import type { Storage } from '@rivulet/storage';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Rivulet } from './app';
import { createReadiness } from './readiness';
import { startTestServer, tempDir } from './test-helpers';

/** Storage whose database check fails while `down` is set (every other call goes to the real one). */
function flakyStorage(real: Storage, state: { down: boolean }): Storage {
  const tenantProfiles = new Proxy(real.tenantProfiles, {
    get(target, prop, receiver) {
      if (prop === 'getDefault' && state.down) return () => Promise.reject(new Error('connection refused'));
      return Reflect.get(target, prop, receiver) as unknown;
    },
  });
  return new Proxy(real, { get: (target, prop, receiver) => (prop === 'tenantProfiles' ? tenantProfiles : (Reflect.get(target, prop, receiver) as unknown)) });
}

describe('/api/health and /api/ready on the API role (all roles in one process)', () => {
  const dir = tempDir();
  const state = { down: false };
  let app: Rivulet;
  let db: Awaited<ReturnType<typeof createTestDatabase>>;
  beforeAll(async () => {
    db = await createTestDatabase('ready');
    const real = await createPostgresStorage({ url: db.url });
    app = await startTestServer({ RIVULET_DATA_DIR: dir.dir }, { storage: flakyStorage(real, state) });
  });
  afterAll(async () => {
    await app?.stop();
    await db?.drop();
    dir.remove();
  });

  it('ready: database answers, queue connected, every role started', async () => {
    const r = await fetch(`${app.url}/api/ready`);
    expect(r.status).toBe(200);
    expect(await r.json()).toEqual({ status: 'READY', roles: ['transport', 'rule-engine', 'api'], checks: { database: 'UP', queue: 'UP', roles: 'STARTED' } });
    expect((await fetch(`${app.url}/api/health`)).status).toBe(200);
  });

  it('a database that does not answer makes it not ready (503), while it stays alive', async () => {
    state.down = true;
    try {
      const r = await fetch(`${app.url}/api/ready`);
      expect(r.status).toBe(503);
      expect(await r.json()).toMatchObject({ status: 'NOT_READY', checks: { database: 'DOWN', queue: 'UP', roles: 'STARTED' } });
      expect((await fetch(`${app.url}/api/health`)).status).toBe(200);
    } finally {
      state.down = false;
    }
    expect((await fetch(`${app.url}/api/ready`)).status).toBe(200);
  });

  it('is in the OpenAPI document beside /api/health', async () => {
    const doc = (await (await fetch(`${app.url}/api/openapi.json`)).json()) as { paths: Record<string, unknown> };
    expect(Object.keys(doc.paths)).toEqual(expect.arrayContaining(['/api/health', '/api/ready']));
  });
});

describe('readiness of a process without the API role (its own small listener)', () => {
  let server: Server;
  let base: string;
  let dbUp = true;
  let queueUp = true;
  const readiness = createReadiness({
    roles: ['rule-engine'],
    database: () => (dbUp ? Promise.resolve() : new Promise(() => {})),
    queue: () => (queueUp ? Promise.resolve() : Promise.reject(new Error('broker gone'))),
  });
  beforeAll(async () => {
    server = createServer((req, res) => {
      if (!readiness.handle(req, res)) res.writeHead(404).end();
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));

  it('answers starting, started, a lost queue, a hanging database and stopping', async () => {
    const ready = async () => {
      const r = await fetch(`${base}/api/ready`);
      return { status: r.status, body: (await r.json()) as { status: string; checks: Record<string, string> } };
    };
    expect((await fetch(`${base}/api/health`)).status).toBe(503);
    expect(await ready()).toMatchObject({ status: 503, body: { checks: { roles: 'STARTING' } } });
    readiness.markStarted();
    expect((await fetch(`${base}/api/health`)).status).toBe(200);
    expect(await ready()).toMatchObject({ status: 200, body: { status: 'READY', roles: ['rule-engine'] } });
    queueUp = false;
    expect(await ready()).toMatchObject({ status: 503, body: { checks: { queue: 'DOWN', database: 'UP' } } });
    queueUp = true;
    dbUp = false;
    const t0 = Date.now();
    expect(await ready()).toMatchObject({ status: 503, body: { checks: { database: 'DOWN' } } });
    expect(Date.now() - t0).toBeLessThan(3_000);
    dbUp = true;
    readiness.markStopping();
    expect((await fetch(`${base}/api/health`)).status).toBe(503);
    expect(await ready()).toMatchObject({ status: 503, body: { checks: { roles: 'STOPPING' } } });
    expect((await fetch(`${base}/api/other`)).status).toBe(404);
  });
});
