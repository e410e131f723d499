import { errorMessage, isMsg, silentLogger, type Logger, type Msg } from '@rivulet/core';
import { Groups, Topics, type ConsumedRecord, type Queue, type Subscription } from '@rivulet/queue';
import { compileRuleChain, validateRuleChain, type ChainOutcome, type CompiledChain, type NodeStats } from './chain';
import type { NodeRegistry } from './registry';
import type { RuleNodeServices } from './types';

/** Where the engine finds each tenant's root chain (the server backs it with storage). */
export interface RuleChainSource {
  getRootChain(tenantId: string): Promise<{ id: string; json: unknown } | null>;
}

export interface RuleEngineOptions {
  queue: Queue;
  registry: NodeRegistry;
  services: RuleNodeServices;
  chains: RuleChainSource;
  logger?: Logger;
  /** Times a failed message is run again before it is skipped (ThingsBoard's RETRY_FAILED). */
  maxRetries?: number;
  retryBackoffMs?: number;
  maxRetryBackoffMs?: number;
  maxBatch?: number;
  topic?: string;
  group?: string;
  /** How long a replaced chain stays alive for messages already inside it. */
  retireAfterMs?: number;
  /**
   * BURST (default, ThingsBoard's default for its main queue): every message of a batch enters the
   * chain at once, in arrival order, so their writes share one statement. SEQUENTIAL_BY_ORIGINATOR:
   * one device's messages wait for each other (strict order of side effects, far less batching).
   */
  submitStrategy?: 'BURST' | 'SEQUENTIAL_BY_ORIGINATOR';
}

export interface RuleEngineStats {
  processed: number;
  failedAttempts: number;
  retried: number;
  skipped: number;
  chains: Array<{ tenantId: string; chainId: string; name: string; nodes: NodeStats[] }>;
}

