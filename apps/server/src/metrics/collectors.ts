import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { RateLimitStats } from '@rivulet/core';
import type { RuleEngineStats } from '@rivulet/rule-engine';
import type { CoapTransportStats } from '@rivulet/transport-coap';
import type { HttpTransportStats } from '@rivulet/transport-http';
import type { MqttTransportStats } from '@rivulet/transport-mqtt';
import type { HttpConnectionStats } from '../http-limits';

/**
 * What the metrics read, as narrow callbacks the composition root hands over: each returns the
 * counters a component already keeps (undefined when this process does not run that component).
 * Read at scrape time, so the message path does no extra work for metrics.
 */
export interface MetricsSources {
  transports: () => { mqtt: MqttTransportStats; coap: CoapTransportStats; http: HttpTransportStats } | undefined;
  rateLimits: () => RateLimitStats;
  /** Topics (with the group consuming each) whose depth and lag are reported. */
  queueTopics: ReadonlyArray<{ topic: string; group: string }>;
  queueLag: (topic: string, group: string) => Promise<number>;
  /** Records held and producers waiting per topic (the memory queue); undefined: not known (Kafka). */
  queueDepth: (topic: string) => { retained: number; waitingProducers: number } | undefined;
  /** Whether produce() to the topic is held back by the consumer lag (Kafka's maxLag); undefined: not known (memory queue). */
  queueHeldBack: (topic: string) => boolean | undefined;
  ruleEngine: () => RuleEngineStats | undefined;
  websocket: () => { sessions: number; subscriptions: number } | undefined;
  httpConnections: () => HttpConnectionStats | undefined;
}

/** How long a scrape waits for the queue's lag (a Kafka admin request) before leaving it out. */
const LAG_TIMEOUT_MS = 2_000;

/** Long-poll endings the HTTP transport counts among its rejections; they refuse no message. */
const NOT_REFUSALS = new Set(['timeout', 'longPollReplaced', 'longPollEnded']);

/** A counter whose value is read from elsewhere at scrape time (a component's own cumulative count). */
type Read = (set: (labels: Record<string, string>, v: number) => void) => void | Promise<void>;

/**
 * A metric read from Rivulet's own counters at scrape time: reset, then every value `read` gives is
 * set (a gauge) or added (a counter, never below 0: a counter that went back would break rate()).
 */
function metricFrom<K extends 'counter' | 'gauge'>(kind: K, reg: Registry, name: string, help: string, labelNames: string[], read: Read): K extends 'counter' ? Counter : Gauge {
  const collect = async function (this: Counter | Gauge) {
    this.reset();
    await read(this instanceof Counter ? (labels, v) => this.inc(labels, Math.max(0, v)) : (labels, v) => (this as Gauge).set(labels, v));
  };
  const o = { name, help, labelNames, registers: [reg], collect };
  return (kind === 'counter' ? new Counter(o) : new Gauge(o)) as K extends 'counter' ? Counter : Gauge;
}

const counterFrom = (reg: Registry, name: string, help: string, labelNames: string[], read: Read): Counter => metricFrom('counter', reg, name, help, labelNames, read);
const gaugeFrom = (reg: Registry, name: string, help: string, labelNames: string[], read: Read): Gauge => metricFrom('gauge', reg, name, help, labelNames, read);

