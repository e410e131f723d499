/**
 * `npm run bench:web`: the web app's figures, measured in real headless Chromium on this machine.
 *   - production bundle: total gzip size of the JS and CSS, and the largest chunk (gzip);
 *   - time to first render of the devices page (navigation start -> the first device row visible),
 *     cold (empty cache) and warm (cached assets), median of N runs each.
 * Builds the app when stale; runs the platform in-process on PGlite in a temp directory.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { loadConfig, startRivulet } from '@rivulet/server';
import { launchBrowser, openPage } from '@rivulet/testing';
// @ts-expect-error: plain .mjs shared with npm start
import { buildWebIfStale } from '../scripts/build-if-stale.mjs';

const RUNS = Number(process.env.RUNS ?? 7);
const ADMIN = { username: 'tenant@rivulet.local', password: 'secret123' };

function bundleStats(dist: string) {
  const dir = join(dist, 'assets');
  const files = readdirSync(dir).filter((f) => f.endsWith('.js') || f.endsWith('.css'));
  let total = 0;
  let raw = 0;
  let largest = { name: '', gzip: 0 };
  for (const f of files) {
    const buf = readFileSync(join(dir, f));
    const gz = gzipSync(buf, { level: 9 }).length;
    total += gz;
    raw += statSync(join(dir, f)).size;
    if (gz > largest.gzip) largest = { name: f, gzip: gz };
  }
  // What the devices page loads: index.html's entry and preloads plus the page's own chunks.
  return { files: files.length, rawKB: raw / 1024, gzipKB: total / 1024, largest };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function main() {
  (buildWebIfStale as (o: { quiet: boolean }) => boolean)({ quiet: true });
  const dist = join(import.meta.dirname, '..', 'dist');
  const b = bundleStats(dist);
  console.log(`bundle: ${b.files} files, ${b.rawKB.toFixed(0)} KB raw, ${b.gzipKB.toFixed(0)} KB gzip; largest chunk ${b.largest.name} ${(b.largest.gzip / 1024).toFixed(0)} KB gzip`);

  const dataDir = mkdtempSync(join(tmpdir(), 'rivulet-webbench-'));
  const rivulet = await startRivulet(
    loadConfig({ RIVULET_DATA_DIR: dataDir, RIVULET_HTTP_PORT: '0', RIVULET_HTTP_HOST: '127.0.0.1', RIVULET_MQTT_PORT: '0', RIVULET_COAP_PORT: '0', RIVULET_ADMIN_PASSWORD: ADMIN.password, RIVULET_LOG_LEVEL: 'silent', RIVULET_API_RATE_LIMIT: '0' }),
  );
  const browser = await launchBrowser();
  try {
    const login = await fetch(`${rivulet.url}/api/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(ADMIN) });
    const pair = (await login.json()) as { token: string; refreshToken: string };
    for (let i = 0; i < 50; i++) {
      await fetch(`${rivulet.url}/api/device`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-authorization': `Bearer ${pair.token}` }, body: JSON.stringify({ name: `bench-${String(i).padStart(3, '0')}`, type: 'sensor' }) });
    }
    const cold: number[] = [];
    const warm: number[] = [];
    for (let r = 0; r < RUNS; r++) {
      const { page, context } = await openPage(browser, { baseURL: rivulet.url });
      // A signed-in tab: the tokens as the sign-in page stores them (a fresh pair per run).
      const l = await fetch(`${rivulet.url}/api/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(ADMIN) });
      const p = (await l.json()) as { token: string; refreshToken: string };
      await context.addInitScript(`localStorage.setItem('rivulet.token', ${JSON.stringify(p.token)}); localStorage.setItem('rivulet.refreshToken', ${JSON.stringify(p.refreshToken)});`);
      for (const into of [cold, warm]) {
        await page.goto('/devices', { waitUntil: 'commit' });
        await page.getByText(/^bench-0\d\d$/).first().waitFor({ timeout: 30_000 });
        into.push((await page.evaluate('performance.now()')) as number);
      }
      await context.close();
    }
    console.log(`devices page first render (navigation start -> first device row), median of ${RUNS}: cold cache ${median(cold).toFixed(0)} ms, warm cache ${median(warm).toFixed(0)} ms`);
  } finally {
    await browser.close();
    await rivulet.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

await main();
