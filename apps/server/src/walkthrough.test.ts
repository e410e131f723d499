import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { createTestDatabase } from '@rivulet/testing';
import { afterAll, describe, expect, it } from 'vitest';
import { api, login, startTestServer, tempDir } from './test-helpers';

const run = promisify(execFile);
const README = join(import.meta.dirname, '..', '..', '..', 'README.md');

/** The README's walkthrough block, verbatim. */
function walkthroughScript(): string {
  const text = readFileSync(README, 'utf8');
  const m = /<!-- walkthrough:start -->\s*```bash\n([\s\S]*?)```\s*<!-- walkthrough:end -->/.exec(text);
  if (!m?.[1]) throw new Error('README.md has no walkthrough block');
  return m[1];
}

async function runWalkthrough(base: string): Promise<string> {
  const { stdout } = await run('bash', ['-euo', 'pipefail', '-c', walkthroughScript()], { env: { ...process.env, HOST: base }, timeout: 60_000 });
  return stdout;
}

function checkOutput(stdout: string): void {
  // The last command prints the latest values; the doc command's {temperature:25} is the newest.
  const last = stdout.trim().split('\n').at(-1) ?? '';
  const body = JSON.parse(last) as Record<string, Array<{ ts: number; value: string }>>;
  expect(body.temperature?.[0]?.value).toBe('25');
  expect(body.humidity?.[0]?.value).toBe('40');
}

describe('README walkthrough, verbatim, with real curl', () => {
  const dirs: Array<{ remove(): void }> = [];
  afterAll(() => dirs.forEach((d) => d.remove()));

  it('works on the embedded database, and the data is still there after a restart', async () => {
    const d = tempDir();
    dirs.push(d);
    const first = await startTestServer({ RIVULET_DATA_DIR: d.dir });
    let deviceId: string;
    try {
      checkOutput(await runWalkthrough(first.url));
      const jwt = await login(first.url);
      const page = await api<{ data: Array<{ id: { id: string }; name: string }> }>(first.url, jwt, '/api/tenant/devices?pageSize=10&page=0');
      deviceId = page.body.data.find((x) => x.name === 'Thermostat A')!.id.id;
    } finally {
      await first.stop();
    }
    const second = await startTestServer({ RIVULET_DATA_DIR: d.dir });
    try {
      const jwt = await login(second.url);
      const r = await api<Record<string, Array<{ value: string }>>>(second.url, jwt, `/api/plugins/telemetry/DEVICE/${deviceId}/values/timeseries?keys=temperature,humidity`);
      expect(r.status).toBe(200);
      expect(r.body.temperature?.[0]?.value).toBe('25');
      expect(r.body.humidity?.[0]?.value).toBe('40');
    } finally {
      await second.stop();
    }
  });

  it('works the same with DATABASE_URL pointing at a real PostgreSQL server', async () => {
    const db = await createTestDatabase('walk');
    const d = tempDir();
    dirs.push(d);
    const app = await startTestServer({ DATABASE_URL: db.url, RIVULET_DATA_DIR: d.dir });
    try {
      expect(app.storage.kind).toBe('postgres');
      checkOutput(await runWalkthrough(app.url));
    } finally {
      await app.stop();
      await db.drop();
    }
  });
});
