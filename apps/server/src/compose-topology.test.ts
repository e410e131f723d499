import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import mqtt from 'mqtt';
import { createTestDatabase, freePort, spawnRivulet, waitRivuletReady, type RivuletProcess } from '@rivulet/testing';
import { afterAll, describe, expect, inject, it } from 'vitest';
// @ts-expect-error: a plain .mjs build script (no types)
import { buildServer, serverBuildIsStale } from '../scripts/build.mjs';
import { api, createDevice, eventually, login, tempDir } from './test-helpers';

/**
 * The compose topologies without containers: each Rivulet service of docker-compose.yml (replicas
 * included) and docker-compose.single.yml runs as a process with the environment the compose file
 * gives it (read through `docker-compose config`, interpolated with .env.example) and the image's
 * command (the Dockerfile's CMD: the built server), started in depends_on order, each waited for
 * with the image's healthcheck (/api/ready). What only a container provides is replaced, and said:
 * the service names postgres and kafka become the test run's PostgreSQL (a scratch database) and
 * Kafka broker, container ports become free ports, and each process gets its container's node id.
 */
const ROOT = join(import.meta.dirname, '..', '..', '..');

interface Service {
  image?: string;
  build?: unknown;
  environment?: Record<string, string>;
  depends_on?: Record<string, { condition: string }>;
  deploy?: { replicas?: number };
  ports?: Array<string | { target: number; published?: number | string; protocol?: string }>;
}

function composeConfig(file: string): Record<string, Service> {
  let yaml: string;
  try {
    yaml = execFileSync('docker-compose', ['-f', join(ROOT, file), '--env-file', join(ROOT, '.env.example'), 'config'], { encoding: 'utf8' });
  } catch (e) {
    throw new Error(`docker-compose config failed for ${file} (.ci/run installs docker-compose): ${String(e)}`);
  }
  const json = execFileSync('python3', ['-c', 'import sys, json, yaml; json.dump(yaml.safe_load(sys.stdin), sys.stdout)'], { input: yaml, encoding: 'utf8' });
  return (JSON.parse(json) as { services: Record<string, Service> }).services;
}

/** The image's command: Dockerfile's exec-form CMD, `node <flags> <entry>` (entry relative to WORKDIR /app). */
function imageCommand(): { flags: string[]; entry: string } {
  const m = /^CMD (\[.*\])$/m.exec(readFileSync(join(ROOT, 'Dockerfile'), 'utf8'));
  const cmd = JSON.parse(m![1]!) as string[];
  expect(cmd[0]).toBe('node');
  return { flags: cmd.slice(1, -1), entry: join(ROOT, cmd.at(-1)!) };
}

async function runTopology(file: string) {
  const services = composeConfig(file);
  const rivulet = Object.entries(services).filter(([, s]) => s.build !== undefined);
  expect(rivulet.length).toBeGreaterThan(0);
  const db = await createTestDatabase('compose');
  const dir = tempDir('rivulet-compose-');
  const prefix = `compose${Date.now()}.`;
  const procs: Array<{ service: string; url: string; mqttPort: number; proc: RivuletProcess }> = [];
  const healthy = new Set<string>(['postgres', 'kafka']);
  const command = imageCommand();
  const start = async (name: string, s: Service) => {
    const env = { ...s.environment! };
    // container-only addresses, replaced: the compose services postgres and kafka
    expect(new URL(env.DATABASE_URL!).hostname).toBe('postgres');
    env.DATABASE_URL = db.url;
    if (env.KAFKA_BROKERS !== undefined) {
      expect(env.KAFKA_BROKERS).toBe('kafka:9092');
      env.KAFKA_BROKERS = inject('kafkaBrokers');
      env.RIVULET_QUEUE_PREFIX = prefix; // the broker is shared with other tests
    }
    for (let i = 0; i < (s.deploy?.replicas ?? 1); i++) {
      const [http, mqttPort] = [await freePort(), await freePort()];
      const id = `${name}-${i + 1}`;
      const proc = spawnRivulet({
        name: id,
        command,
        env: { ...env, RIVULET_NODE_ID: id, RIVULET_HTTP_PORT: String(http), RIVULET_MQTT_PORT: String(mqttPort), RIVULET_COAP_PORT: '0', RIVULET_DATA_DIR: join(dir.dir, id), RIVULET_DB_POOL_SIZE: '3', RIVULET_LOG_LEVEL: 'warn' },
      });
      procs.push({ service: name, url: `http://127.0.0.1:${http}`, mqttPort, proc });
    }
  };
  const stop = async () => {
    await Promise.all(procs.map((p) => p.proc.kill('SIGTERM')));
    await db.drop();
    dir.remove();
  };
  try {
    // depends_on with condition service_healthy: a service starts once everything it names is healthy
    let pending = rivulet;
    while (pending.length > 0) {
      const now = pending.filter(([, s]) => Object.entries(s.depends_on ?? {}).every(([dep, c]) => c.condition === 'service_healthy' && healthy.has(dep)));
      expect(now.length, `services ${pending.map(([n]) => n).join(', ')} wait on something never healthy`).toBeGreaterThan(0);
      const before = procs.length;
      for (const [name, s] of now) await start(name, s);
      await Promise.all(procs.slice(before).map((p) => waitRivuletReady(p.proc, p.url, 90_000)));
      for (const [name] of now) healthy.add(name);
      pending = pending.filter((e) => !now.includes(e));
    }
  } catch (e) {
    await stop();
    throw e;
  }
  const one = (service: string) => procs.find((p) => p.service === service)!;
  return { services, procs, one, stop };
}

