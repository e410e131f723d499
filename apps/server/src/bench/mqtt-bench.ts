/**
 * `npm run bench:mqtt`: the MQTT transport end to end, counted in storage (not trusted from acks),
 * and the broker's memory per idle connection.
 *
 * Throughput: Rivulet runs in this process (embedded PGlite, and PostgreSQL when a server can be
 * started) with the default root chain; a child process (mqtt-load.ts, so the load uses the second
 * core) connects 100 devices with mqtt.js, each keeping --inflight QoS 1 publishes of 3 points open
 * (`{"ts":N,"values":{temperature,humidity,pressure}}`, ThingsBoard's test message) for --duration
 * seconds after a warm-up. Every acknowledged message must end as exactly 3 rows; the rate is
 * points stored divided by the time from the start of the run until the last one was stored.
 *
 * Idle memory: a fresh server, --idle devices connect and stay idle; the server process's RSS after
 * a full GC, before and after, divided by the number of connections (broker, session, auth cache
 * and device state together: what a connection really costs the server).
 *
 * Options: --duration S (10), --clients N (100), --inflight N (10), --idle N (5000), --quick,
 *          --only embedded|postgres|idle, --profile DIR (a CPU profile of the server during each
 *          measured run); RIVULET_BENCH_DATABASE_URL to use your own server.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { join } from 'node:path';
import { cpus, totalmem } from 'node:os';
import { fileURLToPath } from 'node:url';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { startPostgres, type PostgresServer } from '@rivulet/testing';
import type { Rivulet } from '../app';
import { createLogger } from '../logger';
import { eventually, startTestServer, tempDir } from '../test-helpers';

const args = process.argv.slice(2);
const flag = (name: string) => args.includes(`--${name}`);
const opt = (name: string, def: string) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 && args[i + 1] ? (args[i + 1] as string) : def;
};
const quick = flag('quick');
const duration = quick ? 5 : Number(opt('duration', '10'));
const clientCount = Number(opt('clients', '100'));
const inflight = Number(opt('inflight', '10'));
const idleCount = Number(opt('idle', quick ? '2000' : '5000'));
const only = opt('only', '');
const profileDir = opt('profile', '');

/** CPU profile of this process (the server) around `work`, when --profile is given. */
async function profiled<T>(name: string, work: () => Promise<T>): Promise<T> {
  if (!profileDir) return work();
  const session = new Session();
  session.connect();
  await session.post('Profiler.enable');
  await session.post('Profiler.start');
  try {
    return await work();
  } finally {
    const { profile } = await session.post('Profiler.stop');
    const file = join(profileDir, `mqtt-bench-${name}.cpuprofile`);
    writeFileSync(file, JSON.stringify(profile));
    console.log(`# CPU profile of the measured run: ${file}`);
    session.disconnect();
  }
}
const logLevel = process.env.RIVULET_LOG_LEVEL ?? 'silent';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

/** The load generator child, driven by request/answer over IPC. */
function startLoad(): Promise<{ child: ChildProcess; ask<T>(cmd: object, event: string): Promise<T> }> {
  const child = fork(fileURLToPath(new URL('./mqtt-load.ts', import.meta.url)), [], { stdio: 'inherit' });
  const waiters = new Map<string, (m: unknown) => void>();
  child.on('message', (m: { event: string; error?: string }) => {
    if (m.event === 'error') throw new Error(`load generator: ${m.error}`);
    waiters.get(m.event)?.(m);
  });
  const next = <T>(event: string) => new Promise<T>((resolve) => waiters.set(event, (m) => resolve(m as T)));
  const ready = next('ready');
  return ready.then(() => ({
    child,
    ask<T>(cmd: object, event: string) {
      const p = next<T>(event);
      child.send(cmd);
      return p;
    },
  }));
}

async function createDevices(app: Rivulet, n: number, prefix: string): Promise<Array<{ id: string; token: string }>> {
  const out: Array<{ id: string; token: string }> = [];
  for (let i = 0; i < n; i += 100) {
    const batch = await Promise.all(
      Array.from({ length: Math.min(100, n - i) }, (_, j) => app.storage.devices.create({ tenantId: app.tenantId, name: `${prefix}-${i + j}`, type: 'bench' })),
    );
    for (const b of batch) out.push({ id: b.device.id, token: b.credentials.credentialsId });
  }
  return out;
}

interface ThroughputResult {
  config: string;
  msgsPerS: number;
  pointsPerS: number;
  p50Ms: number;
  p99Ms: number;
  failed: number;
}

