import { createSocket, type Socket } from 'node:dgram';
import { decodeMessage } from '@rivulet/transport-coap';
import { caseRng, runPool } from '@rivulet/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FUZZ_SCALE, FUZZ_SEED, HEAP_GROWTH_LIMIT, MB, report, runInBatches, startFuzzServer, type FuzzServer } from './fuzz-harness';
import { coapCase } from './coap-inputs';

/**
 * CoAP fuzzing (issue #16): random and mutated datagrams from many UDP endpoints; no answer may be
 * a 5.xx server error, the well-behaved client keeps working between batches, and the server's
 * heap is back near the baseline at the end. RIVULET_FUZZ_SEED=<n> replays a run.
 * The answers to unknown critical options (4.02) and to Block1 floods are asserted in
 * packages/transport-coap/src/coap-limits.test.ts.
 */
const CASES = Math.round(17_000 * FUZZ_SCALE);
const BATCHES = 5;
const ENDPOINTS = 16;
/** Longest wait for an answer before the endpoint sends its next case (many datagrams get none, by design). */
const ANSWER_WAIT_MS = 20;

describe('CoAP fuzzing', () => {
  let f: FuzzServer;
  const sockets: Socket[] = [];
  const answers = { total: 0, serverErrors: 0, codes: new Map<string, number>() };
  const waiters: Array<(() => void) | undefined> = [];

  beforeAll(async () => {
    f = await startFuzzServer('coap');
    for (let i = 0; i < ENDPOINTS; i++) {
      const s = createSocket('udp4');
      s.on('message', (m) => {
        answers.total++;
        const d = decodeMessage(m);
        const code = d?.codeText ?? 'undecodable';
        answers.codes.set(code, (answers.codes.get(code) ?? 0) + 1);
        if (code.startsWith('5.')) answers.serverErrors++;
        waiters[i]?.();
      });
      await new Promise<void>((r) => s.bind(0, '127.0.0.1', () => r()));
      sockets.push(s);
    }
  });
  afterAll(async () => {
    for (const s of sockets) s.close();
    await f?.stop();
  });

  let datagrams = 0;
  /** Sends case i from endpoint i % ENDPOINTS and waits for an answer or ANSWER_WAIT_MS (pacing, so the server's socket buffer is not simply overrun). */
  async function runCase(i: number): Promise<void> {
    const e = i % ENDPOINTS;
    for (const d of coapCase(caseRng(FUZZ_SEED, i), f.target.token)) {
      datagrams++;
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, ANSWER_WAIT_MS);
        waiters[e] = () => {
          clearTimeout(t);
          resolve();
        };
        (sockets[e] as Socket).send(d, f.app.coapPort as number, '127.0.0.1');
      });
    }
  }

  it(`${CASES} cases of random and mutated datagrams: no 5.xx, the server keeps serving, its heap near the baseline`, async () => {
    const perBatch = Math.ceil(CASES / BATCHES);
    // each worker sends from its own endpoint: case i goes out of endpoint i % ENDPOINTS, one at a time
    const batch = (b: number) => runPool(0, ENDPOINTS, ENDPOINTS, async (e) => {
      for (let i = b * perBatch + e; i < Math.min(CASES, (b + 1) * perBatch); i += ENDPOINTS) await runCase(i);
    });
    const { baseline, final } = await runInBatches(f, BATCHES, batch);
    report('coap', {
      datagrams,
      cases: CASES,
      endpoints: ENDPOINTS,
      answers: answers.total,
      '5.xx': answers.serverErrors,
      'server errors': f.logCounts.error ?? 0,
      uncaught: f.uncaught.length,
      heapBaselineMB: (baseline / MB).toFixed(1),
      heapFinalMB: (final / MB).toFixed(1),
    });
    expect(datagrams).toBeGreaterThanOrEqual(20_000 * FUZZ_SCALE);
    expect(Object.fromEntries([...answers.codes].filter(([c]) => c.startsWith('5.')))).toEqual({});
    expect(f.uncaught).toEqual([]);
    expect(f.errorLogs).toEqual([]);
    expect(final - baseline).toBeLessThan(HEAP_GROWTH_LIMIT);
  }, 300_000);
});