describe('compose topologies without containers', () => {
  const stops: Array<() => Promise<void>> = [];
  afterAll(async () => {
    for (const s of stops) await s();
  });

  it('docker-compose.yml: transport, two rule engines and api on Kafka and PostgreSQL, end to end', async () => {
    const t = await runTopology('docker-compose.yml');
    stops.push(t.stop);
    expect(t.procs.map((p) => p.service).sort()).toEqual(['api', 'rule-engine', 'rule-engine', 'transport']);
    // the published ports are the server's own defaults inside the container
    expect(t.services.transport!.ports!.map((p) => (typeof p === 'string' ? p : `${p.published}:${p.target}/${p.protocol ?? 'tcp'}`)).sort()).toEqual(['1883:1883/tcp', '5683:5683/udp', '8081:8080/tcp']);
    const admin = { username: t.services.api!.environment!.RIVULET_ADMIN_EMAIL!, password: t.services.api!.environment!.RIVULET_ADMIN_PASSWORD! };
    const apiUrl = t.one('api').url;
    const jwt = await login(apiUrl, admin);
    const dev = await createDevice(apiUrl, jwt, 'compose-device');
    // MQTT and the HTTP device API on the transport process; stored by a rule engine; read on the api
    const c = await mqtt.connectAsync(`mqtt://127.0.0.1:${t.one('transport').mqttPort}`, { username: dev.token, reconnectPeriod: 0 });
    try {
      for (let seq = 1; seq <= 20; seq++) await c.publishAsync('v1/devices/me/telemetry', JSON.stringify({ ts: 1_000 + seq, values: { seq } }), { qos: 1 });
    } finally {
      await c.endAsync();
    }
    const r = await fetch(`${t.one('transport').url}/api/v1/${dev.token}/telemetry`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ ts: 1_021, values: { seq: 21 } }) });
    expect(r.status).toBe(200);
    const stored = await eventually(async () => {
      const h = await api<{ seq?: Array<{ value: string }> }>(apiUrl, jwt, `/api/plugins/telemetry/DEVICE/${dev.id}/values/timeseries?keys=seq&startTs=0&endTs=10000&limit=100`);
      return h.body.seq?.length === 21 ? h.body.seq : undefined;
    }, 30_000);
    expect(stored.map((p) => Number(p.value)).sort((a, b) => a - b)).toEqual(Array.from({ length: 21 }, (_, i) => i + 1));
    // the web app is served by the api process (the image's dist/server/web)
    expect(await (await fetch(`${apiUrl}/`)).text()).toMatch(/<div id="root">/);
  }, 240_000);

  it('docker-compose.single.yml: one process with every role on PostgreSQL', async () => {
    const t = await runTopology('docker-compose.single.yml');
    stops.push(t.stop);
    const p = t.one('rivulet');
    const ready = (await (await fetch(`${p.url}/api/ready`)).json()) as { roles: string[] };
    expect(ready.roles.sort()).toEqual(['api', 'rule-engine', 'transport']);
    const env = t.services.rivulet!.environment!;
    const jwt = await login(p.url, { username: env.RIVULET_ADMIN_EMAIL!, password: env.RIVULET_ADMIN_PASSWORD! });
    const dev = await createDevice(p.url, jwt, 'single-device');
    expect((await fetch(`${p.url}/api/v1/${dev.token}/telemetry`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"ts":5,"values":{"x":1}}' })).status).toBe(200);
    await eventually(async () => (await api<{ x?: unknown[] }>(p.url, jwt, `/api/plugins/telemetry/DEVICE/${dev.id}/values/timeseries?keys=x&startTs=0&endTs=10&limit=10`)).body.x?.length === 1, 20_000);
  }, 180_000);
});

// the image's command runs the built server: build it once for this file (skipped when up to date)
if (serverBuildIsStale()) await buildServer({ quiet: true });
