/**
 * `npm run bench` (`-- --quick` for about a minute): Rivulet end to end beside the ceilings of its
 * parts and beside the do-it-yourself stack, on the same load, in one run. See docs/benchmarks.md.
 *
 * Everything runs on loopback on this machine, each system in its own process (so /proc gives each
 * one's CPU and memory): PostgreSQL (startPostgres, durable: fsync and synchronous_commit as shipped),
 * Rivulet (started as the root `npm start` script starts it: `node <its flags> apps/server/src/main.ts`,
 * one process, no tsx wrapper), the load generator (this app's CLI),
 * a bare aedes broker, Mosquitto and Node-RED.
 *
 * Options: --quick, --duration S (max-rate phase), --half-duration S, --warmup S, --runs N,
 *          --clients N (100), --inflight N (10), --idle N (idle connections: 10,000, 1,000 with --quick; 0 skips),
 *          --only rivulet,pg,aedes,nodered,idle, --configs postgres,mqtt5,embedded,kafka1,kafka2 (Rivulet's storage and
 *          queue: PostgreSQL or embedded PGlite with the memory queue; Kafka with one or two rule-engine workers,
 *          see kafka-configs.ts; --quick: no embedded), --latency-rate N (msg/s of the latency runs instead of half the maximum), --profile DIR (Rivulet under --cpu-prof, plus where it allocates), --json FILE,
 *          --fresh-wal (measure on the new cluster's WAL as it is, without filling its segment pool first: see wal-pool.ts),
 *          --mqtt-version 5 (the load generator's devices speak MQTT 5; Rivulet only, aedes speaks 3.1.1);
 *          --configs ...,mqtt5 adds Rivulet on PostgreSQL driven over MQTT 5 beside the MQTT 3.1.1 run (same server, same round-robin)
 */
import { mkdtempSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, totalmem, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { freePort, startKafka, startPostgres, type PostgresServer } from '@rivulet/testing';
import { createRestClient, provisionDevices, writeTokens, type SimDevice } from '../devices';
import { atExit, canConnect, startChild, sleep, type Child } from './children';
import { ensureMosquitto, ensureNodeRed, NODE_RED_TOPIC, startMosquitto, startNodeRed } from './peers';
import { allocationProfile, collectGarbage, inspectorUrl } from './inspector';
import { pgCeiling } from './pg-ceiling';
import { fillWalPool, type WalPoolResult } from './wal-pool';
import { countRows, installProbeTrigger, startProbe, waitForRows } from './probe';
import { parentPid, peakRssBytes, rssBytes, watchTree } from './proc';
import { summarizeProfile } from './profile-summary';
import { startCommand } from './start-command';
import { KAFKA_CONFIGS, KAFKA_WORKERS, kafkaEnv, waitReady, type KafkaConfig } from './kafka-configs';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../../../..');
const ADMIN = { username: 'tenant@rivulet.local', password: 'bench-secret-1' };
const TSX = ['--conditions=source', '--import', 'tsx'];

/**
 * The node flags of the root `npm start` script (`[build &&] node <flags> <entry>`, see start-command.ts),
 * so the benchmark runs the server exactly as users start it (the built server, GC settings included);
 * builds first when the build is missing or stale, as `npm start` does.
 */
function serverNodeFlags(): string[] {
  return startCommand().flags;
}

const { values: a } = parseArgs({
  args: process.argv.slice(2),
  options: {
    quick: { type: 'boolean' },
    duration: { type: 'string' },
    'half-duration': { type: 'string' },
    warmup: { type: 'string' },
    runs: { type: 'string' },
    clients: { type: 'string' },
    inflight: { type: 'string' },
    idle: { type: 'string' },
    only: { type: 'string' },
    profile: { type: 'string' },
    json: { type: 'string' },
    configs: { type: 'string' },
    'latency-rate': { type: 'string' },
    'fresh-wal': { type: 'boolean' },
    'mqtt-version': { type: 'string' },
  },
});
const quick = a.quick ?? false;
const num = (v: string | undefined, def: number) => (v === undefined ? def : Number(v));
const DURATION = num(a.duration, quick ? 5 : 30);
const HALF_DURATION = num(a['half-duration'], quick ? 5 : 20);
const WARMUP = num(a.warmup, quick ? 2 : 8);
const RUNS = Math.max(1, num(a.runs, quick ? 1 : 3));
const CLIENTS = num(a.clients, 100);
const INFLIGHT = num(a.inflight, 10);
/** The load generator's MQTT version (4: 3.1.1, the default; 5: MQTT 5, for Rivulet, aedes answers only 3.1.1). */
const MQTT_VERSION = num(a['mqtt-version'], 4);
const IDLE = num(a.idle, quick ? 1_000 : 10_000);
/** How long the row count must stand still before a run counts as settled (the stack that loses rows waits this long). */
const STABLE_MS = quick ? 1_500 : 3_000;
/** The start of a measured phase left out of its latency figures (the load jumping from zero to its rate). */
const RAMP_MS = 1_000;
const PROFILE_DIR = a.profile ? resolve(a.profile) : undefined;
const CONFIGS = (a.configs ?? (a.profile ? 'postgres' : quick ? 'postgres,mqtt5,kafka1,kafka2' : 'postgres,mqtt5,embedded,kafka1,kafka2')).split(',').map((c) => c.trim());
const only = new Set((a.only ?? (PROFILE_DIR ? 'rivulet' : 'rivulet,pg,aedes,nodered,idle')).split(',').map((s) => s.trim()));

const log = (s: string) => process.stderr.write(`${new Date().toISOString().slice(11, 19)} ${s}\n`);

// ---------------------------------------------------------------------------------------------
// Results

interface ProcFigure {
  cpuPct: number;
  peakMB: number;
  /** CPU time per acknowledged message of the run (µs). */
  cpuUsPerMsg: number;
}
interface MaxRun {
  /** PostgreSQL WAL written per stored point (write amplification: indexes, latest values, commits). */
  walBytesPerPoint: number;
  ackedMsgPerS: number;
  storedPointsPerS: number;
  /** Points acknowledged but never stored (counted rows fewer than acknowledged points). */
  lostPoints: number;
  ackedPoints: number;
  ackP99: number;
  storedP50: number;
  storedP99: number;
  wsP50: number;
  wsP99: number;
  procs: Record<string, ProcFigure>;
  errors: number;
}
interface HalfRun {
  rateMsgPerS: number;
  storedPointsPerS: number;
  lostPoints: number;
  ackP99: number;
  storedP50: number;
  storedP99: number;
  wsP50: number;
  wsP99: number;
  procs: Record<string, ProcFigure>;
}
interface SystemResult {
  key: string;
  label: string;
  max: MaxRun[];
  half: HalfRun[];
}
interface IdleResult {
  system: string;
  connections: number;
  rssBeforeMB: number;
  rssAfterMB: number;
  perConnKB: number;
}

const results: SystemResult[] = [];
const idle: IdleResult[] = [];
let aedesCeiling: { ackedMsgPerS: number[]; ackP99: number[]; cpuPct: number[]; peakMB: number[]; cpuUsPerMsg: number[] } | undefined;
let pgResult: { rowsPerS: number[]; statementP99Ms: number[] } | undefined;
const notes: string[] = [];
/** Messages acknowledged by Rivulet over every phase (the profile covers them all). */
let rivuletMessages = 0;

/** NaN for a ratio against something not measured. */
const median = (xs: readonly number[]): number => {
  const s = xs.filter((x) => Number.isFinite(x)).sort((x, y) => x - y);
  if (s.length === 0) return NaN;
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};
const MB = (b: number) => b / 2 ** 20;

// ---------------------------------------------------------------------------------------------
// The load generator: this app's CLI in its own process, JSON events on stdout.

interface SimSummary {
  acked: number;
  sent: number;
  errors: number;
  unanswered: number;
  pointsAcked: number;
  ackedPerS: number;
  durationS: number;
  lastTs: number;
  latencyMs: { p50: number; p99: number };
  errorsByCode: Record<string, number>;
  firstError?: string;
}

interface Watched {
  name: string;
  pid: number;
  multiProcess?: boolean;
}

async function drive(o: {
  label: string;
  protocol: 'mqtt' | 'http';
  url: string;
  tokensFile: string;
  devices: number;
  rate: number;
  durationS: number;
  topic?: string;
  tsFloor: number;
  watch: readonly Watched[];
  /** MQTT protocol level of the load generator's devices: 4 (3.1.1) or 5. */
  mqttVersion?: number;
}): Promise<{ summary: SimSummary; startedAt: number; procs: Record<string, ProcFigure> }> {
  const mqttVersion = o.mqttVersion ?? MQTT_VERSION;
  const args = [
    ...TSX,
    join(ROOT, 'apps/simulator/src/cli.ts'),
    '--json',
    '--protocol', o.protocol,
    o.protocol === 'mqtt' ? '--mqtt-url' : '--url', o.url,
    '--tokens', o.tokensFile,
    '--devices', String(o.devices),
    '--rate', String(o.rate),
    '--inflight', String(INFLIGHT),
    '--duration', String(o.durationS),
    '--template', 'bench',
    '--ts-floor', String(o.tsFloor),
    '--connect-concurrency', '200',
    ...(o.protocol === 'mqtt' && mqttVersion !== 4 ? ['--mqtt-version', String(mqttVersion)] : []),
    ...(o.topic ? ['--topic', o.topic] : []),
  ];
  const sim = startChild(`simulator (${o.label})`, process.execPath, args, { cwd: ROOT });
  let startedAt = 0;
  let watches: Array<{ name: string; w: ReturnType<typeof watchTree> }> = [];
  let summary: SimSummary | undefined;
  const procs: Record<string, ProcFigure> = {};
  let connectError: string | undefined;
  sim.onLine((line, stream) => {
    if (stream !== 'stdout' || !line.startsWith('{')) return;
    const ev = JSON.parse(line) as { event: string } & Record<string, unknown>;
    if (ev.event === 'connected') {
      startedAt = performance.now();
      if ((ev.failures as number) > 0) connectError = `${ev.failures as number} connections failed: ${String(ev.firstError)}`;
      watches = [...o.watch, { name: 'load generator', pid: sim.pid }].map((p) => ({ name: p.name, w: watchTree(p.pid, { multiProcess: p.multiProcess ?? false }) }));
    } else if (ev.event === 'summary') {
      summary = ev as unknown as SimSummary;
      // Read CPU now: the load generator is about to exit (and /proc forgets it).
      for (const { name, w } of watches) {
        const r = w.stop();
        procs[name] = { cpuPct: r.cpuPct, peakMB: MB(r.peakMemBytes), cpuUsPerMsg: summary.acked > 0 ? (r.cpuS * 1e6) / summary.acked : NaN };
      }
      watches = [];
    }
  });
  const code = await Promise.race([sim.exited, sleep((o.durationS + 120) * 1000).then(() => 'timeout' as const)]);
  if (code === 'timeout') {
    await sim.stop();
    throw new Error(`${o.label}: the load generator did not finish in time. Output:\n${sim.tail()}`);
  }
  for (const { w } of watches) w.stop();
  if (!summary) throw new Error(`${o.label}: no summary from the load generator (exit ${String(code)}). Output:\n${sim.tail()}`);
  if (connectError) notes.push(`${o.label}: ${connectError}`);
  if (summary.errors > 0) notes.push(`${o.label}: ${summary.errors} publish errors ${JSON.stringify(summary.errorsByCode)} (first: ${summary.firstError})`);
  return { summary, startedAt, procs };
}

// ---------------------------------------------------------------------------------------------
// One end-to-end system (Rivulet, or Mosquitto + Node-RED): warm-up, then max-rate and half-rate runs.

interface EndToEnd {
  key: string;
  label: string;
  protocol: 'mqtt' | 'http';
  url: string;
  topic?: string;
  /** MQTT protocol level of the load (and the probe): 4 (3.1.1) or 5; absent: --mqtt-version. */
  mqttVersion?: number;
  probe: { transport: 'mqtt' | 'http'; url: string; username: string; topic: string; entityId: string; ws?: { url: string; jwt: string } };
  watch: readonly Watched[];
  /** With --profile: the inspector of the server, to record where it allocates during the first max-rate run. */
  allocInspector?: string;
  /** Rows stored by the load (the probe's excluded); the WAL position when the database is reachable. */
  store: RowSource;
}

/** How the benchmark reads what was stored: PostgreSQL directly, or (embedded database) the REST API. */
interface RowSource {
  /** Rows of the load; a source may count only points with ts above `sinceTs` (every point of a run is). */
  count(sinceTs: number): Promise<number>;
  /** Milliseconds between counts while waiting for the end of a run. */
  everyMs: number;
  /** WAL position (PostgreSQL only). */
  walLsn?(): Promise<string>;
  walBytesSince?(lsn: string): Promise<number>;
  /** The database to watch for the probe's rows (PostgreSQL only). */
  pgUrl?: string;
  /** Empties the table before a phase, so counting stays fast and phases do not see each other. */
  reset?(): Promise<void>;
}

function pgRowSource(db: pg.Client, pgUrl: string, probeEntity: string): RowSource {
  return {
    count: () => countRows(db, probeEntity),
    everyMs: 100,
    reset: async () => void (await db.query('TRUNCATE ts_kv, ts_kv_latest')),
    walLsn: async () => (await db.query<{ lsn: string }>('SELECT pg_current_wal_lsn() AS lsn')).rows[0]!.lsn,
    walBytesSince: async (lsn) => Number((await db.query<{ d: string }>('SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), $1) AS d', [lsn])).rows[0]?.d ?? NaN),
    pgUrl,
  };
}

/**
 * Rows of the embedded database, counted through the REST API: per load device, the COUNT aggregate of
 * its keys over all time (the benchmark cannot open PGlite, which lives inside the server process).
 */
function restRowSource(baseUrl: string, jwt: string, devices: ReadonlyArray<{ id: string }>): RowSource {
  // Only the current run's points (ts above the run's floor): an index range per key, so counting
  // does not get slower as the table grows (and loads the server being measured as little as possible).
  const one = async (id: string, sinceTs: number): Promise<number> => {
    const q = new URLSearchParams({ keys: 'temperature,humidity,seq', startTs: String(sinceTs + 1), endTs: String(8e15), interval: String(8e15), agg: 'COUNT', limit: '1', useStrictDataTypes: 'true' });
    const r = await fetch(`${baseUrl}/api/plugins/telemetry/DEVICE/${id}/values/timeseries?${q}`, { headers: { 'x-authorization': `Bearer ${jwt}` } });
    if (r.status !== 200) throw new Error(`count through REST: HTTP ${r.status} ${await r.text()}`);
    const body = (await r.json()) as Record<string, Array<{ value: number | string }>>;
    return Object.values(body).reduce((s, list) => s + list.reduce((t, p) => t + Number(p.value), 0), 0);
  };
  return {
    async count(sinceTs) {
      let total = 0;
      for (let i = 0; i < devices.length; i += 20) total += (await Promise.all(devices.slice(i, i + 20).map((d) => one(d.id, sinceTs)))).reduce((a, b) => a + b, 0);
      return total;
    },
    everyMs: 500,
  };
}

let allocReport: string | undefined;
const PG_LOG = process.env.RIVULET_BENCH_PG_LOG === '1';
let pgLogFile: string | undefined;
let pgLogOffset = 0;

/** Statements logged since the last call, by kind: count, mean and p99 duration. */
function pgLogSummary(): string {
  if (!pgLogFile) return '';
  const text = readFileSync(pgLogFile, 'utf8');
  const fresh = text.slice(pgLogOffset);
  pgLogOffset = text.length;
  const by = new Map<string, number[]>();
  for (const m of fresh.matchAll(/duration: ([\d.]+) ms\s+(?:statement|execute [^:]*):\s*([^\n]{0,200})/g)) {
    const sql = m[2]!.replace(/\s+/g, ' ').trim();
    const kind = sql.startsWith('INSERT INTO ts_kv_latest') ? 'upsert latest' : sql.startsWith('INSERT INTO ts_kv') || sql.startsWith('WITH') ? 'insert ts_kv' : sql.split(' ').slice(0, 2).join(' ');
    (by.get(kind) ?? by.set(kind, []).get(kind)!).push(Number(m[1]));
  }
  return [...by.entries()]
    .sort((x, y) => y[1].length - x[1].length)
    .slice(0, 8)
    .map(([k, d]) => {
      d.sort((x, y) => x - y);
      return `${k}: ${d.length}x mean ${(d.reduce((x, y) => x + y, 0) / d.length).toFixed(1)} ms p99 ${d[Math.floor(d.length * 0.99)]!.toFixed(1)} ms`;
    })
    .join('; ');
}

/** RIVULET_BENCH_TRACE_GC=1: Rivulet runs with --trace-gc and each phase reports its GC pauses. */
const TRACE_GC = process.env.RIVULET_BENCH_TRACE_GC === '1';
const gcPauses: Array<{ kind: string; ms: number; at: number }> = [];
let tsFloor = Date.now();

/** One system of the run: warmed up once, then measured once per round (rounds go round-robin over systems). */
interface Contender {
  name: string;
  warm(): Promise<void>;
  round(): Promise<void>;
}

function endToEnd(sys: EndToEnd, tokensFile: string): Contender & { result: SystemResult } {
  const res: SystemResult = { key: sys.key, label: sys.label, max: [], half: [] };
  results.push(res);
  const store = sys.store;
  const phase = async (kind: 'warm-up' | 'max' | 'half', rate: number, durationS: number) => {
    await store.reset?.();
    const since = tsFloor;
    const before = await store.count(since);
    const walBefore = await store.walLsn?.();
    const probe = kind === 'warm-up' ? undefined : await startProbe({ ...sys.probe, mqttUrl: sys.probe.url, mqttVersion: sys.mqttVersion ?? MQTT_VERSION, ...(store.pgUrl ? { pgUrl: store.pgUrl } : {}), tsFloor, ratePerS: 100 });
    const go = () => drive({ label: `${sys.key} ${kind}`, protocol: sys.protocol, url: sys.url, tokensFile, devices: CLIENTS, rate, durationS, ...(sys.topic ? { topic: sys.topic } : {}), ...(sys.mqttVersion ? { mqttVersion: sys.mqttVersion } : {}), tsFloor, watch: sys.watch });
    let run!: Awaited<ReturnType<typeof drive>>;
    if (kind === 'max' && sys.allocInspector && allocReport === undefined) {
      allocReport = await allocationProfile(sys.allocInspector, async () => void (run = await go()), { messages: () => run.summary.acked, top: 40 });
    } else run = await go();
    tsFloor = Math.max(tsFloor, run.summary.lastTs) + 1;
    if (sys.key.startsWith('rivulet')) rivuletMessages += run.summary.acked;
    const expected = before + run.summary.pointsAcked;
    const settled = await waitForRows(() => store.count(since), { expected, everyMs: store.everyMs, stableMs: STABLE_MS, timeoutMs: 180_000 });
    // Latency counts the messages sent while the load ran at its rate: from RAMP_MS after the load
    // generator's clients were connected until its last publish (not the idle moments before it, not
    // its first second, when the load jumps from zero).
    const lat = probe ? await probe.stop(STABLE_MS, { from: run.startedAt + RAMP_MS, to: run.startedAt + durationS * 1000 }) : undefined;
    if (PG_LOG) log(`  statements during ${kind}: ${pgLogSummary()}`);
    if (TRACE_GC) {
      const mine = gcPauses.filter((g) => g.at >= run.startedAt);
      const by = (k: string) => mine.filter((g) => g.kind.startsWith(k)).map((g) => g.ms).sort((x, y) => x - y);
      const sc = by('Scavenge');
      const mc = [...by('Mark-C'), ...by('Mark-s')].sort((x, y) => x - y);
      log(`  GC during ${kind}: ${sc.length} scavenges (sum ${sc.reduce((x, y) => x + y, 0).toFixed(0)} ms, max ${(sc.at(-1) ?? 0).toFixed(1)}), ${mc.length} mark-compacts (sum ${mc.reduce((x, y) => x + y, 0).toFixed(0)} ms, max ${(mc.at(-1) ?? 0).toFixed(1)})`);
      gcPauses.length = 0;
    }
    tsFloor = Math.max(tsFloor, Date.now()) + 1;
    const stored = settled.rows - before;
    const walBytes = walBefore !== undefined && store.walBytesSince ? await store.walBytesSince(walBefore) : NaN;
    const elapsedS = (settled.reachedAt - run.startedAt) / 1000;
    const lost = Math.max(0, run.summary.pointsAcked - stored);
    log(
      `  ${sys.key} ${kind} (load average ${loadavg()[0]!.toFixed(1)}): acked ${run.summary.acked} msgs (${run.summary.ackedPerS.toFixed(0)}/s), stored ${stored} points in ${elapsedS.toFixed(1)} s ` +
        `= ${(stored / elapsedS).toFixed(0)} points/s${lost ? `, LOST ${lost} acknowledged points` : ''}` +
        `; CPU µs/msg ${Object.entries(run.procs).map(([n, f]) => `${n} ${f.cpuUsPerMsg.toFixed(0)}`).join(', ')}` +
        (lat?.stored ? `; stored p50/p99 ${lat.stored.quantile(0.5).toFixed(1)}/${lat.stored.quantile(0.99).toFixed(1)} ms` : '') +
        (lat?.ws ? `, ws p50/p99 ${lat.ws.quantile(0.5).toFixed(1)}/${lat.ws.quantile(0.99).toFixed(1)} ms` : '') +
        (lat && lat.missing > 0 ? ` (${lat.missing} of ${lat.sent} probe messages not stored: #${lat.missingIdx.join(', #')})` : ''),
    );
    return { run, stored, elapsedS, lost, lat, walBytes };
  };

  const round = async (): Promise<void> => {
    const m = await phase('max', 0, DURATION);
    const max: MaxRun = {
      walBytesPerPoint: m.walBytes / Math.max(1, m.stored),
      ackedMsgPerS: m.run.summary.ackedPerS,
      storedPointsPerS: m.stored / m.elapsedS,
      lostPoints: m.lost,
      ackedPoints: m.run.summary.pointsAcked,
      ackP99: m.run.summary.latencyMs.p99,
      storedP50: m.lat!.stored?.quantile(0.5) ?? NaN,
      storedP99: m.lat!.stored?.quantile(0.99) ?? NaN,
      wsP50: m.lat!.ws?.quantile(0.5) ?? NaN,
      wsP99: m.lat!.ws?.quantile(0.99) ?? NaN,
      procs: m.run.procs,
      errors: m.run.summary.errors,
    };
    res.max.push(max);
    if (PROFILE_DIR) return;
    const rate = a['latency-rate'] ? Number(a['latency-rate']) : Math.max(1, Math.floor(max.storedPointsPerS / 3 / 2));
    const h = await phase('half', rate, HALF_DURATION);
    res.half.push({
      rateMsgPerS: rate,
      storedPointsPerS: h.stored / h.elapsedS,
      lostPoints: h.lost,
      ackP99: h.run.summary.latencyMs.p99,
      storedP50: h.lat!.stored?.quantile(0.5) ?? NaN,
      storedP99: h.lat!.stored?.quantile(0.99) ?? NaN,
      wsP50: h.lat!.ws?.quantile(0.5) ?? NaN,
      wsP99: h.lat!.ws?.quantile(0.99) ?? NaN,
      procs: h.run.procs,
    });
  };
  return {
    name: sys.key,
    result: res,
    async warm() {
      log(`${sys.label}: warm-up ${WARMUP} s`);
      await phase('warm-up', 0, WARMUP);
    },
    round,
  };
}

/** Idle connections: RSS of the server before and after `count` clients connect and sit idle. */
async function measureIdle(o: { system: string; serverPid: number; inspector: string; protocolUrl: string; tokensFile: string; count: number }): Promise<IdleResult> {
  await sleep(1_000);
  await collectGarbage(o.inspector);
  const before = rssBytes(o.serverPid);
  const sim = startChild(`idle clients (${o.system})`, process.execPath, [
    ...TSX,
    join(ROOT, 'apps/simulator/src/cli.ts'),
    '--json', '--idle',
    '--mqtt-url', o.protocolUrl,
    '--tokens', o.tokensFile,
    '--devices', String(o.count),
    '--duration', '600',
    '--connect-concurrency', '200',
  ], { cwd: ROOT });
  try {
    const line = await sim.waitFor(/"event":"connected"/, 300_000);
    const ev = JSON.parse(line) as { connected: number; failures: number; firstError?: string; seconds: number };
    if (ev.failures > 0) notes.push(`idle ${o.system}: ${ev.failures} of ${o.count} connections failed (${ev.firstError})`);
    await sleep(2_000);
    await collectGarbage(o.inspector);
    const after = rssBytes(o.serverPid);
    const r: IdleResult = { system: o.system, connections: ev.connected, rssBeforeMB: MB(before), rssAfterMB: MB(after), perConnKB: (after - before) / 1024 / Math.max(1, ev.connected) };
    log(`  idle ${o.system}: ${ev.connected} connections in ${ev.seconds.toFixed(1)} s, RSS ${r.rssBeforeMB.toFixed(0)} -> ${r.rssAfterMB.toFixed(0)} MB = ${r.perConnKB.toFixed(1)} KB each`);
    return r;
  } finally {
    await sim.stop();
  }
}

// ---------------------------------------------------------------------------------------------

async function startRivulet(o: {
  pgUrl: string | undefined;
  profileDir: string | undefined;
  inspect: boolean;
  workDir: string;
  /** Extra environment (the Kafka configurations: queue, brokers, topic prefix, roles). */
  env?: Record<string, string>;
  name?: string;
}): Promise<{ child: Child; url: string; mqttPort: number; mqtt: boolean; inspector?: string }> {
  const { pgUrl, profileDir, inspect } = o;
  const httpPort = await freePort();
  const mqttPort = await freePort();
  const coapPort = await freePort();
  const dataDir = mkdtempSync(join(o.workDir, 'rivulet-data-'));
  const child = startChild(
    o.name ?? 'rivulet',
    process.execPath,
    [
      ...serverNodeFlags(),
      ...(profileDir ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] : []),
      ...(inspect ? ['--inspect=127.0.0.1:0'] : []),
      ...(TRACE_GC ? ['--trace-gc'] : []),
      // RIVULET_BENCH_NODE_FLAGS: extra node flags for the server (e.g. GC settings to compare)
      ...(process.env.RIVULET_BENCH_NODE_FLAGS ?? '').split(' ').filter(Boolean),
      startCommand().entry,
    ],
    {
      cwd: ROOT,
      env: {
        ...process.env,
        ...(pgUrl ? { DATABASE_URL: pgUrl } : {}),
        RIVULET_HTTP_HOST: '127.0.0.1',
        RIVULET_HTTP_PORT: String(httpPort),
        RIVULET_MQTT_HOST: '127.0.0.1',
        RIVULET_MQTT_PORT: String(mqttPort),
        RIVULET_COAP_HOST: '127.0.0.1',
        RIVULET_COAP_PORT: String(coapPort),
        RIVULET_DATA_DIR: dataDir,
        RIVULET_ADMIN_PASSWORD: ADMIN.password,
        // The benchmark creates 10,000 idle devices through REST before measuring the device path.
        RIVULET_API_RATE_LIMIT: '0',
        RIVULET_LOG_LEVEL: 'warn',
        ...o.env,
      },
    },
  );
  if (TRACE_GC) {
    // --trace-gc lines: "[pid:0x..]   1234 ms: Scavenge 40.1 (50.2) -> 38.0 (50.2) MB, 3.21 / 0.00 ms ..."
    child.onLine((line) => {
      const m = line.match(/ms: (Scavenge|Mark-Compact|Mark-sweep)[^,]*, ([\d.]+) \/ ([\d.]+) ms/);
      if (m) gcPauses.push({ kind: m[1]!, ms: Number(m[2]), at: performance.now() });
    });
  }
  await waitReady(child, `http://127.0.0.1:${httpPort}`);
  const mqtt = (o.env?.RIVULET_ROLES ?? 'transport').includes('transport') && (await canConnect(mqttPort));
  return { child, url: `http://127.0.0.1:${httpPort}`, mqttPort, mqtt, ...(inspect ? { inspector: await inspectorUrl(child) } : {}) };
}

