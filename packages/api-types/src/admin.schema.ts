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
  /** Device messages the device and tenant rate limits held back (`delayed`) or refused, per transport and by which limit (`device`, `tenant`). */
  rateLimits: z.object({
    transports: z.record(z.string(), z.object({ delayed: z.record(z.string(), z.number()), refused: z.record(z.string(), z.number()) })),
    devicesTracked: z.number(),
    tenantsTracked: z.number(),
  }),
  /** The plain HTTP server's connections: open now, refused at the cap, idle ones and long polls ended to make room. */
  httpConnections: z.object({ open: z.number(), refused: z.number(), evictedIdle: z.number(), endedLongPolls: z.number() }),
});
export type ServerStats = z.infer<typeof ServerStatsSchema>;
