import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createTestDatabase } from '@rivulet/testing';
import { loadConfig, startRivulet, type Rivulet } from '@rivulet/server';

export const ADMIN = { username: 'tenant@rivulet.local', password: 'secret123' };

/**
 * The whole platform in this process (as apps/server's startTestServer does, through the server's
 * public entry): a fresh database on the test run's PostgreSQL server, loopback, a free HTTP port.
 */
export async function startTestPlatform(env: Record<string, string> = {}): Promise<{ app: Rivulet; stop(): Promise<void> }> {
  const db = await createTestDatabase('sim');
  const dir = mkdtempSync(join(tmpdir(), 'rivulet-sim-'));
  const app = await startRivulet(
    loadConfig({
      RIVULET_HTTP_PORT: '0',
      RIVULET_HTTP_HOST: '127.0.0.1',
      RIVULET_MQTT_PORT: '0',
      RIVULET_COAP_PORT: '0',
      RIVULET_ADMIN_PASSWORD: ADMIN.password,
      RIVULET_LOG_LEVEL: 'silent',
      RIVULET_DATA_DIR: dir,
      DATABASE_URL: db.url,
      ...env,
    }),
  );
  return {
    app,
    async stop() {
      await app.stop();
      await db.drop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Polls until fn returns a truthy value, or fails after timeoutMs. */
export async function eventually<T>(fn: () => Promise<T | undefined | null | false>, timeoutMs = 10_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