async function throughput(config: string, env: Record<string, string>): Promise<ThroughputResult> {
  const dir = tempDir('rivulet-mqtt-bench-');
  const app = await startTestServer({ RIVULET_DATA_DIR: dir.dir, RIVULET_LOG_LEVEL: logLevel, ...env }, { logger: createLogger(logLevel) });
  const load = await startLoad();
  try {
    const devices = await createDevices(app, clientCount, `bench-${config}`);
    await load.ask({ cmd: 'connect', url: `mqtt://127.0.0.1:${app.mqttPort}`, tokens: devices.map((d) => d.token) }, 'connected');
    const lag = () => app.queue.lag('rivulet.rule-engine', 'rule-engine');
    // warm-up (JIT, caches, pools), then wait until it is all stored
    await load.ask({ cmd: 'run', durationMs: 2000, inflight, ts: 1_000_000_000_000 }, 'ran');
    await eventually(async () => (await lag()) === 0, 120_000);
    const before = await app.storage.timeseries.count();
    const t0 = performance.now();
    const r = await profiled(config, async () => {
      const ran = await load.ask<{ acked: number; failed: number; p50: number; p99: number }>({ cmd: 'run', durationMs: duration * 1000, inflight, ts: 1_500_000_000_000 }, 'ran');
      await eventually(async () => (await app.storage.timeseries.count()) - before >= ran.acked * 3, 180_000).catch(async (e: unknown) => {
        throw new Error(`${config}: stored ${(await app.storage.timeseries.count()) - before} of ${ran.acked * 3} points; lag ${await lag()}`, { cause: e });
      });
      return ran;
    });
    const expected = r.acked * 3;
    const elapsedS = (performance.now() - t0) / 1000;
    const stored = (await app.storage.timeseries.count()) - before;
    // every acknowledged point exactly once: nothing lost, nothing extra (each message has its own ts)
    if (stored !== expected) throw new Error(`${config}: ${r.acked} acknowledged messages but ${stored} points stored (expected ${expected})`);
    return { config, msgsPerS: stored / 3 / elapsedS, pointsPerS: stored / elapsedS, p50Ms: r.p50, p99Ms: r.p99, failed: r.failed };
  } finally {
    await load.ask({ cmd: 'close' }, 'closed').catch(() => {});
    await app.stop();
    dir.remove();
  }
}

async function settledRss(): Promise<{ rss: number; heap: number }> {
  for (let i = 0; i < 3; i++) {
    gc();
    await new Promise((r) => setTimeout(r, 300));
  }
  const m = process.memoryUsage();
  return { rss: m.rss, heap: m.heapUsed + m.external + m.arrayBuffers };
}

async function idleMemory(env: Record<string, string>): Promise<{ count: number; rssPerConnKb: number; heapPerConnKb: number }> {
  const dir = tempDir('rivulet-mqtt-idle-');
  const app = await startTestServer({ RIVULET_DATA_DIR: dir.dir, RIVULET_LOG_LEVEL: logLevel, ...env }, { logger: createLogger(logLevel) });
  const load = await startLoad();
  try {
    const devices = await createDevices(app, idleCount, 'idle');
    // a few connections first, so one-time costs (code, buffers, pools) are not counted per connection
    await load.ask({ cmd: 'connect', url: `mqtt://127.0.0.1:${app.mqttPort}`, tokens: devices.slice(0, 50).map((d) => d.token) }, 'connected');
    await eventually(async () => (await app.queue.lag('rivulet.rule-engine', 'rule-engine')) === 0, 60_000);
    const before = await settledRss();
    const rest = devices.slice(50);
    await load.ask({ cmd: 'connect', url: `mqtt://127.0.0.1:${app.mqttPort}`, tokens: rest.map((d) => d.token) }, 'connected');
    // their CONNECT and ACTIVITY events pass the rule engine, state attributes are written
    await eventually(async () => (await app.queue.lag('rivulet.rule-engine', 'rule-engine')) === 0, 60_000);
    await new Promise((r) => setTimeout(r, 2000));
    const after = await settledRss();
    return { count: rest.length, rssPerConnKb: (after.rss - before.rss) / rest.length / 1024, heapPerConnKb: (after.heap - before.heap) / rest.length / 1024 };
  } finally {
    await load.ask({ cmd: 'close' }, 'closed').catch(() => {});
    await app.stop();
    dir.remove();
  }
}

async function main(): Promise<void> {
  console.log(`# Rivulet MQTT benchmark ${new Date().toISOString()}`);
  console.log(
    `# ${cpus().length} cores (${cpus()[0]?.model ?? '?'}), ${(totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}; ` +
      `${clientCount} clients x ${inflight} in flight, QoS 1, 3 points per message, ${duration} s per run; ${idleCount} idle connections`,
  );
  let pg: PostgresServer | undefined;
  let pgUrl = process.env.RIVULET_BENCH_DATABASE_URL;
  const needPg = !only || only === 'postgres' || only === 'idle';
  if (needPg && !pgUrl) {
    try {
      // durable settings: fsync and synchronous_commit as shipped
      pg = await startPostgres({ durable: true });
      pgUrl = pg.url;
    } catch (e) {
      console.log(`# no PostgreSQL server: ${String(e)}`);
    }
  }
  try {
    const results: ThroughputResult[] = [];
    if (!only || only === 'embedded') results.push(await throughput('embedded', {}));
    if ((!only || only === 'postgres') && pgUrl) results.push(await throughput('postgres', { DATABASE_URL: pgUrl }));
    if (results.length > 0) {
      console.log('| configuration | messages/s (stored) | points stored/s | publish->PUBACK p50 ms | p99 ms | failed |');
      console.log('|---|---|---|---|---|---|');
      for (const r of results) console.log(`| ${r.config} | ${r.msgsPerS.toFixed(0)} | ${r.pointsPerS.toFixed(0)} | ${r.p50Ms.toFixed(1)} | ${r.p99Ms.toFixed(1)} | ${r.failed} |`);
      for (const r of results) console.log(`bench mqtt-${r.config}: stored_points_per_s=${r.pointsPerS.toFixed(0)} msgs_per_s=${r.msgsPerS.toFixed(0)} p99_ms=${r.p99Ms.toFixed(1)}`);
    }
    if (!only || only === 'idle') {
      const m = await idleMemory(pgUrl ? { DATABASE_URL: pgUrl } : {});
      console.log(`bench mqtt-idle: connections=${m.count} rss_per_connection_kb=${m.rssPerConnKb.toFixed(1)} js_heap_per_connection_kb=${m.heapPerConnKb.toFixed(1)}`);
    }
  } finally {
    pg?.stop();
  }
}

main().then(
  () => process.exit(0),
  (e: unknown) => {
    console.error(e);
    process.exit(1);
  },
);
