import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AlarmDto, DeviceDto, PageData } from '@rivulet/api-types';
import type { Page } from 'playwright-core';
import { adminApi, launchBrowser, screenshot, signedInPage, startWebServer, type WebServer } from './harness';
import type { TestBrowser } from '@rivulet/testing';

// The alarms page in real Chromium against the real server: alarms raised through POST /api/alarm
// appear without a reload, filters narrow them, acknowledge and clear reach the server.
describe('alarms page', () => {
  let server: WebServer;
  let browser: TestBrowser;
  let call: Awaited<ReturnType<typeof adminApi>>;
  beforeAll(async () => {
    server = await startWebServer();
    browser = await launchBrowser();
    call = await adminApi(server);
  });
  afterAll(async () => {
    await browser?.close();
    await server?.stop();
  });

  const rows = (page: Page) => page.getByTestId('alarm-row');
  const rowCount = (page: Page, n: number) => expect.poll(() => rows(page).count(), { timeout: 15_000 }).toBe(n);
  async function pick(page: Page, testId: string, option: string) {
    await page.getByTestId(testId).click();
    await page.getByRole('option', { name: option, exact: true }).click();
  }
  async function unpick(page: Page, testId: string) {
    // Mantine's clear button sits in the input's right section.
    await page.getByTestId(testId).locator('xpath=..').locator('button').click();
  }
  /** Notifications would cover the header and the drawer in a screenshot. */
  async function dismissNotifications(page: Page) {
    for (const close of await page.locator('.mantine-Notification-root button').all()) await close.click();
    await expect.poll(() => page.locator('.mantine-Notification-root').count()).toBe(0);
  }
  const alarmsOf = (query: string) => call<PageData<AlarmDto>>(`/api/alarms?pageSize=100&page=0&${query}`);

  it('shows the empty state, then alarms raised for two devices appear without a reload; filters, acknowledge, bulk clear and details work', async () => {
    const { page, context, problems } = await signedInPage(browser, server, { path: '/alarms' });
    await page.getByText('No alarms', { exact: true }).waitFor();
    expect(await page.getByTestId('empty').textContent()).toContain('POST /api/alarm');
    await screenshot(page, 'alarms-empty-light');

    const boiler = await call<DeviceDto>('/api/device', { method: 'POST', body: { name: 'boiler-1', type: 'boiler' } });
    const pump = await call<DeviceDto>('/api/device', { method: 'POST', body: { name: 'pump-7', type: 'pump' } });
    const raise = (device: DeviceDto, type: string, severity: string, details?: unknown) =>
      call<AlarmDto>('/api/alarm', { method: 'POST', body: { type, severity, originator: { entityType: 'DEVICE', id: device.id.id }, ...(details ? { details } : {}) } });
    const hot = await raise(boiler, 'High Temperature', 'CRITICAL', { temperature: 42.5, threshold: 30, source: 'rule chain' });
    await raise(boiler, 'Low Pressure', 'MINOR');
    const vibration = await raise(pump, 'Vibration', 'MAJOR');
    const leak = await raise(pump, 'Leak', 'WARNING');

    // Live: the page that showed "No alarms" lists them without a reload.
    await rowCount(page, 4);

    // Severity filter.
    await pick(page, 'alarm-severity-filter', 'Critical');
    await rowCount(page, 1);
    expect(await rows(page).first().textContent()).toContain('High Temperature');
    await unpick(page, 'alarm-severity-filter');
    await rowCount(page, 4);

    // Device filter: the pump's two alarms.
    await page.getByTestId('alarm-device-filter').fill('pump');
    await page.getByRole('option', { name: 'pump-7', exact: true }).click();
    await rowCount(page, 2);
    const pumpRows = await rows(page).allTextContents();
    expect(pumpRows.every((t) => t.includes('pump-7'))).toBe(true);
    await unpick(page, 'alarm-device-filter');
    await rowCount(page, 4);

    // Acknowledge one from its row.
    const hotRow = page.locator(`[data-alarm-id="${hot.id.id}"]`);
    await hotRow.getByTestId('row-ack').click();
    await expect.poll(() => hotRow.getAttribute('data-status'), { timeout: 10_000 }).toBe('ACTIVE_ACK');
    const afterAck = await call<AlarmDto>(`/api/alarm/${hot.id.id}`);
    expect(afterAck.acknowledged).toBe(true);
    expect(afterAck.ackTs).toBeGreaterThan(0);

    // Clear the pump's two in bulk, after a confirmation.
    for (const a of [vibration, leak]) await page.locator(`[data-alarm-id="${a.id.id}"]`).getByRole('checkbox').check();
    await page.getByTestId('bulk-actions').waitFor();
    await page.getByTestId('bulk-clear').click();
    await page.getByText('Clear 2 alarms?').waitFor();
    await page.getByTestId('confirm-bulk').click();
    await expect.poll(async () => (await alarmsOf('searchStatus=CLEARED')).data.map((a) => a.type).sort(), { timeout: 10_000 }).toEqual(['Leak', 'Vibration']);
    await expect.poll(() => page.locator(`[data-alarm-id="${leak.id.id}"]`).getAttribute('data-status'), { timeout: 10_000 }).toBe('CLEARED_UNACK');

    // Status filter: the cleared ones, then the active ones.
    await pick(page, 'alarm-status-filter', 'Cleared');
    await rowCount(page, 2);
    await pick(page, 'alarm-status-filter', 'Active');
    await rowCount(page, 2);
    await unpick(page, 'alarm-status-filter');
    await rowCount(page, 4);
    await dismissNotifications(page);
    await page.mouse.move(0, 0);
    await screenshot(page, 'alarms-light');

    // Details: times, originator link, details JSON.
    await hotRow.getByTestId('alarm-open').click();
    const drawer = page.getByTestId('alarm-details-body');
    await drawer.waitFor();
    expect(await page.getByTestId('alarm-details-json').textContent()).toContain('"threshold": 30');
    expect(await page.getByTestId('alarm-originator-link').getAttribute('href')).toBe(`/devices/${boiler.id.id}`);
    expect(await page.getByTestId('alarm-time-acknowledged').textContent()).not.toBe('—');
    expect(await page.getByTestId('alarm-time-cleared').textContent()).toBe('—');
    await dismissNotifications(page);
    await screenshot(page, 'alarm-details-light');
    // Clearing from the drawer updates it in place.
    await page.getByTestId('alarm-details-clear').click();
    await expect.poll(() => page.getByTestId('alarm-details-status').textContent(), { timeout: 10_000 }).toBe('Cleared, acknowledged');
    await page.keyboard.press('Escape');

    // A new alarm shows up while the page is open.
    await raise(pump, 'Overcurrent', 'CRITICAL');
    await rowCount(page, 5);
    expect(await rows(page).first().textContent()).toContain('Overcurrent');
    expect(problems()).toEqual([]);
    await context.close();
  });

  it('shows the page in the dark theme', async () => {
    const { page, context, problems } = await signedInPage(browser, server, { path: '/alarms', colorScheme: 'dark' });
    await rowCount(page, 5);
    await screenshot(page, 'alarms-dark');
    expect(problems()).toEqual([]);
    await context.close();
  });

  it('pages through many alarms and sorts by severity', async () => {
    const devices = await call<PageData<DeviceDto>>('/api/tenant/devices?pageSize=10&page=0');
    const device = devices.data[0]!;
    for (let i = 0; i < 25; i++) {
      await call('/api/alarm', { method: 'POST', body: { type: `Bulk ${String(i).padStart(2, '0')}`, severity: 'INDETERMINATE', originator: { entityType: 'DEVICE', id: device.id.id } } });
    }
    const { page, context, problems } = await signedInPage(browser, server, { path: '/alarms' });
    await rowCount(page, 20);
    await page.getByTestId('alarm-pagination').getByRole('button', { name: '2' }).click();
    await rowCount(page, 10);
    await page.getByTestId('alarm-pagination').getByRole('button', { name: '1' }).click();
    await rowCount(page, 20);
    // Severity descending puts the CRITICAL ones first... as the server sorts it.
    await page.getByTestId('sort-severity').click();
    const expected = (await alarmsOf('sortProperty=severity&sortOrder=DESC')).data.slice(0, 20).map((a) => a.id.id);
    await expect.poll(() => rows(page).evaluateAll((els) => els.map((e) => e.getAttribute('data-alarm-id'))), { timeout: 10_000 }).toEqual(expected);
    expect(problems()).toEqual([]);
    await context.close();
  });
});
