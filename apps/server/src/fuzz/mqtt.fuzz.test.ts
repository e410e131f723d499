import { connect, type Socket } from 'node:net';
import { caseRng, runPool } from '@rivulet/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FUZZ_SCALE, FUZZ_SEED, HEAP_GROWTH_LIMIT, MB, report, runInBatches, startFuzzServer, type FuzzServer } from './fuzz-harness';
import { mqttConnectionPlan } from './mqtt-inputs';

/**
 * MQTT fuzzing (issue #16): random and mutated packets of MQTT 3.1.1 and 5 over many TCP
 * connections at once; between batches the well-behaved client must still work on every
 * transport, and at the end the server logged no error and its heap is back near the baseline.
 * RIVULET_FUZZ_SEED=<n> replays a run; case i is generated from (seed, i) alone.
 */
const CONNECTIONS = Math.round(6_000 * FUZZ_SCALE);
const BATCHES = 6;
const PARALLEL = 48;
/** How long a connection may stay open after its input was written (the server usually closes it first). */
const LINGER_MS = 150;

describe('MQTT fuzzing', () => {
  let f: FuzzServer;
  beforeAll(async () => {
    f = await startFuzzServer('mqtt');
  });
  afterAll(async () => {
    await f?.stop();
  });

  /** Writes one connection's plan; resolves when the server closed it or LINGER_MS passed. */
  function runCase(i: number, counts: { packets: number; closedByServer: number; bytes: number }): Promise<void> {
    const plan = mqttConnectionPlan(caseRng(FUZZ_SEED, i), f.target.token);
    counts.packets += plan.packets;
    return new Promise((resolve) => {
      const s: Socket = connect(f.app.mqttPort as number, '127.0.0.1');
      let done = false;
      const finish = (byServer: boolean): void => {
        if (done) return;
        done = true;
        if (byServer) counts.closedByServer++;
        clearTimeout(timer);
        s.destroy();
        resolve();
      };
      const timer = setTimeout(() => finish(false), LINGER_MS + 2_000);
      s.on('error', () => finish(true));
      s.on('close', () => finish(true));
      s.on('data', (d) => (counts.bytes += d.length));
      s.on('connect', () => {
        for (const c of plan.chunks) if (!s.destroyed) s.write(c);
        setTimeout(() => finish(false), LINGER_MS);
      });
    });
  }

  it(`${CONNECTIONS} connections of random and mutated packets leave the server serving, error-free, its heap near the baseline`, async () => {
    const counts = { packets: 0, closedByServer: 0, bytes: 0 };
    const perBatch = Math.ceil(CONNECTIONS / BATCHES);
    // the first batch warms up (the first connections fill caches and pools that stay), then the baseline
    const batch = (b: number) => runPool(b * perBatch, Math.min(CONNECTIONS, (b + 1) * perBatch), PARALLEL, (i) => runCase(i, counts));
    const { baseline, final } = await runInBatches(f, BATCHES, batch);
    report('mqtt', {
      packets: counts.packets,
      connections: CONNECTIONS,
      closedByServer: counts.closedByServer,
      'server errors': f.logCounts.error ?? 0,
      uncaught: f.uncaught.length,
      heapBaselineMB: (baseline / MB).toFixed(1),
      heapFinalMB: (final / MB).toFixed(1),
    });
    expect(counts.packets).toBeGreaterThanOrEqual(20_000 * FUZZ_SCALE);
    expect(f.uncaught).toEqual([]);
    expect(f.errorLogs).toEqual([]);
    expect(final - baseline).toBeLessThan(HEAP_GROWTH_LIMIT);
  }, 300_000);
});
