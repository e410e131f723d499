import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { api, createDevice, eventually, openWebSocket, startSuiteServer } from './test-helpers';

describe('the platform on a real PostgreSQL server', () => {
  const server = startSuiteServer({ database: 'plat' });

  const post = (token: string, body: string | Buffer, path = 'telemetry') =>
    fetch(`${server.app.url}/api/v1/${token}/${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });

  it('a message whose save fails once is retried and stored exactly once', async () => {
    const dev = await createDevice(server.app.url, server.jwt, 'retry-device');
    // A real fault from the real server: a trigger that makes the first insert into ts_kv fail.
    // A sequence, unlike a table, is not rolled back with the failed statement, so it fails once.
    const c = new pg.Client({ connectionString: server.db.url });
    await c.connect();
    await c.query(`CREATE SEQUENCE fault_once;
      CREATE FUNCTION fail_first_insert() RETURNS trigger AS $$
      BEGIN IF nextval('fault_once') = 1 THEN RAISE EXCEPTION 'injected fault: first write fails'; END IF; RETURN NEW; END $$ LANGUAGE plpgsql;
      CREATE TRIGGER fault_once BEFORE INSERT ON ts_kv FOR EACH ROW EXECUTE FUNCTION fail_first_insert();`);
    try {
      const retriedBefore = server.app.ruleEngine!.stats().retried;
      expect((await post(dev.token, JSON.stringify({ ts: 1_000, values: { t: 1 } }))).status).toBe(200);
      await eventually(async () => (await server.app.storage.timeseries.count(dev.id)) === 1);
      const rows = await c.query('SELECT count(*)::int AS n, (SELECT last_value FROM fault_once) AS fault FROM ts_kv WHERE entity_id = $1', [dev.id]);
      expect(rows.rows[0]).toMatchObject({ n: 1 });
      expect(Number(rows.rows[0].fault)).toBeGreaterThanOrEqual(2); // the fault did fire, then the retry passed
      expect(server.app.ruleEngine!.stats().retried).toBeGreaterThan(retriedBefore);
    } finally {
      await c.query('DROP TRIGGER fault_once ON ts_kv; DROP FUNCTION fail_first_insert(); DROP SEQUENCE fault_once;');
      await c.end();
    }
  });

  it('a write the database refuses for one device does not fail the other devices of its batch', async () => {
    const good = await createDevice(server.app.url, server.jwt, 'isolation-good');
    const bad = await createDevice(server.app.url, server.jwt, 'isolation-bad');
    // A real refusal from the real server for one key only.
    const c = new pg.Client({ connectionString: server.db.url });
    await c.connect();
    await c.query(`CREATE FUNCTION refuse_poison() RETURNS trigger AS $$
      BEGIN IF NEW.key = 'poison' THEN RAISE EXCEPTION 'injected fault: poison refused'; END IF; RETURN NEW; END $$ LANGUAGE plpgsql;
      CREATE TRIGGER refuse_poison BEFORE INSERT ON ts_kv FOR EACH ROW EXECUTE FUNCTION refuse_poison();`);
    try {
      const posts: Array<Promise<Response>> = [];
      for (let i = 0; i < 20; i++) {
        posts.push(post(good.token, JSON.stringify({ ts: 100 + i, values: { ok: i } })));
        if (i === 10) posts.push(post(bad.token, JSON.stringify({ ts: 100, values: { poison: 1 } })));
      }
      expect((await Promise.all(posts)).map((r) => r.status).every((s) => s === 200)).toBe(true);
      await eventually(async () => (await server.app.storage.timeseries.count(good.id)) === 20);
      expect(await server.app.storage.timeseries.count(bad.id)).toBe(0);
    } finally {
      await c.query('DROP TRIGGER refuse_poison ON ts_kv; DROP FUNCTION refuse_poison();');
      await c.end();
    }
  });

  it('posting the same time-stamped payload twice stores each point once', async () => {
    const dev = await createDevice(server.app.url, server.jwt, 'idempotent-device');
    const body = JSON.stringify([{ ts: 10, values: { a: 1, b: 2 } }, { ts: 20, values: { a: 3 } }]);
    expect((await post(dev.token, body)).status).toBe(200);
    expect((await post(dev.token, body)).status).toBe(200);
    await eventually(async () => (await server.app.storage.timeseries.count(dev.id)) === 3);
    await new Promise((r) => setTimeout(r, 300));
    expect(await server.app.storage.timeseries.count(dev.id)).toBe(3);
  });

  it('a WebSocket subscriber receives each posted value once it is stored', async () => {
    const dev = await createDevice(server.app.url, server.jwt, 'ws-device');
    const { ws, frames } = await openWebSocket(server.app.url);
    ws.send(JSON.stringify({ authCmd: { cmdId: 0, token: server.jwt } }));
    ws.send(JSON.stringify({ cmds: [{ type: 'TIMESERIES', cmdId: 10, entityType: 'DEVICE', entityId: dev.id, scope: 'LATEST_TELEMETRY', keys: 'temperature' }] }));
    // Give the subscription a moment to register before posting.
    await eventually(async () => frames.some((f) => f.subscriptionId === 10));
    for (const v of [20.5, 21, 22.25]) {
      expect((await post(dev.token, JSON.stringify({ temperature: v }))).status).toBe(200);
      await eventually(async () => frames.some((f) => f.subscriptionId === 10 && f.data?.temperature?.some(([, val]) => val === String(v))));
    }
    ws.close();
  });

  it('answers bad device input as specified and stays up', async () => {
    const dev = await createDevice(server.app.url, server.jwt, 'bad-input-device');
    expect((await post('no-such-token', '{"a":1}')).status).toBe(401);
    const malformed = await post(dev.token, '{"a":');
    expect(malformed.status).toBe(400);
    expect(((await malformed.json()) as { message: string }).message).toMatch(/JSON/);
    expect((await post(dev.token, '"just a string"')).status).toBe(400);
    const nul = await post(dev.token, '{"a":"x\\u0000y"}');
    expect(nul.status).toBe(400);
    expect(((await nul.json()) as { message: string }).message).toMatch(/NUL/);
    expect((await post(dev.token, Buffer.alloc(70_000, 'a'))).status).toBe(413);
    const t0 = Date.now();
    expect((await post(dev.token, '[]')).status).toBe(200);
    expect(Date.now() - t0).toBeLessThan(2_000);
    expect((await fetch(`${server.app.url}/api/health`)).status).toBe(200);
    expect((await post(dev.token, '{"ok":1}')).status).toBe(200);
    await eventually(async () => (await server.app.storage.timeseries.count(dev.id)) === 1);
  });

  it('REST errors are JSON {status, message, errorCode}', async () => {
    const r = await fetch(`${server.app.url}/api/device/not-a-uuid`, { headers: { 'x-authorization': `Bearer ${server.jwt}` } });
    expect(r.status).toBe(400);
    const body = (await r.json()) as Record<string, unknown>;
    expect(body).toMatchObject({ status: 400 });
    expect(typeof body.message).toBe('string');
    expect(typeof body.errorCode).toBe('number');
    const unauth = await api(server.app.url, 'garbage', '/api/tenant/devices?pageSize=10&page=0');
    expect(unauth.status).toBe(401);
  });
});
