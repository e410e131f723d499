import mqtt from 'mqtt';
import pg from 'pg';
import WebSocket from 'ws';
import { createHistogram, type Histogram } from '../histogram';
import { sleep } from './children';

/**
 * Latency from publish to stored and to a WebSocket subscriber, measured the same way for every
 * stack: a probe device publishes (QoS 1) a message of the same shape as the load's, about
 * `ratePerS` times a second, each with its own ts; PostgreSQL notifies the benchmark when a probe row
 * is committed (installProbeTrigger), and a WebSocket client (Rivulet only) subscribes to the
 * probe's latest telemetry. Each notification or update is matched to its send time by its ts.
 */
export interface LatencyProbe {
  /** Stops publishing, waits up to `settleMs` for the last messages, returns the histograms. */
  stop(
    settleMs?: number,
    /**
     * Only messages sent inside this window (performance.now() of this process) count toward the
     * histograms: the load's steady state, not the moments before it started or while it ramped up.
     * Missing messages are counted over the whole run.
     */
    window?: { from: number; to: number },
  ): Promise<{ stored: Histogram | undefined; ws: Histogram | undefined; sent: number; missing: number; missingIdx: number[] }>;
}

export interface ProbeOptions {
  /** mqtt://host:port, or the HTTP base URL when the probe posts to the HTTP device API. */
  mqttUrl: string;
  transport?: 'mqtt' | 'http';
  /** MQTT username (the probe device's token) and topic. */
  username: string;
  topic: string;
  entityId: string;
  /** The database to watch for the probe's rows; without it only the WebSocket latency is measured. */
  pgUrl?: string;
  ratePerS?: number;
  /** ws://.../api/ws and a JWT: also measure publish -> WebSocket update. */
  ws?: { url: string; jwt: string };
  tsFloor: number;
  /** MQTT protocol level of the probe's client: 4 (3.1.1, default) or 5, as the load it measures. */
  mqttVersion?: number;
}

export async function startProbe(o: ProbeOptions): Promise<LatencyProbe> {
  const sentAt = new Map<number, number>();
  /** [send time, latency] of every probe message stored / seen on the WebSocket (histograms are made at stop, for the window). */
  const storedSamples: Array<[number, number]> = [];
  const wsSamples: Array<[number, number]> = [];
  const t0 = performance.now();
  const wantWs = o.ws !== undefined;
  const seenWs = new Set<number>();
  const storedSeen = new Set<number>();
  let sent = 0;
  let lastTs = Math.max(o.tsFloor, Date.now());
  let stopped = false;

  const db = o.pgUrl ? new pg.Client({ connectionString: o.pgUrl }) : undefined;
  await db?.connect();

  let ws: WebSocket | undefined;
  if (o.ws) {
    const sock = new WebSocket(o.ws.url);
    ws = sock;
    await new Promise<void>((resolve, reject) => {
      sock.once('open', () => resolve());
      sock.once('error', reject);
    });
    sock.send(JSON.stringify({ authCmd: { cmdId: 0, token: o.ws.jwt } }));
    sock.send(JSON.stringify({ cmds: [{ type: 'TIMESERIES', cmdId: 7, entityType: 'DEVICE', entityId: o.entityId, scope: 'LATEST_TELEMETRY', keys: 'temperature' }] }));
    sock.on('message', (raw) => {
      const t = performance.now();
      let msg: { subscriptionId?: number; data?: { temperature?: Array<[number, string]> } };
      try {
        msg = JSON.parse(String(raw)) as typeof msg;
      } catch {
        return;
      }
      for (const [ts] of msg.data?.temperature ?? []) {
        const s = sentAt.get(ts);
        if (s !== undefined && !seenWs.has(ts)) {
          seenWs.add(ts);
          wsSamples.push([s, t - s]);
        }
      }
    });
  }

  let publish: (payload: string) => void;
  let closeClient: () => Promise<void>;
  if ((o.transport ?? 'mqtt') === 'mqtt') {
    const client = mqtt.connect(o.mqttUrl, { username: o.username, clientId: `bench-probe-${process.pid}`, protocolVersion: o.mqttVersion === 5 ? 5 : 4, reconnectPeriod: 0, clean: true });
    await new Promise<void>((resolve, reject) => {
      client.once('connect', () => resolve());
      client.once('error', reject);
    });
    client.on('error', () => undefined);
    publish = (payload) => void client.publish(o.topic, payload, { qos: 1 });
    closeClient = () => new Promise<void>((r) => client.end(false, {}, () => r()));
  } else {
    const url = `${o.mqttUrl.replace(/\/+$/, '')}/api/v1/${o.username}/telemetry`;
    publish = (payload) => void fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: payload }).then((r) => r.arrayBuffer(), () => undefined);
    closeClient = async () => undefined;
  }

  // Stored: PostgreSQL tells us. A row trigger on ts_kv, limited by its WHEN clause to the probe's
  // rows, sends pg_notify; notifications are delivered when the inserting transaction commits, so the
  // time a notification arrives is the time the row became visible (no polling interval in it).
  db?.on('notification', (n) => {
    const t = performance.now();
    const ts = Number(n.payload);
    const s = sentAt.get(ts);
    if (s !== undefined && !storedSeen.has(ts)) {
      storedSeen.add(ts);
      storedSamples.push([s, t - s]);
    }
  });
  await db?.query(`LISTEN ${PROBE_CHANNEL}`);

  // Publisher: one message every 1/rate s, bounded by `stopped`.
  const interval = 1000 / (o.ratePerS ?? 100);
  let seq = 0;
  const publisher = (async () => {
    while (!stopped) {
      const ts = (lastTs = Math.max(Date.now(), lastTs + 1));
      sentAt.set(ts, performance.now());
      sent++;
      publish(`{"ts":${ts},"values":{"temperature":${(20 + Math.random()).toFixed(2)},"humidity":50.5,"seq":${seq++}}}`);
      await sleep(interval);
    }
  })();

  return {
    async stop(settleMs = 5_000, window) {
      stopped = true;
      await publisher;
      const end = Date.now() + settleMs;
      while (Date.now() < end && (db ? storedSeen.size : seenWs.size) < sent) await sleep(20);
      // WebSocket updates carry the latest value: one may stand for several messages, so not every
      // message gets its own; a moment more for the last ones.
      if (wantWs) await sleep(200);
      await closeClient();
      ws?.close();
      await db?.end();
      if (TRACE && storedSamples.length > 0) {
        // Per 100 ms of the phase: the worst latency, for the windows holding any message over 25 ms.
        const worst = new Map<number, number>();
        for (const [at, ms] of storedSamples) {
          const w = Math.floor((at - t0) / 100);
          if (ms > (worst.get(w) ?? 0)) worst.set(w, ms);
        }
        const bad = [...worst.entries()].filter(([, ms]) => ms > 25).sort((x, y) => x[0] - y[0]);
        process.stderr.write(`  probe: ${storedSamples.length} stored, ${storedSamples.filter(([, ms]) => ms > 25).length} over 25 ms, in ${bad.length} of ${worst.size} 100-ms windows: ${bad.map(([w, ms]) => `${(w / 10).toFixed(1)}s:${ms.toFixed(0)}`).join(' ')}\n`);
      }
      const missingIdx: number[] = [];
      let i = 0;
      for (const ts of sentAt.keys()) {
        if (db && !storedSeen.has(ts) && missingIdx.length < 10) missingIdx.push(i);
        i++;
      }
      const histogram = (samples: ReadonlyArray<[number, number]>): Histogram => {
        const h = createHistogram();
        for (const [at, ms] of samples) if (!window || (at >= window.from && at <= window.to)) h.record(ms);
        return h;
      };
      return { stored: db ? histogram(storedSamples) : undefined, ws: wantWs ? histogram(wsSamples) : undefined, sent, missing: db ? sent - storedSeen.size : 0, missingIdx };
    },
  };
}