export function registerCollectors(reg: Registry, s: MetricsSources): void {
  counterFrom(reg, 'rivulet_messages_in_total', 'Device messages per transport and outcome: accepted (handed to the queue) or refused, by reason.', ['transport', 'outcome', 'reason'], (set) => {
    const t = s.transports();
    if (!t) return;
    set({ transport: 'mqtt', outcome: 'accepted', reason: '' }, t.mqtt.acceptedMessages);
    for (const [reason, n] of Object.entries(t.mqtt.rejected)) set({ transport: 'mqtt', outcome: 'refused', reason }, n);
    set({ transport: 'mqtt', outcome: 'refused', reason: 'rateLimited' }, t.mqtt.rateLimitRefused);
    for (const [name, st] of [['coap', t.coap], ['http', t.http]] as const) {
      set({ transport: name, outcome: 'accepted', reason: '' }, st.acceptedMessages);
      for (const [reason, n] of Object.entries(st.rejected)) if (!NOT_REFUSALS.has(reason)) set({ transport: name, outcome: 'refused', reason }, n);
    }
  });
  counterFrom(reg, 'rivulet_rate_limit_delayed_total', 'Device messages held back (admitted late) by the device or tenant rate limit.', ['transport', 'limit'], (set) => {
    for (const [transport, c] of Object.entries(s.rateLimits().transports)) for (const [limit, n] of Object.entries(c.delayed)) set({ transport, limit }, n);
  });
  gaugeFrom(reg, 'rivulet_connected_devices', 'Devices connected now: MQTT connections (TCP, TLS, WebSocket), CoAP devices observing, HTTP long polls waiting.', ['transport'], (set) => {
    const t = s.transports();
    if (!t) return;
    set({ transport: 'mqtt' }, t.mqtt.connections);
    set({ transport: 'coap' }, t.coap.observedDevices);
    set({ transport: 'http' }, t.http.waiting);
  });
  counterFrom(reg, 'rivulet_mqtt_connections_total', 'MQTT connections accepted and refused (by reason).', ['outcome'], (set) => {
    const m = s.transports()?.mqtt;
    if (!m) return;
    set({ outcome: 'accepted' }, m.connectionsAccepted);
    set({ outcome: 'notAuthorized' }, m.connectionsRefused.notAuthorized);
    set({ outcome: 'serverUnavailable' }, m.connectionsRefused.serverUnavailable);
  });

  gaugeFrom(reg, 'rivulet_queue_depth', 'Records held in the in-memory queue per topic (not reported with Kafka: see rivulet_queue_consumer_lag).', ['topic'], (set) => {
    for (const { topic } of s.queueTopics) {
      const d = s.queueDepth(topic);
      if (d) set({ topic }, d.retained);
    }
  });
  gaugeFrom(reg, 'rivulet_queue_waiting_producers', 'Produce calls waiting for room in the in-memory queue per topic (backpressure on the transports).', ['topic'], (set) => {
    for (const { topic } of s.queueTopics) {
      const d = s.queueDepth(topic);
      if (d) set({ topic }, d.waitingProducers);
    }
  });
  gaugeFrom(reg, 'rivulet_queue_producers_held', 'Kafka: 1 while produce() to the topic waits because its consumer group lags more than RIVULET_QUEUE_MAX_LAG (transports slowed).', ['topic'], (set) => {
    for (const { topic } of s.queueTopics) {
      const held = s.queueHeldBack(topic);
      if (held !== undefined) set({ topic }, held ? 1 : 0);
    }
  });
  gaugeFrom(reg, 'rivulet_queue_consumer_lag', 'Records of a topic not yet committed by its consumer group (memory queue or Kafka).', ['topic', 'group'], async (set) => {
    await Promise.all(
      s.queueTopics.map(async ({ topic, group }) => {
        const lag = await withTimeout(s.queueLag(topic, group), LAG_TIMEOUT_MS).catch(() => undefined);
        if (lag !== undefined) set({ topic, group }, lag);
      }),
    );
  });

  counterFrom(reg, 'rivulet_rule_engine_messages_total', 'Rule engine outcomes: processed, failed attempts, retried, skipped (given up), timed out, dead-lettered, dead-letter errors.', ['outcome'], (set) => {
    const e = s.ruleEngine();
    if (!e) return;
    const outcomes: Record<string, number> = {
      processed: e.processed,
      failed_attempt: e.failedAttempts,
      retried: e.retried,
      skipped: e.skipped,
      timed_out: e.timedOut,
      dead_lettered: e.deadLettered,
      dead_letter_error: e.deadLetterErrors,
    };
    for (const [outcome, n] of Object.entries(outcomes)) set({ outcome }, n);
  });
  gaugeFrom(reg, 'rivulet_rule_engine_abandoned_runs', 'Runs of timed-out attempts still going in the background.', [], (set) => {
    const e = s.ruleEngine();
    if (e) set({}, e.abandoned);
  });
  gaugeFrom(reg, 'rivulet_rule_engine_chains_loaded', 'Root rule chains loaded by this rule engine (one per active tenant).', [], (set) => {
    const e = s.ruleEngine();
    if (e) set({}, e.chains.length);
  });
  const nodes = nodeTotals(s);
  counterFrom(reg, 'rivulet_rule_node_messages_total', 'Messages into rule nodes, per node type (all tenants together).', ['type'], (set) => {
    for (const [type, t] of nodes.read()) set({ type }, t.in);
  });
  counterFrom(reg, 'rivulet_rule_node_failures_total', 'Messages a rule node failed on (threw or routed to Failure), per node type.', ['type'], (set) => {
    for (const [type, t] of nodes.read()) set({ type }, t.errors);
  });
  counterFrom(reg, 'rivulet_rule_node_seconds_total', 'Time spent in rule nodes\' process(), per node type (divide by messages for the mean).', ['type'], (set) => {
    for (const [type, t] of nodes.read()) set({ type }, t.timeMs / 1000);
  });

  gaugeFrom(reg, 'rivulet_websocket_sessions', 'WebSocket sessions (/api/ws) open now.', [], (set) => {
    const w = s.websocket();
    if (w) set({}, w.sessions);
  });
  gaugeFrom(reg, 'rivulet_websocket_subscriptions', 'Live subscriptions across all WebSocket sessions.', [], (set) => {
    const w = s.websocket();
    if (w) set({}, w.subscriptions);
  });
  gaugeFrom(reg, 'rivulet_http_connections', 'HTTP connections open now (plain listener).', [], (set) => {
    const h = s.httpConnections();
    if (h) set({}, h.open);
  });
  counterFrom(reg, 'rivulet_http_connections_closed_total', 'HTTP connections refused at the cap, idle ones evicted and long polls ended to make room.', ['reason'], (set) => {
    const h = s.httpConnections();
    if (!h) return;
    set({ reason: 'refused' }, h.refused);
    set({ reason: 'evictedIdle' }, h.evictedIdle);
    set({ reason: 'endedLongPoll' }, h.endedLongPolls);
  });
}

