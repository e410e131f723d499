import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { freePort } from '@rivulet/testing';
import { tempDir } from './test-helpers';

const SERVER_DIR = join(import.meta.dirname, '..');

/** `npm start` on a data directory until it listens; then SIGTERM. Resolves with everything it printed. */
async function runOnce(dataDir: string): Promise<{ output: string; base: string; stop: () => Promise<void> }> {
  const port = await freePort();
  const child = spawn(process.execPath, ['--conditions=source', '--import', 'tsx', 'src/main.ts'], {
    cwd: SERVER_DIR,
    env: {
      ...process.env,
      RIVULET_HTTP_PORT: String(port),
      RIVULET_HTTP_HOST: '127.0.0.1',
      RIVULET_MQTT_PORT: '0',
      RIVULET_MQTT_HOST: '127.0.0.1',
      RIVULET_COAP_PORT: '0',
      RIVULET_COAP_HOST: '127.0.0.1',
      RIVULET_DATA_DIR: dataDir,
      RIVULET_ADMIN_PASSWORD: 'tenant-admin-pw-1',
      RIVULET_SYSADMIN_PASSWORD: '',
      RIVULET_LOG_LEVEL: 'warn',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (out += d));
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  const end = Date.now() + 60_000;
  while (!out.includes('listening on')) {
    if (Date.now() > end || child.exitCode !== null) throw new Error(`server did not start: ${out}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    output: out,
    base: `http://127.0.0.1:${port}`,
    async stop() {
      child.kill('SIGTERM');
      expect(await exited).toBe(0);
    },
  };
}

describe('system administrator on first start', () => {
  const dir = tempDir();
  afterAll(() => dir.remove());

  it('prints a generated password once; it logs in as SYS_ADMIN; the next start prints none', async () => {
    const first = await runOnce(dir.dir);
    try {
      const m = /created the system administrator sysadmin@rivulet\.local\s+with the generated password: ([A-Za-z0-9_-]{24})/.exec(first.output);
      expect(m, first.output).not.toBeNull();
      const password = (m as RegExpExecArray)[1] as string;
      // Printed once in that output, never in the JSON log lines.
      expect(first.output.split(password).length - 1).toBe(1);
      const login = await fetch(`${first.base}/api/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: 'sysadmin@rivulet.local', password }) });
      expect(login.status).toBe(200);
      const { token } = (await login.json()) as { token: string };
      const me = await fetch(`${first.base}/api/auth/user`, { headers: { 'x-authorization': `Bearer ${token}` } });
      expect(await me.json()).toMatchObject({ authority: 'SYS_ADMIN', email: 'sysadmin@rivulet.local' });
      // The tenant administrator of the README walkthrough is there as before.
      const tenants = await fetch(`${first.base}/api/tenants?pageSize=10&page=0`, { headers: { 'x-authorization': `Bearer ${token}` } });
      expect(await tenants.json()).toMatchObject({ totalElements: 1, data: [{ title: 'Default' }] });
    } finally {
      await first.stop();
    }
    const second = await runOnce(dir.dir);
    try {
      expect(second.output).not.toMatch(/generated password/);
    } finally {
      await second.stop();
    }
  });
});