const PROBE_CHANNEL = 'rivulet_bench_probe';
const TRACE = process.env.RIVULET_BENCH_TRACE_LATENCY === '1';

/**
 * The trigger behind the stored-latency figure: for the probe's rows only (WHEN clause, evaluated
 * per row, no event queued for others), pg_notify with the row's ts, delivered at commit. Installed
 * once on ts_kv for every system measured, so each pays the same (tiny) per-row WHEN check.
 */
export async function installProbeTrigger(db: pg.Client, probeEntityId: string): Promise<void> {
  if (!/^[0-9a-f-]{36}$/i.test(probeEntityId)) throw new Error('probe entity id must be a UUID');
  await db.query(`CREATE OR REPLACE FUNCTION rivulet_bench_probe_notify() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN PERFORM pg_notify('${PROBE_CHANNEL}', NEW.ts::text); RETURN NULL; END $$`);
  await db.query('DROP TRIGGER IF EXISTS rivulet_bench_probe ON ts_kv');
  await db.query(`CREATE TRIGGER rivulet_bench_probe AFTER INSERT ON ts_kv FOR EACH ROW
    WHEN (NEW.entity_id = '${probeEntityId}'::uuid AND NEW.key = 'temperature') EXECUTE FUNCTION rivulet_bench_probe_notify()`);
}

/** Rows in ts_kv (the count the benchmark trusts, not acknowledgements). */
export async function countRows(db: pg.Client | pg.Pool, exceptEntity?: string): Promise<number> {
  const { rows } = exceptEntity
    ? await db.query<{ n: string }>('SELECT count(*) AS n FROM ts_kv WHERE entity_id <> $1', [exceptEntity])
    : await db.query<{ n: string }>('SELECT count(*) AS n FROM ts_kv');
  return Number(rows[0]?.n ?? 0);
}

/**
 * Waits until the row count stops moving (or reaches `expected`), polling every `everyMs`; returns
 * the final count and when (performance.now()) it was first reached. Bounded by `timeoutMs`.
 */
export async function waitForRows(
  count: () => Promise<number>,
  opts: { expected: number; stableMs?: number; everyMs?: number; timeoutMs?: number },
): Promise<{ rows: number; reachedAt: number }> {
  const end = performance.now() + (opts.timeoutMs ?? 120_000);
  let last = -1;
  let reachedAt = performance.now();
  let stableSince = performance.now();
  for (;;) {
    const n = await count();
    const t = performance.now();
    if (n !== last) {
      last = n;
      reachedAt = t;
      stableSince = t;
    }
    if (n >= opts.expected) return { rows: n, reachedAt };
    if (t - stableSince >= (opts.stableMs ?? 3_000) || t > end) return { rows: n, reachedAt };
    await sleep(opts.everyMs ?? 100);
  }
}
