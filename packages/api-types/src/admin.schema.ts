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
  /** skipped: messages given up (dead-lettered); timedOut: attempts past the pack timeout; abandoned: their runs still going; deadLettered / deadLetterErrors: dead letters written / not written. */
  ruleEngine: z
    .object({ processed: z.number(), failedAttempts: z.number(), retried: z.number(), skipped: z.number(), timedOut: z.number(), abandoned: z.number(), deadLettered: z.number(), deadLetterErrors: z.number() })
    .nullable(),
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

/**
 * One record of the rule engine's dead-letter topic (`GET /api/admin/deadLetters`): a message the
 * engine gave up on (`reason` failed / timed-out, with the error, chain and attempts), or a record
 * another writer set aside (the Kafka queue's: `reason` its own, `msg` null when it is not a message).
 */
export const DeadLetterSchema = z.object({
  /** `<partition>:<offset>` in the dead-letter topic: what replay takes. */
  id: z.string(),
  partition: z.number(),
  offset: z.number(),
  reason: z.string(),
  error: z.string().nullable(),
  tenantId: z.string().nullable(),
  chainId: z.string().nullable(),
  attempts: z.number().nullable(),
  /** When it was given up, ms since epoch. */
  ts: z.number().nullable(),
  msg: z
    .object({
      id: z.string(),
      type: z.string(),
      ts: z.number(),
      originator: z.object({ entityType: z.string(), id: z.string() }),
      metadata: z.record(z.string(), z.string()),
      data: z.unknown(),
    })
    .nullable(),
});
export type DeadLetterDto = z.infer<typeof DeadLetterSchema>;
export const DeadLetterListSchema = z.object({ data: z.array(DeadLetterSchema), count: z.number() });
/** `ids` absent: every dead letter listed now. */
export const DeadLetterReplayRequestSchema = z.object({ ids: z.array(z.string().min(1).max(64)).max(10_000).optional() });
export const DeadLetterReplayResultSchema = z.object({ replayed: z.number(), notFound: z.array(z.string()) });
