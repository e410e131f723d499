/**
 * `npm run soak -- --minutes 30`: Rivulet for a long time at half its measured capacity over MQTT
 * (QoS 1), HTTP and CoAP at once, through a root chain with a script node, with a live WebSocket
 * subscriber; the server's RSS, heap (after a full GC), event-loop delay p99, queue lag and errors
 * sampled each minute. See docs/benchmarks.md ("Soak") and soak-report.ts for the options.
 *
 * The server runs as the root `npm start` script runs it (its node flags from package.json, plus
 * --inspect on 127.0.0.1 so the soak can force a full GC before reading the heap), on its embedded
 * PGlite in a temporary data directory, or on DATABASE_URL when set. Each transport's load is the
 * simulator's CLI in its own process (JSON progress events), so the load does not share a thread
 * with the sampling.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import WebSocket from 'ws';
import { freePort } from '@rivulet/testing';
import { createRestClient, provisionDevices, writeTokens, type SimDevice } from '../devices';
import { atExit, startChild, sleep, type Child } from '../bench/children';
import { collectGarbage, inspectorUrl } from '../bench/inspector';
import { rssBytes } from '../bench/proc';
import { startCommand } from '../bench/start-command';
import { capacityFromDocs, parseSoakArgs, renderSummary, renderTable, sampleLine, splitRate, summarize, SOAK_USAGE, type SoakOptions, type SoakSample } from './soak-report';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../../../..');
const TSX = ['--conditions=source', '--import', 'tsx'];
const TENANT = { username: 'tenant@rivulet.local', password: 'soak-secret-1' };
const SYSADMIN = { username: 'sysadmin@rivulet.local', password: 'soak-secret-2' };
const POINTS_PER_MSG = 3; // the 'bench' template: temperature, humidity, seq
const SCRIPT_KEY = 'soakMark';
const DEVICES = { mqtt: 100, http: 50, coap: 50 } as const;
const INFLIGHT = { mqtt: 10, http: 10, coap: 4 } as const;
type Transport = keyof typeof DEVICES;

const log = (s: string) => process.stderr.write(`${new Date().toISOString().slice(11, 19)} ${s}\n`);
const MB = (b: number) => b / 2 ** 20;

/** The node flags of the root `npm start` script (the built server; see bench/start-command.ts). */
function serverNodeFlags(): string[] {
  return startCommand().flags;
}

/** The root chain of the soak: message type switch -> script (adds a field) -> save time series. */
function soakChain(): Record<string, unknown> {
  return {
    ruleChain: { name: 'Soak chain (script node)', root: false, debugMode: false },
    metadata: {
      firstNodeIndex: 0,
      nodes: [
        { type: 'rivulet.filter.msgTypeSwitch', name: 'Switch', configuration: {} },
        { type: 'rivulet.transformation.script', name: 'Mark', configuration: { jsScript: `msg.${SCRIPT_KEY} = msg.seq % 100;\nreturn {msg: msg, metadata: metadata, msgType: msgType};` } },
        { type: 'rivulet.action.saveTimeseries', name: 'Save', configuration: {} },
        { type: 'rivulet.action.saveAttributes', name: 'Save attributes', configuration: { scope: 'CLIENT_SCOPE' } },
      ],
      connections: [
        { fromIndex: 0, toIndex: 1, type: 'Post telemetry' },
        { fromIndex: 1, toIndex: 2, type: 'Success' },
        { fromIndex: 0, toIndex: 3, type: 'Post attributes' },
      ],
    },
  };
}

