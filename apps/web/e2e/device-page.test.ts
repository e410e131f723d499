import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import mqtt, { type MqttClient } from 'mqtt';
import type { Page } from 'playwright-core';
import type { TestBrowser } from '@rivulet/testing';
import { ADMIN, adminApi, launchBrowser, openPage, screenshot, signedInPage, signInThroughForm, startWebServer, type WebServer } from './harness';

const run = promisify(execFile);

// The device page in real Chromium against the whole platform: real MQTT devices (mqtt.js and
// mosquitto_pub) publish, receive shared attributes and answer RPCs; the page follows live.
describe('device page', () => {
  let server: WebServer;
  let browser: TestBrowser;
  let api: Awaited<ReturnType<typeof adminApi>>;
  const clients: MqttClient[] = [];

  async function createDevice(name: string, token: string, type = 'thermostat'): Promise<string> {
    const d = await api<{ id: { id: string } }>(`/api/device?accessToken=${token}`, { method: 'POST', body: { name, type, label: `${name} label` } });
    return d.id.id;
  }

  async function connectDevice(token: string): Promise<MqttClient> {
    const c = await mqtt.connectAsync(`mqtt://127.0.0.1:${server.mqttPort}`, { username: token, reconnectPeriod: 300, connectTimeout: 5000 });
    clients.push(c);
    return c;
  }

  function mosquittoPub(token: string, payload: unknown) {
    return run('mosquitto_pub', ['-h', '127.0.0.1', '-p', String(server.mqttPort), '-u', token, '-t', 'v1/devices/me/telemetry', '-m', JSON.stringify(payload), '-q', '1']);
  }

  const text = (page: Page, testId: string) => page.getByTestId(testId).textContent();
  async function waitForText(page: Page, testId: string, expected: string | RegExp, timeout = 10_000): Promise<void> {
    const deadline = Date.now() + timeout;
    let last: string | null = null;
    while (Date.now() < deadline) {
      last = await page.getByTestId(testId).first().textContent({ timeout: 1000 }).catch(() => null);
      if (last !== null && (typeof expected === 'string' ? last.includes(expected) : expected.test(last))) return;
      await page.waitForTimeout(100);
    }
    throw new Error(`${testId}: expected ${String(expected)}, last saw ${JSON.stringify(last)}`);
  }
  async function waitForAttr(page: Page, testId: string, attr: string, ok: (v: string | null) => boolean, timeout = 10_000): Promise<void> {
    const deadline = Date.now() + timeout;
    let last: string | null = null;
    while (Date.now() < deadline) {
      last = await page.getByTestId(testId).first().getAttribute(attr, { timeout: 1000 }).catch(() => null);
      if (ok(last)) return;
      await page.waitForTimeout(50);
    }
    throw new Error(`${testId} ${attr}: last saw ${JSON.stringify(last)}`);
  }
  const chartPoints = (page: Page) => page.getByTestId('chart-info').getAttribute('data-points').then(Number);

  beforeAll(async () => {
    server = await startWebServer();
    browser = await launchBrowser();
    api = await adminApi(server);
  });
  afterAll(async () => {
    await Promise.all(clients.map((c) => c.endAsync(true).catch(() => undefined)));
    await browser?.close();
    await server?.stop();
  });

  it('shows "no telemetry yet", then latest values and the chart update live as an MQTT device publishes', async () => {
    const id = await createDevice('Boiler 1', 'BOILER1_TOKEN');
    const { page, context, problems } = await signedInPage(browser, server, { path: `/devices/${id}` });
    await page.getByTestId('device-name').waitFor();
    expect(await text(page, 'device-name')).toBe('Boiler 1');
    await page.getByTestId('latest-telemetry').getByText('No telemetry yet').waitFor();
    expect(await text(page, 'device-active')).toContain('Inactive');

    const device = await connectDevice('BOILER1_TOKEN');
    await device.publishAsync('v1/devices/me/telemetry', JSON.stringify({ temperature: 21.5, humidity: 40 }), { qos: 1 });
    // No reload: the WebSocket brings the new keys and values.
    await waitForText(page, 'latest-value-temperature', '21.5');
    await waitForText(page, 'latest-value-humidity', '40');
    await waitForText(page, 'device-active', 'Active');
    await waitForText(page, 'latest-updated', /updated \d+ s ago/);

    // The chart picked a key; pick temperature too and watch points arrive live.
    await page.getByTestId('chart-info').waitFor();
    await page.getByTestId('chart-keys').click();
    await page.getByRole('option', { name: 'temperature' }).click();
    await page.keyboard.press('Escape');
    await waitForAttr(page, 'chart-info', 'data-points', (v) => Number(v) === 2);
    for (let i = 0; i < 5; i++) {
      await mosquittoPub('BOILER1_TOKEN', { temperature: 22 + i, humidity: 41 + i });
      await page.waitForTimeout(150);
    }
    await waitForText(page, 'latest-value-temperature', '26');
    await waitForAttr(page, 'chart-info', 'data-points', (v) => Number(v) === 12);
    expect(await chartPoints(page)).toBe(12);
    // The legend names both series.
    const legend = await page.locator('.u-legend').textContent();
    expect(legend).toContain('temperature');
    expect(legend).toContain('humidity');
    expect(problems()).toEqual([]);
    await context.close();
  });

  it('adds, edits and deletes a shared attribute in the UI, and a subscribed MQTT device receives each change', async () => {
    const id = await createDevice('Valve 7', 'VALVE7_TOKEN', 'valve');
    const device = await connectDevice('VALVE7_TOKEN');
    const received: unknown[] = [];
    device.on('message', (topic, payload) => {
      if (topic === 'v1/devices/me/attributes') received.push(JSON.parse(payload.toString()));
    });
    await device.subscribeAsync('v1/devices/me/attributes', { qos: 1 });
    await device.publishAsync('v1/devices/me/attributes', JSON.stringify({ firmware: '1.4.2' }), { qos: 1 });

    const { page, context, problems } = await signedInPage(browser, server, { path: `/devices/${id}` });
    await page.getByTestId('device-name').waitFor();
    // The client attribute the device reported is shown, read-only.
    await page.getByTestId('attr-tab-CLIENT_SCOPE').click();
    await waitForText(page, 'attr-value-firmware', '1.4.2');
    expect(await page.getByTestId('attr-add-CLIENT_SCOPE').count()).toBe(0);
    expect(await page.getByTestId('attr-edit-firmware').count()).toBe(0);

    // Add a number.
    await page.getByTestId('attr-tab-SHARED_SCOPE').click();
    await page.getByTestId('attr-add-SHARED_SCOPE').click();
    await page.getByTestId('attr-key').fill('targetTemp');
    await page.getByTestId('attr-type').getByText('Number').click();
    await page.getByTestId('attr-value').fill('not a number');
    await page.getByTestId('attr-save').click();
    await page.getByText('Enter a number').waitFor();
    await page.getByTestId('attr-value').fill('21.5');
    await page.getByTestId('attr-save').click();
    await waitForText(page, 'attr-value-targetTemp', '21.5');
    await expect.poll(() => received, { timeout: 5000 }).toContainEqual({ targetTemp: 21.5 });

    // Edit it into JSON.
    await page.getByTestId('attr-edit-targetTemp').click();
    await page.getByTestId('attr-type').getByText('JSON').click();
    await page.getByTestId('attr-value').fill('{"day": 22, "night": 18');
    await page.getByText(/Invalid JSON/).waitFor();
    await page.getByTestId('attr-value').fill('{"day": 22, "night": 18}');
    await page.getByTestId('attr-save').click();
    await waitForText(page, 'attr-value-targetTemp', '{"day":22,"night":18}');
    await expect.poll(() => received, { timeout: 5000 }).toContainEqual({ targetTemp: { day: 22, night: 18 } });
    const stored = await api<Array<{ key: string; value: unknown }>>(`/api/plugins/telemetry/DEVICE/${id}/values/attributes/SHARED_SCOPE`);
    expect(stored.find((a) => a.key === 'targetTemp')?.value).toEqual({ day: 22, night: 18 });

    // A server attribute added by someone else appears live (no reload).
    await page.getByTestId('attr-tab-SERVER_SCOPE').click();
    await api(`/api/plugins/telemetry/DEVICE/${id}/attributes/SERVER_SCOPE`, { method: 'POST', body: { maintenanceDue: true } });
    await waitForText(page, 'attr-value-maintenanceDue', 'true');

    // Delete the shared one, after confirming.
    await page.getByTestId('attr-tab-SHARED_SCOPE').click();
    await page.getByTestId('attr-delete-targetTemp').click();
    await page.getByTestId('confirm-delete').click();
    await page.getByTestId('attr-row-targetTemp').waitFor({ state: 'detached' });
    await expect.poll(() => received, { timeout: 5000 }).toContainEqual({ deleted: ['targetTemp'] });
    expect(problems()).toEqual([]);
    await context.close();
  });

  it('sends a two-way RPC from the console, shows the device\'s reply, and keeps the call in the history', async () => {
    const id = await createDevice('Pump 3', 'PUMP3_TOKEN', 'pump');
    const device = await connectDevice('PUMP3_TOKEN');
    await device.subscribeAsync('v1/devices/me/rpc/request/+', { qos: 1 });
    const requests: unknown[] = [];
    device.on('message', (topic, payload) => {
      const m = /^v1\/devices\/me\/rpc\/request\/(\d+)$/.exec(topic);
      if (!m) return;
      const req = JSON.parse(payload.toString()) as { method: string; params: unknown };
      requests.push(req);
      void device.publishAsync(`v1/devices/me/rpc/response/${m[1]}`, JSON.stringify({ ok: true, method: req.method, echo: req.params }));
    });

    const { page, context, problems } = await signedInPage(browser, server, { path: `/devices/${id}` });
    await page.getByTestId('rpc-console').scrollIntoViewIfNeeded();
    await page.getByTestId('rpc-method').fill('setSpeed');
    await page.getByTestId('rpc-params').fill('{"rpm": 1200');
    await page.getByText(/Invalid JSON/).waitFor();
    expect(await page.getByTestId('rpc-send').isDisabled()).toBe(true);
    await page.getByTestId('rpc-params').fill('{"rpm": 1200}');
    await page.getByTestId('rpc-send').click();
    await page.getByTestId('rpc-reply').waitFor();
    expect(JSON.parse((await text(page, 'rpc-reply'))!)).toEqual({ ok: true, method: 'setSpeed', echo: { rpm: 1200 } });
    expect(requests).toEqual([{ method: 'setSpeed', params: { rpm: 1200 } }]);

    // One-way: delivered, no reply awaited.
    await page.getByTestId('rpc-mode').getByText('One-way').click();
    await page.getByTestId('rpc-method').fill('blink');
    await page.getByTestId('rpc-params').fill('{}');
    await page.getByTestId('rpc-send').click();
    await waitForText(page, 'rpc-outcome', 'Delivered');
    await expect.poll(() => requests.length).toBe(2);
    await page.getByTestId('rpc-mode').getByText('Two-way').click();
    await page.getByTestId('rpc-method').fill('setSpeed');
    await page.getByTestId('rpc-params').fill('{"rpm": 1200}');
    await page.getByTestId('rpc-send').click();
    await waitForText(page, 'rpc-history', /setSpeed[\s\S]*blink[\s\S]*setSpeed/);
    await page.getByTestId('rpc-console').scrollIntoViewIfNeeded();
    await screenshot(page, 'device-rpc-light');
    expect(problems()).toEqual([]);
    await context.close();
  });

  it('shows the timeout (504) of a two-way RPC to a device that is offline or does not answer', async () => {
    const offline = await createDevice('Offline sensor', 'OFFLINE_TOKEN', 'sensor');
    const { page, context, problems } = await signedInPage(browser, server, { path: `/devices/${offline}` });
    await page.getByTestId('rpc-method').fill('getState');
    await page.getByTestId('rpc-timeout').fill('1500');
    await page.getByTestId('rpc-send').click();
    await waitForText(page, 'rpc-outcome', 'Timed out (504)');
    expect(await page.getByTestId('rpc-outcome').getAttribute('data-outcome')).toBe('timeout');

    // Connected but silent: the server waits the timeout, then 504.
    const silent = await createDevice('Silent sensor', 'SILENT_TOKEN', 'sensor');
    const device = await connectDevice('SILENT_TOKEN');
    await device.subscribeAsync('v1/devices/me/rpc/request/+', { qos: 1 });
    await page.goto(`/devices/${silent}`);
    await page.getByTestId('rpc-method').fill('getState');
    await page.getByTestId('rpc-timeout').fill('1500');
    const t0 = Date.now();
    await page.getByTestId('rpc-send').click();
    await waitForText(page, 'rpc-outcome', 'did not reply in time');
    expect(Date.now() - t0).toBeGreaterThanOrEqual(1400);
    // The browser logs the 504 responses itself.
    expect(problems([/status of 504/])).toEqual([]);
    await context.close();
  });

  it('resumes live updates on the open page after the server restarts', async () => {
    const id = await createDevice('Meter 9', 'METER9_TOKEN', 'meter');
    await mosquittoPub('METER9_TOKEN', { power: 100 });
    const { page, context, problems } = await signedInPage(browser, server, { path: `/devices/${id}` });
    await waitForText(page, 'latest-value-power', '100');
    await mosquittoPub('METER9_TOKEN', { power: 101 });
    await waitForText(page, 'latest-value-power', '101');

    await server.restart();
    // The socket comes back by itself (back-off) and subscribes again.
    await waitForAttr(page, 'live-indicator', 'data-state', (v) => v === 'open', 20_000);
    await mosquittoPub('METER9_TOKEN', { power: 202 });
    await waitForText(page, 'latest-value-power', '202', 15_000);
    // The chart follows too (it subscribed again with its keys).
    await waitForAttr(page, 'chart-info', 'data-points', (v) => Number(v) >= 3);
    // While the server was down the browser logged failed connections; nothing else.
    expect(problems([/WebSocket connection to .* failed/, /Failed to load resource: net::ERR_CONNECTION_REFUSED/])).toEqual([]);
    await context.close();
  }, 60_000);

  it("lists the device's alarms and acknowledges and clears one", async () => {
    const id = await createDevice('Chiller 4', 'CHILLER4_TOKEN', 'chiller');
    const other = await createDevice('Chiller 5', 'CHILLER5_TOKEN', 'chiller');
    await api('/api/alarm', { method: 'POST', body: { type: 'High Temperature', originator: { entityType: 'DEVICE', id }, severity: 'CRITICAL' } });
    await api('/api/alarm', { method: 'POST', body: { type: 'Other device alarm', originator: { entityType: 'DEVICE', id: other }, severity: 'MINOR' } });
    const { page, context, problems } = await signedInPage(browser, server, { path: `/devices/${id}` });
    const alarms = page.getByTestId('device-alarms');
    const row = alarms.getByTestId('alarm-row').filter({ hasText: 'High Temperature' });
    await row.waitFor();
    expect(await row.getByTestId('alarm-severity').textContent()).toBe('CRITICAL');
    // only this device's: the other device's alarm is not listed, and there is no originator column or device filter
    expect(await alarms.getByTestId('alarm-row').count()).toBe(1);
    expect(await alarms.getByTestId('alarm-device-filter').count()).toBe(0);
    await row.getByTestId('row-ack').click();
    await expect.poll(() => row.getAttribute('data-status'), { timeout: 10_000 }).toBe('ACTIVE_ACK');
    await row.getByTestId('row-clear').click();
    await expect.poll(() => row.getAttribute('data-status'), { timeout: 10_000 }).toBe('CLEARED_ACK');
    expect(await row.getByTestId('row-ack').count()).toBe(0);
    expect(await row.getByTestId('row-clear').count()).toBe(0);
    const stored = await api<{ data: Array<{ status: string }> }>(`/api/alarm/DEVICE/${id}?pageSize=10&page=0`);
    expect(stored.data.map((a) => a.status)).toEqual(['CLEARED_ACK']);
    expect(problems()).toEqual([]);
    await context.close();
  });

  it('shows a clear not-found state for an unknown device id', async () => {
    const { page, context, problems } = await signedInPage(browser, server, { path: '/devices/5b0c3b8e-2f43-4d4e-9f3a-1a2b3c4d5e6f' });
    await page.getByTestId('device-not-found').waitFor();
    expect(await text(page, 'device-not-found')).toContain('Device not found');
    await screenshot(page, 'device-not-found-light');
    await page.goto('/devices/not-a-uuid');
    await page.getByTestId('device-not-found').waitFor();
    expect(problems([/status of 40[04]/])).toEqual([]);
    await context.close();
  });

  it('renders a chart of 100,000 points', async () => {
    const id = await createDevice('Dense sensor', 'DENSE_TOKEN', 'sensor');
    // 100,000 points over the last 50 minutes, saved through the REST telemetry API in batches.
    const N = 100_000;
    const BATCH = 10_000;
    const end = Date.now() - 1000;
    const step = Math.floor((50 * 60_000) / N);
    for (let b = 0; b < N; b += BATCH) {
      const batch = [];
      for (let i = b; i < b + BATCH; i++) batch.push({ ts: end - (N - i) * step, values: { load: Math.round((50 + 30 * Math.sin(i / 500) + Math.random() * 5) * 100) / 100 } });
      await api(`/api/plugins/telemetry/DEVICE/${id}/timeseries/ANY`, { method: 'POST', body: batch });
    }
    const { page, context, problems } = await signedInPage(browser, server, { path: '/devices' });
    const t0 = Date.now();
    await page.goto(`/devices/${id}`);
    await waitForAttr(page, 'chart-info', 'data-render-ms', (v) => v !== null, 30_000);
    const wall = Date.now() - t0;
    const info = page.getByTestId('chart-info');
    const points = Number(await info.getAttribute('data-points'));
    const renderMs = Number(await info.getAttribute('data-render-ms'));
    const fetchMs = Number(await info.getAttribute('data-fetch-ms'));
    console.log(`chart of ${points} points: drawn in ${renderMs.toFixed(1)} ms (data handed to the chart -> frame drawn), history read in ${fetchMs} ms (2 REST pages), page open to drawn ${wall} ms`);
    expect(points).toBe(N);
    expect(renderMs).toBeGreaterThan(0);
    expect(renderMs).toBeLessThan(5_000);
    // Still responsive: a hover shows the tooltip.
    const box = (await page.locator('.u-over').boundingBox())!;
    await page.mouse.move(box.x + box.width / 2, box.y + box.height / 2);
    await page.getByTestId('chart-tooltip').waitFor();

    // Drag to zoom: the reset button appears; the reset brings the whole window back.
    await page.mouse.move(box.x + box.width * 0.3, box.y + box.height / 2);
    await page.mouse.down();
    await page.mouse.move(box.x + box.width * 0.5, box.y + box.height / 2, { steps: 5 });
    await page.mouse.up();
    await page.getByTestId('chart-reset-zoom').click();
    await page.getByTestId('chart-reset-zoom').waitFor({ state: 'detached' });

    // A day's window is read as 2-minute averages: 50 minutes of data are 25 or 26 buckets.
    await page.getByTestId('chart-window').click();
    await page.getByRole('option', { name: 'Last 24 hours' }).click();
    await waitForText(page, 'chart-info', 'avg per 120 s');
    await waitForAttr(page, 'chart-info', 'data-points', (v) => Number(v) > 0 && Number(v) <= 27);

    // A custom range: the 10 minutes ending 20 minutes before the newest point, read raw, not live.
    await page.getByTestId('chart-window').click();
    await page.getByRole('option', { name: 'Custom range' }).click();
    const local = (ts: number) => new Date(ts - new Date(ts).getTimezoneOffset() * 60_000).toISOString().slice(0, 16);
    const from = Math.ceil((end - 30 * 60_000) / 60_000) * 60_000;
    await page.getByTestId('chart-from').fill(local(from));
    await page.getByTestId('chart-to').fill(local(from + 10 * 60_000));
    await page.getByTestId('chart-apply').click();
    await waitForText(page, 'chart-info', 'raw');
    // 10 minutes at one point per 30 ms (both ends included).
    await waitForAttr(page, 'chart-info', 'data-points', (v) => Math.abs(Number(v) - 20_000) <= 2);
    expect(await text(page, 'chart-info')).not.toContain('live');
    expect(problems()).toEqual([]);
    await context.close();
  }, 90_000);

  it('takes the device page in light and dark', async () => {
    const id = await createDevice('Greenhouse 2', 'GREENHOUSE2_TOKEN', 'climate');
    // An hour of history for two keys, then a live device.
    const now = Date.now();
    const batch = [];
    for (let i = 0; i < 360; i++) batch.push({ ts: now - (360 - i) * 10_000, values: { temperature: +(20 + 3 * Math.sin(i / 40)).toFixed(2), humidity: +(55 + 8 * Math.cos(i / 55)).toFixed(1) } });
    await api(`/api/plugins/telemetry/DEVICE/${id}/timeseries/ANY`, { method: 'POST', body: batch });
    await api(`/api/plugins/telemetry/DEVICE/${id}/attributes/SHARED_SCOPE`, { method: 'POST', body: { targetTemp: 22, schedule: { day: 22, night: 17 }, vents: 'auto' } });
    const device = await connectDevice('GREENHOUSE2_TOKEN');
    await device.publishAsync('v1/devices/me/telemetry', JSON.stringify({ temperature: 21.4, humidity: 58.2, co2: 612, door: 'closed' }), { qos: 1 });
    for (const scheme of ['light', 'dark'] as const) {
      const { page, context, problems } = await openPage(browser, { baseURL: server.url, colorScheme: scheme, viewport: { width: 1400, height: 1250 } });
      await signInThroughForm(page, ADMIN, `/devices/${id}`);
      await waitForText(page, 'latest-value-co2', '612');
      // co2 (the first numeric key) is drawn at first: swap it for temperature and humidity.
      await page.getByTestId('chart-info').waitFor();
      await page.getByTestId('chart-keys').click();
      for (const key of ['co2', 'humidity', 'temperature']) await page.getByRole('option', { name: key }).click();
      await page.keyboard.press('Escape');
      expect(await page.locator('.mantine-Pill-root').allTextContents()).toEqual(['humidity', 'temperature']);
      await page.keyboard.press('Escape');
      await waitForAttr(page, 'chart-info', 'data-points', (v) => Number(v) > 700);
      await page.getByTestId('attr-value-targetTemp').waitFor();
      await page.mouse.move(0, 0);
      await screenshot(page, `device-${scheme}`);
      expect(problems()).toEqual([]);
      await context.close();
    }
  }, 60_000);
});
