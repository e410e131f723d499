/**
 * `npm run bench:coap`: the CoAP transport end to end, counted in storage (not trusted from acks),
 * with the server's heap before and after to show that memory stays flat (issue #4's known trap:
 * the coap package's response cache keeps ~5 KB per request for minutes).
 *
 * Throughput: Rivulet runs in this process (embedded PGlite, and PostgreSQL when a server can be
 * started) with the default root chain; a child process (coap-load.ts, so the load uses the second
 * core) drives --inflight devices, one UDP socket and one confirmable POST in flight each
 * (`{"ts":N,"values":{temperature,humidity,active}}`, 3 points with a ts of their own) for
 * --duration seconds after a warm-up. Every acknowledged request must end as exactly 3 rows; the
 * rate is requests stored divided by the time from the start of the run until the last was stored.
 * Beside it, the same load against a bare coap server that only parses the JSON and answers 2.01
 * (the ceiling of the CoAP layer on this machine), with its heap and response-cache size.
 *
 * Heap: heapUsed after a full GC, after the warm-up and again after the measured run was stored.
 *
 * Options: --duration S (10), --inflight N (50), --quick (5 s), --only bare|embedded|postgres;
 *          RIVULET_BENCH_DATABASE_URL to use your own PostgreSQL server.
 */
import { fork, type ChildProcess } from 'node:child_process';
import type { Socket } from 'node:dgram';
import { fileURLToPath } from 'node:url';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { createServer } from 'coap';
import { createLogger } from '../logger';
import { machineLine, runConfigs } from './configs';
import { eventually, startTestServer, tempDir } from '../test-helpers';

const args = process.argv.slice(2);
const flag = (name: string) => args.includes(`--${name}`);
const opt = (name: string, def: string) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 && args[i + 1] ? (args[i + 1] as string) : def;
};
const duration = flag('quick') ? 5 : Number(opt('duration', '10'));
const inflight = Number(opt('inflight', '50'));
const only = opt('only', '');
const logLevel = process.env.RIVULET_LOG_LEVEL ?? 'silent';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;
const heapMb = (): number => {
  gc();
  gc();
  return process.memoryUsage().heapUsed / 2 ** 20;
};

interface Ran {
  acked: number;
  failed: number;
  retransmits: number;
  p50: number;
  p99: number;
}

/** The load generator child, driven by request/answer over IPC. */
async function startLoad(): Promise<{ child: ChildProcess; run(port: number, tokens: string[], durationMs: number, ts: number): Promise<Ran>; close(): Promise<void> }> {
  const child = fork(fileURLToPath(new URL('./coap-load.ts', import.meta.url)), [], { stdio: 'inherit' });
  const waiters = new Map<string, (m: unknown) => void>();
  child.on('message', (m: { event: string; error?: string }) => {
    if (m.event === 'error') throw new Error(`load generator: ${m.error}`);
    waiters.get(m.event)?.(m);
  });
  const next = <T>(event: string) => new Promise<T>((resolve) => waiters.set(event, (m) => resolve(m as T)));
  await next('ready');
  return {
    child,
    run(port, tokens, durationMs, ts) {
      const p = next<Ran>('ran');
      child.send({ cmd: 'run', port, tokens, durationMs, ts });
      return p;
    },
    async close() {
      const p = next('closed');
      child.send({ cmd: 'close' });
      await p;
    },
  };
}

interface Result {
  config: string;
  requestsPerS: number;
  pointsPerS: number;
  p50Ms: number;
  p99Ms: number;
  failed: number;
  retransmits: number;
  heapBeforeMb: number;
  heapAfterMb: number;
  note: string;
}

