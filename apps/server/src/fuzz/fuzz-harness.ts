/**
 * What the four fuzzers share: a whole server in this process (so its heap can be measured after a
 * forced GC and its error logs counted), the fuzz target device, and a well-behaved client that
 * must keep working between batches on every transport: mqtt.js QoS 1 (PUBACK), a CoAP POST
 * (2.01, retransmitted as RFC 7252 says), an HTTP POST and a WebSocket subscription, each point
 * then read back from storage.
 */
import { createSocket } from 'node:dgram';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { connectAsync } from 'mqtt';
import WebSocket from 'ws';
import type { Logger } from '@rivulet/core';
import { createTestDatabase, parseFuzzSeed } from '@rivulet/testing';
import { MessageType, decodeMessage, encodeMessage } from '@rivulet/transport-coap';
import type { Rivulet } from '../app';
import { api, createDevice, eventually, login, startTestServer, tempDir } from '../test-helpers';

/** The run's seed: RIVULET_FUZZ_SEED or the fixed default, so a failure replays. */
export const FUZZ_SEED = parseFuzzSeed(process.env.RIVULET_FUZZ_SEED);
/** RIVULET_FUZZ_SCALE multiplies every fuzzer's count (default 1) for longer runs by hand. */
export const FUZZ_SCALE = Number(process.env.RIVULET_FUZZ_SCALE ?? '1') || 1;

export interface ErrorLog {
  msg: string;
  fields: Record<string, unknown>;
}

