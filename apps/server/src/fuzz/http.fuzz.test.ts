import { connect } from 'node:net';
import { caseRng, runPool } from '@rivulet/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FUZZ_SCALE, FUZZ_SEED, HEAP_GROWTH_LIMIT, MB, report, runInBatches, startFuzzServer, type FuzzServer } from './fuzz-harness';
import { httpCase, rawHttpRequest, type FuzzTargets } from './http-inputs';

/**
 * HTTP fuzzing (issue #16): random well-formed requests with fetch (device API, every REST route of
 * the OpenAPI document, random paths; random headers and bodies) and malformed ones on raw sockets.
 * No answer may be 5xx, the well-behaved client keeps working between batches, the server logs no
 * error, its heap is back near the baseline. RIVULET_FUZZ_SEED=<n> replays a run.
 *
 * Tolerated, each counted and printed:
 * - 504 from /api/rpc/...: ThingsBoard's answer when the device takes no command (no session).
 * - fetch giving up after 5 s on a device long poll (GET .../rpc, .../attributes/updates): those
 *   wait for a command by design. Any other request that takes that long fails the test.
 */
const FETCH_CASES = Math.round(8_000 * FUZZ_SCALE);
const RAW_CASES = Math.round(4_000 * FUZZ_SCALE);
const BATCHES = 4;
const PARALLEL = 32;
const FETCH_TIMEOUT_MS = 5_000;
const RAW_TIMEOUT_MS = 3_000;

const isLongPoll = (method: string, path: string): boolean => method === 'GET' && /^\/api\/v1\/[^/]+\/(rpc|attributes\/updates)(\?|$)/.test(path);

describe('HTTP fuzzing', () => {
  let f: FuzzServer;
  let targets: FuzzTargets;
  const seen = { statuses: new Map<number, number>(), serverErrors: [] as string[], connectionFailures: [] as string[], rpc504: 0, longPollsHeld: 0, hangs: [] as string[], raw: 0, rawAnswers: 0 };

  beforeAll(async () => {
    f = await startFuzzServer('http');
    const doc = (await (await fetch(`${f.app.url}/api/openapi.json`)).json()) as { paths: Record<string, Record<string, unknown>> };
    const restRoutes = Object.entries(doc.paths).flatMap(([p, ops]) => Object.keys(ops).map((m) => [m.toUpperCase(), p] as [string, string]));
    targets = { token: f.target.token, deviceId: f.target.id, jwt: f.jwt, restRoutes };
  });
  afterAll(async () => {
    await f?.stop();
  });

  function judge(i: number, method: string, path: string, status: number): void {
    seen.statuses.set(status, (seen.statuses.get(status) ?? 0) + 1);
    if (status < 500) return;
    if (status === 504 && /^(\S+ )?\/api\/rpc\//.test(path)) seen.rpc504++;
    else if (seen.serverErrors.length < 20) seen.serverErrors.push(`case ${i}: ${method} ${path.slice(0, 120)} -> ${status}`);
    else seen.serverErrors.push('...');
  }

  async function fetchCase(i: number): Promise<void> {
    const c = httpCase(caseRng(FUZZ_SEED, i), targets);
    try {
      const r = await fetch(`${f.app.url}${c.path}`, { method: c.method, headers: c.headers, ...(c.body ? { body: c.body } : {}), signal: AbortSignal.timeout(FETCH_TIMEOUT_MS) });
      await r.arrayBuffer();
      judge(i, c.method, c.path, r.status);
    } catch (e) {
      const name = (e as Error).name;
      if (name === 'TimeoutError' && isLongPoll(c.method, c.path)) seen.longPollsHeld++;
      else if (name === 'TimeoutError') seen.hangs.push(`case ${i}: ${c.method} ${c.path.slice(0, 120)}`);
      else if ((e as Error).message === 'fetch failed') {
        // sent, and the connection failed (reset, closed without an answer)
        const cause = (e as Error & { cause?: { code?: string; message?: string } }).cause;
        seen.connectionFailures.push(`case ${i}: ${c.method} ${c.path.slice(0, 80)} (${c.body?.length ?? 0} bytes): ${cause?.code ?? cause?.message ?? 'unknown'}`);
      }
      // other fetch failures: the request was not valid for fetch (a header value it refuses), nothing was sent
    }
  }

  function rawCase(i: number): Promise<void> {
    const { bytes } = rawHttpRequest(caseRng(FUZZ_SEED, i), targets);
    seen.raw++;
    return new Promise((resolve) => {
      const s = connect(f.app.port, '127.0.0.1');
      const chunks: Buffer[] = [];
      const finish = (): void => {
        clearTimeout(timer);
        s.destroy();
        const text = Buffer.concat(chunks).toString('latin1');
        for (const m of text.matchAll(/^HTTP\/1\.[01] (\d{3})/gm)) {
          seen.rawAnswers++;
          judge(i, 'RAW', bytes.subarray(0, 80).toString('latin1'), Number(m[1]));
        }
        resolve();
      };
      // the server answers what it can and closes; a request whose body never comes is given up on here
      const timer = setTimeout(finish, RAW_TIMEOUT_MS);
      s.on('data', (d) => chunks.push(d));
      s.on('error', finish);
      s.on('close', finish);
      s.on('connect', () => s.end(bytes));
    });
  }

  it(`${FETCH_CASES} random requests and ${RAW_CASES} malformed ones: no 5xx, no hang, the server keeps serving, its heap near the baseline`, async () => {
    const fetchPer = Math.ceil(FETCH_CASES / BATCHES);
    const rawPer = Math.ceil(RAW_CASES / BATCHES);
    const batch = (b: number) =>
      Promise.all([
        runPool(b * fetchPer, Math.min(FETCH_CASES, (b + 1) * fetchPer), PARALLEL, fetchCase),
        runPool(FETCH_CASES + b * rawPer, FETCH_CASES + Math.min(RAW_CASES, (b + 1) * rawPer), PARALLEL / 2, rawCase),
      ]);
    const { baseline, final } = await runInBatches(f, BATCHES, batch);
    const statuses = [...seen.statuses].sort((a, b) => a[0] - b[0]).map(([s, n]) => `${s}:${n}`).join(',');
    // nothing may log an error (deep JSON is a 400 since the shared depth limit)
    const errors = f.errorLogs;
    report('http', {
      requests: FETCH_CASES + RAW_CASES,
      fetch: FETCH_CASES,
      raw: RAW_CASES,
      rawAnswers: seen.rawAnswers,
      '5xx': seen.serverErrors.length,
      rpc504: seen.rpc504,
      longPollsHeld: seen.longPollsHeld,
      hangs: seen.hangs.length,
      connectionFailures: seen.connectionFailures.length,
      'server errors': errors.length,
      uncaught: f.uncaught.length,
      heapBaselineMB: (baseline / MB).toFixed(1),
      heapFinalMB: (final / MB).toFixed(1),
      statuses,
    });
    expect(seen.serverErrors).toEqual([]);
    expect(seen.hangs).toEqual([]);
    expect(seen.connectionFailures).toEqual([]);
    expect(f.uncaught).toEqual([]);
    expect(errors).toEqual([]);
    expect(final - baseline).toBeLessThan(HEAP_GROWTH_LIMIT);
  }, 300_000);
});
