import { z } from 'zod';

/**
 * What the engine does with a message whose chain fails (an unhandled Failure, a chain that cannot
 * load) or times out (still running when the batch's pack timeout passed): run it again a bounded
 * number of times with exponential backoff, then give it up (logged, counted and written to the
 * dead-letter topic). ThingsBoard sets this per queue; Rivulet per chain, in
 * `ruleChain.configuration.processingStrategy`, each field defaulting to the engine's global setting.
 *
 * By default failed messages are retried and timed-out ones are given up at once: a timed-out run
 * cannot be cancelled and goes on in the background, so running the message again would overlap it
 * (its side effects twice, and a hanging node's resources doubled). RETRY_TIMED_OUT and
 * RETRY_FAILED_AND_TIMED_OUT (ThingsBoard's names) retry timed-out messages anyway.
 *
 * Unlike ThingsBoard, `retries: 0` means no retry, never "retry forever": a message that keeps
 * failing must not hold its partition (and every device behind it) indefinitely.
 */
export const MAX_RETRIES = 100;
export const MAX_PAUSE_MS = 60_000;

export const ProcessingStrategyJson = z.strictObject({
  /**
   * RETRY_FAILED: retry failed messages, give up timed-out ones. RETRY_TIMED_OUT: the reverse.
   * RETRY_FAILED_AND_TIMED_OUT: retry both. SKIP_ALL_FAILURES, SKIP_ALL_FAILURES_AND_TIMED_OUT: give
   * up at once (retries ignored). ThingsBoard's RETRY_ALL (which also re-runs successful messages) is refused.
   */
  type: z.enum(['RETRY_FAILED', 'RETRY_TIMED_OUT', 'RETRY_FAILED_AND_TIMED_OUT', 'SKIP_ALL_FAILURES', 'SKIP_ALL_FAILURES_AND_TIMED_OUT']).default('RETRY_FAILED'),
  retries: z.number().int().min(0).max(MAX_RETRIES).optional(),
  pauseBetweenRetriesMs: z.number().int().min(0).max(MAX_PAUSE_MS).optional(),
  maxPauseBetweenRetriesMs: z.number().int().min(0).max(MAX_PAUSE_MS).optional(),
});
export type ProcessingStrategyJson = z.input<typeof ProcessingStrategyJson>;

export interface ProcessingStrategy {
  readonly retries: number;
  readonly pauseMs: number;
  readonly maxPauseMs: number;
  /** Failed messages are retried (default true). */
  readonly retryFailed?: boolean;
  /** Timed-out messages are retried (default false: given up at once). */
  readonly retryTimedOut?: boolean;
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
  readonly retryFailed?: boolean;
  readonly retryTimedOut?: boolean;
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
  const override: { retries?: number; pauseMs?: number; maxPauseMs?: number; retryFailed?: boolean; retryTimedOut?: boolean } = {};
  if (s.type === 'SKIP_ALL_FAILURES' || s.type === 'SKIP_ALL_FAILURES_AND_TIMED_OUT') override.retries = 0;
  else if (s.retries !== undefined) override.retries = s.retries;
  if (s.type === 'RETRY_TIMED_OUT') override.retryFailed = false;
  if (s.type === 'RETRY_TIMED_OUT' || s.type === 'RETRY_FAILED_AND_TIMED_OUT') override.retryTimedOut = true;
  if (s.pauseBetweenRetriesMs !== undefined) override.pauseMs = s.pauseBetweenRetriesMs;
  if (s.maxPauseBetweenRetriesMs !== undefined) override.maxPauseMs = s.maxPauseBetweenRetriesMs;
  return { ok: true, override };
}

export function mergeStrategy(override: StrategyOverride | undefined, defaults: ProcessingStrategy): ProcessingStrategy {
  if (!override) return defaults;
  const pauseMs = override.pauseMs ?? defaults.pauseMs;
  const retryFailed = override.retryFailed ?? defaults.retryFailed;
  const retryTimedOut = override.retryTimedOut ?? defaults.retryTimedOut;
  return {
    retries: override.retries ?? defaults.retries,
    pauseMs,
    ...(retryFailed !== undefined ? { retryFailed } : {}),
    ...(retryTimedOut !== undefined ? { retryTimedOut } : {}),
    // A pause longer than the cap would be cut to the cap: the cap grows to the pause instead.
    maxPauseMs: Math.max(override.maxPauseMs ?? defaults.maxPauseMs, pauseMs),
  };
}

/** Whether a message that failed (or timed out) after `attempt` retries is run again. */
export function shouldRetry(s: ProcessingStrategy, attempt: number, timedOut: boolean): boolean {
  if (attempt >= s.retries) return false;
  return timedOut ? s.retryTimedOut === true : s.retryFailed !== false;
}