/** A Logger that counts entries per level and keeps the first 50 error entries (not every entry: that would be the heap we measure). */
function countingLogger(): { logger: Logger; counts: Record<string, number>; errors: ErrorLog[] } {
  const counts: Record<string, number> = { debug: 0, info: 0, warn: 0, error: 0 };
  const errors: ErrorLog[] = [];
  const at = (level: string) => (fields: Record<string, unknown>, msg: string) => {
    counts[level] = (counts[level] ?? 0) + 1;
    if (level === 'error' && errors.length < 50) errors.push({ msg, fields: Object.fromEntries(Object.entries(fields).map(([k, v]) => [k, v instanceof Error ? v.message : v])) });
  };
  const logger: Logger = { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error'), child: () => logger };
  return { logger, counts, errors };
}

/** Node's gc() without --expose-gc on the command line (vitest starts the worker). */
function gcFunction(): () => void {
  const existing = (globalThis as { gc?: () => void }).gc;
  if (existing) return existing;
  setFlagsFromString('--expose-gc');
  return runInNewContext('gc') as () => void;
}

export interface FuzzServer {
  app: Rivulet;
  jwt: string;
  /** The device the fuzzers authenticate as (so valid inputs reach past authentication). */
  target: { id: string; token: string };
  /** The well-behaved client's device, never touched by the fuzz input. */
  good: { id: string; token: string };
  logCounts: Record<string, number>;
  errorLogs: ErrorLog[];
  /** Uncaught exceptions and unhandled rejections seen in this process while the server ran. */
  uncaught: unknown[];
  /** heapUsed after two forced collections, bytes. */
  heapAfterGc(): Promise<number>;
  /** The well-behaved client on all four paths; throws when one fails or its point is not stored. */
  checkWellBehaved(round: number): Promise<void>;
  stop(): Promise<void>;
}

export async function startFuzzServer(name: string, env: Record<string, string> = {}): Promise<FuzzServer> {
  const db = await createTestDatabase(`fuzz_${name}`);
  const dir = tempDir();
  const log = countingLogger();
  const uncaught: unknown[] = [];
  const onUncaught = (e: unknown): void => void uncaught.push(e);
  process.on('uncaughtExceptionMonitor', onUncaught);
  process.on('unhandledRejection', onUncaught);
  // The REST rate limit is off so random requests reach the handlers instead of a 429.
  const app = await startTestServer({ DATABASE_URL: db.url, RIVULET_DATA_DIR: dir.dir, RIVULET_API_RATE_LIMIT: '0', ...env }, { logger: log.logger });
  const jwt = await login(app.url);
  const target = await createDevice(app.url, jwt, `fuzz-target-${name}`);
  const good = await createDevice(app.url, jwt, `well-behaved-${name}`);
  const gc = gcFunction();

  const latest = async (key: string): Promise<string | undefined> =>
    (await api<Record<string, Array<{ value: string }>>>(app.url, jwt, `/api/plugins/telemetry/DEVICE/${good.id}/values/timeseries?keys=${key}`)).body[key]?.[0]?.value;

  async function mqttPublish(round: number): Promise<void> {
    const c = await connectAsync(`mqtt://127.0.0.1:${app.mqttPort}`, { username: good.token, reconnectPeriod: 0, connectTimeout: 10_000 });
    try {
      // publishAsync resolves on the PUBACK
      await c.publishAsync('v1/devices/me/telemetry', JSON.stringify({ wb_mqtt: round }), { qos: 1 });
    } finally {
      await c.endAsync();
    }
  }

  async function coapPost(round: number): Promise<void> {
    const s = createSocket('udp4');
    try {
      await new Promise<void>((r) => s.bind(0, '127.0.0.1', () => r()));
      const messageId = (round * 7919) & 0xffff;
      const datagram = encodeMessage({
        type: MessageType.CON,
        code: '0.02',
        messageId,
        token: Buffer.from([round & 0xff, 0x77]),
        options: ['api', 'v1', good.token, 'telemetry'].map((seg) => [11, Buffer.from(seg)] as const),
        payload: Buffer.from(JSON.stringify({ wb_coap: round })),
      });
      const answer = new Promise<string>((resolve) =>
        s.on('message', (m) => {
          const d = decodeMessage(m);
          if (d?.messageId === messageId && d.type === MessageType.ACK) resolve(d.codeText);
        }),
      );
      // RFC 7252 4.2: a Confirmable message is retransmitted until acknowledged (the fuzz flood may fill the socket buffer)
      for (let attempt = 0; attempt < 5; attempt++) {
        s.send(datagram, app.coapPort as number, '127.0.0.1');
        const got = await Promise.race([answer, new Promise<undefined>((r) => setTimeout(() => r(undefined), 1000 * 2 ** attempt))]);
        if (got !== undefined) {
          if (got !== '2.01') throw new Error(`well-behaved CoAP POST answered ${got}`);
          return;
        }
      }
      throw new Error('well-behaved CoAP POST was never acknowledged');
    } finally {
      s.close();
    }
  }

  async function httpPostWithWsUpdate(round: number): Promise<void> {
    const ws = new WebSocket(`ws://127.0.0.1:${app.port}/api/ws`);
    try {
      const frames: Array<{ subscriptionId: number | null; data: Record<string, Array<[number, string]>> | null; errorCode: number }> = [];
      ws.on('message', (d) => frames.push(JSON.parse(String(d)) as (typeof frames)[number]));
      await new Promise<void>((resolve, reject) => {
        ws.once('open', () => resolve());
        ws.once('error', reject);
      });
      ws.send(JSON.stringify({ authCmd: { cmdId: 0, token: jwt }, cmds: [{ type: 'TIMESERIES', entityType: 'DEVICE', entityId: good.id, keys: 'wb_http', cmdId: 1 }] }));
      await eventually(async () => frames.some((f) => f.subscriptionId === 1), 10_000); // the snapshot
      const r = await fetch(`${app.url}/api/v1/${good.token}/telemetry`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ wb_http: round }) });
      if (r.status !== 200) throw new Error(`well-behaved HTTP POST answered ${r.status} ${await r.text()}`);
      await eventually(async () => frames.some((f) => f.subscriptionId === 1 && f.data?.wb_http?.some(([, v]) => v === String(round))), 10_000);
      if (frames.some((f) => f.errorCode !== 0)) throw new Error(`well-behaved WebSocket session got an error: ${JSON.stringify(frames)}`);
    } finally {
      ws.close();
    }
  }

  return {
    app,
    jwt,
    target,
    good,
    logCounts: log.counts,
    errorLogs: log.errors,
    uncaught,
    async heapAfterGc() {
      gc();
      await new Promise((r) => setTimeout(r, 50));
      gc();
      return process.memoryUsage().heapUsed;
    },
    async checkWellBehaved(round) {
      await Promise.all([mqttPublish(round), coapPost(round), httpPostWithWsUpdate(round)]);
      for (const key of ['wb_mqtt', 'wb_coap', 'wb_http']) {
        await eventually(async () => (await latest(key)) === String(round), 15_000).catch((e: unknown) => {
          throw new Error(`the well-behaved client's ${key}=${round} was not stored: ${String(e)}`);
        });
      }
    },
    async stop() {
      process.off('uncaughtExceptionMonitor', onUncaught);
      process.off('unhandledRejection', onUncaught);
      await app.stop();
      await db.drop();
      dir.remove();
    },
  };
}

/**
 * The fuzzers' run: the well-behaved client before and after every batch, the heap baseline after
 * the first batch (caches and compiled code warmed up) and the final heap after the last.
 */
export async function runInBatches(f: FuzzServer, batches: number, batch: (b: number) => Promise<unknown>): Promise<{ baseline: number; final: number }> {
  await f.checkWellBehaved(0);
  await batch(0);
  await f.checkWellBehaved(1);
  const baseline = await f.heapAfterGc();
  for (let b = 1; b < batches; b++) {
    await batch(b);
    await f.checkWellBehaved(b + 1);
  }
  return { baseline, final: await f.heapAfterGc() };
}

/** One line per fuzzer, the figures the closing note quotes. */
export function report(name: string, figures: Record<string, number | string>): void {
  console.log(`fuzz ${name}: seed=${FUZZ_SEED} ${Object.entries(figures).map(([k, v]) => `${k}=${v}`).join(' ')}`);
}

export const MB = 1024 * 1024;

/**
 * How far above the baseline (taken after the first batch, so caches and pools that stay are in it)
 * the heap may end after a forced GC. Runs so far ended 1.5 to 4.2 MB above it; 16 MB leaves room for
 * noise and bounded caches filling further, and catches a leak of a few KB per connection or request.
 */
export const HEAP_GROWTH_LIMIT = 16 * MB;
