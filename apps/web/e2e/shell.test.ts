import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN, launchBrowser, openPage, screenshot, startWebServer, type WebServer } from './harness';
import type { TestBrowser } from '@rivulet/testing';

// The shell in real Chromium: sign-in, the remembered page, reload, themes, sign-out, expiry.
describe('web app shell', () => {
  let server: WebServer;
  let browser: TestBrowser;
  beforeAll(async () => {
    // Short-lived tokens so the test can watch a session expire: access 3 s, refresh 6 s.
    server = await startWebServer({ RIVULET_JWT_TOKEN_EXPIRATION_SECONDS: '3', RIVULET_JWT_REFRESH_TOKEN_EXPIRATION_SECONDS: '10' });
    browser = await launchBrowser();
  });
  afterAll(async () => {
    await browser?.close();
    await server?.stop();
  });

  it('sends a visitor to sign-in, remembers the page, refuses a wrong password, and signs in', async () => {
    const { page, context, problems } = await openPage(browser, { baseURL: server.url });
    await page.goto('/dashboards');
    await page.waitForURL(/\/login\?next=%2Fdashboards$/);
    await page.locator('input[name="username"]').fill(ADMIN.username);
    await page.locator('input[name="password"]').fill('wrong-password');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await expect(page.getByTestId('login-error').textContent()).resolves.toContain('Invalid username or password');
    await screenshot(page, 'sign-in-error-light');
    await page.locator('input[name="password"]').fill(ADMIN.password);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.waitForURL(/\/dashboards$/);
    await page.getByTestId('user-menu').waitFor();
    expect(await page.getByTestId('user-menu').textContent()).toContain('tenant admin');

    // The session survives a reload.
    await page.reload();
    await page.getByTestId('user-menu').waitFor();
    expect(new URL(page.url()).pathname).toBe('/dashboards');

    // Sign out: back to sign-in, and the stored tokens are gone.
    await page.getByTestId('user-menu').click();
    await page.getByTestId('sign-out').click();
    await page.waitForURL(/\/login/);
    expect(await page.evaluate('localStorage.getItem("rivulet.token")')).toBeNull();
    // The 401 of the wrong password is the browser's own network log line, not the app's.
    expect(problems([/status of 401/])).toEqual([]);
    await context.close();
  });

  it('shows the sign-in page in both themes and switches theme from the header', async () => {
    for (const scheme of ['light', 'dark'] as const) {
      const { page, context, problems } = await openPage(browser, { baseURL: server.url, colorScheme: scheme });
      await page.goto('/login');
      await page.getByRole('button', { name: 'Sign in' }).waitFor();
      await screenshot(page, `sign-in-${scheme}`);
      expect(problems()).toEqual([]);
      await context.close();
    }
    const { page, context } = await openPage(browser, { baseURL: server.url, colorScheme: 'light' });
    await page.goto('/login');
    await page.locator('input[name="username"]').fill(ADMIN.username);
    await page.locator('input[name="password"]').fill(ADMIN.password);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByTestId('theme-toggle').click();
    await expect(page.evaluate('document.documentElement.getAttribute("data-mantine-color-scheme")')).resolves.toBe('dark');
    await page.reload();
    await page.getByTestId('user-menu').waitFor();
    // The choice is kept across reloads.
    await expect(page.evaluate('document.documentElement.getAttribute("data-mantine-color-scheme")')).resolves.toBe('dark');
    await context.close();
  });

  it('keeps a session alive past the access token by refreshing it, and an expired session returns to sign-in with the page remembered', async () => {
    const { page, context, problems } = await openPage(browser, { baseURL: server.url });
    await page.goto('/login?next=%2Fdevices');
    await page.locator('input[name="username"]').fill(ADMIN.username);
    await page.locator('input[name="password"]').fill(ADMIN.password);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.waitForURL(/\/devices$/);
    // Past the access token's 3 s but within the refresh token's 10 s (margin for a loaded machine): a navigation still works.
    await page.waitForTimeout(4_000);
    // Rule chains, not Alarms: the alarms page polls every few seconds, and a page that keeps asking
    // keeps its session alive (each call refreshes the tokens), so it would never sit idle.
    await page.getByRole('link', { name: 'Rule chains' }).click();
    await page.waitForURL(/\/rule-chains$/);
    await page.reload();
    await page.getByTestId('user-menu').waitFor();
    expect(new URL(page.url()).pathname).toBe('/rule-chains');
    // Idle past the refresh token's lifetime: the next request ends the session.
    await page.waitForTimeout(11_000);
    await page.getByRole('link', { name: 'Dashboards' }).click();
    await page.reload();
    await page.waitForURL(/\/login\?next=%2Fdashboards$/);
    await expect(page.getByTestId('session-ended').textContent()).resolves.toContain('expired');
    await screenshot(page, 'session-expired-light');
    await page.locator('input[name="username"]').fill(ADMIN.username);
    await page.locator('input[name="password"]').fill(ADMIN.password);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.waitForURL(/\/dashboards$/);
    expect(problems([/status of 401/])).toEqual([]);
    await context.close();
  }, 40_000);

  it('serves the app on any client-side path but leaves /api to the API', async () => {
    const html = await fetch(`${server.url}/devices/some-id`);
    expect(html.status).toBe(200);
    expect(html.headers.get('content-type')).toContain('text/html');
    expect(html.headers.get('cache-control')).toBe('no-cache');
    const body = await html.text();
    const asset = /src="(\/assets\/[^"]+\.js)"/.exec(body)?.[1];
    expect(asset).toBeDefined();
    const js = await fetch(`${server.url}${asset}`);
    expect(js.status).toBe(200);
    expect(js.headers.get('cache-control')).toContain('immutable');
    const missing = await fetch(`${server.url}/assets/gone-1234.js`);
    expect(missing.status).toBe(404);
    const apiMiss = await fetch(`${server.url}/api/no-such-thing`);
    expect(apiMiss.status).toBe(404);
    expect(apiMiss.headers.get('content-type')).toContain('application/json');
  });
});
