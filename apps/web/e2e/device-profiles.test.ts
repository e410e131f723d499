import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Locator, Page } from 'playwright-core';
import type { TestBrowser } from '@rivulet/testing';
import { adminApi, launchBrowser, screenshot, signedInPage, startWebServer, type WebServer } from './harness';

const execFileP = promisify(execFile);
type Api = Awaited<ReturnType<typeof adminApi>>;
interface Profile {
  id: { id: string };
  name: string;
  description: string | null;
  default: boolean;
  provisionType: string;
  provisionDeviceKey: string | null;
  defaultRuleChainId: { id: string } | null;
  profileData: { provisionConfiguration?: { type: string; provisionDeviceSecret: string | null }; alarms?: unknown[] | null; [k: string]: unknown };
}
interface Page_<T> {
  data: T[];
}

/** expect.poll's own default (1 s) is shorter than a debounced search on a busy machine. */
const POLL = { timeout: 10_000 };
const value = (n: number) => ({ defaultValue: n, userValue: null, dynamicValue: null });
const tsCondition = (key: string, operation: string, n: number) => ({ key: { type: 'TIME_SERIES', key }, valueType: 'NUMERIC', value: null, predicate: { type: 'NUMERIC', operation, value: value(n) } });
/** An alarm the form cannot show (two severities, an attribute key, a schedule): it must come back unchanged. */
const ADVANCED_ALARM = {
  id: '0b7c6a52-0d6e-4c1e-9f53-1f8d3c7e2a10',
  alarmType: 'Battery',
  createRules: {
    CRITICAL: { condition: { condition: [tsCondition('battery', 'LESS', 5)], spec: { type: 'SIMPLE' } }, schedule: { type: 'SPECIFIC_TIME', timezone: 'Europe/Berlin', daysOfWeek: [1, 2, 3], startsOn: 0, endsOn: 3_600_000 }, alarmDetails: null, dashboardId: null },
    MINOR: { condition: { condition: [{ key: { type: 'CLIENT_ATTRIBUTE', key: 'battery' }, valueType: 'NUMERIC', value: null, predicate: { type: 'NUMERIC', operation: 'LESS', value: value(20) } }], spec: { type: 'SIMPLE' } }, schedule: null, alarmDetails: null, dashboardId: null },
  },
  clearRule: null,
  propagate: false,
  propagateToOwner: false,
  propagateToTenant: false,
  propagateRelationTypes: null,
};

async function profileByName(api: Api, name: string): Promise<Profile | undefined> {
  const page = await api<Page_<Profile>>(`/api/deviceProfiles?pageSize=50&page=0&textSearch=${encodeURIComponent(name)}`);
  return page.data.find((p) => p.name === name);
}

function row(page: Page, name: string): Locator {
  return page.locator(`[data-testid="profile-row"][data-profile-name="${name}"]`);
}

async function pick(page: Page, select: Locator, option: string): Promise<void> {
  await select.click();
  await page.getByRole('option', { name: option, exact: true }).click();
}

/** Closes the notifications, so a screenshot shows what they would cover. */
async function closeNotifications(page: Page): Promise<void> {
  const close = page.locator('.mantine-Notification-closeButton');
  for (let i = 0; i < 50 && (await close.count()) > 0; i++) {
    await close
      .first()
      .click({ force: true, timeout: 1000 })
      .catch(() => {});
    await page.waitForTimeout(150);
  }
}