export interface RuleEngine {
  start(): Promise<void>;
  /** With drain: process everything queued first (graceful shutdown). */
  stop(options?: { drain?: boolean }): Promise<void>;
  /** Drops the cached chain of a tenant (or all) after a chain was saved or made root. */
  invalidate(tenantId?: string): void;
  /** Runs messages through their tenants' root chains with the engine's retry policy (what the consumer calls). */
  processBatch(msgs: ReadonlyArray<Msg>): Promise<void>;
  stats(): RuleEngineStats;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export function createRuleEngine(options: RuleEngineOptions): RuleEngine {
  const logger = (options.logger ?? silentLogger).child({ component: 'rule-engine' });
  const maxRetries = options.maxRetries ?? 5;
  const baseBackoff = options.retryBackoffMs ?? 200;
  const maxBackoff = options.maxRetryBackoffMs ?? 5000;
  const retireAfterMs = options.retireAfterMs ?? 30_000;
  const chains = new Map<string, Promise<CompiledChain | null>>();
  const loaded = new Map<string, CompiledChain>();
  const counters = { processed: 0, failedAttempts: 0, retried: 0, skipped: 0 };
  let subscription: Subscription | undefined;

  function loadChain(tenantId: string): Promise<CompiledChain | null> {
    let p = chains.get(tenantId);
    if (!p) {
      p = (async () => {
        const src = await options.chains.getRootChain(tenantId);
        if (!src) return null;
        const validated = validateRuleChain(src.json, options.registry);
        const compiled = compileRuleChain({ id: src.id, chain: validated, services: options.services, logger });
        loaded.set(tenantId, compiled);
        return compiled;
      })();
      chains.set(tenantId, p);
      // A failed load is not cached: the next message tries again (the error reaches its outcome).
      p.catch(() => {
        if (chains.get(tenantId) === p) chains.delete(tenantId);
      });
    }
    return p;
  }

  async function runOne(msg: Msg): Promise<ChainOutcome> {
    try {
      const chain = await loadChain(msg.tenantId);
      if (!chain) return { ok: false, error: `Tenant ${msg.tenantId} has no root rule chain` };
      return await chain.run(msg);
    } catch (e) {
      return { ok: false, error: errorMessage(e) };
    }
  }

  const sequential = options.submitStrategy === 'SEQUENTIAL_BY_ORIGINATOR';

  /** One pass over a batch; the failed messages come back for a retry. */
  async function runPass(msgs: ReadonlyArray<Msg>): Promise<Array<{ msg: Msg; error: string }>> {
    if (!sequential) {
      // Started in arrival order: each chain runs synchronously up to its first await, so one
      // device's writes reach the batcher in the order its messages arrived.
      const outcomes = await Promise.all(msgs.map(runOne));
      const failed: Array<{ msg: Msg; error: string }> = [];
      outcomes.forEach((o, i) => {
        if (!o.ok) failed.push({ msg: msgs[i]!, error: o.error ?? 'Failure' });
      });
      return failed;
    }
    const byOriginator = new Map<string, Msg[]>();
    for (const m of msgs) {
      const list = byOriginator.get(m.originator.id);
      if (list) list.push(m);
      else byOriginator.set(m.originator.id, [m]);
    }
    const failed: Array<{ msg: Msg; error: string }> = [];
    await Promise.all(
      [...byOriginator.values()].map(async (list) => {
        for (const m of list) {
          const outcome = await runOne(m);
          if (!outcome.ok) failed.push({ msg: m, error: outcome.error ?? 'Failure' });
        }
      }),
    );
    return failed;
  }

  async function processBatch(msgs: ReadonlyArray<Msg>): Promise<void> {
    let pending = msgs;
    for (let attempt = 0; ; attempt++) {
      const failed = await runPass(pending);
      counters.processed += pending.length - failed.length;
      if (failed.length === 0) return;
      counters.failedAttempts += failed.length;
      if (attempt >= maxRetries) {
        counters.skipped += failed.length;
        for (const f of failed.slice(0, 10)) {
          logger.error({ msgId: f.msg.id, tenantId: f.msg.tenantId, originatorId: f.msg.originator.id, error: f.error, attempts: attempt + 1 }, 'message skipped after retries');
        }
        if (failed.length > 10) logger.error({ count: failed.length - 10 }, 'more messages skipped after retries');
        return;
      }
      counters.retried += failed.length;
      logger.warn({ count: failed.length, attempt: attempt + 1, firstError: failed[0]?.error }, 'retrying failed messages');
      await sleep(Math.min(maxBackoff, baseBackoff * 2 ** attempt));
      pending = failed.map((f) => f.msg);
    }
  }

  async function handle(records: ReadonlyArray<ConsumedRecord<unknown>>): Promise<void> {
    const msgs: Msg[] = [];
    for (const r of records) {
      if (isMsg(r.value)) msgs.push(r.value);
      else logger.error({ partition: r.partition, offset: r.offset }, 'record is not a rule-engine message; skipped');
    }
    await processBatch(msgs);
  }

  return {
    async start() {
      if (subscription) return;
      subscription = await options.queue.subscribe<unknown>({
        topic: options.topic ?? Topics.RULE_ENGINE,
        group: options.group ?? Groups.RULE_ENGINE,
        handler: handle,
        maxBatch: options.maxBatch ?? 500,
      });
    },
    async stop(opts) {
      const sub = subscription;
      subscription = undefined;
      if (sub) await sub.stop(opts);
      const all = [...chains.values()];
      chains.clear();
      loaded.clear();
      for (const p of all) {
        const c = await p.catch(() => null);
        await c?.destroy();
      }
    },
    invalidate(tenantId) {
      const entries = tenantId === undefined ? [...chains.entries()] : [...chains.entries()].filter(([t]) => t === tenantId);
      for (const [t, p] of entries) {
        chains.delete(t);
        loaded.delete(t);
        // Messages already inside the old chain finish there; it is destroyed a while later.
        void p.then((c) => {
          if (c) setTimeout(() => void c.destroy(), retireAfterMs).unref();
        }, () => {});
      }
    },
    processBatch,
    stats() {
      const list: RuleEngineStats['chains'] = [...loaded.entries()].map(([tenantId, c]) => ({
        tenantId,
        chainId: c.id,
        name: c.name,
        nodes: c.stats(),
      }));
      return { ...counters, chains: list };
    },
  };
}