async function benchBare(): Promise<Result> {
  const server = createServer((req, res) => {
    JSON.parse(req.payload.toString('utf8'));
    res.code = '2.01';
    res.end();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const port = (server as unknown as { _sock: Socket })._sock.address().port;
  const load = await startLoad();
  try {
    const tokens = Array.from({ length: inflight }, (_, i) => `bare-${i}`);
    await load.run(port, tokens, 2000, 1);
    const heapBeforeMb = heapMb();
    const t0 = performance.now();
    const r = await load.run(port, tokens, duration * 1000, 1_000_000);
    const elapsedS = (performance.now() - t0) / 1000;
    const heapAfterMb = heapMb();
    const cacheEntries = (server as unknown as { _lru: { size: number } })._lru.size;
    return {
      config: 'bare coap server',
      requestsPerS: r.acked / elapsedS,
      pointsPerS: 0,
      p50Ms: r.p50,
      p99Ms: r.p99,
      failed: r.failed,
      retransmits: r.retransmits,
      heapBeforeMb,
      heapAfterMb,
      note: `response cache: ${cacheEntries} entries`,
    };
  } finally {
    await load.close();
    server.close();
  }
}

async function benchRivulet(config: string, env: Record<string, string>): Promise<Result> {
  const dir = tempDir('rivulet-coap-bench-');
  const app = await startTestServer({ RIVULET_DATA_DIR: dir.dir, RIVULET_LOG_LEVEL: logLevel, ...env }, { logger: createLogger(logLevel) });
  const load = await startLoad();
  try {
    const devices = await Promise.all(
      Array.from({ length: inflight }, (_, i) => app.storage.devices.create({ tenantId: app.tenantId, name: `coap-bench-${config}-${i}`, type: 'bench' })),
    );
    const tokens = devices.map((d) => d.credentials.credentialsId);
    const port = app.coapPort as number;
    const lag = () => app.queue.lag('rivulet.rule-engine', 'rule-engine');
    // warm-up (JIT, caches, pools), then wait until it is all stored
    await load.run(port, tokens, 2000, 1_000_000_000_000);
    await eventually(async () => (await lag()) === 0, 120_000);
    const heapBeforeMb = heapMb();
    const before = await app.storage.timeseries.count();
    const t0 = performance.now();
    const r = await load.run(port, tokens, duration * 1000, 1_500_000_000_000);
    const expected = r.acked * 3;
    await eventually(async () => (await app.storage.timeseries.count()) - before >= expected, 180_000).catch(async (e: unknown) => {
      throw new Error(`${config}: stored ${(await app.storage.timeseries.count()) - before} of ${expected} points; lag ${await lag()}`, { cause: e });
    });
    const elapsedS = (performance.now() - t0) / 1000;
    const stored = (await app.storage.timeseries.count()) - before;
    // every acknowledged point exactly once: nothing lost, nothing extra (each request has its own ts)
    if (stored !== expected) throw new Error(`${config}: ${r.acked} acknowledged requests but ${stored} points stored (expected ${expected})`);
    const heapAfterMb = heapMb();
    return {
      config,
      requestsPerS: stored / 3 / elapsedS,
      pointsPerS: stored / elapsedS,
      p50Ms: r.p50,
      p99Ms: r.p99,
      failed: r.failed,
      retransmits: r.retransmits,
      heapBeforeMb,
      heapAfterMb,
      note: `${r.acked} requests stored`,
    };
  } finally {
    await load.close().catch(() => {});
    await app.stop();
    dir.remove();
  }
}

async function main(): Promise<void> {
  console.log(`# Rivulet CoAP telemetry benchmark ${new Date().toISOString()}`);
  console.log(
    machineLine(`${inflight} devices, one confirmable POST in flight each, ${duration} s per run, 3 points per request`),
  );
  const results = await runConfigs<Result>(only, { bare: benchBare, rivulet: benchRivulet });
  console.log('| configuration | requests/s | points stored/s | p50 ms | p99 ms | failed | retransmits | heap before → after (MiB) | |');
  console.log('|---|---|---|---|---|---|---|---|---|');
  for (const r of results) {
    console.log(
      `| ${r.config} | ${r.requestsPerS.toFixed(0)} | ${r.pointsPerS.toFixed(0)} | ${r.p50Ms} | ${r.p99Ms} | ${r.failed} | ${r.retransmits} | ${r.heapBeforeMb.toFixed(1)} → ${r.heapAfterMb.toFixed(1)} | ${r.note} |`,
    );
  }
  const bare = results.find((r) => r.config === 'bare coap server');
  for (const r of results) {
    const ratio = bare && r !== bare ? (r.requestsPerS / bare.requestsPerS).toFixed(2) : 'n/a';
    console.log(
      `bench coap-${r.config.replace(/ /g, '-')}: stored_per_s=${r.pointsPerS.toFixed(0)} requests_per_s=${r.requestsPerS.toFixed(0)} p99_ms=${r.p99Ms} heap_growth_mb=${(r.heapAfterMb - r.heapBeforeMb).toFixed(1)} ratio_vs_bare_coap=${ratio}`,
    );
  }
}

main().then(
  () => process.exit(0),
  (e: unknown) => {
    console.error(e);
    process.exit(1);
  },
);
