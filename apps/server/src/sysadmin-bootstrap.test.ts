import { afterAll, describe, expect, it } from 'vitest';
import { freePort } from '@rivulet/testing';
import { startServerProcess, tempDir, waitFor } from './test-helpers';

/** `npm start` on a data directory until it listens; then SIGTERM. Resolves with everything it printed. */
async function runOnce(dataDir: string): Promise<{ output: string; base: string; stop: () => Promise<void> }> {
  const port = await freePort();
  const p = startServerProcess({
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
  });
  await waitFor(() => p.output().includes('listening on') || p.child.exitCode !== null, 60_000, p.output);
  if (!p.output().includes('listening on')) throw new Error(`server did not start: ${p.output()}`);
  return {
    output: p.output(),
    base: `http://127.0.0.1:${port}`,
    async stop() {
      p.child.kill('SIGTERM');
      expect(await p.exited).toBe(0);
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
