import mqtt from 'mqtt';
import pg from 'pg';
import WebSocket from 'ws';
import { createHistogram, type Histogram } from '../histogram';
import { sleep } from './children';

/**
 * Latency from publish to stored and to a WebSocket subscriber, measured the same way for every
 * stack: a probe device publishes (QoS 1) a message of the same shape as the load's, about
 * `ratePerS` times a second, each with its own ts; a reader polls the database for the probe's rows
 * every `pollMs` (a primary-key range read), and a WebSocket client (Rivulet only) subscribes to the
 * probe's latest telemetry. Each row or update is matched to its send time by its ts.
 * Resolution: the poll interval plus one query (~1-3 ms).
 */
export interface LatencyProbe {
  /** Stops publishing, waits up to `settleMs` for the last messages, returns the histograms. */
  stop(settleMs?: number): Promise<{ stored: Histogram; ws: Histogram | undefined; sent: number; missing: number; missingIdx: number[] }>;
}

export interface ProbeOptions {
  /** mqtt://host:port, or the HTTP base URL when the probe posts to the HTTP device API. */
  mqttUrl: string;
  transport?: 'mqtt' | 'http';
  /** MQTT username (the probe device's token) and topic. */
  username: string;
  topic: string;
  entityId: string;
  pgUrl: string;
  ratePerS?: number;
  pollMs?: number;
  /** ws://.../api/ws and a JWT: also measure publish -> WebSocket update. */
  ws?: { url: string; jwt: string };
  tsFloor: number;
}

export async function startProbe(o: ProbeOptions): Promise<LatencyProbe> {
  const sentAt = new Map<number, number>();
  const storedH = createHistogram();
  const wsH = o.ws ? createHistogram() : undefined;
  const seenWs = new Set<number>();
  const storedSeen = new Set<number>();
  /** ts of every probe message, in send order. */
  const order: number[] = [];
  let sent = 0;
  let lastTs = Math.max(o.tsFloor, Date.now());
  let stopped = false;

  const db = new pg.Client({ connectionString: o.pgUrl });
  await db.connect();

  let ws: WebSocket | undefined;
  if (o.ws && wsH) {
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
          wsH.record(t - s);
        }
      }
    });
  }

  let publish: (payload: string) => void;
  let closeClient: () => Promise<void>;
  if ((o.transport ?? 'mqtt') === 'mqtt') {
    const client = mqtt.connect(o.mqttUrl, { username: o.username, clientId: `bench-probe-${process.pid}`, protocolVersion: 4, reconnectPeriod: 0, clean: true });
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

  // Publisher: one message every 1/rate s, bounded by `stopped`.
  const interval = 1000 / (o.ratePerS ?? 100);
  let seq = 0;
  const publisher = (async () => {
    while (!stopped) {
      const ts = (lastTs = Math.max(Date.now(), lastTs + 1));
      sentAt.set(ts, performance.now());
      order.push(ts);
      sent++;
      publish(`{"ts":${ts},"values":{"temperature":${(20 + Math.random()).toFixed(2)},"humidity":50.5,"seq":${seq++}}}`);
      await sleep(interval);
    }
  })();

  // Reader: every pollMs, the probe's rows from the oldest message not yet seen on (rows may land out
  // of order). A message unseen for 10 s stops holding the window back and counts as missing.
  let head = 0;
  const poll = async (): Promise<void> => {
    const now = performance.now();
    while (head < order.length && (storedSeen.has(order[head]!) || now - sentAt.get(order[head]!)! > 10_000)) head++;
    if (head >= order.length) return;
    const { rows } = await db.query<{ ts: string }>(
      "SELECT ts FROM ts_kv WHERE entity_id = $1 AND key = 'temperature' AND ts >= $2 ORDER BY ts LIMIT 5000",
      [o.entityId, order[head]],
    );
    const t = performance.now();
    for (const r of rows) {
      const ts = Number(r.ts);
      const s = sentAt.get(ts);
      if (s !== undefined && !storedSeen.has(ts)) {
        storedSeen.add(ts);
        storedH.record(t - s);
      }
    }
  };
  let pollingDone = false;
  const poller = (async () => {
    while (!pollingDone) {
      await poll();
      await sleep(o.pollMs ?? 2);
    }
  })();

  return {
    async stop(settleMs = 5_000) {
      stopped = true;
      await publisher;
      const end = Date.now() + settleMs;
      while (Date.now() < end && (storedSeen.size < sent || (wsH && seenWs.size < sent))) await sleep(20);
      pollingDone = true;
      await poller;
      await closeClient();
      ws?.close();
      await db.end();
      const missingIdx: number[] = [];
      let i = 0;
      for (const ts of sentAt.keys()) {
        if (!storedSeen.has(ts) && missingIdx.length < 10) missingIdx.push(i);
        i++;
      }
      return { stored: storedH, ws: wsH, sent, missing: sent - storedSeen.size, missingIdx };
    },
  };
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
  db: pg.Client | pg.Pool,
  opts: { expected: number; exceptEntity?: string; stableMs?: number; everyMs?: number; timeoutMs?: number },
): Promise<{ rows: number; reachedAt: number }> {
  const end = performance.now() + (opts.timeoutMs ?? 120_000);
  let last = -1;
  let reachedAt = performance.now();
  let stableSince = performance.now();
  for (;;) {
    const n = await countRows(db, opts.exceptEntity);
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
