import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { connectAsync, type IClientOptions, type MqttClient } from 'mqtt';
import { afterAll, beforeAll, inject } from 'vitest';
import WebSocket from 'ws';
import { startRivulet, type Rivulet, type StartOptions } from './app';
import { loadConfig } from './config';
import { createTestDatabase, freePort, spawnRivulet, type RivuletProcess } from '@rivulet/testing';

export const ADMIN = { username: 'tenant@rivulet.local', password: 'secret123' };

/** A temporary data directory, removed by the returned function. */
export function tempDir(prefix = 'rivulet-'): { dir: string; remove(): void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/** The whole platform in this process on a free port, configured as a user would through env vars. */
export async function startTestServer(env: Record<string, string>, options: StartOptions = {}): Promise<Rivulet> {
  const config = loadConfig({
    RIVULET_HTTP_PORT: '0',
    RIVULET_HTTP_HOST: '127.0.0.1',
    // a free port each: test files run in parallel
    RIVULET_MQTT_PORT: '0',
    RIVULET_MQTT_HOST: '127.0.0.1',
    RIVULET_COAP_PORT: '0',
    RIVULET_COAP_HOST: '127.0.0.1',
    RIVULET_ADMIN_PASSWORD: ADMIN.password,
    RIVULET_SYSADMIN_PASSWORD: SYSADMIN.password,
    RIVULET_LOG_LEVEL: 'silent',
    ...env,
  });
  return startRivulet(config, options);
}

/** What startSuiteServer hands a suite; read its fields inside tests and hooks (they are set in beforeAll). */
export interface SuiteServer {
  /** The whole server, started in this process. */
  readonly app: Rivulet;
  /** The tenant administrator's (ADMIN) JWT. */
  readonly jwt: string;
  /** The suite's own database on the test run's PostgreSQL server. */
  readonly db: { url: string; drop(): Promise<void> };
  /** An mqtt.js client connected to `url` (default: the server's MQTT port), no reconnects; closed after the suite. */
  connectMqtt(options: IClientOptions, url?: string): Promise<MqttClient>;
}

/**
 * The setup most server suites share, registered as the calling describe's hooks: before its tests a
 * fresh database named after `database`, a temporary data directory, the whole server on both
 * (startTestServer, plus `env`) and the tenant administrator logged in; after them, every client
 * from connectMqtt closed, the server stopped, the database dropped and the directory removed.
 */
export function startSuiteServer(o: { database: string; env?: Record<string, string> }): SuiteServer {
  let app: Rivulet | undefined;
  let jwt: string | undefined;
  let db: { url: string; drop(): Promise<void> } | undefined;
  const dir = tempDir();
  const clients: MqttClient[] = [];
  const started = <T>(v: T | undefined, what: string): T => {
    if (v === undefined) throw new Error(`startSuiteServer: ${what} is set in beforeAll; read it inside a test or hook`);
    return v;
  };
  beforeAll(async () => {
    db = await createTestDatabase(o.database);
    app = await startTestServer({ DATABASE_URL: db.url, RIVULET_DATA_DIR: dir.dir, ...o.env });
    jwt = await login(app.url);
  });
  afterAll(async () => {
    await Promise.all(clients.map((c) => c.endAsync(true).catch(() => {})));
    await app?.stop();
    await db?.drop();
    dir.remove();
  });
  return {
    get app() {
      return started(app, 'app');
    },
    get jwt() {
      return started(jwt, 'jwt');
    },
    get db() {
      return started(db, 'db');
    },
    async connectMqtt(options, url) {
      const c = await connectAsync(url ?? `mqtt://127.0.0.1:${started(app, 'app').mqttPort}`, { reconnectPeriod: 0, ...options });
      clients.push(c);
      return c;
    },
  };
}

/**
 * The settings that put a server on the test run's Kafka broker under a fresh topic prefix starting
 * with `prefix` (none for the memory queue), for suites run once per queue.
 */
export function queueEnv(queueKind: 'memory' | 'kafka', prefix: string): Record<string, string> {
  if (queueKind === 'memory') return {};
  return { RIVULET_QUEUE: 'kafka', KAFKA_BROKERS: inject('kafkaBrokers'), RIVULET_QUEUE_PREFIX: `${prefix}${randomBytes(4).toString('hex')}.` };
}

/** curl (a real HTTP client): the answer's status and its body as raw text, as sent (JSON.parse would lose a "1.0"). */
export async function curl(method: string, url: string, body?: string, headers: Record<string, string> = {}): Promise<{ status: number; text: string }> {
  const args = ['-s', '-X', method, '-w', '\n%{http_code}', url];
  for (const [k, v] of Object.entries({ 'content-type': 'application/json', ...headers })) args.push('-H', `${k}: ${v}`);
  if (body !== undefined) args.push('--data-binary', body);
  const { stdout } = await promisify(execFile)('curl', args, { timeout: 30_000 });
  const nl = stdout.lastIndexOf('\n');
  return { status: Number(stdout.slice(nl + 1)), text: stdout.slice(0, nl) };
}

/** A frame of the telemetry WebSocket (ThingsBoard's /api/ws): a subscription's update, values as [ts, text]. */
export interface TelemetryFrame {
  subscriptionId?: number;
  data?: Record<string, Array<[number, string]>>;
}

/** A WebSocket to the server's /api/ws, once open, and every frame it receives (parsed, in order). */
export async function openWebSocket<F = TelemetryFrame>(base: string): Promise<{ ws: WebSocket; frames: F[] }> {
  const ws = new WebSocket(`${base.replace('http', 'ws')}/api/ws`);
  const frames: F[] = [];
  ws.on('message', (m) => frames.push(JSON.parse(String(m)) as F));
  await new Promise((r, j) => {
    ws.once('open', r);
    ws.once('error', j);
  });
  return { ws, frames };
}

/** The system administrator startTestServer creates (its RIVULET_SYSADMIN_PASSWORD). */
export const SYSADMIN = { username: 'sysadmin@rivulet.local', password: 'sys-admin-pw-1' };

/** A JWT for `credentials` (default: the tenant administrator ADMIN). */
export async function login(base: string, credentials: { username: string; password: string } = ADMIN): Promise<string> {
  const r = await fetch(`${base}/api/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(credentials) });
  if (r.status !== 200) throw new Error(`login of ${credentials.username} failed: ${r.status} ${await r.text()}`);
  return ((await r.json()) as { token: string }).token;
}

/**
 * A tenant made as an operator makes one (the system administrator's REST API, so it gets the default
 * root chain), in `tenantProfileId` or the default profile, with an administrator `email`; its JWT.
 */
export async function createTenantWithAdmin(
  base: string,
  sysJwt: string,
  o: { title: string; email: string; password: string; tenantProfileId?: string },
): Promise<{ tenantId: string; jwt: string }> {
  const body = o.tenantProfileId ? { title: o.title, tenantProfileId: { entityType: 'TENANT_PROFILE', id: o.tenantProfileId } } : { title: o.title };
  const t = await api<{ id: { id: string } }>(base, sysJwt, '/api/tenant', { method: 'POST', body });
  if (t.status !== 200) throw new Error(`create tenant ${o.title}: ${t.status} ${JSON.stringify(t.body)}`);
  const u = await api(base, sysJwt, '/api/user', { method: 'POST', body: { email: o.email, authority: 'TENANT_ADMIN', tenantId: { id: t.body.id.id }, password: o.password } });
  if (u.status !== 200) throw new Error(`create user ${o.email}: ${u.status} ${JSON.stringify(u.body)}`);
  return { tenantId: t.body.id.id, jwt: await login(base, { username: o.email, password: o.password }) };
}

export async function api<T = unknown>(base: string, jwt: string, path: string, init: { method?: string; body?: unknown } = {}): Promise<{ status: number; body: T }> {
  const r = await fetch(`${base}${path}`, {
    method: init.method ?? 'GET',
    headers: { 'x-authorization': `Bearer ${jwt}`, 'content-type': 'application/json' },
    ...(init.body === undefined ? {} : { body: JSON.stringify(init.body) }),
  });
  const text = await r.text();
  return { status: r.status, body: (text ? JSON.parse(text) : undefined) as T };
}

export async function createDevice(base: string, jwt: string, name: string): Promise<{ id: string; token: string }> {
  const d = await api<{ id: { id: string } }>(base, jwt, '/api/device', { method: 'POST', body: { name, type: 'sensor' } });
  if (d.status !== 200) throw new Error(`create device: ${d.status} ${JSON.stringify(d.body)}`);
  const c = await api<{ credentialsId: string }>(base, jwt, `/api/device/${d.body.id.id}/credentials`);
  return { id: d.body.id.id, token: c.body.credentialsId };
}

/** Polls until fn returns a truthy value (storage is written asynchronously after the ack). */
export async function eventually<T>(fn: () => Promise<T | undefined | null | false>, timeoutMs = 10_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > end) throw new Error(`condition not met within ${timeoutMs} ms${last ? `: ${String(last)}` : ''}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/**
 * `npm start` as a user runs it, minus npm: the same command line (node with tsx's loader, no relay
 * process between the signal and the server) in its own process.
 */
export function startServerProcess(
  env: Record<string, string>,
  options: { preload?: string[]; wrapper?: string[] } = {},
): { child: ChildProcess; output: () => string; exited: Promise<number | null> } {
  // preload: modules imported before main.ts (test fixtures that inject a fault)
  const preload = (options.preload ?? []).flatMap((m) => ['--import', m]);
  const args = ['--conditions=source', '--import', 'tsx', ...preload, 'src/main.ts'];
  // wrapper: a command the server runs under, e.g. prlimit to give it fewer file descriptors
  const [command, ...prefix] = options.wrapper ? [...options.wrapper, process.execPath] : [process.execPath];
  const child = spawn(command as string, [...prefix, ...args], {
    cwd: join(import.meta.dirname, '..'),
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (out += d));
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  return { child, output: () => out, exited };
}

/** Polls a synchronous condition every 50 ms; the error says what was awaited. */
export async function waitFor(cond: () => boolean, ms: number, what: () => string): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting: ${what()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** One Rivulet role process of a split-roles test: an `npm start` child on its own HTTP port. */
export interface RoleProcess {
  readonly name: string;
  readonly url: string;
  readonly proc: RivuletProcess;
}

/**
 * Rivulet split into role processes (each an `npm start` child, RIVULET_NODE_ID = its name) on the
 * test run's Kafka broker and a test database, with the settings every split-roles test shares.
 * `start` spawns one; wait for it with waitRivuletReady. `stop` ends them all (SIGTERM).
 */
export function roleProcesses(o: { kafkaBrokers: string; prefix: string; databaseUrl: string; dataDir: string; env?: Record<string, string> }): {
  readonly procs: RoleProcess[];
  start(name: string, roles: string, extra?: Record<string, string>): Promise<RoleProcess>;
  url(name: string): string;
  stop(): Promise<void>;
} {
  const common: Record<string, string> = {
    RIVULET_QUEUE: 'kafka',
    KAFKA_BROKERS: o.kafkaBrokers,
    RIVULET_QUEUE_PREFIX: `${o.prefix}${Date.now()}.`,
    DATABASE_URL: o.databaseUrl,
    RIVULET_DB_POOL_SIZE: '3',
    RIVULET_JWT_SECRET: `${o.prefix}-test-jwt-secret-0123456789`,
    RIVULET_ADMIN_PASSWORD: ADMIN.password,
    RIVULET_SYSADMIN_PASSWORD: SYSADMIN.password,
    RIVULET_LOG_LEVEL: 'warn',
    RIVULET_HTTP_HOST: '127.0.0.1',
    RIVULET_MQTT_HOST: '127.0.0.1',
    RIVULET_COAP_HOST: '127.0.0.1',
    RIVULET_MQTT_PORT: '0',
    RIVULET_COAP_PORT: '0',
    RIVULET_DATA_DIR: o.dataDir,
    RIVULET_WEB_DIR: join(o.dataDir, 'no-web'),
    KAFKAJS_NO_PARTITIONER_WARNING: '1',
    ...o.env,
  };
  const procs: RoleProcess[] = [];
  return {
    procs,
    async start(name, roles, extra = {}) {
      const port = await freePort();
      const p = { name, url: `http://127.0.0.1:${port}`, proc: spawnRivulet({ name, env: { ...common, RIVULET_ROLES: roles, RIVULET_NODE_ID: name, RIVULET_HTTP_PORT: String(port), ...extra } }) };
      procs.push(p);
      return p;
    },
    url: (name) => procs.find((p) => p.name === name)!.url,
    stop: async () => void (await Promise.all(procs.map((p) => p.proc.kill('SIGTERM')))),
  };
}
