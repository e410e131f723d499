import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { freePort } from '@rivulet/testing';
import { ADMIN, startServerProcess, tempDir, waitFor } from './test-helpers';
import { CRASH_EXIT_CODE } from './crash-policy';

const FAULT = fileURLToPath(new URL('./fixtures/fault-injection-on-sigusr2.ts', import.meta.url));

/** The real server process (main.ts) with a fault injected from a preloaded fixture. */
describe('crash policy: an unhandled rejection or exception ends the process after logging', () => {
  const dir = tempDir();
  afterAll(() => dir.remove());

  it.each([
    ['unhandled promise rejection', 'rejection', 'unhandledRejection', 'injected unhandled rejection'],
    ['uncaught exception', 'exception', 'uncaughtException', 'injected uncaught exception'],
  ])('%s: logged with its error, then a non-zero exit', async (_what, fault, kind, message) => {
    const port = await freePort();
    const p = startServerProcess(
      {
        RIVULET_HTTP_PORT: String(port),
        RIVULET_HTTP_HOST: '127.0.0.1',
        RIVULET_MQTT_PORT: '0',
        RIVULET_COAP_PORT: '0',
        RIVULET_DATA_DIR: dir.dir,
        RIVULET_ADMIN_PASSWORD: ADMIN.password,
        RIVULET_LOG_LEVEL: 'warn',
        RIVULET_TEST_FAULT: fault,
      },
      { preload: [FAULT] },
    );
    try {
      await waitFor(() => p.output().includes('listening on'), 60_000, p.output);
      expect((await fetch(`http://127.0.0.1:${port}/api/health`)).status).toBe(200);
      p.child.kill('SIGUSR2');
      expect(await p.exited).toBe(CRASH_EXIT_CODE);
      const line = p
        .output()
        .split('\n')
        .find((l) => l.includes('process failed: exiting for a clean restart'));
      expect(line, p.output()).toBeDefined();
      const entry = JSON.parse(line as string) as { level: number; kind: string; err: { message: string } };
      expect(entry).toMatchObject({ level: 50, kind, err: { message } });
    } finally {
      p.child.kill('SIGKILL');
    }
  }, 120_000);
});