/** The storage write metrics, observed once per batch (not per message) by the batching storage. */
export function storageMetrics(reg: Registry): { observeBatch(kind: 'timeseries' | 'attributes', size: number, seconds: number, ok: boolean): void } {
  const size = new Histogram({ name: 'rivulet_storage_batch_size', help: 'Rows per batched storage write (time series points, attributes).', labelNames: ['kind'], buckets: [1, 5, 10, 50, 100, 250, 500, 1000, 2500, 5000], registers: [reg] });
  const seconds = new Histogram({ name: 'rivulet_storage_write_seconds', help: 'Latency of one batched storage write.', labelNames: ['kind'], buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5], registers: [reg] });
  const failures = new Counter({ name: 'rivulet_storage_write_failures_total', help: 'Batched storage writes that failed.', labelNames: ['kind'], registers: [reg] });
  for (const kind of ['timeseries', 'attributes']) failures.inc({ kind }, 0);
  return {
    observeBatch(kind, n, s, ok) {
      size.observe({ kind }, n);
      seconds.observe({ kind }, s);
      if (!ok) failures.inc({ kind });
    },
  };
}

type NodeTotal = { in: number; errors: number; timeMs: number };

/**
 * Per node type totals that only grow: the engine's counters live in each loaded chain and start
 * again at 0 when a chain is reloaded, so each scrape adds what every (chain, node) gained since the
 * last one (a count that went down means a reload: all of it is new).
 */
function nodeTotals(s: MetricsSources): { read(): Map<string, NodeTotal> } {
  const totals = new Map<string, NodeTotal>();
  let last = new Map<string, NodeTotal>();
  let lastRead = 0;
  return {
    read() {
      // the three node counters are collected in one scrape: measure once
      if (Date.now() - lastRead < 50) return totals;
      lastRead = Date.now();
      const seen = new Map<string, NodeTotal>();
      for (const c of s.ruleEngine()?.chains ?? []) {
        for (const n of c.nodes) {
          const key = `${c.tenantId}|${c.chainId}|${n.nodeIndex}|${n.type}`;
          const cur = { in: n.in, errors: n.errors, timeMs: n.timeMs };
          const prev = last.get(key);
          const t = totals.get(n.type) ?? { in: 0, errors: 0, timeMs: 0 };
          t.in += gained(prev?.in, cur.in);
          t.errors += gained(prev?.errors, cur.errors);
          t.timeMs += gained(prev?.timeMs, cur.timeMs);
          totals.set(n.type, t);
          seen.set(key, cur);
        }
      }
      last = seen;
      return totals;
    },
  };
}

function gained(prev: number | undefined, cur: number): number {
  return prev === undefined || cur < prev ? cur : cur - prev;
}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  return Promise.race([p, new Promise<never>((_, rej) => (timer = setTimeout(() => rej(new Error('timed out')), ms)))]).finally(() => clearTimeout(timer));
}
