import { monitorEventLoopDelay } from 'node:perf_hooks';
import type { ServerStats } from '@rivulet/api-types';
import type { RateLimitStats } from '@rivulet/core';
import { Groups, Topics, type Queue } from '@rivulet/queue';
import type { RuleEngine } from '@rivulet/rule-engine';

/**
 * The figures of GET /api/admin/stats: memory, event-loop delay (perf_hooks histogram, 10 ms
 * resolution, a window from the last reset), the rule engine's queue lag and counters, the rate
 * limits' and the HTTP connection cap's counts.
 */
export function createServerStats(o: {
  queue: Queue;
  ruleEngine: () => RuleEngine | undefined;
  rateLimits: () => RateLimitStats;
  httpConnections: () => ServerStats['httpConnections'];
}): { read(opts: { reset: boolean }): Promise<ServerStats>; close(): void } {
  const h = monitorEventLoopDelay({ resolution: 10 });
  h.enable();
  const ms = (ns: number) => (Number.isFinite(ns) ? ns / 1e6 : 0);
  return {
    async read({ reset }) {
      const m = process.memoryUsage();
      const parts = 'stats' in o.queue && typeof o.queue.stats === 'function' ? ((o.queue.stats as (t: string) => ReadonlyArray<{ retained: number; waitingProducers: number }> | undefined)(Topics.RULE_ENGINE) ?? []) : [];
      const loop = { p50: ms(h.percentile(50)), p99: ms(h.percentile(99)), max: ms(h.max), mean: ms(h.mean), samples: h.count };
      if (reset) h.reset();
      const engine = o.ruleEngine()?.stats();
      return {
        ts: Date.now(),
        uptimeS: process.uptime(),
        memory: { rssBytes: m.rss, heapUsedBytes: m.heapUsed, heapTotalBytes: m.heapTotal, externalBytes: m.external, arrayBuffersBytes: m.arrayBuffers },
        eventLoopDelayMs: loop,
        queue: {
          lag: await o.queue.lag(Topics.RULE_ENGINE, Groups.RULE_ENGINE),
          retained: parts.reduce((s, p) => s + p.retained, 0),
          waitingProducers: parts.reduce((s, p) => s + p.waitingProducers, 0),
        },
        ruleEngine: engine
          ? {
              processed: engine.processed,
              failedAttempts: engine.failedAttempts,
              retried: engine.retried,
              skipped: engine.skipped,
              timedOut: engine.timedOut,
              abandoned: engine.abandoned,
              deadLettered: engine.deadLettered,
              deadLetterErrors: engine.deadLetterErrors,
            }
          : null,
        rateLimits: o.rateLimits(),
        httpConnections: o.httpConnections(),
      };
    },
    close: () => h.disable(),
  };
}
