/**
 * `npm run bench:chain`: messages per second through rule chains, on the real engine and the
 * in-memory queue (8 partitions, as the server runs it).
 *
 * Chains: ThingsBoard's default root chain (message type switch -> save time series / attributes /
 * log), and a six-node chain (message type switch -> threshold -> deduplication -> originator fields
 * -> script transform (sandboxed) -> save time series; fixtures/rivulet-sampling-chain.json).
 * Services: recording (in memory: the chain and engine alone) and embedded storage (PGlite on a
 * temporary data directory, writes gathered into batches as the server does).
 *
 * Each message is POST_TELEMETRY_REQUEST with 3 values, from one of --devices devices in turn; the
 * figure is messages in / time until the engine has processed them all. The dedup interval (1 ms)
 * is shorter than the gap between one device's messages, so every message goes the whole way; the
 * run checks that by counting stored points.
 *
 * Options: --messages N (default 100000), --devices N (default 10000), --runs N (default 3, the
 * median is reported), --only memory|embedded
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { createBatcher, createMsg, newId, silentLogger, type Logger, type Msg, type TsPoint } from '@rivulet/core';
import { createMemoryQueue, Topics } from '@rivulet/queue';
import {
  createNodeRegistry,
  createOwnershipCache,
  createRuleEngine,
  createTenantServices,
  type DeviceInfo,
  type EntityOwnership,
  type RuleNodeServices,
} from '@rivulet/rule-engine';
import { createRecordingServices } from '@rivulet/rule-engine/testing';
import type { Storage } from '@rivulet/storage';
import { createEmbeddedStorage } from '@rivulet/storage-postgres';
import { builtinNodes, defaultRootChain, defaultScriptSandbox } from '../index';

const args = process.argv.slice(2);
const opt = (name: string, def: string) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 && args[i + 1] ? (args[i + 1] as string) : def;
};
const MESSAGES = Number(opt('messages', '100000'));
const DEVICES = Number(opt('devices', '10000'));
const RUNS = Number(opt('runs', '3'));
const only = opt('only', '');
const TENANT = newId();

const registry = createNodeRegistry(builtinNodes);
const sixNodeChain = JSON.parse(readFileSync(new URL('../fixtures/rivulet-sampling-chain.json', import.meta.url), 'utf8')) as unknown;
const chains: Record<string, unknown> = { 'default root chain': defaultRootChain(), 'six-node chain': sixNodeChain };

interface Backend {
  name: string;
  services: RuleNodeServices;
  /** Ownership checks as the server makes them (cached; the services are bound to the tenant with it). */
  ownership: EntityOwnership;
  devices: string[];
  storedPoints(): Promise<number>;
  close(): Promise<void>;
}

async function memoryBackend(): Promise<Backend> {
  const services = createRecordingServices({ now: () => Date.now() });
  const devices = Array.from({ length: DEVICES }, (_, i) => services.addDevice({ id: newId(), name: `dev-${i}`, type: 'thermostat' }).id);
  const owned = new Set(devices);
  return {
    name: 'in-memory services',
    services: { ...services, logger: silentLogger },
    ownership: createOwnershipCache({ lookup: async (t, id) => t === TENANT && owned.has(id) }),
    devices,
    storedPoints: async () => services.points.length,
    close: async () => {},
  };
}

