import { afterAll, describe, expect, it } from 'vitest';
import { createDevice, login, startTestServer, tempDir, ADMIN, startServerProcess, waitFor } from './test-helpers';
import { freePort } from '@rivulet/testing';

describe('SIGTERM', () => {
  const dir = tempDir();
  afterAll(() => dir.remove());

  it('drains: every acknowledged message is stored, then the process exits 0', async () => {
    const port = await freePort();
    const env = {
      RIVULET_HTTP_PORT: String(port),
      RIVULET_HTTP_HOST: '127.0.0.1',
      RIVULET_MQTT_PORT: '0',
      RIVULET_COAP_PORT: '0',
      RIVULET_DATA_DIR: dir.dir,
      RIVULET_ADMIN_PASSWORD: ADMIN.password,
      RIVULET_LOG_LEVEL: 'warn',
      // one partition and a small queue, so a backlog builds up behind the rule engine
      RIVULET_QUEUE_PARTITIONS: '1',
      RIVULET_QUEUE_CAPACITY: '200',
    };
    const p = startServerProcess(env);
    await waitFor(() => p.output().includes('listening on'), 60_000, p.output);
    const base = `http://127.0.0.1:${port}`;
    const jwt = await login(base);
    const dev = await createDevice(base, jwt, 'drain-device');

    // 20 concurrent senders, each message one point with its own ts.
    const acked: number[] = [];
    let next = 1;
    let stop = false;
    const sender = async () => {
      while (!stop) {
        const ts = next++;
        try {
          const r = await fetch(`${base}/api/v1/${dev.token}/telemetry`, {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: JSON.stringify({ ts, values: { n: ts } }),
          });
          if (r.status === 200) acked.push(ts);
          else if (r.status === 503) return;
        } catch {
          return; // the listener closed
        }
      }
    };
    const senders = Array.from({ length: 20 }, sender);
    await waitFor(() => acked.length >= 1500, 60_000, () => `acked ${acked.length}`);
    p.child.kill('SIGTERM');
    stop = true;
    await Promise.all(senders);
    expect(await p.exited).toBe(0);

    const again = await startTestServer({ RIVULET_DATA_DIR: dir.dir });
    try {
      const stored = await again.storage.timeseries.findHistory(dev.id, { keys: ['n'], startTs: 0, endTs: next + 1, limit: 1_000_000, orderBy: 'ASC' });
      const storedTs = new Set((stored.n ?? []).map((x) => x.ts));
      const missing = acked.filter((ts) => !storedTs.has(ts));
      expect(missing).toEqual([]);
      expect(acked.length).toBeGreaterThanOrEqual(1500);
    } finally {
      await again.stop();
    }
  }, 120_000);
});