// The device profiles page in real Chromium against the whole platform on real PostgreSQL.
describe('device profiles page', () => {
  let server: WebServer;
  let browser: TestBrowser;
  let api: Api;
  let chainId: string;
  beforeAll(async () => {
    server = await startWebServer();
    browser = await launchBrowser();
    api = await adminApi(server);
    const chain = await api<{ id: { id: string } }>('/api/ruleChain', { method: 'POST', body: { name: 'Thermal chain' } });
    chainId = chain.id.id;
  });
  afterAll(async () => {
    await browser?.close();
    await server?.stop();
  });

  it('creates a profile with an alarm rule, a rule chain and a provision key; lists it; edits it keeping a JSON-only alarm; makes it default; the default cannot be deleted', async () => {
    const { page, context, problems } = await signedInPage(browser, server, { path: '/' });
    await page.getByRole('link', { name: 'Device profiles' }).click();
    await page.getByTestId('profiles-table').waitFor();
    // Every tenant has its default profile.
    await expect(row(page, 'default').getAttribute('data-default')).resolves.toBe('true');

    await page.getByTestId('create-profile').click();
    const form = page.getByTestId('profile-form');
    // Nothing is sent without a name.
    await page.getByTestId('save-profile').click();
    await form.getByText('Device profile name should be specified').waitFor();
    await form.locator('input[name="name"]').fill('Thermostat');
    await form.locator('textarea[name="description"]').fill('Room thermostats, reporting every minute');
    await pick(page, form.getByTestId('profile-rule-chain'), 'Thermal chain');

    // Alarm rules: an incomplete rule is named on its field, on its tab.
    await form.getByTestId('tab-alarms').click();
    await form.getByTestId('no-alarm-rules').waitFor();
    await form.getByTestId('add-alarm-rule').click();
    const rule = form.getByTestId('alarm-rule').first();
    await rule.locator('input[name="alarmType"]').fill('High temperature');
    await rule.locator('input[name="create.key"]').fill('temperature');
    await form.getByRole('tab', { name: 'Details' }).click();
    await page.getByTestId('save-profile').click();
    await rule.getByText('The value must be a number').waitFor();
    expect(await form.getByTestId('tab-alarms').getAttribute('aria-selected')).toBe('true');
    await pick(page, rule.getByTestId('alarm-severity'), 'Major');
    await pick(page, rule.getByTestId('create-operation'), '>');
    await rule.locator('input[name="create.value"]').fill('30');
    await rule.locator('input[name="create.duration"]').fill('10');
    await rule.getByTestId('add-clear-rule').click();
    expect(await rule.locator('input[name="clear.key"]').inputValue()).toBe('temperature');
    await pick(page, rule.getByTestId('clear-operation'), '≤');
    await rule.locator('input[name="clear.value"]').fill('25');
    await closeNotifications(page);
    await screenshot(page, 'device-profile-alarms-light');

    // Provisioning: turning it on fills a key and a secret; generate makes a new one.
    await form.getByTestId('tab-provisioning').click();
    await pick(page, form.getByTestId('provision-type'), 'Allow to create new devices');
    const keyInput = form.locator('input[name="provisionDeviceKey"]');
    const secretInput = form.locator('input[name="provisionDeviceSecret"]');
    const firstKey = await keyInput.inputValue();
    expect(firstKey).toMatch(/^[A-Za-z0-9]{20}$/);
    expect(await secretInput.inputValue()).toMatch(/^[A-Za-z0-9]{20}$/);
    await form.getByTestId('generate-provision-key').click();
    const key = await keyInput.inputValue();
    expect(key).toMatch(/^[A-Za-z0-9]{20}$/);
    expect(key).not.toBe(firstKey);
    const secret = await secretInput.inputValue();
    await screenshot(page, 'device-profile-provisioning-light');
    await page.getByTestId('save-profile').click();
    await form.waitFor({ state: 'hidden' });

    // Stored in ThingsBoard's shapes.
    const created = (await profileByName(api, 'Thermostat'))!;
    expect(created).toMatchObject({
      description: 'Room thermostats, reporting every minute',
      default: false,
      provisionType: 'ALLOW_CREATE_NEW_DEVICES',
      provisionDeviceKey: key,
      defaultRuleChainId: { id: chainId },
    });
    expect(created.profileData.provisionConfiguration).toEqual({ type: 'ALLOW_CREATE_NEW_DEVICES', provisionDeviceSecret: secret });
    expect(created.profileData.alarms).toHaveLength(1);
    const alarm = created.profileData.alarms![0] as Record<string, unknown>;
    expect(alarm.id).toMatch(/^[0-9a-f-]{36}$/);
    expect(alarm).toMatchObject({
      alarmType: 'High temperature',
      createRules: { MAJOR: { condition: { condition: [tsCondition('temperature', 'GREATER', 30)], spec: { type: 'DURATION', unit: 'SECONDS', predicate: value(10) } } } },
      clearRule: { condition: { condition: [tsCondition('temperature', 'LESS_OR_EQUAL', 25)], spec: { type: 'SIMPLE' } } },
      propagate: false,
    });

    // In the list: provisioning, the chain by name, not default.
    const thermostat = row(page, 'Thermostat');
    await thermostat.waitFor();
    expect(await thermostat.getByTestId('profile-provision').textContent()).toBe('Allow to create new devices');
    await thermostat.getByTestId('profile-rule-chain-cell').getByText('Thermal chain').waitFor();
    expect(await thermostat.getAttribute('data-default')).toBe('false');
    expect(await row(page, 'default').getByTestId('profile-rule-chain-cell').textContent()).toBe('Root chain');
    await closeNotifications(page);
    await screenshot(page, 'device-profiles-light');

    // An alarm written elsewhere (ThingsBoard's UI, the API) that the form cannot show.
    await api('/api/deviceProfile', { method: 'POST', body: { ...created, profileData: { ...created.profileData, alarms: [...created.profileData.alarms!, ADVANCED_ALARM] } } });
    await page.reload();
    await thermostat.getByTestId('edit-profile').click();
    expect(await form.locator('input[name="name"]').inputValue()).toBe('Thermostat');
    await form.getByTestId('tab-alarms').click();
    const rules = form.getByTestId('alarm-rule');
    await expect.poll(() => rules.count(), POLL).toBe(2);
    expect(await rules.nth(0).getAttribute('data-kind')).toBe('simple');
    expect(await rules.nth(0).locator('input[name="create.value"]').inputValue()).toBe('30');
    expect(await rules.nth(0).locator('input[name="create.duration"]').inputValue()).toBe('10');
    expect(await rules.nth(1).getAttribute('data-kind')).toBe('advanced');
    expect(await rules.nth(1).getByTestId('advanced-badge').textContent()).toBe('advanced (edit as JSON)');
    expect(JSON.parse(await rules.nth(1).locator('textarea[name="json"]').inputValue())).toEqual(ADVANCED_ALARM);
    // Broken JSON is refused on the field, nothing sent.
    const json = rules.nth(1).locator('textarea[name="json"]');
    const goodJson = await json.inputValue();
    await json.fill(goodJson.slice(0, -3));
    await page.getByTestId('save-profile').click();
    await rules.nth(1).getByText(/^Not valid JSON/).waitFor();
    await json.fill(goodJson);
    await rules.nth(0).locator('input[name="create.value"]').fill('35');
    await rules.nth(0).getByTestId('remove-clear-rule').click();
    await closeNotifications(page);
    await screenshot(page, 'device-profile-edit-light');
    await page.getByTestId('save-profile').click();
    await form.waitFor({ state: 'hidden' });
    const edited = (await profileByName(api, 'Thermostat'))!;
    expect(edited.profileData.alarms).toHaveLength(2);
    expect(edited.profileData.alarms![0]).toMatchObject({ id: alarm.id, alarmType: 'High temperature', createRules: { MAJOR: { condition: { condition: [tsCondition('temperature', 'GREATER', 35)] } } }, clearRule: null });
    expect(edited.profileData.alarms![1]).toEqual(ADVANCED_ALARM);
    // The rest of the profile is as it was.
    expect(edited).toMatchObject({ provisionDeviceKey: key, defaultRuleChainId: { id: chainId }, provisionType: 'ALLOW_CREATE_NEW_DEVICES' });

    // Make it the default: the marker moves.
    await thermostat.getByTestId('make-default').click();
    await expect.poll(() => thermostat.getAttribute('data-default'), POLL).toBe('true');
    await expect.poll(() => row(page, 'default').getAttribute('data-default'), POLL).toBe('false');
    expect((await profileByName(api, 'Thermostat'))!.default).toBe(true);
    expect(await thermostat.getByTestId('make-default').isDisabled()).toBe(true);

    // The default cannot be deleted: the server's words on the page, the profile kept.
    await thermostat.getByTestId('delete-profile').click();
    const dialog = page.getByRole('dialog', { name: 'Delete device profile Thermostat?' });
    await dialog.waitFor();
    await page.getByTestId('confirm-delete').click();
    const refusal = page.getByTestId('delete-error');
    await refusal.waitFor();
    expect(await refusal.textContent()).toContain('Deletion of Default Device Profile is prohibited!');
    expect(await refusal.textContent()).toContain('Thermostat');
    expect(await profileByName(api, 'Thermostat')).toBeDefined();
    await closeNotifications(page);
    await screenshot(page, 'device-profile-delete-default-light');

    // A second profile with the same provision key: the server's refusal, on the provisioning tab; nothing created.
    await page.getByTestId('create-profile').click();
    await form.locator('input[name="name"]').fill('Copycat');
    await form.getByTestId('tab-provisioning').click();
    await pick(page, form.getByTestId('provision-type'), 'Check for pre-provisioned devices');
    await keyInput.fill(key);
    await form.getByRole('tab', { name: 'Details' }).click();
    await page.getByTestId('save-profile').click();
    await form.getByTestId('profile-form-error').getByText('Device profile with such provision device key already exists!').waitFor();
    expect(await form.getByTestId('tab-provisioning').getAttribute('aria-selected')).toBe('true');
    expect(await keyInput.getAttribute('aria-invalid')).toBe('true');
    expect(await profileByName(api, 'Copycat')).toBeUndefined();
    await page.keyboard.press('Escape');
    await form.waitFor({ state: 'hidden' });

    expect(problems([/status of 400/])).toEqual([]);
    await context.close();
  }, 120_000);

  it('creates a device on the default profile (preselected) and another on a chosen one; the device list shows each profile; a profile in use is not deleted, an unused one is', async () => {
    const { page, context, problems } = await signedInPage(browser, server, { path: '/devices' });
    await page.getByTestId('create-first-device').click();
    const form = page.getByTestId('device-form');
    // The tenant's default profile (Thermostat, made default above) is preselected.
    const profileSelect = form.getByTestId('device-profile-select');
    await expect.poll(() => profileSelect.inputValue(), POLL).toBe('Thermostat');
    await form.locator('input[name="name"]').fill('Thermo 1');
    await screenshot(page, 'device-create-profile-light');
    await form.getByRole('button', { name: 'Create' }).click();
    await page.getByTestId('connect-drawer').waitFor();
    await page.keyboard.press('Escape');
    await page.getByTestId('connect-drawer').waitFor({ state: 'hidden' });

    await page.getByTestId('create-device').click();
    await form.locator('input[name="name"]').fill('Plain 1');
    await expect.poll(() => profileSelect.inputValue(), POLL).toBe('Thermostat');
    await pick(page, profileSelect, 'default');
    await form.getByRole('button', { name: 'Create' }).click();
    await page.getByTestId('connect-drawer').waitFor();
    await page.keyboard.press('Escape');

    const deviceRow = (name: string) => page.locator(`[data-testid="device-row"][data-device-name="${name}"]`);
    await expect.poll(() => deviceRow('Thermo 1').getByTestId('device-profile').textContent(), POLL).toBe('Thermostat');
    await expect.poll(() => deviceRow('Plain 1').getByTestId('device-profile').textContent(), POLL).toBe('default');
    const thermostat = (await profileByName(api, 'Thermostat'))!;
    const device = await api<{ deviceProfileId: { id: string }; type: string }>('/api/tenant/devices?deviceName=Thermo%201');
    expect(device).toMatchObject({ deviceProfileId: { id: thermostat.id.id }, type: 'Thermostat' });

    // A device provisions itself with the key and secret the form generated (curl, ThingsBoard's HTTP provision request) and lands on the profile.
    const request = JSON.stringify({ deviceName: 'Provisioned 1', provisionDeviceKey: thermostat.provisionDeviceKey, provisionDeviceSecret: thermostat.profileData.provisionConfiguration!.provisionDeviceSecret });
    const { stdout } = await execFileP('curl', ['-sS', '-X', 'POST', '-H', 'content-type: application/json', '-d', request, `${server.url}/api/v1/provision`], { timeout: 15_000 });
    expect(JSON.parse(stdout)).toMatchObject({ status: 'SUCCESS', credentialsType: 'ACCESS_TOKEN' });
    await page.reload();
    await expect.poll(() => deviceRow('Provisioned 1').getByTestId('device-profile').textContent(), POLL).toBe('Thermostat');

    // Editing shows the device's profile and moves it to another.
    await deviceRow('Plain 1').getByTestId('edit-device').click();
    await expect.poll(() => profileSelect.inputValue(), POLL).toBe('default');
    await pick(page, profileSelect, 'Thermostat');
    await form.getByRole('button', { name: 'Save' }).click();
    await form.waitFor({ state: 'hidden' });
    await expect.poll(() => deviceRow('Plain 1').getByTestId('device-profile').textContent(), POLL).toBe('Thermostat');
    await closeNotifications(page);
    await screenshot(page, 'devices-profiles-light');

    // Back on the profiles page: "default" is default again; Thermostat is in use, so it stays.
    await api(`/api/deviceProfile/${(await profileByName(api, 'default'))!.id.id}/default`, { method: 'POST' });
    await api('/api/deviceProfile', { method: 'POST', body: { name: 'Spare' } });
    await page.getByRole('link', { name: 'Device profiles' }).click();
    await row(page, 'Thermostat').getByTestId('delete-profile').click();
    await page.getByTestId('confirm-delete').click();
    await page.getByTestId('delete-error').getByText('The device profile referenced by the devices cannot be deleted!').waitFor();
    expect(await profileByName(api, 'Thermostat')).toBeDefined();
    // An unused one goes, after the confirmation; the refusal shown before is gone.
    await row(page, 'Spare').getByTestId('delete-profile').click();
    await page.getByTestId('confirm-delete').click();
    await row(page, 'Spare').waitFor({ state: 'detached' });
    expect(await page.getByTestId('delete-error').count()).toBe(0);
    expect(await profileByName(api, 'Spare')).toBeUndefined();

    // Search.
    await page.getByTestId('profile-search').fill('thermo');
    await expect.poll(() => page.getByTestId('profile-row').count(), POLL).toBe(1);
    await page.getByTestId('profile-search').fill('nothing-like-this');
    await page.getByTestId('empty').getByText('No matching device profiles').waitFor();
    expect(problems([/status of 400/])).toEqual([]);
    await context.close();

    const dark = await signedInPage(browser, server, { path: '/device-profiles', colorScheme: 'dark' });
    await row(dark.page, 'Thermostat').getByTestId('profile-rule-chain-cell').getByText('Thermal chain').waitFor();
    await screenshot(dark.page, 'device-profiles-dark');
    expect(dark.problems()).toEqual([]);
    await dark.context.close();
  }, 120_000);

  it('an alarm rule made in the form raises and clears alarms for a device of the profile that reports over HTTP (curl)', async () => {
    const { page, context, problems } = await signedInPage(browser, server, { path: '/device-profiles' });
    await page.getByTestId('create-profile').click();
    const form = page.getByTestId('profile-form');
    await form.locator('input[name="name"]').fill('Boiler');
    // No rule chain chosen: the root chain, whose device profile node evaluates the rules.
    await form.getByTestId('tab-alarms').click();
    await form.getByTestId('add-alarm-rule').click();
    const rule = form.getByTestId('alarm-rule').first();
    await rule.locator('input[name="alarmType"]').fill('Overheat');
    await rule.locator('input[name="create.key"]').fill('temperature');
    await rule.locator('input[name="create.value"]').fill('80');
    await rule.getByTestId('add-clear-rule').click();
    await rule.locator('input[name="clear.value"]').fill('60');
    await page.getByTestId('save-profile').click();
    await form.waitFor({ state: 'hidden' });
    const boiler = (await profileByName(api, 'Boiler'))!;

    const device = await api<{ id: { id: string } }>('/api/device', { method: 'POST', body: { name: 'Boiler 7', deviceProfileId: boiler.id } });
    const { credentialsId: token } = await api<{ credentialsId: string }>(`/api/device/${device.id.id}/credentials`);
    const report = (temperature: number) =>
      execFileP('curl', ['-sS', '-f', '-X', 'POST', '-H', 'content-type: application/json', '-d', JSON.stringify({ temperature }), `${server.url}/api/v1/${token}/telemetry`], { timeout: 15_000 });
    const alarms = async () =>
      (await api<{ data: Array<{ type: string; severity: string; status: string }> }>(`/api/alarm/DEVICE/${device.id.id}?pageSize=10&page=0`)).data.map((a) => `${a.type} ${a.severity} ${a.status}`);

    await report(70);
    await report(85);
    await expect.poll(alarms, { timeout: 15_000 }).toEqual(['Overheat CRITICAL ACTIVE_UNACK']);
    await page.getByRole('link', { name: 'Alarms' }).click();
    await page.getByTestId('alarm-row').filter({ hasText: 'Overheat' }).waitFor({ timeout: 15_000 });
    await closeNotifications(page);
    await screenshot(page, 'device-profile-alarm-raised-light');
    await report(55);
    await expect.poll(alarms, { timeout: 15_000 }).toEqual(['Overheat CRITICAL CLEARED_UNACK']);
    expect(problems()).toEqual([]);
    await context.close();
  }, 60_000);

  it('shows the empty state with a create button when the tenant has no profile', async () => {
    const { page, context, problems } = await signedInPage(browser, server, { path: '/alarms' });
    // Every tenant gets a default profile when it is created, so a tenant without one is faked, named as such: an empty page answered to the list.
    await page.route('**/api/deviceProfiles?*', (route) => route.fulfill({ status: 200, contentType: 'application/json', body: JSON.stringify({ data: [], totalPages: 0, totalElements: 0, hasNext: false }) }));
    await page.getByRole('link', { name: 'Device profiles' }).click();
    // (The alarms page the test starts on has an empty state of its own.)
    await page.getByRole('heading', { name: 'Device profiles' }).waitFor();
    const empty = page.getByTestId('empty');
    await empty.getByText('No device profiles yet').waitFor();
    expect(await empty.textContent()).toContain('No device profiles yet — create one');
    expect(await page.getByTestId('profile-search').count()).toBe(0);
    await screenshot(page, 'device-profiles-empty-light');
    await page.getByTestId('create-first-profile').click();
    await page.getByTestId('profile-form').waitFor();
    expect(problems()).toEqual([]);
    await context.close();
  }, 30_000);

  it('shows the error state when the list cannot be loaded, and recovers with Try again', async () => {
    const { page, context, problems } = await signedInPage(browser, server, { path: '/alarms' });
    // A fake fault, named as such: the server answering 503 to the list.
    await page.route('**/api/deviceProfiles?*', (route) =>
      route.fulfill({ status: 503, contentType: 'application/json', body: JSON.stringify({ status: 503, message: 'Service unavailable (injected by the test)', errorCode: 2, timestamp: Date.now() }) }),
    );
    await page.getByRole('link', { name: 'Device profiles' }).click();
    await page.getByTestId('error').waitFor({ timeout: 15_000 });
    expect(await page.getByTestId('error').textContent()).toContain('Service unavailable (injected by the test)');
    await page.unroute('**/api/deviceProfiles?*');
    await page.getByRole('button', { name: 'Try again' }).click();
    await page.getByTestId('profiles-table').waitFor();
    expect(problems([/status of 503/])).toEqual([]);
    await context.close();
  }, 30_000);
});
