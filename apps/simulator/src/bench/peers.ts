import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { canConnect, sleep, startChild, type Child } from './children';

/**
 * The do-it-yourself stack people build instead of a platform: Mosquitto (Debian's package) and a
 * Node-RED flow (mqtt in -> json -> function inserting batches into PostgreSQL with pg). Both are
 * installed outside the repository at bench time: mosquitto with apt-get when missing, Node-RED with
 * npm into a cache directory (RIVULET_BENCH_CACHE, default ~/.cache/rivulet-bench).
 */

export const cacheDir = (): string => process.env.RIVULET_BENCH_CACHE ?? join(homedir(), '.cache', 'rivulet-bench');

function have(cmd: string): string | undefined {
  const r = spawnSync('sh', ['-c', `command -v ${cmd} || ls /usr/sbin/${cmd} 2>/dev/null`], { encoding: 'utf8' });
  const path = r.stdout.trim().split('\n')[0];
  return path ? path : undefined;
}

export function ensureMosquitto(log: (s: string) => void): string {
  let bin = have('mosquitto');
  if (!bin) {
    log('installing mosquitto (apt-get install -y mosquitto) ...');
    execFileSync('apt-get', ['install', '-y', 'mosquitto'], { stdio: 'ignore', timeout: 300_000 });
    bin = have('mosquitto');
  }
  if (!bin) throw new Error('mosquitto is not installed and apt-get could not install it');
  return bin;
}

/** Mosquitto with its default limits (max_inflight_messages 20, max_queued_messages 1000), no persistence. */
export async function startMosquitto(bin: string, port: number, workDir: string): Promise<Child> {
  const dir = mkdtempSync(join(workDir, 'mosquitto-'));
  const conf = join(dir, 'mosquitto.conf');
  writeFileSync(
    conf,
    [`listener ${port} 127.0.0.1`, 'allow_anonymous true', 'persistence false', 'log_dest stderr', 'log_type error', 'log_type warning', 'log_type notice', 'max_connections -1', ''].join('\n'),
  );
  const child = startChild('mosquitto', bin, ['-c', conf]);
  // It logs nothing at start without -v (which would log every packet): wait for the port instead.
  const end = Date.now() + 10_000;
  while (!(await canConnect(port))) {
    if (Date.now() > end || child.proc.exitCode !== null) {
      await child.stop();
      throw new Error(`mosquitto did not listen on ${port}. Output:\n${child.tail()}`);
    }
    await sleep(50);
  }
  return child;
}

export function ensureNodeRed(log: (s: string) => void): string {
  const dir = join(cacheDir(), 'node-red');
  const red = join(dir, 'node_modules', 'node-red', 'red.js');
  if (!existsSync(red) || !existsSync(join(dir, 'node_modules', 'pg', 'package.json'))) {
    mkdirSync(dir, { recursive: true });
    log(`installing Node-RED 4 and pg into ${dir} (once; npm install --prefix ...) ...`);
    execFileSync('npm', ['install', '--prefix', dir, 'node-red@4', 'pg@8', '--no-audit', '--no-fund', '--loglevel=error'], {
      stdio: 'ignore',
      timeout: 600_000,
    });
  }
  if (!existsSync(red)) throw new Error(`Node-RED did not install into ${dir}`);
  return dir;
}

/** The function node's start-up code: a pg pool and a buffer flushed by size or by a 20 ms timer. */
const FLOW_INIT = `
const pg = global.get('pg');
const pool = new pg.Pool({ connectionString: env.get('PG_URL'), max: 4 });
pool.on('error', (e) => node.warn(e.message));
const empty = () => ({ e: [], k: [], t: [], v: [] });
context.set('buf', empty());
context.set('timer', null);
context.set('pool', pool);
context.set('flush', () => {
  const timer = context.get('timer');
  if (timer) { clearTimeout(timer); context.set('timer', null); }
  const b = context.get('buf');
  if (b.e.length === 0) return;
  context.set('buf', empty());
  pool.query(
    'INSERT INTO ts_kv (entity_id, key, ts, dbl_v) SELECT * FROM unnest($1::uuid[], $2::text[], $3::bigint[], $4::float8[]) ON CONFLICT DO NOTHING',
    [b.e, b.k, b.t, b.v],
  ).catch((e) => node.error(e.message));
});
`;

