/**
 * `npm run bench`: HTTP telemetry posts, end to end, counted in storage (not trusted from acks).
 *
 * For each configuration (embedded PGlite; PostgreSQL when a server is available) it starts Rivulet
 * in this process on loopback, creates a device, and drives POST /api/v1/{token}/telemetry with
 * autocannon over pooled keep-alive connections. Each request carries 3 points with its own ts, so
 * every request must end as exactly 3 rows. Beside it, the same load against a bare node:http
 * server that only parses the JSON (the ceiling of the HTTP layer on this machine).
 *
 * Options: --duration S (default 10), --connections N (default 50), --quick (5 s),
 *          --only embedded|postgres|bare
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import autocannon from 'autocannon';
import { createLogger } from '../logger';
import { machineLine, runConfigs } from './configs';
import { createDevice, eventually, login, startTestServer, tempDir } from '../test-helpers';

const args = process.argv.slice(2);
const flag = (name: string) => args.includes(`--${name}`);
const opt = (name: string, def: string) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 && args[i + 1] ? (args[i + 1] as string) : def;
};
const duration = flag('quick') ? 5 : Number(opt('duration', '10'));
const connections = Number(opt('connections', '50'));
const only = opt('only', '');

interface Result {
  config: string;
  requestsPerS: number;
  storedPointsPerS: number;
  p50Ms: number;
  p99Ms: number;
  errors: number;
  non2xx: number;
}

// One counter for every run: each request's points get a ts of their own (the same ts again would
// be an idempotent overwrite, not a new row).
let ts = Date.now() - 1_000_000_000;

function load(url: string, seconds: number): Promise<autocannon.Result> {
  return new Promise((resolve, reject) => {
    const inst = autocannon(
      {
        url,
        method: 'POST',
        connections,
        duration: seconds,
        headers: { 'content-type': 'application/json' },
        requests: [
          {
            setupRequest: (req) => ({
              ...req,
              body: `{"ts":${++ts},"values":{"temperature":${(20 + Math.random() * 5).toFixed(2)},"humidity":${Math.floor(Math.random() * 100)},"active":true}}`,
            }),
          },
        ],
      },
      (err, res) => (err ? reject(err) : resolve(res)),
    );
    inst.on('error', reject);
  });
}

async function benchRivulet(config: string, env: Record<string, string>): Promise<Result> {
  const dir = tempDir('rivulet-bench-');
  const app = await startTestServer({ RIVULET_DATA_DIR: dir.dir, RIVULET_LOG_LEVEL: process.env.RIVULET_LOG_LEVEL ?? 'silent', ...env }, { logger: createLogger(process.env.RIVULET_LOG_LEVEL ?? 'silent') });
  try {
    const jwt = await login(app.url);
    const dev = await createDevice(app.url, jwt, `bench-${config}`);
    const url = `${app.url}/api/v1/${dev.token}/telemetry`;
    await load(url, 2); // warm-up (JIT, caches, pool)
    await eventually(async () => (await app.queue.lag('rivulet.rule-engine', 'rule-engine')) === 0, 120_000);
    const before = await app.storage.timeseries.count(dev.id);
    const t0 = performance.now();
    const res = await load(url, duration);
    const expected = before + res['2xx'] * 3;
    await eventually(async () => (await app.storage.timeseries.count(dev.id)) >= expected, 120_000).catch(async (e: unknown) => {
      const stats = app.ruleEngine?.stats();
      throw new Error(
        `${config}: stored ${await app.storage.timeseries.count(dev.id)} of ${expected} points; lag ${await app.queue.lag('rivulet.rule-engine', 'rule-engine')}; ` +
          `engine processed=${stats?.processed} retried=${stats?.retried} skipped=${stats?.skipped}`,
        { cause: e },
      );
    });
    const elapsedS = (performance.now() - t0) / 1000;
    const stored = (await app.storage.timeseries.count(dev.id)) - before;
    // autocannon does not count responses still in flight when the run ends, so more may be stored
    // than it counted; fewer would be loss.
    if (stored < res['2xx'] * 3) throw new Error(`${config}: ${res['2xx']} acked requests but only ${stored} points stored (expected ${res['2xx'] * 3})`);
    if (stored % 3 !== 0) throw new Error(`${config}: ${stored} points stored is not 3 per request`);
    return {
      config,
      requestsPerS: stored / 3 / elapsedS,
      storedPointsPerS: stored / elapsedS,
      p50Ms: res.latency.p50,
      p99Ms: res.latency.p99,
      errors: res.errors,
      non2xx: res.non2xx,
    };
  } finally {
    await app.stop();
    dir.remove();
  }
}

async function benchBare(): Promise<Result> {
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      JSON.parse(Buffer.concat(chunks).toString('utf8'));
      res.writeHead(200);
      res.end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/api/v1/token/telemetry`;
  try {
    await load(url, 2);
    const res = await load(url, duration);
    return { config: 'bare node:http', requestsPerS: res.requests.average, storedPointsPerS: 0, p50Ms: res.latency.p50, p99Ms: res.latency.p99, errors: res.errors, non2xx: res.non2xx };
  } finally {
    server.close();
  }
}

async function main(): Promise<void> {
  console.log(`# Rivulet HTTP telemetry benchmark ${new Date().toISOString()}`);
  console.log(machineLine(`${connections} keep-alive connections, ${duration} s per run, 3 points per request`));
  const results = await runConfigs<Result>(only, { bare: benchBare, rivulet: benchRivulet });
  console.log('| configuration | requests/s (stored) | points stored/s | p50 ms | p99 ms | errors | non-2xx |');
  console.log('|---|---|---|---|---|---|---|');
  for (const r of results) {
    console.log(`| ${r.config} | ${r.requestsPerS.toFixed(0)} | ${r.storedPointsPerS.toFixed(0)} | ${r.p50Ms} | ${r.p99Ms} | ${r.errors} | ${r.non2xx} |`);
  }
  const bare = results.find((r) => r.config === 'bare node:http');
  for (const r of results) {
    if (r === bare) continue;
    const ratio = bare ? (r.requestsPerS / bare.requestsPerS).toFixed(2) : 'n/a';
    console.log(`bench http-${r.config}: stored_per_s=${r.storedPointsPerS.toFixed(0)} requests_per_s=${r.requestsPerS.toFixed(0)} p99_ms=${r.p99Ms} ratio_vs_bare_http=${ratio}`);
  }
}

main().then(
  () => process.exit(0),
  (e: unknown) => {
    console.error(e);
    process.exit(1);
  },
);
