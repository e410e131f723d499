import type { Logger, TenantLimitsSource } from '@rivulet/core';
import type { ExpireResult, Storage } from '@rivulet/storage';

const DAY_MS = 86_400_000;

export interface RetentionPass {
  timeseries: ExpireResult;
  /** Cleared alarms deleted. */
  clearedAlarms: number;
}

export interface TimeseriesRetention {
  /** One pass now (the schedule skips a tick while one runs); null when it failed (logged). */
  runOnce(now?: number): Promise<RetentionPass | null>;
  stop(): Promise<void>;
}

/**
 * Deletes time series points older than each tenant's defaultStorageTtlDays (its profile's, or
 * RIVULET_TIMESERIES_TTL_DAYS) every interval; entities of no known tenant follow the global TTL.
 * Runs in the rule-engine role; with several rule engines each runs it, and the later passes find
 * little left to delete. Cleared alarms older than clearedAlarmsTtlDays (0: kept) go in the same pass.
 */
export function startTimeseriesRetention(o: {
  storage: Storage;
  tenantLimits: TenantLimitsSource;
  globalTtlDays: number;
  clearedAlarmsTtlDays: number;
  intervalMs: number;
  logger: Logger;
}): TimeseriesRetention {
  let running: Promise<RetentionPass | null> | null = null;
  const ttlMsFor = (tenantId: string | null) => (tenantId === null ? o.globalTtlDays : o.tenantLimits.forTenant(tenantId).defaultStorageTtlDays) * DAY_MS;
  const pass = async (now: number): Promise<RetentionPass> => {
    const t0 = Date.now();
    const timeseries = await o.storage.timeseries.deleteExpired({ ttlMsFor, now });
    if (timeseries.deleted > 0) o.logger.info({ ...timeseries, ms: Date.now() - t0 }, 'time series retention: expired points deleted');
    const clearedAlarms = o.clearedAlarmsTtlDays > 0 ? await o.storage.alarms.deleteClearedBefore(now - o.clearedAlarmsTtlDays * DAY_MS) : 0;
    if (clearedAlarms > 0) o.logger.info({ deleted: clearedAlarms }, 'retention: cleared alarms deleted');
    return { timeseries, clearedAlarms };
  };
  const runOnce = (now?: number): Promise<RetentionPass | null> => {
    if (running) return running;
    running = pass(now ?? Date.now())
      .then(
        (r) => r,
        (e: unknown) => {
          o.logger.warn({ err: String(e) }, 'retention failed (tried again next interval)');
          return null;
        },
      )
      .finally(() => (running = null));
    return running;
  };
  const timer = setInterval(() => void runOnce(), o.intervalMs);
  timer.unref();
  return {
    runOnce,
    async stop() {
      clearInterval(timer);
      await running;
    },
  };
}
