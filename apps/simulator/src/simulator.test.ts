import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Rivulet } from '@rivulet/server';
import { runDemo } from './demo';
import { createRestClient } from './devices';
import { parseSimArgs } from './options';
import { runSimulator } from './simulator';
import { ADMIN, eventually, startTestPlatform } from './test-server';

/** The parts of ThingsBoard's dashboard JSON the demo test reads. */
interface DashboardJson {
  widgets: Record<string, { typeFullFqn: string; type: string; config: { datasources: Array<{ entityAliasId: string; dataKeys: Array<{ name: string; type: string }> }> } }>;
  entityAliases: Record<string, { filter: { type: string; singleEntity?: { entityType: string; id: string } } }>;
  states: Record<string, { root: boolean; layouts: { main: { widgets: Record<string, unknown> } } }>;
}

describe('the simulator against a real Rivulet (HTTP device API, PostgreSQL)', () => {
  let app: Rivulet;
  let stop: () => Promise<void>;
  const dir = mkdtempSync(join(tmpdir(), 'sim-test-'));

  beforeAll(async () => {
    ({ app, stop } = await startTestPlatform());
  });
  afterAll(async () => {
    await stop?.();
    rmSync(dir, { recursive: true, force: true });
  });

  const args = (...extra: string[]) =>
    parseSimArgs(['--protocol', 'http', '--url', app.url, '--password', ADMIN.password, '--template', 'bench', '--json', ...extra]);

  it('creates devices through REST, sends, and every acknowledged point is stored', async () => {
    const events: Array<Record<string, unknown>> = [];
    const tokens = join(dir, 'tokens.jsonl');
    const r = await runSimulator(args('--devices', '5', '--rate', '0', '--inflight', '2', '--duration', '1', '--save-tokens', tokens), { out: () => undefined, isTTY: false }, (e) =>
      events.push(e),
    );
    const s = r.summary!;
    expect(s.errors).toBe(0);
    expect(s.acked).toBeGreaterThan(20);
    expect(s.pointsAcked).toBe(s.acked * 3);
    expect(events.map((e) => e.event)).toEqual(expect.arrayContaining(['connected', 'summary']));
    // Acks are not trusted: the rows are counted.
    await eventually(async () => (await app.storage.timeseries.count()) === s.pointsAcked);
    for (const d of r.devices) expect(await app.storage.timeseries.count(d.id)).toBeGreaterThan(0);
    expect(readFileSync(tokens, 'utf8').trim().split('\n')).toHaveLength(5);

    // A second run reads the tokens file (no REST) and continues above the first run's timestamps.
    const before = await app.storage.timeseries.count();
    const again = await runSimulator(
      parseSimArgs(['--protocol', 'http', '--url', app.url, '--tokens', tokens, '--devices', '5', '--messages', '50', '--rate', '0', '--duration', '5', '--template', 'bench', '--ts-floor', String(s.lastTs), '--quiet']),
      { out: () => undefined, isTTY: false },
    );
    expect(again.summary!.acked).toBe(50);
    await eventually(async () => (await app.storage.timeseries.count()) === before + 150);
  });

  it('over MQTT QoS 1 and CoAP too: every acknowledged point is stored', async () => {
    for (const [protocol, extra] of [
      ['mqtt', ['--mqtt-url', `mqtt://127.0.0.1:${app.mqttPort}`]],
      ['coap', ['--coap-url', `coap://127.0.0.1:${app.coapPort}`]],
    ] as const) {
      const before = await app.storage.timeseries.count();
      const r = await runSimulator(
        parseSimArgs(['--protocol', protocol, ...extra, '--url', app.url, '--password', ADMIN.password, '--template', 'bench', '--devices', '4', '--messages', '200', '--rate', '0', '--inflight', '5', '--prefix', `${protocol}-`, '--quiet']),
        { out: () => undefined, isTTY: false },
      );
      expect(r.summary).toMatchObject({ acked: 200, errors: 0, pointsAcked: 600 });
      await eventually(async () => (await app.storage.timeseries.count()) === before + 600);
    }
  });

  it('holds idle MQTT connections without sending (--idle)', async () => {
    const r = await runSimulator(
      parseSimArgs(['--protocol', 'mqtt', '--mqtt-url', `mqtt://127.0.0.1:${app.mqttPort}`, '--url', app.url, '--password', ADMIN.password, '--devices', '3', '--idle', '--duration', '1', '--prefix', 'idle-']),
      { out: () => undefined, isTTY: false, idleWait: async () => undefined },
    );
    expect(r).toMatchObject({ connected: 3, connectFailures: 0, summary: undefined });
  });

  it('a second run finds the devices it created before instead of failing', async () => {
    const a = await runSimulator(args('--devices', '2', '--messages', '2', '--prefix', 'twice-'), { out: () => undefined, isTTY: false });
    const b = await runSimulator(args('--devices', '2', '--messages', '2', '--prefix', 'twice-'), { out: () => undefined, isTTY: false });
    expect(b.devices.map((d) => d.id)).toEqual(a.devices.map((d) => d.id));
  });

  it('counts a bad token as an error per message, not a crash', async () => {
    const tokens = join(dir, 'bad.txt');
    await import('node:fs/promises').then((fs) => fs.writeFile(tokens, 'no-such-token\n'));
    const r = await runSimulator(parseSimArgs(['--protocol', 'http', '--url', app.url, '--tokens', tokens, '--devices', '1', '--messages', '3', '--rate', '0', '--quiet']), {
      out: () => undefined,
      isTTY: false,
    });
    expect(r.summary!.errorsByCode).toEqual({ HTTP_401: 3 });
  });

  it('prints a human summary with latency percentiles', async () => {
    let text = '';
    await runSimulator(parseSimArgs(['--protocol', 'http', '--url', app.url, '--password', ADMIN.password, '--devices', '1', '--messages', '10', '--rate', '0', '--prefix', 'human-']), {
      out: (t) => (text += t),
      isTTY: false,
    });
    expect(text).toMatch(/acknowledged {2}10 /);
    expect(text).toMatch(/ack latency {3}p50 [\d.]+ ms {2}p90 [\d.]+ ms {2}p99 [\d.]+ ms/);
  });

  it('--demo fills the install with devices, attributes, a day of history and a dashboard', async () => {
    let text = '';
    const made = await runDemo({ url: app.url, username: ADMIN.username, password: ADMIN.password, hours: 2, out: (t) => (text += t) });
    expect(made.devices).toHaveLength(5);
    const first = made.devices[0]!;
    await eventually(async () => (await app.storage.timeseries.count(first.id)) === first.points);
    expect(first.points).toBe(24 * 3);
    const attrs = await eventually(async () => {
      const a = await app.storage.attributes.find(first.id, 'CLIENT_SCOPE');
      return a.length > 0 ? a : undefined;
    });
    expect(attrs.map((a) => a.key).sort()).toEqual(['firmware', 'model', 'room']);

    // The dashboard, fetched back through the REST API: a chart per device on that device's alias, and a table of all.
    expect(made.dashboard.created).toBe(true);
    expect(text).toContain(`Dashboard "Rivulet demo" created: id ${made.dashboard.id}`);
    expect(text).toContain(`/api/dashboard/${made.dashboard.id}`);
    expect(text).toMatch(/the web app that renders it comes later/);
    const rest = createRestClient({ baseUrl: app.url });
    await rest.login(ADMIN.username, ADMIN.password);
    const dashboard = await rest.getDashboard(made.dashboard.id);
    expect(dashboard).toMatchObject({ id: { entityType: 'DASHBOARD', id: made.dashboard.id }, title: 'Rivulet demo' });
    const config = dashboard.configuration as unknown as DashboardJson;
    const charts = Object.values(config.widgets).filter((w) => w.typeFullFqn === 'system.time_series_chart');
    expect(charts).toHaveLength(made.devices.length);
    const chartedDevices = charts.map((w) => {
      const ds = w.config.datasources[0]!;
      expect(w.type).toBe('timeseries');
      expect(ds.dataKeys.length).toBeGreaterThan(0);
      expect(ds.dataKeys.every((k) => k.type === 'timeseries')).toBe(true);
      return config.entityAliases[ds.entityAliasId]?.filter.singleEntity?.id;
    });
    expect(chartedDevices.sort()).toEqual(made.devices.map((d) => d.id).sort());
    expect(Object.values(config.widgets).filter((w) => w.typeFullFqn === 'system.cards.entities_table')).toHaveLength(1);
    // Every widget has a place in the default state's layout, and nothing else does.
    expect(Object.keys(config.states.default!.layouts.main.widgets).sort()).toEqual(Object.keys(config.widgets).sort());
    expect(config.states.default!.root).toBe(true);
    // Stored, in the admin's tenant.
    const admin = await app.storage.users.findByEmail(ADMIN.username);
    expect((await app.storage.dashboards.get(admin!.user.tenantId, made.dashboard.id))?.configuration).toEqual(dashboard.configuration);

    // A second run updates the same dashboard instead of adding another.
    let again = '';
    const second = await runDemo({ url: app.url, username: ADMIN.username, password: ADMIN.password, hours: 1, out: (t) => (again += t) });
    expect(second.dashboard).toEqual({ id: made.dashboard.id, created: false });
    expect(again).toContain(`Dashboard "Rivulet demo" updated: id ${made.dashboard.id}`);
    const list = await fetch(`${app.url}/api/tenant/dashboards?textSearch=${encodeURIComponent('Rivulet demo')}`, { headers: { 'x-authorization': `Bearer ${rest.jwt}` } });
    expect(((await list.json()) as { totalElements: number }).totalElements).toBe(1);
  });
});