type StartedRivulet = Awaited<ReturnType<typeof startRivulet>>;

function rivuletSystem(o: { config: 'postgres' | 'embedded' | KafkaConfig; riv: StartedRivulet; jwt: string; probe: SimDevice & { id: string }; store: RowSource; watch: Watched[]; mqttVersion?: number }): EndToEnd {
  const { riv } = o;
  const v = o.mqttVersion ?? MQTT_VERSION;
  const mqttUrl = `mqtt://127.0.0.1:${riv.mqttPort}`;
  const transport = riv.mqtt ? 'mqtt' : 'http';
  return {
    key: `rivulet-${o.config}-${transport}${o.mqttVersion === 5 && riv.mqtt ? '5' : ''}`,
    ...(o.mqttVersion ? { mqttVersion: o.mqttVersion } : {}),
    label:
      o.config === 'postgres' || o.config === 'embedded'
        ? `Rivulet (${riv.mqtt ? (v === 5 ? 'MQTT 5 QoS 1' : 'MQTT QoS 1') : 'HTTP'} -> default root chain -> ${o.config === 'postgres' ? 'PostgreSQL' : 'embedded PGlite'})`
        : `Rivulet (${riv.mqtt ? (v === 5 ? 'MQTT 5 QoS 1' : 'MQTT QoS 1') : 'HTTP'} -> Kafka -> ${KAFKA_WORKERS[o.config]} rule-engine worker${KAFKA_WORKERS[o.config] > 1 ? 's' : ''} -> PostgreSQL)`,
    protocol: transport,
    url: riv.mqtt ? mqttUrl : riv.url,
    probe: {
      transport,
      url: riv.mqtt ? mqttUrl : riv.url,
      username: o.probe.token,
      topic: 'v1/devices/me/telemetry',
      entityId: o.probe.id,
      ws: { url: `${riv.url.replace(/^http/, 'ws')}/api/ws`, jwt: o.jwt },
    },
    watch: [{ name: 'rivulet', pid: riv.child.pid }, ...o.watch],
    ...(PROFILE_DIR && riv.inspector && o.config === 'postgres' ? { allocInspector: riv.inspector } : {}),
    store: o.store,
  };
}

