import type { RateLimitStats } from '@rivulet/core';
import type { Api } from '@rivulet/api';
import { Groups, Topics, type Queue } from '@rivulet/queue';
import type { RuleEngine } from '@rivulet/rule-engine';
import type { HttpConnectionStats } from '../http-limits';
import type { TransportRole } from '../roles/transport-role';
import type { MetricsSources } from './collectors';

type PartitionStats = ReadonlyArray<{ retained: number; waitingProducers: number }>;

/** The metrics' sources from this process's components (each undefined when its role does not run here). */
export function metricsSources(o: {
  queue: Queue;
  transport: () => TransportRole | undefined;
  ruleEngine: () => RuleEngine | undefined;
  api: () => Api | undefined;
  rateLimits: () => RateLimitStats;
  httpConnections: () => HttpConnectionStats | undefined;
}): MetricsSources {
  const { queue } = o;
  // The memory queue says what it holds per partition; Kafka's depth is its consumer lag.
  const partitionStats = 'stats' in queue && typeof queue.stats === 'function' ? (queue.stats as (topic: string) => PartitionStats | undefined).bind(queue) : undefined;
  const heldBack = 'isHeldBack' in queue && typeof queue.isHeldBack === 'function' ? (queue.isHeldBack as (topic: string) => boolean).bind(queue) : undefined;
  return {
    transports() {
      const t = o.transport();
      return t ? { mqtt: t.mqtt.stats(), coap: t.coap.stats(), http: t.http.stats() } : undefined;
    },
    rateLimits: o.rateLimits,
    queueTopics: [{ topic: Topics.RULE_ENGINE, group: Groups.RULE_ENGINE }],
    queueLag: (topic, group) => queue.lag(topic, group),
    queueDepth(topic) {
      if (!partitionStats) return undefined;
      const parts = partitionStats(topic) ?? [];
      return { retained: parts.reduce((s, p) => s + p.retained, 0), waitingProducers: parts.reduce((s, p) => s + p.waitingProducers, 0) };
    },
    queueHeldBack: (topic) => heldBack?.(topic),
    ruleEngine: () => o.ruleEngine()?.stats(),
    websocket() {
      const s = o.api()?.stats();
      return s ? { sessions: s.wsSessions, subscriptions: s.wsSubscriptions } : undefined;
    },
    httpConnections: o.httpConnections,
  };
}
