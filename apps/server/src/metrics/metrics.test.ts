import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { connectAsync } from 'mqtt';
import WebSocket from 'ws';
import { createTestDatabase } from '@rivulet/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Rivulet } from '../app';
import { ADMIN, createDevice, eventually, login, startTestServer, tempDir } from '../test-helpers';

/** `name{labels} value` lines of a Prometheus text exposition, keyed by `name{labels}` as printed. */
function parse(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const i = line.lastIndexOf(' ');
    out.set(line.slice(0, i), Number(line.slice(i + 1)));
  }
  return out;
}

/** The sum of every series of `name` whose labels include all of `labels`. */
function sum(m: Map<string, number>, name: string, labels: Record<string, string> = {}): number {
  let total = 0;
  for (const [k, v] of m) {
    const brace = k.indexOf('{');
    if ((brace === -1 ? k : k.slice(0, brace)) !== name) continue;
    if (Object.entries(labels).every(([l, val]) => k.includes(`${l}="${val}"`))) total += v;
  }
  return total;
}

/**
 * /metrics (issue #15): Prometheus text from prom-client, scraped while `npm run sim` (the
 * simulator's CLI, in its own process) drives MQTT devices against the whole server on PostgreSQL.
 */
describe('/metrics under a simulated device load', () => {
  let app: Rivulet;
  let db: { url: string; drop(): Promise<void> };
  const dir = tempDir();
  const TOKEN = 'metrics-test-token-0123456789';
  const scrape = async (headers: Record<string, string> = { authorization: `Bearer ${TOKEN}` }) => {
    const r = await fetch(`${app.url}/metrics`, { headers });
    expect(r.status).toBe(200);
    expect(r.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    return parse(await r.text());
  };

  beforeAll(async () => {
    db = await createTestDatabase('metrics');
    app = await startTestServer({ DATABASE_URL: db.url, RIVULET_DATA_DIR: dir.dir, RIVULET_METRICS_TOKEN: TOKEN });
  });
  afterAll(async () => {
    await app?.stop();
    await db?.drop();
    dir.remove();
  });

  it('counters move while simulated devices send, and the gauges follow the connections', async () => {
    const before = await scrape();
    // process metrics (collectDefaultMetrics) and every Rivulet family are there before any load
    for (const name of ['process_cpu_seconds_total', 'nodejs_eventloop_lag_seconds', 'rivulet_info', 'rivulet_queue_consumer_lag', 'rivulet_queue_depth', 'rivulet_connected_devices', 'rivulet_websocket_sessions']) {
      expect([...before.keys()].some((k) => k === name || k.startsWith(`${name}{`)), name).toBe(true);
    }
    expect(sum(before, 'rivulet_info', { roles: 'api,rule-engine,transport', queue: 'memory', storage: 'postgres' })).toBe(1);

    const jwt = await login(app.url);
    const ws = new WebSocket(`${app.url.replace('http', 'ws')}/api/ws`);
    await new Promise((r, j) => ws.once('open', r).once('error', j));

    // npm run sim, as an operator runs it: 20 MQTT devices created over REST, 200 messages/s for 6 s
    const sim = spawn(
      process.execPath,
      ['--conditions=source', '--import', 'tsx', 'src/cli.ts', '--url', app.url, '--mqtt-url', `mqtt://127.0.0.1:${app.mqttPort}`, '--devices', '20', '--rate', '200', '--duration', '6', '--prefix', 'metrics-sim-', '--quiet'],
      { cwd: join(import.meta.dirname, '..', '..', '..', 'simulator'), env: { ...process.env, RIVULET_ADMIN_PASSWORD: ADMIN.password }, stdio: ['ignore', 'ignore', 'pipe'] },
    );
    let simOut = '';
    sim.stderr!.on('data', (d) => (simOut += d));
    const simExit = new Promise<number | null>((r) => sim.once('exit', r));

    // during the load: all 20 connected, accepted messages growing between two scrapes
    const during1 = await eventually(async () => {
      const m = await scrape();
      return sum(m, 'rivulet_connected_devices', { transport: 'mqtt' }) === 20 && sum(m, 'rivulet_messages_in_total', { transport: 'mqtt', outcome: 'accepted' }) > 0 ? m : undefined;
    }, 30_000);
    await new Promise((r) => setTimeout(r, 1_000));
    const during2 = await scrape();
    expect(sum(during2, 'rivulet_messages_in_total', { transport: 'mqtt', outcome: 'accepted' })).toBeGreaterThan(sum(during1, 'rivulet_messages_in_total', { transport: 'mqtt', outcome: 'accepted' }));
    expect(sum(during2, 'rivulet_websocket_sessions')).toBe(1);

    expect(await simExit, simOut).toBe(0);
    const sent = Number((/sent\s+([\d,]+) messages/.exec(simOut)?.[1] ?? '').replaceAll(',', ''));
    expect(sent, simOut).toBeGreaterThan(100);

    // a device that sends what is not JSON is refused (and counted under its reason)
    const bad = await createDevice(app.url, jwt, 'metrics-bad');
    const c = await connectAsync(`mqtt://127.0.0.1:${app.mqttPort}`, { username: bad.token, reconnectPeriod: 0 });
    c.on('error', () => undefined);
    c.publish('v1/devices/me/telemetry', '{not json', { qos: 1 }, () => undefined);
    ws.close();

    const after = await eventually(async () => {
      const m = await scrape();
      const done = sum(m, 'rivulet_rule_engine_messages_total', { outcome: 'processed' }) >= sum(m, 'rivulet_messages_in_total', { outcome: 'accepted' });
      return done && sum(m, 'rivulet_messages_in_total', { reason: 'malformedPayload' }) === 1 && sum(m, 'rivulet_connected_devices', { transport: 'mqtt' }) === 0 ? m : undefined;
    }, 20_000);
    await c.endAsync(true).catch(() => undefined);

    const accepted = sum(after, 'rivulet_messages_in_total', { transport: 'mqtt', outcome: 'accepted' }) - sum(before, 'rivulet_messages_in_total', { transport: 'mqtt', outcome: 'accepted' });
    // every telemetry message the simulator sent was accepted (plus connect/disconnect events of the 20 devices)
    expect(accepted).toBeGreaterThanOrEqual(sent);
    expect(sum(after, 'rivulet_rule_node_messages_total')).toBeGreaterThan(sum(before, 'rivulet_rule_node_messages_total') + accepted);
    expect(sum(after, 'rivulet_rule_node_seconds_total')).toBeGreaterThan(sum(before, 'rivulet_rule_node_seconds_total'));
    expect(sum(after, 'rivulet_rule_node_messages_total', { type: 'rivulet.action.saveTimeseries' })).toBeGreaterThan(0);
    expect(sum(after, 'rivulet_storage_batch_size_count', { kind: 'timeseries' })).toBeGreaterThan(sum(before, 'rivulet_storage_batch_size_count', { kind: 'timeseries' }));
    // the rows written are at least the simulator's points (thermostat: 2 keys per message)
    expect(sum(after, 'rivulet_storage_batch_size_sum', { kind: 'timeseries' })).toBeGreaterThanOrEqual(sent);
    expect(sum(after, 'rivulet_storage_write_seconds_count', { kind: 'timeseries' })).toBe(sum(after, 'rivulet_storage_batch_size_count', { kind: 'timeseries' }));
    expect(sum(after, 'rivulet_queue_consumer_lag', { topic: 'rivulet.rule-engine', group: 'rule-engine' })).toBe(0);
    expect(sum(after, 'rivulet_websocket_sessions')).toBe(0);
    // aggregates only: no tenant or device id anywhere in the exposition
    const text = await (await fetch(`${app.url}/metrics`, { headers: { authorization: `Bearer ${TOKEN}` } })).text();
    expect(text).not.toContain(app.tenantId);
    expect(text).not.toContain(bad.id);
    // every metric the dashboard and docs/operations.md name is one this server exports
    const doc = (f: string) => readFileSync(join(import.meta.dirname, '..', '..', '..', '..', 'docs', f), 'utf8');
    const ops = doc('operations.md');
    const metricsSection = ops.slice(ops.indexOf('\n## Metrics\n'), ops.indexOf('\n## ', ops.indexOf('\n## Metrics\n') + 1));
    const docs = `${doc('grafana-dashboard.json')}\n${metricsSection}`;
    const named = new Set([...docs.matchAll(/\b((?:rivulet|process|nodejs)_[a-z0-9_]+)/g)].map((m) => m[1]!.replace(/_(bucket|sum|count)$/, '')));
    expect(named.size).toBeGreaterThan(20);
    for (const name of named) expect(text, name).toContain(`# TYPE ${name} `);
  }, 90_000);

  it('is guarded: the token is required (401), a wrong one too; other paths and methods are not taken', async () => {
    expect((await fetch(`${app.url}/metrics`)).status).toBe(401);
    expect((await fetch(`${app.url}/metrics`, { headers: { authorization: 'Bearer wrong-token-wrong-token' } })).status).toBe(401);
    expect((await fetch(`${app.url}/metrics`, { method: 'POST', headers: { authorization: `Bearer ${TOKEN}` } })).status).toBe(405);
    expect(await (await fetch(`${app.url}/metricsx`, { headers: { authorization: `Bearer ${TOKEN}` } })).text()).not.toContain('rivulet_info');
  });
});

describe('/metrics without a token', () => {
  let app: Rivulet;
  const dir = tempDir();
  beforeAll(async () => {
    // embedded storage, a transport-only role needs Kafka: the all-in-one process is enough here
    app = await startTestServer({ RIVULET_DATA_DIR: dir.dir });
  });
  afterAll(async () => {
    await app?.stop();
    dir.remove();
  });

  it('answers a direct loopback client, refuses one relayed by a proxy (403)', async () => {
    const r = await fetch(`${app.url}/metrics`);
    expect(r.status).toBe(200);
    expect(await r.text()).toContain('rivulet_messages_in_total');
    expect((await fetch(`${app.url}/metrics`, { headers: { 'x-forwarded-for': '203.0.113.9' } })).status).toBe(403);
    expect((await fetch(`${app.url}/metrics`, { headers: { forwarded: 'for=203.0.113.9' } })).status).toBe(403);
  });

  it('a token shorter than 16 characters refuses start', async () => {
    await expect(startTestServer({ RIVULET_DATA_DIR: dir.dir, RIVULET_METRICS_TOKEN: 'short' })).rejects.toThrow(/RIVULET_METRICS_TOKEN.*at least 16/);
  });
});