async function rest<T>(base: string, jwt: string, method: string, path: string, body?: unknown): Promise<T> {
  const r = await fetch(`${base}${path}`, { method, headers: { 'content-type': 'application/json', 'x-authorization': `Bearer ${jwt}` }, ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
  const text = await r.text();
  if (r.status !== 200) throw new Error(`${method} ${path}: HTTP ${r.status} ${text}`);
  return (text ? JSON.parse(text) : undefined) as T;
}

interface ServerStats {
  memory: { rssBytes: number; heapUsedBytes: number };
  eventLoopDelayMs: { p99: number; max: number };
  queue: { lag: number };
  ruleEngine: { processed: number; failedAttempts: number; skipped: number } | null;
}

interface SimCounters {
  sent: number;
  acked: number;
  errors: number;
  pointsAcked: number;
  summary?: { sent: number; acked: number; errors: number; unanswered: number; latencyMs: { p50: number; p99: number; max: number }; pointsAcked: number; errorsByCode: Record<string, number>; firstError?: string; lastTs: number };
  connectFailures: number;
}

function startLoad(t: Transport, o: { url: string; mqttUrl: string; coapUrl: string; tokens: string; rate: number; durationS: number; tsFloor: number }): { child: Child; c: SimCounters } {
  const c: SimCounters = { sent: 0, acked: 0, errors: 0, pointsAcked: 0, connectFailures: 0 };
  const child = startChild(`load ${t}`, process.execPath, [
    ...TSX,
    join(ROOT, 'apps/simulator/src/cli.ts'),
    '--json',
    '--protocol', t,
    '--url', o.url,
    '--mqtt-url', o.mqttUrl,
    '--coap-url', o.coapUrl,
    '--tokens', o.tokens,
    '--devices', String(DEVICES[t]),
    '--rate', String(o.rate),
    '--inflight', String(INFLIGHT[t]),
    '--duration', String(o.durationS),
    '--template', 'bench',
    '--ts-floor', String(o.tsFloor),
    '--drain-timeout', '60000',
  ], { cwd: ROOT });
  child.onLine((line, stream) => {
    if (stream !== 'stdout' || !line.startsWith('{')) return;
    const ev = JSON.parse(line) as Record<string, unknown>;
    if (ev.event === 'progress') {
      c.sent = ev.sent as number;
      c.acked = ev.acked as number;
      c.errors = ev.errors as number;
      c.pointsAcked = ev.points as number;
    } else if (ev.event === 'connected') {
      c.connectFailures = ev.failures as number;
      if (c.connectFailures > 0) log(`  ${t}: ${c.connectFailures} connections failed: ${String(ev.firstError)}`);
    } else if (ev.event === 'summary') {
      c.summary = ev as unknown as SimCounters['summary'];
      c.sent = c.summary!.sent;
      c.acked = c.summary!.acked;
      c.errors = c.summary!.errors;
      c.pointsAcked = c.summary!.pointsAcked;
    }
  });
  return { child, c };
}

/** A live WebSocket subscriber (ThingsBoard's /api/ws TIMESERIES LATEST_TELEMETRY) on some devices; counts updates. */
async function startSubscriber(wsUrl: string, jwt: string, devices: readonly SimDevice[]): Promise<{ updates: () => number; errors: () => number; close: () => void }> {
  let updates = 0;
  let errors = 0;
  const sock = new WebSocket(wsUrl);
  await new Promise<void>((res, rej) => {
    sock.once('open', () => res());
    sock.once('error', rej);
  });
  sock.send(JSON.stringify({ authCmd: { cmdId: 0, token: jwt } }));
  sock.send(JSON.stringify({ cmds: devices.map((d, i) => ({ type: 'TIMESERIES', cmdId: i + 1, entityType: 'DEVICE', entityId: d.id, scope: 'LATEST_TELEMETRY', keys: `temperature,${SCRIPT_KEY}` })) }));
  sock.on('message', (raw) => {
    try {
      const m = JSON.parse(String(raw)) as { errorCode?: number; errorMsg?: string; data?: Record<string, unknown> };
      if (m.errorCode) {
        errors++;
        if (errors === 1) log(`  WebSocket error: ${m.errorMsg}`);
      } else if (m.data && Object.keys(m.data).length > 0) updates++;
    } catch {
      errors++;
    }
  });
  sock.on('close', () => {
    if (!closing) {
      errors++;
      log('  WebSocket closed by the server');
    }
  });
  let closing = false;
  return { updates: () => updates, errors: () => errors, close: () => ((closing = true), sock.close()) };
}

/** Points of `keys` with ts above `sinceTs`, over `devices`, counted by the server (REST COUNT aggregate). */
async function countStored(base: string, jwt: string, devices: ReadonlyArray<{ id?: string }>, keys: string, sinceTs: number): Promise<number> {
  const one = async (id: string) => {
    const q = new URLSearchParams({ keys, startTs: String(sinceTs + 1), endTs: String(8e15), interval: String(8e15), agg: 'COUNT', limit: '1', useStrictDataTypes: 'true' });
    const body = await rest<Record<string, Array<{ value: number | string }>>>(base, jwt, 'GET', `/api/plugins/telemetry/DEVICE/${id}/values/timeseries?${q}`);
    return Object.values(body).reduce((s, list) => s + list.reduce((t, p) => t + Number(p.value), 0), 0);
  };
  let total = 0;
  for (let i = 0; i < devices.length; i += 10) total += (await Promise.all(devices.slice(i, i + 10).map((d) => one(d.id!)))).reduce((a, b) => a + b, 0);
  return total;
}

async function main(o: SoakOptions): Promise<number> {
  const dbUrl = process.env.DATABASE_URL;
  const config = dbUrl ? 'postgres' : 'embedded';
  let rate = o.rate;
  if (rate === undefined) {
    const cap = capacityFromDocs(readFileSync(join(ROOT, 'docs/benchmarks.md'), 'utf8'), config);
    if (!cap) throw new Error(`docs/benchmarks.md has no "bench rivulet-${config}-mqtt: stored_per_s=" line: pass --rate`);
    rate = Math.max(1, Math.floor(cap.pointsPerS / POINTS_PER_MSG / 2));
    log(`rate: half the measured capacity of the ${config} configuration, from docs/benchmarks.md ("${cap.line}"): ${cap.pointsPerS} points/s / ${POINTS_PER_MSG} points per message / 2 = ${rate} messages/s`);
  } else log(`rate: ${rate} messages/s (--rate)`);
  const rates = splitRate(rate, o.split);
  log(`soak: ${o.minutes} min, ${config} storage, MQTT QoS 1 ${rates.mqtt}/s (${DEVICES.mqtt} devices), HTTP ${rates.http}/s (${DEVICES.http}), CoAP ${rates.coap}/s (${DEVICES.coap}); ${POINTS_PER_MSG} points per message, the chain's script adds a 4th`);

  const work = mkdtempSync(join(tmpdir(), 'rivulet-soak-'));
  atExit(() => rmSync(work, { recursive: true, force: true }));
  const [httpPort, mqttPort, coapPort] = [await freePort(), await freePort(), await freePort()];
  const server = startChild('rivulet', process.execPath, [...serverNodeFlags(), '--inspect=127.0.0.1:0', startCommand().entry], {
    cwd: ROOT,
    env: {
      ...process.env,
      RIVULET_HTTP_HOST: '127.0.0.1',
      RIVULET_HTTP_PORT: String(httpPort),
      RIVULET_MQTT_HOST: '127.0.0.1',
      RIVULET_MQTT_PORT: String(mqttPort),
      RIVULET_COAP_HOST: '127.0.0.1',
      RIVULET_COAP_PORT: String(coapPort),
      RIVULET_DATA_DIR: join(work, 'data'),
      RIVULET_ADMIN_PASSWORD: TENANT.password,
      RIVULET_SYSADMIN_PASSWORD: SYSADMIN.password,
      RIVULET_API_RATE_LIMIT: '0',
      RIVULET_LOG_LEVEL: 'warn',
    },
  });
  // Server-side errors: log lines at error level or above (pino: level >= 50), and anything not JSON on stderr.
  let serverErrors = 0;
  let serverWarnings = 0;
  const firstErrors: string[] = [];
  server.onLine((line, stream) => {
    const m = /"level":(\d+)/.exec(line);
    // Not JSON: the startup banner and the inspector's "Debugger attached" go to stderr; a stack trace or a crash message counts.
    const level = m ? Number(m[1]) : stream === 'stderr' && /error|exception|unhandled|fatal|heap out of memory/i.test(line) ? 50 : 0;
    if (level >= 50) {
      serverErrors++;
      if (firstErrors.length < 5) firstErrors.push(line.slice(0, 300));
    } else if (level >= 40) serverWarnings++;
  });
  let exitCode = 0;
  const loads: Array<{ t: Transport; child: Child; c: SimCounters }> = [];
  let sub: Awaited<ReturnType<typeof startSubscriber>> | undefined;
  try {
    await server.waitFor(/Rivulet is listening on/, 120_000);
    const inspector = await inspectorUrl(server);
    const base = `http://127.0.0.1:${httpPort}`;
    const tenant = createRestClient({ baseUrl: base });
    await tenant.login(TENANT.username, TENANT.password);
    const sys = createRestClient({ baseUrl: base });
    await sys.login(SYSADMIN.username, SYSADMIN.password);
    const jwt = tenant.jwt!;
    const stats = (reset: boolean) => rest<ServerStats>(base, sys.jwt!, 'GET', `/api/admin/stats?reset=${reset}`);

    const chain = await rest<{ id: { id: string } }>(base, jwt, 'POST', '/api/ruleChain/import', soakChain());
    await rest(base, jwt, 'POST', `/api/ruleChain/${chain.id.id}/root`);
    log(`root chain installed: switch -> script (adds ${SCRIPT_KEY}) -> save time series (${chain.id.id})`);

    const devs: Record<Transport, Array<Required<SimDevice>>> = { mqtt: [], http: [], coap: [] };
    for (const t of ['mqtt', 'http', 'coap'] as const) {
      devs[t] = await provisionDevices({ rest: tenant, count: DEVICES[t], prefix: `soak-${t}-`, concurrency: 8 });
      await writeTokens(join(work, `${t}.jsonl`), devs[t]);
    }
    const all = [...devs.mqtt, ...devs.http, ...devs.coap];
    log(`${all.length} devices created`);
    // The subscriber watches 5 devices of each transport.
    sub = await startSubscriber(`ws://127.0.0.1:${httpPort}/api/ws`, jwt, [...devs.mqtt.slice(0, 5), ...devs.http.slice(0, 5), ...devs.coap.slice(0, 5)]);

    const tsFloor = Date.now();
    const durationS = o.minutes * 60;
    for (const t of ['mqtt', 'http', 'coap'] as const) {
      if (rates[t] <= 0) continue;
      const l = startLoad(t, { url: base, mqttUrl: `mqtt://127.0.0.1:${mqttPort}`, coapUrl: `coap://127.0.0.1:${coapPort}`, tokens: join(work, `${t}.jsonl`), rate: rates[t], durationS, tsFloor });
      loads.push({ t, ...l });
    }
    await stats(true);
    const samples: SoakSample[] = [];
    const t0 = performance.now();
    const prev = { sent: 0, acked: 0, clientErrors: 0, serverErrors: 0, wsErrors: 0, processed: 0, ws: 0 };
    const sum = (f: (c: SimCounters) => number) => loads.reduce((s, l) => s + f(l.c), 0);
    for (let minute = 1; minute <= Math.round((o.minutes * 60) / o.sampleS); minute++) {
      const at = t0 + minute * o.sampleS * 1000;
      while (performance.now() < at) {
        await sleep(Math.min(1000, at - performance.now()));
        if (server.proc.exitCode !== null) throw new Error(`the server exited (${server.proc.exitCode}):\n${server.tail()}`);
      }
      const s1 = await stats(true);
      await collectGarbage(inspector);
      const s2 = await stats(false);
      const now = { sent: sum((c) => c.sent), acked: sum((c) => c.acked), clientErrors: sum((c) => c.errors + c.connectFailures), serverErrors, wsErrors: sub.errors(), processed: s2.ruleEngine?.processed ?? 0, ws: sub.updates() };
      const sample: SoakSample = {
        minute,
        rssMB: MB(rssBytes(server.pid)),
        heapMB: MB(s2.memory.heapUsedBytes),
        loopP99Ms: s1.eventLoopDelayMs.p99,
        loopMaxMs: s1.eventLoopDelayMs.max,
        lag: s1.queue.lag,
        errors: now.clientErrors - prev.clientErrors + (now.serverErrors - prev.serverErrors) + (now.wsErrors - prev.wsErrors),
        sent: now.sent - prev.sent,
        acked: now.acked - prev.acked,
        processed: now.processed - prev.processed,
        wsUpdates: now.ws - prev.ws,
      };
      Object.assign(prev, now);
      samples.push(sample);
      log(`${sampleLine(sample)} (load average ${loadavg()[0]!.toFixed(1)})`);
    }

    // The end: the load generators finish (each drains its outstanding acknowledgements), then every
    // acknowledged point must be stored.
    for (const l of loads) {
      const code = await Promise.race([l.child.exited, sleep(180_000).then(() => 'timeout' as const)]);
      if (code === 'timeout') {
        await l.child.stop();
        log(`  ${l.t}: the load generator did not finish in time`);
        exitCode = 1;
      }
    }
    for (let i = 0; i < 600; i++) {
      const s = await stats(false);
      if (s.queue.lag === 0) break;
      await sleep(500);
    }
    const ackedPoints = sum((c) => c.pointsAcked);
    const ackedMsgs = sum((c) => c.acked);
    let stored = 0;
    let marked = 0;
    for (let i = 0; i < 60; i++) {
      stored = await countStored(base, jwt, all, 'temperature,humidity,seq', tsFloor - 1);
      marked = await countStored(base, jwt, all, SCRIPT_KEY, tsFloor - 1);
      if (stored >= ackedPoints && marked >= ackedMsgs) break;
      await sleep(2_000);
    }
    const final = await stats(false);

    const out: string[] = [];
    const p = (s = '') => out.push(s);
    p(`Soak ${new Date().toISOString()}: ${o.minutes} min, ${config} storage, ${rate} messages/s (${rate * POINTS_PER_MSG} points/s; MQTT QoS 1 ${rates.mqtt}/s, HTTP ${rates.http}/s, CoAP ${rates.coap}/s), root chain switch -> script -> save time series, one WebSocket subscriber on 15 devices.`);
    p();
    p(renderTable(samples));
    p();
    const summary = summarize(samples, o.warmup);
    if (summary) p(renderSummary(summary, o.warmup));
    p();
    for (const l of loads) {
      const s = l.c.summary;
      p(`- ${l.t}: ${s ? `sent ${s.sent}, acknowledged ${s.acked}, failed ${s.errors}${s.errors ? ` ${JSON.stringify(s.errorsByCode)} (first: ${s.firstError})` : ''}, unanswered ${s.unanswered}; ${(s.acked / (o.minutes * 60)).toFixed(0)} acknowledged/s against ${rates[l.t]}/s asked; send -> acknowledgement p50 ${s.latencyMs.p50.toFixed(1)} ms, p99 ${s.latencyMs.p99.toFixed(1)} ms, max ${s.latencyMs.max.toFixed(0)} ms` : `no summary (exit ${l.child.proc.exitCode})`}${l.c.connectFailures ? `, ${l.c.connectFailures} connections failed` : ''}`);
    }
    p(`- server log: ${serverErrors} error lines, ${serverWarnings} warnings${firstErrors.length ? `; first: ${firstErrors.join(' | ')}` : ''}`);
    p(`- rule engine: processed ${final.ruleEngine?.processed ?? 'n/a'}, failed attempts ${final.ruleEngine?.failedAttempts ?? 'n/a'}, skipped ${final.ruleEngine?.skipped ?? 'n/a'}; queue lag at the end ${final.queue.lag}`);
    p(`- WebSocket: ${sub.updates()} updates, ${sub.errors()} errors`);
    const lost = ackedPoints - stored;
    p(`- stored: ${stored} of ${ackedPoints} acknowledged points (temperature, humidity, seq) and ${marked} ${SCRIPT_KEY} points of ${ackedMsgs} acknowledged messages: ${lost <= 0 && marked >= ackedMsgs ? 'every acknowledged point stored' : `LOST ${Math.max(0, lost)} points, ${Math.max(0, ackedMsgs - marked)} script points`}`);
    if (lost > 0 || marked < ackedMsgs) exitCode = 1;
    const text = out.join('\n');
    process.stdout.write(`\n${text}\n`);
    if (o.out) {
      writeFileSync(o.out, `${text}\n`);
      log(`written to ${o.out}`);
    }
  } finally {
    sub?.close();
    for (const l of loads) await l.child.stop();
    await server.stop(60_000);
    rmSync(work, { recursive: true, force: true });
  }
  return exitCode;
}

let opts: SoakOptions;
try {
  opts = parseSoakArgs(process.argv.slice(2));
} catch (e) {
  process.stderr.write(`${e instanceof Error ? e.message : String(e)}\n${SOAK_USAGE}\n`);
  process.exit(2);
}
main(opts).then(
  (code) => process.exit(code),
  (e: unknown) => {
    process.stderr.write(`soak failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    process.exit(1);
  },
);
