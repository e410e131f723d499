/**
 * A measurement, not a test: keeps a live dashboard (a realtime chart, a value card, an entities
 * table) open in Chromium for N minutes while a real MQTT client publishes P points per second, and
 * prints the page's JS heap (after a forced GC, through the Chrome DevTools Protocol) with the points
 * the chart holds, at the start, every minute and at the end.
 *
 *   npx tsx --conditions=source apps/web/e2e/measure-live-dashboard.ts --minutes 10 --rate 100 --window 5
 *
 * Uses RIVULET_TEST_DATABASE_URL when set, else starts a throwaway PostgreSQL (as the tests do);
 * builds the web app when stale.
 */
import { parseArgs } from 'node:util';
import mqtt from 'mqtt';
import { startPostgres } from '@rivulet/testing';
// @ts-expect-error: a plain .mjs script shared with `npm start`
import { buildWebIfStale } from '../scripts/build-if-stale.mjs';
import { adminApi, launchBrowser, signedInPage, startWebServer } from './harness';

const { values: args } = parseArgs({
  options: {
    minutes: { type: 'string', default: '10' },
    rate: { type: 'string', default: '100' },
    window: { type: 'string', default: '5' },
  },
});
const minutes = Number(args.minutes);
const rate = Number(args.rate);
const windowMinutes = Number(args.window);
if (!(minutes > 0) || !(rate > 0) || !(windowMinutes > 0)) throw new Error('--minutes, --rate and --window take positive numbers');

const pg = process.env.RIVULET_TEST_DATABASE_URL ? null : await startPostgres();
if (pg) process.env.RIVULET_TEST_DATABASE_URL = pg.url;
(buildWebIfStale as (o: { quiet: boolean }) => boolean)({ quiet: true });
const server = await startWebServer();
const browser = await launchBrowser();
const log = (s: string) => console.log(`[${new Date().toISOString().slice(11, 19)}] ${s}`);

try {
  const rest = await adminApi(server);
  const device = await rest<{ id: { id: string } }>('/api/device', { method: 'POST', body: { name: 'Live meter', type: 'meter' } });
  const { credentialsId: token } = await rest<{ credentialsId: string }>(`/api/device/${device.id.id}/credentials`);
  const alias = { id: 'a1', alias: 'Live meter', filter: { type: 'singleEntity', resolveMultiple: false, singleEntity: { entityType: 'DEVICE', id: device.id.id } } };
  const ds = (keys: string[]) => [{ type: 'entity', entityAliasId: 'a1', dataKeys: keys.map((name) => ({ name, type: 'timeseries', label: name })) }];
  const configuration = {
    widgets: {
      chart: { id: 'chart', typeFullFqn: 'system.time_series_chart', type: 'timeseries', config: { title: 'Live', datasources: ds(['value']), useDashboardTimewindow: true, settings: {} } },
      card: { id: 'card', typeFullFqn: 'system.cards.value_card', type: 'latest', config: { title: 'Value', datasources: ds(['value']), decimals: 2, settings: {} } },
      table: { id: 'table', typeFullFqn: 'system.cards.entities_table', type: 'latest', config: { title: 'Table', datasources: ds(['value', 'seq']), settings: {} } },
    },
    entityAliases: { a1: alias },
    states: { default: { root: true, layouts: { main: { widgets: { chart: { row: 0, col: 0, sizeX: 24, sizeY: 8 }, card: { row: 8, col: 0, sizeX: 8, sizeY: 4 }, table: { row: 8, col: 8, sizeX: 16, sizeY: 4 } } } } } },
    timewindow: { selectedTab: 0, realtime: { realtimeType: 0, timewindowMs: windowMinutes * 60_000 }, aggregation: { type: 'NONE', limit: 100_000 } },
  };
  const dashboard = await rest<{ id: { id: string } }>('/api/dashboard', { method: 'POST', body: { title: 'Live measurement', configuration } });

  const { page, context, problems } = await signedInPage(browser, server, { path: `/dashboards/${dashboard.id.id}` });
  await page.getByTestId('chart-widget').waitFor();
  const cdp = await context.newCDPSession(page);
  await cdp.send('Performance.enable');

  // P points per second: one message every 10 ms carrying rate/100 points (distinct timestamps).
  const client = await mqtt.connectAsync(`mqtt://127.0.0.1:${server.mqttPort}`, { username: token });
  const perTick = Math.max(1, Math.round(rate / 100));
  let seq = 0;
  let sent = 0;
  const started = Date.now();
  let lastTs = 0;
  const timer = setInterval(() => {
    // Catch up to the wall clock, so timer jitter does not lower the rate.
    const n = Math.min(Math.floor(((Date.now() - started) / 1000) * rate) - sent, perTick * 5);
    if (n <= 0) return;
    const now = Date.now();
    const batch = Array.from({ length: n }, (_, i) => {
      seq++;
      lastTs = Math.max(lastTs + 1, now - n + i + 1);
      return { ts: lastTs, values: { value: Math.round((Math.sin(seq / 50) * 10 + Math.random()) * 100) / 100, seq } };
    });
    sent += n;
    client.publish('v1/devices/me/telemetry', JSON.stringify(batch));
  }, 10);

  const sample = async (label: string) => {
    await cdp.send('HeapProfiler.collectGarbage');
    const heap = (await cdp.send('Runtime.getHeapUsage')) as { usedSize: number; totalSize: number };
    const metrics = (await cdp.send('Performance.getMetrics')) as { metrics: Array<{ name: string; value: number }> };
    const m = (n: string) => metrics.metrics.find((x) => x.name === n)?.value ?? 0;
    const points = await page.getByTestId('chart-widget').getAttribute('data-points');
    const subs = await page.evaluate(() => (globalThis as { __rivuletSocket?: { subscriptionCount: number } }).__rivuletSocket?.subscriptionCount);
    const mb = (b: number) => (b / 1048576).toFixed(1);
    log(
      `${label.padEnd(6)} heap used ${mb(heap.usedSize)} MiB (total ${mb(heap.totalSize)} MiB), DOM nodes ${m('Nodes')}, listeners ${m('JSEventListeners')}, ` +
        `chart points held ${points}, subscriptions ${subs}, points published ${sent} (${(sent / Math.max(1, (Date.now() - started) / 1000)).toFixed(0)}/s)`,
    );
    return heap.usedSize;
  };

  log(`live dashboard open; publishing ${rate} points/s for ${minutes} min; realtime window ${windowMinutes} min (at most 20,000 points held per series)`);
  await page.waitForTimeout(10_000);
  const first = await sample('start');
  for (let i = 1; i <= minutes; i++) {
    await page.waitForTimeout(Math.min(60_000, minutes * 60_000 - (i - 1) * 60_000));
    await sample(i === minutes ? 'end' : `${i} min`);
  }
  const last = await sample('final');
  clearInterval(timer);
  await client.endAsync();
  log(`heap change start -> end: ${((last - first) / 1048576).toFixed(1)} MiB; console problems: ${JSON.stringify(problems())}`);
  await context.close();
} finally {
  await browser.close();
  await server.stop();
  pg?.stop();
}
