import { z } from 'zod';

/**
 * What the engine does with a message whose chain fails (an unhandled Failure, a chain that cannot
 * load): run it again a bounded number of times with exponential backoff, then skip it (logged and
 * counted). ThingsBoard sets this per queue; Rivulet per chain, in `ruleChain.configuration.processingStrategy`,
 * each field defaulting to the engine's global setting.
 *
 * Unlike ThingsBoard, `retries: 0` means no retry, never "retry forever": a message that keeps
 * failing must not hold its partition (and every device behind it) indefinitely.
 */
export const MAX_RETRIES = 100;
export const MAX_PAUSE_MS = 60_000;

export const ProcessingStrategyJson = z.strictObject({
  /** RETRY_FAILED: retry the failed messages, then skip. SKIP_ALL_FAILURES: skip at once (retries ignored). */
  type: z.enum(['RETRY_FAILED', 'SKIP_ALL_FAILURES']).default('RETRY_FAILED'),
  retries: z.number().int().min(0).max(MAX_RETRIES).optional(),
  pauseBetweenRetriesMs: z.number().int().min(0).max(MAX_PAUSE_MS).optional(),
  maxPauseBetweenRetriesMs: z.number().int().min(0).max(MAX_PAUSE_MS).optional(),
});
export type ProcessingStrategyJson = z.input<typeof ProcessingStrategyJson>;

export interface ProcessingStrategy {
  readonly retries: number;
  readonly pauseMs: number;
  readonly maxPauseMs: number;
}

/** Pause before retry number `attempt` (0-based): doubling from pauseMs, capped at maxPauseMs. */
export function retryPause(s: ProcessingStrategy, attempt: number): number {
  return Math.min(s.maxPauseMs, s.pauseMs * 2 ** attempt);
}

/** A chain's own settings; fields it leaves out take the engine's. */
export interface StrategyOverride {
  readonly retries?: number;
  readonly pauseMs?: number;
  readonly maxPauseMs?: number;
}

/** Reads `processingStrategy` from ruleChain.configuration; the failing field is named. */
export function parseStrategy(configuration: unknown): { ok: true; override: StrategyOverride | undefined } | { ok: false; field: string; message: string } {
  if (typeof configuration !== 'object' || configuration === null) return { ok: true, override: undefined };
  const raw = (configuration as Record<string, unknown>).processingStrategy;
  if (raw === undefined || raw === null) return { ok: true, override: undefined };
  const r = ProcessingStrategyJson.safeParse(raw);
  if (!r.success) {
    const issue = r.error.issues[0];
    return { ok: false, field: ['ruleChain', 'configuration', 'processingStrategy', ...(issue?.path ?? [])].join('.'), message: issue?.message ?? 'invalid' };
  }
  const s = r.data;
  const override: { retries?: number; pauseMs?: number; maxPauseMs?: number } = {};
  if (s.type === 'SKIP_ALL_FAILURES') override.retries = 0;
  else if (s.retries !== undefined) override.retries = s.retries;
  if (s.pauseBetweenRetriesMs !== undefined) override.pauseMs = s.pauseBetweenRetriesMs;
  if (s.maxPauseBetweenRetriesMs !== undefined) override.maxPauseMs = s.maxPauseBetweenRetriesMs;
  return { ok: true, override };
}

export function mergeStrategy(override: StrategyOverride | undefined, defaults: ProcessingStrategy): ProcessingStrategy {
  if (!override) return defaults;
  const pauseMs = override.pauseMs ?? defaults.pauseMs;
  return {
    retries: override.retries ?? defaults.retries,
    pauseMs,
    // A pause longer than the cap would be cut to the cap: the cap grows to the pause instead.
    maxPauseMs: Math.max(override.maxPauseMs ?? defaults.maxPauseMs, pauseMs),
  };
}
