import { errorMessage, type Logger } from '@rivulet/core';

/** A loaded root chain as the check knows it: `${id}@${version}`, or '' when the tenant had none. */
export type ChainStamp = string;

export const stampOf = (root: { id: string; version?: number } | null): ChainStamp => (root ? `${root.id}@${root.version ?? ''}` : '');

export interface ChainVersionCheckOptions {
  everyMs: number;
  /** The tenant's root chain id and version as stored now. */
  rootVersion(tenantId: string): Promise<{ id: string; version: number } | null>;
  /** Tenants with a loaded (or known-absent) root chain, and the stamp each was loaded with. */
  loaded(): Array<[tenantId: string, stamp: ChainStamp]>;
  /** The tenant's chain is older than storage's: drop it (the next message loads the new one). */
  onStale(tenantId: string, loaded: ChainStamp, stored: ChainStamp): void;
  logger: Logger;
}

/**
 * The safety net under rule-chain change events: every `everyMs` the root chain version of each
 * loaded tenant is compared with storage, so an engine that missed an event (a broadcast is
 * at-most-once: a restart of the broker, a process paused past its session) runs an old chain
 * for one interval at most, not forever. One check at a time; a failed read is retried next time.
 */
export function startChainVersionCheck(o: ChainVersionCheckOptions): () => void {
  let running = false;
  let stopped = false;
  const tick = async (): Promise<void> => {
    if (running || stopped) return;
    running = true;
    try {
      for (const [tenantId, stamp] of o.loaded()) {
        if (stopped) break;
        try {
          const stored = stampOf(await o.rootVersion(tenantId));
          if (stored !== stamp) o.onStale(tenantId, stamp, stored);
        } catch (e) {
          o.logger.warn({ tenantId, err: errorMessage(e) }, 'rule chain version check failed');
        }
      }
    } finally {
      running = false;
    }
  };
  const timer = setInterval(() => void tick(), o.everyMs);
  timer.unref();
  return () => {
    stopped = true;
    clearInterval(timer);
  };
}