async function stopRivulet(riv: StartedRivulet, profileDir: string | undefined): Promise<void> {
  log(`stopping ${riv.child.name} (peak RSS over its whole run ${MB(peakRssBytes(riv.child.pid)).toFixed(0)} MB)`);
  await riv.child.stop(60_000);
  if (profileDir) {
    const files = readdirSync(profileDir).filter((f) => f.endsWith('.cpuprofile')).map((f) => join(profileDir, f));
    // Thread 0 is the main thread; tsx's module loader runs on a worker that is idle once started.
    for (const f of files.filter((x) => /\.0\.\d+\.cpuprofile$/.test(x))) process.stdout.write(`\n${summarizeProfile(f, { messages: rivuletMessages, top: 30 })}\n`);
    if (allocReport) process.stdout.write(`\n${allocReport}\n`);
  }
}

async function main(): Promise<void> {
  const started = new Date();
  const work = mkdtempSync(join(tmpdir(), 'rivulet-bench-'));
  const cleanups: Array<() => Promise<void> | void> = [() => rmSync(work, { recursive: true, force: true })];
  let pgServer: PostgresServer | undefined;
  try {
    log(`Rivulet benchmark ${started.toISOString()}${quick ? ' (quick)' : ''}`);
    pgServer = await startPostgres({ durable: true });
    const server = pgServer;
    cleanups.push(() => server.stop());
    atExit(() => server.stop()); // stop() is synchronous and idempotent
    atExit(() => rmSync(work, { recursive: true, force: true }));
    const admin = new pg.Client({ connectionString: pgServer.url });
    await admin.connect();
    // RIVULET_BENCH_PG_CONF="name=value,...": PostgreSQL settings to try (ALTER SYSTEM, then a reload).
    for (const kv of (process.env.RIVULET_BENCH_PG_CONF ?? '').split(',').filter(Boolean)) {
      const [name, value] = kv.split('=');
      await admin.query(`ALTER SYSTEM SET ${pg.escapeIdentifier(name!.trim())} = ${pg.escapeLiteral((value ?? '').trim())}`);
    }
    if (process.env.RIVULET_BENCH_PG_CONF) {
      await admin.query('SELECT pg_reload_conf()');
      await sleep(200);
    }
    const settings = await admin.query<{ name: string; setting: string; unit: string | null }>(
      "SELECT name, setting, unit FROM pg_settings WHERE name IN ('server_version','fsync','synchronous_commit','full_page_writes','shared_buffers','max_wal_size','min_wal_size','wal_init_zero','wal_recycle','wal_level')",
    );
    const pgSettings = Object.fromEntries(settings.rows.map((r) => [r.name, `${r.setting}${r.unit && r.unit !== '8kB' ? r.unit : r.name === 'shared_buffers' ? ' x 8kB' : ''}`]));
    await admin.query('CREATE DATABASE bench');
    await admin.end();
    const pgUrl = pgServer.url.replace(/\/postgres$/, '/bench');
    const db = new pg.Client({ connectionString: pgUrl });
    await db.connect();
    cleanups.unshift(() => db.end());
    // The new cluster's WAL brought to a running server's steady state while the systems start
    // (wal-pool.ts); --fresh-wal measures the new cluster as it is.
    const walPool = a['fresh-wal']
      ? Promise.resolve(undefined)
      : fillWalPool(pgUrl).then((w) => {
          log(`  PostgreSQL WAL pool filled: ${(w.bytes / 2 ** 20).toFixed(0)} MB written, ${w.segments} segment files kept for reuse (${w.seconds.toFixed(1)} s)`);
          return w;
        });
    walPool.catch(() => undefined); // awaited (and its failure thrown) before the first warm-up
    if (PG_LOG) {
      // RIVULET_BENCH_PG_LOG=1: every statement's duration into the server log, summarized per phase.
      await db.query('ALTER SYSTEM SET log_min_duration_statement = 0');
      await db.query('SELECT pg_reload_conf()');
      const dataDir = (await db.query<{ data_directory: string }>('SHOW data_directory')).rows[0]!.data_directory;
      pgLogFile = join(dirname(dataDir), 'server.log');
    }
    // The postmaster is the parent of our own backend; its tree is every PostgreSQL process.
    const backend = Number((await db.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]?.pid ?? 0);
    const postmasterPid = parentPid(backend);

    // Every system is started first (idle ones cost next to nothing), then each is warmed up, then
    // the measured rounds go round-robin over them: the machine is shared, and what others run on it
    // changes from minute to minute, so each round compares the systems under the same conditions.
    const contenders: Contender[] = [];

    // Rivulet on PostgreSQL: creates the schema and the devices (the other systems reuse both).
    const profileDir = PROFILE_DIR;
    if (profileDir) mkdirSync(profileDir, { recursive: true });
    log('starting Rivulet (PostgreSQL, memory queue, default root chain)');
    const riv = await startRivulet({ pgUrl, profileDir, inspect: (only.has('idle') && IDLE > 0) || profileDir !== undefined, workDir: work });
    cleanups.unshift(() => riv.child.stop(60_000));
    if (!riv.mqtt) {
      notes.push('Rivulet does not listen for MQTT in this build (packages/transport-mqtt is not wired into apps/server yet): its rows are measured over the HTTP device API instead.');
      log('  no MQTT listener: Rivulet is driven over HTTP');
    }
    const rest = createRestClient({ baseUrl: riv.url });
    await rest.login(ADMIN.username, ADMIN.password);
    const t0 = performance.now();
    const load = await provisionDevices({ rest, count: CLIENTS, prefix: 'bench-', concurrency: 16 });
    const [probeDev] = await provisionDevices({ rest, count: 1, prefix: 'bench-probe-', concurrency: 1 });
    const idleCount = only.has('idle') && riv.mqtt ? IDLE : 0;
    const idleDevs = idleCount > 0 ? await provisionDevices({ rest, count: idleCount, prefix: 'idle-', concurrency: 32 }) : [];
    log(`  ${CLIENTS + 1 + idleDevs.length} devices created through REST in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    const loadTokens = join(work, 'load.jsonl');
    const idleTokens = join(work, 'idle.jsonl');
    await writeTokens(loadTokens, load);
    if (idleDevs.length) await writeTokens(idleTokens, idleDevs);
    const probe: SimDevice & { id: string } = probeDev!;
    await installProbeTrigger(db, probe.id);
    if (idleCount > 0) idle.push(await measureIdle({ system: 'rivulet', serverPid: riv.child.pid, inspector: riv.inspector!, protocolUrl: `mqtt://127.0.0.1:${riv.mqttPort}`, tokensFile: idleTokens, count: idleCount }));
    if (only.has('rivulet') && CONFIGS.includes('postgres')) {
      contenders.push(
        endToEnd(rivuletSystem({ config: 'postgres', riv, jwt: rest.jwt!, probe, store: pgRowSource(db, pgUrl, probe.id), watch: [{ name: 'postgres', pid: postmasterPid, multiProcess: true }] }), loadTokens),
      );
    }
    // The same server, devices and database, the load speaking MQTT 5 (--configs ...,mqtt5): MQTT 3.1.1
    // and MQTT 5 measured in one run, round-robin like every other contender.
    if (only.has('rivulet') && CONFIGS.includes('mqtt5') && riv.mqtt) {
      contenders.push(
        endToEnd(rivuletSystem({ config: 'postgres', mqttVersion: 5, riv, jwt: rest.jwt!, probe, store: pgRowSource(db, pgUrl, probe.id), watch: [{ name: 'postgres', pid: postmasterPid, multiProcess: true }] }), loadTokens),
      );
    }

    // Rivulet on its embedded database (PGlite in the server process), counted through REST.
    let emb: StartedRivulet | undefined;
    if (only.has('rivulet') && CONFIGS.includes('embedded')) {
      log('starting Rivulet (embedded PGlite, memory queue, default root chain)');
      const e = (emb = await startRivulet({ pgUrl: undefined, profileDir: undefined, inspect: false, workDir: work }));
      cleanups.unshift(() => e.child.stop(60_000));
      const embRest = createRestClient({ baseUrl: e.url });
      await embRest.login(ADMIN.username, ADMIN.password);
      const embLoad = await provisionDevices({ rest: embRest, count: CLIENTS, prefix: 'bench-', concurrency: 16 });
      const [embProbe] = await provisionDevices({ rest: embRest, count: 1, prefix: 'bench-probe-', concurrency: 1 });
      const embTokens = join(work, 'load-embedded.jsonl');
      await writeTokens(embTokens, embLoad);
      contenders.push(endToEnd(rivuletSystem({ config: 'embedded', riv: e, jwt: embRest.jwt!, probe: embProbe!, store: restRowSource(e.url, embRest.jwt!, embLoad), watch: [] }), embTokens));
    }

    // Rivulet on Kafka (a real broker started here), same database and devices, one and two rule-engine workers.
    const kafkaConfigs = only.has('rivulet') ? KAFKA_CONFIGS.filter((c) => CONFIGS.includes(c)) : [];
    const kafkaDeployments: StartedRivulet[] = [];
    if (kafkaConfigs.length) {
      log('starting Kafka (one KRaft node)');
      const kafka = await startKafka();
      cleanups.push(() => kafka.stop());
      for (const config of kafkaConfigs) {
        log(`starting Rivulet on Kafka (${config}: ${KAFKA_WORKERS[config]} rule-engine worker(s))`);
        const k = await startRivulet({ pgUrl, profileDir: undefined, inspect: false, workDir: work, name: `rivulet-${config}`, env: kafkaEnv({ config, brokers: kafka.brokers, nodeId: `bench-${config}-0` }) });
        cleanups.unshift(() => k.child.stop(60_000));
        kafkaDeployments.push(k);
        const watch: Watched[] = [{ name: 'postgres', pid: postmasterPid, multiProcess: true }, { name: 'kafka', pid: kafka.pid, multiProcess: true }];
        for (let w = 1; w < KAFKA_WORKERS[config]; w++) {
          const worker = await startRivulet({ pgUrl, profileDir: undefined, inspect: false, workDir: work, name: `rivulet-${config}-worker${w}`, env: kafkaEnv({ config, brokers: kafka.brokers, roles: 'rule-engine', nodeId: `bench-${config}-${w}` }) });
          cleanups.unshift(() => worker.child.stop(60_000));
          kafkaDeployments.push(worker);
          watch.push({ name: `worker${w}`, pid: worker.child.pid });
        }
        const kRest = createRestClient({ baseUrl: k.url });
        await kRest.login(ADMIN.username, ADMIN.password);
        contenders.push(endToEnd(rivuletSystem({ config, riv: k, jwt: kRest.jwt!, probe, store: pgRowSource(db, pgUrl, probe.id), watch }), loadTokens));
      }
    }

    // The storage ceiling: the same rows straight into the same table.
    if (only.has('pg')) {
      const ceiling = { rowsPerS: [] as number[], statementP99Ms: [] as number[] };
      pgResult = ceiling;
      contenders.push({
        name: 'postgres-ceiling',
        warm: async () => undefined,
        async round() {
          await db.query('TRUNCATE ts_kv, ts_kv_latest');
          const c = await pgCeiling({ url: pgUrl, entityIds: load.map((d) => d.id), durationS: DURATION, tsStart: tsFloor, connections: 4 });
          tsFloor += 10_000_000;
          ceiling.rowsPerS.push(c.rowsPerS);
          ceiling.statementP99Ms.push(c.statementP99Ms);
          log(`  postgres ceiling (load average ${loadavg()[0]!.toFixed(1)}): ${c.rows} rows, ${c.rowsPerS.toFixed(0)} rows/s (statement p99 ${c.statementP99Ms.toFixed(1)} ms)`);
        },
      });
    }

    // The broker ceiling: bare aedes acknowledging the same load.
    if (only.has('aedes') || idleCount > 0) {
      const port = await freePort();
      const broker = startChild('aedes', process.execPath, [...TSX, ...(idleCount > 0 ? ['--inspect=127.0.0.1:0'] : []), join(ROOT, 'apps/simulator/src/bench/aedes-broker.ts')], {
        cwd: ROOT,
        env: { ...process.env, PORT: String(port) },
      });
      cleanups.unshift(() => broker.stop());
      await broker.waitFor(/aedes listening/, 30_000);
      const url = `mqtt://127.0.0.1:${port}`;
      if (idleCount > 0) idle.push(await measureIdle({ system: 'aedes (bare)', serverPid: broker.pid, inspector: await inspectorUrl(broker), protocolUrl: url, tokensFile: idleTokens, count: idleCount }));
      if (only.has('aedes')) {
        const ceiling = { ackedMsgPerS: [] as number[], ackP99: [] as number[], cpuPct: [] as number[], peakMB: [] as number[], cpuUsPerMsg: [] as number[] };
        aedesCeiling = ceiling;
        contenders.push({
          name: 'aedes-ceiling',
          async warm() {
            log('bare aedes: warm-up');
            await drive({ label: 'aedes warm-up', protocol: 'mqtt', url, tokensFile: loadTokens, devices: CLIENTS, rate: 0, durationS: WARMUP, tsFloor, watch: [] });
          },
          async round() {
            const m = await drive({ label: 'aedes', protocol: 'mqtt', url, tokensFile: loadTokens, devices: CLIENTS, rate: 0, durationS: DURATION, tsFloor, watch: [{ name: 'aedes', pid: broker.pid }] });
            tsFloor = Math.max(tsFloor, m.summary.lastTs) + 1;
            ceiling.ackedMsgPerS.push(m.summary.ackedPerS);
            ceiling.ackP99.push(m.summary.latencyMs.p99);
            ceiling.cpuPct.push(m.procs.aedes?.cpuPct ?? NaN);
            ceiling.peakMB.push(m.procs.aedes?.peakMB ?? NaN);
            ceiling.cpuUsPerMsg.push(m.procs.aedes?.cpuUsPerMsg ?? NaN);
            log(`  aedes (load average ${loadavg()[0]!.toFixed(1)}): ${m.summary.ackedPerS.toFixed(0)} msgs/s acknowledged (${(m.summary.ackedPerS * 3).toFixed(0)} points/s), ack p99 ${m.summary.latencyMs.p99.toFixed(1)} ms, broker CPU ${m.procs.aedes?.cpuPct.toFixed(0)}%`);
          },
        });
      }
    }

    // The peer: Mosquitto + Node-RED inserting batches into the same table.
    if (only.has('nodered')) {
      const mosqBin = ensureMosquitto(log);
      const nrDir = ensureNodeRed(log);
      const mport = await freePort();
      const mosq = await startMosquitto(mosqBin, mport, work);
      cleanups.unshift(() => mosq.stop());
      const nr = await startNodeRed({ dir: nrDir, mqttPort: mport, httpPort: await freePort(), pgUrl, workDir: work });
      cleanups.unshift(() => nr.stop());
      let nrErrors = 0;
      nr.onLine((line) => {
        if (line.includes('[error]') && nrErrors++ === 0) notes.push(`Node-RED logged errors during the run; the first: ${line}`);
      });
      const url = `mqtt://127.0.0.1:${mport}`;
      contenders.push(
        endToEnd(
          {
            key: 'nodered-mosquitto-postgres',
            label: 'Mosquitto + Node-RED (mqtt in -> json -> function: batched unnest INSERT) -> PostgreSQL',
            protocol: 'mqtt',
            url,
            topic: NODE_RED_TOPIC,
            probe: { transport: 'mqtt', url, username: 'probe', topic: NODE_RED_TOPIC.replace('{id}', probe.id), entityId: probe.id },
            watch: [
              { name: 'mosquitto', pid: mosq.pid },
              { name: 'node-red', pid: nr.pid },
              { name: 'postgres', pid: postmasterPid, multiProcess: true },
            ],
            store: pgRowSource(db, pgUrl, probe.id),
          },
          loadTokens,
        ),
      );
    }

    await walPool;
    for (const c of contenders) await c.warm();
    for (let r = 0; r < RUNS; r++) {
      log(`round ${r + 1} of ${RUNS}`);
      for (const c of contenders) await c.round();
    }

    await stopRivulet(riv, profileDir);
    if (emb) await stopRivulet(emb, undefined);
    for (const k of kafkaDeployments) await stopRivulet(k, undefined);
    report({ started, pgSettings, walPool: await walPool });
  } finally {
    for (const c of cleanups) {
      try {
        await c();
      } catch {
        // best effort
      }
    }
  }
}

// ---------------------------------------------------------------------------------------------

function report(o: { started: Date; pgSettings: Record<string, string>; walPool: WalPoolResult | undefined }): void {
  const f0 = (n: number) => (Number.isFinite(n) ? n.toFixed(0) : 'n/a');
  const f1 = (n: number) => (Number.isFinite(n) ? n.toFixed(1) : 'n/a');
  const f2 = (n: number) => (Number.isFinite(n) ? n.toFixed(2) : 'n/a');
  const ratio = (x: number, of: number) => (Number.isFinite(of) && of > 0 ? x / of : NaN);
  const out: string[] = [];
  const p = (s = '') => out.push(s);
  p(`# Rivulet benchmark, ${o.started.toISOString()}${quick ? ' (--quick)' : ''}`);
  p(`# machine: ${cpus().length} cores (${cpus()[0]?.model ?? '?'}), ${(totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}, shared with other work (noisy)`);
  p(`# PostgreSQL ${o.pgSettings.server_version} (fsync=${o.pgSettings.fsync}, synchronous_commit=${o.pgSettings.synchronous_commit}, full_page_writes=${o.pgSettings.full_page_writes}, shared_buffers=${o.pgSettings.shared_buffers}, max_wal_size=${o.pgSettings.max_wal_size}, min_wal_size=${o.pgSettings.min_wal_size}, wal_init_zero=${o.pgSettings.wal_init_zero}); ${o.walPool ? `WAL segment pool filled before the runs (${(o.walPool.bytes / 2 ** 20).toFixed(0)} MB, ${o.walPool.segments} files)` : 'a new cluster\'s WAL (--fresh-wal)'}`);
  p(`# load: ${CLIENTS} MQTT clients, QoS 1, ${INFLIGHT} in flight each, 3 data points per message ({ts, values}); max-rate runs ${DURATION} s, half-rate runs ${HALF_DURATION} s, warm-up ${WARMUP} s; ${RUNS} round(s) going round-robin over the systems; medians`);
  p('# stored = rows counted in ts_kv after the run (not acknowledgements); the rate is rows / (first publish -> last row stored)');
  p();
  p('| system | acked msg/s | stored points/s | lost points | ack p99 ms | stored p50 / p99 ms @max | @half rate (msg/s) | stored p50 / p99 ms @half | WebSocket p50 / p99 ms @half |');
  p('|---|---|---|---|---|---|---|---|---|');
  for (const r of results) {
    const m = (f: (x: MaxRun) => number) => median(r.max.map(f));
    const h = (f: (x: HalfRun) => number) => median(r.half.map(f));
    p(
      `| ${r.label} | ${f0(m((x) => x.ackedMsgPerS))} | ${f0(m((x) => x.storedPointsPerS))} | ${f0(m((x) => x.lostPoints))} | ${f1(m((x) => x.ackP99))} | ${f1(m((x) => x.storedP50))} / ${f1(m((x) => x.storedP99))} | ${f0(h((x) => x.rateMsgPerS))} | ${f1(h((x) => x.storedP50))} / ${f1(h((x) => x.storedP99))} | ${f1(h((x) => x.wsP50))} / ${f1(h((x) => x.wsP99))} |`,
    );
  }
  if (aedesCeiling) {
    const acked = median(aedesCeiling.ackedMsgPerS);
    p(`| ceiling: bare aedes, acknowledging only | ${f0(acked)} | (${f0(acked * 3)} acked) | - | ${f1(median(aedesCeiling.ackP99))} | - | - | - | - |`);
  }
  if (pgResult) p(`| ceiling: PostgreSQL, INSERT ... unnest, 1,000 rows/statement, 4 connections | - | ${f0(median(pgResult.rowsPerS))} | - | (statement p99 ${f1(median(pgResult.statementP99Ms))}) | - | - | - | - |`);
  p();
  p(`PostgreSQL WAL written per stored point (max-rate runs): ${results.map((r) => `${r.key} ${f0(median(r.max.map((x) => x.walBytesPerPoint)))} bytes`).join(', ')}`);
  p();
  p('CPU (% of one core) and peak memory (MB; RSS, PostgreSQL: PSS summed over its processes) per process during the max-rate runs (medians):');
  p();
  p('| system | process | CPU % | CPU µs per message | peak MB |');
  p('|---|---|---|---|---|');
  for (const r of results) {
    const names = Object.keys(r.max[0]?.procs ?? {});
    for (const n of names) {
      p(`| ${r.key} | ${n} | ${f0(median(r.max.map((x) => x.procs[n]?.cpuPct ?? NaN)))} | ${f1(median(r.max.map((x) => x.procs[n]?.cpuUsPerMsg ?? NaN)))} | ${f0(median(r.max.map((x) => x.procs[n]?.peakMB ?? NaN)))} |`);
    }
  }
  if (aedesCeiling) p(`| aedes-ceiling | aedes | ${f0(median(aedesCeiling.cpuPct))} | ${f1(median(aedesCeiling.cpuUsPerMsg))} | ${f0(median(aedesCeiling.peakMB))} |`);
  if (idle.length) {
    p();
    p('| idle MQTT connections | connections | server RSS before MB | after MB | per connection KB |');
    p('|---|---|---|---|---|');
    for (const i of idle) p(`| ${i.system} | ${i.connections} | ${f0(i.rssBeforeMB)} | ${f0(i.rssAfterMB)} | ${f1(i.perConnKB)} |`);
  }
  if (RUNS > 1) {
    p();
    p('Every round (stored points/s at max rate): ' + results.map((r) => `${r.key} ${r.max.map((x) => f0(x.storedPointsPerS)).join(', ')}`).join('; ') + (aedesCeiling ? `; aedes acked points/s ${aedesCeiling.ackedMsgPerS.map((x) => f0(x * 3)).join(', ')}` : '') + (pgResult ? `; postgres rows/s ${pgResult.rowsPerS.map(f0).join(', ')}` : ''));
  }

  // Ratios within each round (the systems of a round ran minutes apart at most), then their median.
  const nodered = results.find((r) => r.key.startsWith('nodered'));
  const aedesAt = (i: number) => (aedesCeiling?.ackedMsgPerS[i] ?? NaN) * 3;
  const pgAt = (i: number) => pgResult?.rowsPerS[i] ?? NaN;
  const bindingAt = (i: number) => {
    const c = Math.min(Number.isFinite(aedesAt(i)) ? aedesAt(i) : Infinity, Number.isFinite(pgAt(i)) ? pgAt(i) : Infinity);
    return c === Infinity ? NaN : c;
  };
  const noderedAt = (i: number) => nodered?.max[i]?.storedPointsPerS ?? NaN;
  const roundRatio = (r: SystemResult, of: (i: number) => number) => median(r.max.map((x, i) => ratio(x.storedPointsPerS, of(i))));
  if (!aedesCeiling && !pgResult) notes.push('no ceiling measured in this run (--only): ratio_vs_ceiling is n/a');
  p();
  p('Ratios of stored points/s at max rate, taken within each round, medians over the rounds (the ceiling of a round is the lower of its two):');
  const memoryQueue = results.find((r) => r.key.startsWith('rivulet-postgres') && !r.key.endsWith('mqtt5'));
  const memoryAt = (i: number) => memoryQueue?.max[i]?.storedPointsPerS ?? NaN;
  for (const r of results) {
    if (r.key.endsWith('mqtt5')) p(`  ${r.key}: / the same server over MQTT 3.1.1 (${memoryQueue?.key ?? 'n/a'}) ${f2(roundRatio(r, memoryAt))} (every round: ${r.max.map((x, i) => f2(ratio(x.storedPointsPerS, memoryAt(i)))).join(', ')})`);
    if (r.key.startsWith('rivulet-kafka')) p(`  ${r.key}: / the memory queue (rivulet-postgres) ${f2(roundRatio(r, memoryAt))} (every round: ${r.max.map((x, i) => f2(ratio(x.storedPointsPerS, memoryAt(i)))).join(', ')})`);
  }
  for (const r of results) {
    p(`  ${r.key}: / aedes ceiling ${f2(roundRatio(r, aedesAt))}, / PostgreSQL ceiling ${f2(roundRatio(r, pgAt))}, / ceiling ${f2(roundRatio(r, bindingAt))}, / Node-RED ${f2(roundRatio(r, noderedAt))}`);
  }
  if (notes.length) {
    p();
    p('Notes:');
    for (const n of notes) p(`  - ${n}`);
  }
  p();
  for (const r of results) {
    const s = median(r.max.map((x) => x.storedPointsPerS));
    // p99 publish -> stored at half the maximum rate; where the database cannot be watched (embedded),
    // publish -> WebSocket update, which is sent after the write committed.
    const runs = r.half.length ? r.half : r.max;
    const stored99 = median(runs.map((x) => x.storedP99));
    const p99 = Number.isFinite(stored99) ? stored99 : median(runs.map((x) => x.wsP99));
    p(`bench ${r.key}: stored_per_s=${f0(s)} p99_ms=${f1(p99)} ratio_vs_ceiling=${f2(roundRatio(r, bindingAt))} ratio_vs_nodered=${f2(roundRatio(r, noderedAt))}`);
  }
  process.stdout.write(`${out.join('\n')}\n`);
  if (a.json) writeFileSync(a.json, JSON.stringify({ started: o.started, quick, pgSettings: o.pgSettings, results, aedesCeiling, pgResult, idle, notes }, null, 1));
}

main().then(
  () => process.exit(0),
  (e: unknown) => {
    process.stderr.write(`benchmark failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    process.exit(1);
  },
);
