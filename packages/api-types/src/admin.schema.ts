import { z } from 'zod';

/**
 * `GET /api/admin/stats` (system administrator): the server process's health figures, for soaks and
 * monitoring. `eventLoopDelayMs` covers the time since the previous `?reset=true` call (or the start).
 */
export const ServerStatsSchema = z.object({
  ts: z.number(),
  uptimeS: z.number(),
  memory: z.object({ rssBytes: z.number(), heapUsedBytes: z.number(), heapTotalBytes: z.number(), externalBytes: z.number(), arrayBuffersBytes: z.number() }),
  eventLoopDelayMs: z.object({ p50: z.number(), p99: z.number(), max: z.number(), mean: z.number(), samples: z.number() }),
  queue: z.object({ lag: z.number(), retained: z.number(), waitingProducers: z.number() }),
  ruleEngine: z.object({ processed: z.number(), failedAttempts: z.number(), retried: z.number(), skipped: z.number() }).nullable(),
});
export type ServerStats = z.infer<typeof ServerStatsSchema>;