/** The server's arrangement (apps/server live-storage.ts): many messages' points per statement. */
async function embeddedBackend(): Promise<Backend> {
  const dir = mkdtempSync(join(tmpdir(), 'rivulet-chain-bench-'));
  const storage: Storage = await createEmbeddedStorage({ dataDir: join(dir, 'pglite') });
  const tenant = await storage.tenants.create({ title: 'bench', id: TENANT });
  const devices: string[] = [];
  for (let i = 0; i < DEVICES; i++) devices.push((await storage.devices.create({ tenantId: tenant.id, name: `dev-${i}`, type: 'thermostat' })).device.id);
  const batcher = createBatcher<TsPoint>({ maxBatch: 5000, concurrency: 1, write: (points) => storage.timeseries.save(points) });
  const attrBatcher = createBatcher({ maxBatch: 2000, concurrency: 1, write: (items: Parameters<Storage['attributes']['save']>[0]) => storage.attributes.save(items) });
  // Device lookups cached as the server caches them (node-capabilities.ts).
  const cache = new Map<string, Promise<DeviceInfo | null>>();
  const services: RuleNodeServices = {
    logger: silentLogger,
    now: () => Date.now(),
    timeseries: { save: (p) => batcher.add(p), findLatest: (e, k) => storage.timeseries.findLatest(e, k) },
    attributes: { save: (a) => attrBatcher.add(a), find: (e, s, k) => storage.attributes.find(e, s, k), delete: (e, s, k) => storage.attributes.delete(e, s, k) },
    devices: {
      get(tenantId, id) {
        let d = cache.get(id);
        if (!d) {
          d = storage.devices.get(tenantId, id);
          cache.set(id, d);
        }
        return d;
      },
    },
  };
  return {
    name: 'embedded storage (PGlite)',
    services,
    ownership: createOwnershipCache({ lookup: async (t, id) => (await storage.devices.get(t, id)) !== null }),
    devices,
    storedPoints: () => storage.timeseries.count(),
    async close() {
      await batcher.flush();
      await attrBatcher.flush();
      await storage.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

let runNo = 0;

function makeMessages(devices: string[]): Msg[] {
  const out: Msg[] = [];
  const base = 1_700_000_000_000 + runNo++ * MESSAGES;
  for (let i = 0; i < MESSAGES; i++) {
    out.push(
      createMsg({
        type: 'POST_TELEMETRY_REQUEST',
        originator: { entityType: 'DEVICE', id: devices[i % devices.length]! },
        tenantId: TENANT,
        // A distinct ts per message and run: every point is a new row.
        metadata: { deviceName: `dev-${i % devices.length}`, ts: String(base + i) },
        data: { temperature: 60 + (i % 50), humidity: 40 + (i % 30), pressure: 1000 + (i % 20) },
      }),
    );
  }
  return out;
}

async function runOnce(backend: Backend, chainJson: unknown): Promise<{ msgsPerS: number; points: number }> {
  const queue = createMemoryQueue({ partitions: 8, capacity: 10_000 });
  const engine = createRuleEngine({
    queue,
    registry,
    // As the server runs chains: services bound to the tenant, every entity id checked (cached).
    servicesFor: createTenantServices({ base: backend.services, ownership: backend.ownership }),
    chains: { getRootChain: async () => ({ id: 'bench', json: chainJson }) },
    // The server's default: a message that fails (a script past its time limit on a busy machine) is retried.
    maxRetries: 5,
    retryBackoffMs: 10,
    logger: errorLogger,
  });
  await engine.start();
  const msgs = makeMessages(backend.devices);
  const pointsBefore = await backend.storedPoints();
  const t0 = performance.now();
  for (let i = 0; i < msgs.length; i += 1000) {
    await queue.produce(
      Topics.RULE_ENGINE,
      msgs.slice(i, i + 1000).map((m) => ({ key: m.originator.id, value: m })),
    );
  }
  while (engine.stats().processed + engine.stats().skipped < MESSAGES) await new Promise((r) => setTimeout(r, 2));
  const seconds = (performance.now() - t0) / 1000;
  const stats = engine.stats();
  await engine.stop();
  await queue.close();
  if (stats.skipped > 0) throw new Error(`${stats.skipped} messages failed: the figure would be meaningless`);
  if (stats.retried > 0) console.error(`  (${stats.retried} message attempts were retried)`);
  return { msgsPerS: MESSAGES / seconds, points: (await backend.storedPoints()) - pointsBefore };
}

/** Errors only, to stderr: a failed message must say why. */
const errorLogger: Logger = {
  debug() {},
  info() {},
  warn() {},
  error: (fields, msg) => console.error(msg, JSON.stringify(fields)),
  child: () => errorLogger,
};

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function main(): Promise<void> {
  console.log(`chain bench: ${MESSAGES} messages x 3 values from ${DEVICES} devices, ${RUNS} runs each (median); ${cpus().length} cores, Node ${process.version}`);
  const rows: string[] = [];
  const backends = [
    ...(only === '' || only === 'memory' ? [memoryBackend] : []),
    ...(only === '' || only === 'embedded' ? [embeddedBackend] : []),
  ];
  for (const make of backends) {
    const backend = await make();
    try {
      for (const [chainName, json] of Object.entries(chains)) {
        // One warm-up run (JIT, PGlite caches, the sandbox worker), then the measured ones.
        await runOnce(backend, json);
        const results: number[] = [];
        let points = 0;
        for (let r = 0; r < RUNS; r++) {
          const res = await runOnce(backend, json);
          results.push(res.msgsPerS);
          points = res.points;
        }
        const row = `${backend.name.padEnd(27)} ${chainName.padEnd(20)} ${Math.round(median(results)).toString().padStart(8)} msg/s  (runs: ${results.map((x) => Math.round(x)).join(', ')}; points stored per run: ${points})`;
        console.log(row);
        rows.push(row);
      }
    } finally {
      await backend.close();
    }
  }
  await defaultScriptSandbox().close();
}

main().then(
  () => process.exit(0),
  (e: unknown) => {
    console.error(e);
    process.exit(1);
  },
);
