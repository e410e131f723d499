import type { Broadcast } from '@rivulet/broadcast';
import type { Logger, TenantLimitsSource } from '@rivulet/core';
import { toRuleChainExport } from '@rivulet/api';
import type { Queue } from '@rivulet/queue';
import { createBatchedDebugSink, createRuleEngine, type DebugEvent, type RuleEngine } from '@rivulet/rule-engine';
import type { Storage } from '@rivulet/storage';
import type { Config } from '../config';
import type { RuleServices } from '../rule-services';
import { startTimeseriesRetention } from '../retention';
import { createProfileChainRouter } from '../profile-routing';

export interface RuleEngineRole {
  readonly engine: RuleEngine;
  /** Processes what was accepted (drain), then writes the pending debug events. */
  stop(): Promise<void>;
}

/** The rule engine role: consumes the queue and runs each tenant's root chain. */
export async function startRuleEngineRole(o: {
  config: Config;
  storage: Storage;
  queue: Queue;
  broadcast: Broadcast;
  rules: RuleServices;
  tenantLimits: TenantLimitsSource;
  logger: Logger;
}): Promise<RuleEngineRole> {
  const { config, storage, logger, tenantLimits } = o;
  // Debug events leave the hot path through a buffer; each node keeps its newest N, for a while.
  const debugSink = createBatchedDebugSink({
    // Each tenant's events are capped at its maxDebugEventsPerNode (0: no cap).
    write: (events) => saveDebugEvents(storage, events, tenantLimits),
    logger,
  });
  o.rules.setDebugSink(debugSink);
  const ttlMs = config.RIVULET_DEBUG_EVENTS_TTL_SECONDS * 1000;
  const debugRetention = setInterval(() => {
    storage.debugEvents.deleteOlderThan(Date.now() - ttlMs).catch((e: unknown) => logger.warn({ err: String(e) }, 'debug event retention failed'));
  }, Math.min(ttlMs, 3_600_000));
  debugRetention.unref();
  const tsRetention = startTimeseriesRetention({
    storage,
    tenantLimits,
    globalTtlDays: config.RIVULET_TIMESERIES_TTL_DAYS,
    clearedAlarmsTtlDays: config.RIVULET_CLEARED_ALARMS_TTL_DAYS,
    intervalMs: config.RIVULET_RETENTION_INTERVAL_SECONDS * 1000,
    logger,
  });
  // A device's messages go to its profile's rule chain (the root when the profile names none).
  const router = createProfileChainRouter({
    storage,
    broadcast: o.broadcast,
    logger,
    // Split roles: a device or profile change event this engine missed is re-read after one check interval.
    ...(config.RIVULET_QUEUE === 'kafka' ? { refreshMs: config.RIVULET_RULE_CHAIN_CHECK_MS } : {}),
  });
  const engine = createRuleEngine({
    queue: o.queue,
    registry: o.rules.registry,
    logger,
    maxRetries: config.RIVULET_RULE_ENGINE_RETRIES,
    packTimeoutMs: config.RIVULET_RULE_ENGINE_PACK_TIMEOUT_MS,
    servicesFor: o.rules.servicesFor,
    // Chain saves, root changes and debug switches published by the API reach the engine here;
    // across processes the version check catches an event this engine missed.
    broadcast: o.broadcast,
    chainCheckMs: config.RIVULET_QUEUE === 'kafka' ? config.RIVULET_RULE_CHAIN_CHECK_MS : 0,
    debugSink,
    router,
    chains: {
      async getRootChain(tenantId) {
        const rec = await storage.ruleChains.getRoot(tenantId);
        if (!rec) return null;
        return { id: rec.id, json: toRuleChainExport(rec), version: rec.version };
      },
      async rootVersion(tenantId) {
        const rec = await storage.ruleChains.getRoot(tenantId);
        return rec ? { id: rec.id, version: rec.version } : null;
      },
      async getChain(tenantId, chainId) {
        const rec = await storage.ruleChains.get(tenantId, chainId);
        if (!rec) return null;
        return { id: rec.id, json: toRuleChainExport(rec), version: rec.version };
      },
      async chainVersion(tenantId, chainId) {
        const rec = await storage.ruleChains.get(tenantId, chainId);
        return rec ? { id: rec.id, version: rec.version } : null;
      },
    },
  });
  await engine.start();
  return {
    engine,
    async stop() {
      await engine.stop({ drain: true });
      router.close();
      clearInterval(debugRetention);
      await tsRetention.stop();
      await debugSink.close();
    },
  };
}

/** One batch of debug events, written per tenant so that each keeps its own per-node cap. */
async function saveDebugEvents(storage: Storage, events: DebugEvent[], limits: TenantLimitsSource): Promise<void> {
  const byTenant = new Map<string, DebugEvent[]>();
  for (const e of events) {
    const list = byTenant.get(e.tenantId);
    if (list) list.push(e);
    else byTenant.set(e.tenantId, [e]);
  }
  for (const [tenantId, list] of byTenant) {
    const cap = limits.forTenant(tenantId).maxDebugEventsPerNode;
    await storage.debugEvents.saveBatch(list, cap > 0 ? { maxPerNode: cap } : {});
  }
}