/** Per message: one row per data point into the buffer; 1,000 rows or 20 ms, whichever first, make a statement. */
const FLOW_FUNC = `
const id = msg.topic.split('/')[1];
const groups = Array.isArray(msg.payload) ? msg.payload : [msg.payload];
const b = context.get('buf');
for (const g of groups) {
  const timed = g && g.ts !== undefined && g.values !== undefined;
  const ts = timed ? g.ts : Date.now();
  const values = timed ? g.values : g;
  for (const k in values) { b.e.push(id); b.k.push(k); b.t.push(ts); b.v.push(Number(values[k])); }
}
if (b.e.length >= 1000) context.get('flush')();
else if (!context.get('timer')) context.set('timer', setTimeout(() => context.get('flush')(), 20));
return null;
`;

const FLOW_CLOSE = `context.get('flush')(); context.get('pool').end();`;

export const NODE_RED_TOPIC = 'rivulet/{id}/telemetry';

export function nodeRedFlow(mqttPort: number): unknown[] {
  return [
    { id: 'bench-tab', type: 'tab', label: 'rivulet bench' },
    {
      id: 'bench-broker',
      type: 'mqtt-broker',
      name: 'mosquitto',
      broker: '127.0.0.1',
      port: String(mqttPort),
      clientid: 'nodered-bench',
      autoConnect: true,
      usetls: false,
      protocolVersion: '4',
      keepalive: '60',
      cleansession: true,
    },
    { id: 'bench-in', type: 'mqtt in', z: 'bench-tab', name: 'telemetry', topic: 'rivulet/+/telemetry', qos: '1', datatype: 'utf8', broker: 'bench-broker', nl: false, rap: true, rh: 0, inputs: 0, wires: [['bench-json']] },
    { id: 'bench-json', type: 'json', z: 'bench-tab', name: '', property: 'payload', action: 'obj', pretty: false, wires: [['bench-fn']] },
    { id: 'bench-fn', type: 'function', z: 'bench-tab', name: 'insert batch', func: FLOW_FUNC, initialize: FLOW_INIT, finalize: FLOW_CLOSE, outputs: 0, timeout: 0, noerr: 0, libs: [], wires: [] },
  ];
}

export async function startNodeRed(opts: { dir: string; mqttPort: number; httpPort: number; pgUrl: string; workDir: string }): Promise<Child> {
  const user = mkdtempSync(join(opts.workDir, 'node-red-'));
  writeFileSync(join(user, 'flows.json'), JSON.stringify(nodeRedFlow(opts.mqttPort), null, 1));
  const settings = join(opts.dir, 'bench-settings.cjs');
  writeFileSync(
    settings,
    `module.exports = {
  uiHost: '127.0.0.1',
  uiPort: Number(process.env.NR_PORT),
  flowFile: 'flows.json',
  credentialSecret: false,
  functionGlobalContext: { pg: require('pg') },
  logging: { console: { level: 'info', metrics: false, audit: false } },
  diagnostics: { enabled: false },
  telemetry: { enabled: false },
  externalModules: { autoInstall: false, palette: { allowInstall: false } },
  editorTheme: { tours: false },
};
`,
  );
  const child = startChild('node-red', process.execPath, [join(opts.dir, 'node_modules', 'node-red', 'red.js'), '--settings', settings, '--userDir', user], {
    env: { ...process.env, NR_PORT: String(opts.httpPort), PG_URL: opts.pgUrl, NODE_ENV: 'production' },
    cwd: opts.dir,
  });
  await child.waitFor(/Started flows/, 60_000);
  await child.waitFor(/Connected to broker/, 30_000);
  const err = child.tail().split('\n').find((l) => l.includes('[error]'));
  if (err) {
    await child.stop();
    throw new Error(`Node-RED flow failed to start: ${err}`);
  }
  return child;
}
