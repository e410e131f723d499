import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';

/**
 * Real headless Chromium (Debian's, /usr/bin/chromium; RIVULET_CHROMIUM overrides) driven by
 * playwright-core, for the web app's browser tests. Never downloads a browser.
 */

export function chromiumPath(): string {
  const candidates = [process.env.RIVULET_CHROMIUM, '/usr/bin/chromium', '/usr/bin/chromium-browser', '/usr/bin/google-chrome'];
  for (const c of candidates) if (c && existsSync(c)) return c;
  throw new Error('Chromium not found: apt-get install -y chromium (or set RIVULET_CHROMIUM to its path)');
}

export interface TestBrowser {
  browser: Browser;
  close(): Promise<void>;
}

export async function launchBrowser(): Promise<TestBrowser> {
  const userDataDir = mkdtempSync(join(tmpdir(), 'rivulet-chromium-'));
  const browser = await chromium.launch({
    executablePath: chromiumPath(),
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--disable-dev-shm-usage'],
  });
  return {
    browser,
    async close() {
      await browser.close().catch(() => {});
      rmSync(userDataDir, { recursive: true, force: true });
    },
  };
}

export interface OpenedPage {
  context: BrowserContext;
  page: Page;
  /**
   * Console errors and warnings, uncaught page errors and failed requests seen so far (a test ends
   * with `expect(problems()).toEqual([])`). Expected failures can be filtered with `allow`.
   */
  problems(allow?: RegExp[]): string[];
}

/** A fresh browser context (own storage) with a page that records every console problem. */
export async function openPage(b: TestBrowser, options: { baseURL: string; colorScheme?: 'light' | 'dark'; viewport?: { width: number; height: number } }): Promise<OpenedPage> {
  const context = await b.browser.newContext({
    baseURL: options.baseURL,
    colorScheme: options.colorScheme ?? 'light',
    viewport: options.viewport ?? { width: 1400, height: 900 },
    permissions: ['clipboard-read', 'clipboard-write'],
  });
  // Shorter than the test's own timeout, so a missing element fails with its locator named.
  context.setDefaultTimeout(10_000);
  const page = await context.newPage();
  const seen: string[] = [];
  page.on('console', (m) => {
    if (m.type() === 'error' || m.type() === 'warning') seen.push(`console.${m.type()}: ${m.text()}`);
  });
  page.on('pageerror', (e) => seen.push(`pageerror: ${e.message}`));
  return {
    context,
    page,
    problems: (allow = []) => seen.filter((s) => !allow.some((r) => r.test(s))),
  };
}

/** Where the browser tests put their screenshots: docs/screenshots of the repository. */
export const SCREENSHOT_DIR = join(import.meta.dirname, '..', '..', '..', 'docs', 'screenshots');

/** Saves a full-page PNG as docs/screenshots/<name>.png and returns its path (look at it). */
export async function screenshot(page: Page, name: string): Promise<string> {
  mkdirSync(SCREENSHOT_DIR, { recursive: true });
  const path = join(SCREENSHOT_DIR, `${name}.png`);
  await page.screenshot({ path, fullPage: false, animations: 'disabled' });
  return path;
}

/** Signs in through the sign-in form and waits for the shell. */
export async function signInThroughForm(page: Page, credentials: { username: string; password: string }, path = '/'): Promise<void> {
  await page.goto(path);
  await page.locator('input[name="username"]').fill(credentials.username);
  await page.locator('input[name="password"]').fill(credentials.password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByTestId('user-menu').waitFor({ timeout: 15_000 });
}
