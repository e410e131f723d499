import { type Broadcast, LiveChannel } from '@rivulet/broadcast';
import { errorMessage, isMsg, silentLogger, type Logger, type Msg, type RuleChainEvent } from '@rivulet/core';
import { Groups, Topics, type ConsumedRecord, type Queue, type Subscription } from '@rivulet/queue';
import { compileRuleChain, validateRuleChain, type ChainOutcome, type CompiledChain, type DebugSink, type NodeStats } from './chain';
import { mergeStrategy, retryPause, type ProcessingStrategy } from './processing-strategy';
import type { NodeRegistry } from './registry';
import { checkChainForTenant } from './tenant-services';
import type { TenantServices } from './types';

/** Where the engine finds each tenant's root chain (the server backs it with storage). */
export interface RuleChainSource {
  getRootChain(tenantId: string): Promise<{ id: string; json: unknown } | null>;
}

export interface RuleEngineOptions {
  queue: Queue;
  registry: NodeRegistry;
  /** Each tenant's chain runs on services bound to that tenant (createTenantServices). */
  servicesFor: TenantServices;
  chains: RuleChainSource;
  logger?: Logger;
  /**
   * Times a failed message is run again before it is skipped (ThingsBoard's RETRY_FAILED), with the
   * backoff below: the defaults of every chain's processing strategy (a chain may set its own in
   * ruleChain.configuration.processingStrategy).
   */
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
  /**
   * Rule chain change events (LiveChannel.RULE_CHAINS): a saved, re-rooted or deleted chain is
   * reloaded, node debug changes are applied in place. Works the same when the API runs in another
   * process, as long as the broadcast spans processes.
   */
  broadcast?: Broadcast;
  /** Receives traces of nodes in debug mode and of failures (buffered; see createBatchedDebugSink). */
  debugSink?: DebugSink;
  /** How long a node's "debug all" lasts when switched on without an end; default 15 minutes. */
  debugDurationMs?: number;
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

interface Failed {
  msg: Msg;
  error: string;
  chainId: string | undefined;
  strategy: ProcessingStrategy;
}

export function createRuleEngine(options: RuleEngineOptions): RuleEngine {
  const logger = (options.logger ?? silentLogger).child({ component: 'rule-engine' });
  const maxRetries = options.maxRetries ?? 5;
  const baseBackoff = options.retryBackoffMs ?? 200;
  const maxBackoff = options.maxRetryBackoffMs ?? 5000;
  const retireAfterMs = options.retireAfterMs ?? 30_000;
  const defaults: ProcessingStrategy = { retries: maxRetries, pauseMs: baseBackoff, maxPauseMs: maxBackoff };
  const chains = new Map<string, Promise<CompiledChain | null>>();
  const loaded = new Map<string, CompiledChain>();
  /** Each chain's strategy merged with the defaults once, so messages of one chain share one object. */
  const strategies = new WeakMap<CompiledChain, ProcessingStrategy>();
  const counters = { processed: 0, failedAttempts: 0, retried: 0, skipped: 0 };
  let subscription: Subscription | undefined;
  let unsubscribeChains: (() => void) | undefined;

  function strategyOf(chain: CompiledChain | null | undefined): ProcessingStrategy {
    if (!chain) return defaults;
    let s = strategies.get(chain);
    if (!s) {
      s = mergeStrategy(chain.strategy, defaults);
      strategies.set(chain, s);
    }
    return s;
  }

  function loadChain(tenantId: string): Promise<CompiledChain | null> {
    let p = chains.get(tenantId);
    if (!p) {
      // Read inside the async body, after the await, by which time it is assigned.
      let self: Promise<CompiledChain | null> | undefined;
      self = (async () => {
        const src = await options.chains.getRootChain(tenantId);
        if (!src) return null;
        const validated = validateRuleChain(src.json, options.registry);
        const services = options.servicesFor(tenantId);
        // A chain saved before entity checks existed (or naming a device since deleted) fails here, clearly.
        await checkChainForTenant(validated, services);
        const compiled = compileRuleChain({
          id: src.id,
          tenantId,
          chain: validated,
          services,
          logger,
          ...(options.debugSink ? { debugSink: options.debugSink } : {}),
          ...(options.debugDurationMs !== undefined ? { debugDurationMs: options.debugDurationMs } : {}),
        });
        // Invalidated while loading: this chain serves the messages that asked for it, and is
        // retired like any replaced chain, but is not registered as the tenant's current one.
        if (chains.get(tenantId) === self) loaded.set(tenantId, compiled);
        else retire(Promise.resolve(compiled));
        return compiled;
      })();
      p = self;
      chains.set(tenantId, p);
      // A failed load is not cached: the next message tries again (the error reaches its outcome).
      p.catch(() => {
        if (chains.get(tenantId) === p) chains.delete(tenantId);
      });
    }
    return p;
  }

  /** Messages already inside a replaced chain finish there; it is destroyed a while later. */
  function retire(p: Promise<CompiledChain | null>): void {
    void p.then(
      (c) => {
        if (c) setTimeout(() => void c.destroy(), retireAfterMs).unref();
      },
      () => {},
    );
  }

  /** A message whose tenant's chain is not loaded yet (first message, or after a change). */
  async function runOne(msg: Msg): Promise<ChainOutcome & { chain?: CompiledChain | null }> {
    let chain: CompiledChain | null = null;
    try {
      chain = await loadChain(msg.tenantId);
      if (!chain) return { ok: false, error: `Tenant ${msg.tenantId} has no root rule chain` };
      return { ...(await chain.run(msg)), chain };
    } catch (e) {
      return { ok: false, error: errorMessage(e), chain };
    }
  }

  function onChainEvent(event: unknown): void {
    const e = event as RuleChainEvent;
    if (typeof e !== 'object' || e === null || typeof e.tenantId !== 'string') return;
    if (e.kind === 'debug') {
      const chain = loaded.get(e.tenantId);
      if (chain && chain.id === e.chainId && e.nodeIndex !== undefined && e.debug) chain.setNodeDebug(e.nodeIndex, e.debug);
      return;
    }
    // Another chain of the tenant was saved or deleted: the root keeps running as it is (its node
    // state too). A root switch, or a change of the root itself, reloads it.
    const current = loaded.get(e.tenantId);
    if (e.kind !== 'root' && current && current.id !== e.chainId) return;
    invalidate(e.tenantId);
  }

  function invalidate(tenantId?: string): void {
    const entries = tenantId === undefined ? [...chains.entries()] : [...chains.entries()].filter(([t]) => t === tenantId);
    for (const [t, p] of entries) {
      chains.delete(t);
      loaded.delete(t);
      retire(p);
    }
  }

  const sequential = options.submitStrategy === 'SEQUENTIAL_BY_ORIGINATOR';

  /** One pass over a batch; the failed messages come back for a retry, with their chain's strategy. */
  async function runPass(msgs: ReadonlyArray<Msg>): Promise<Failed[]> {
    if (!sequential) {
      // Started in arrival order: each chain runs synchronously up to its first await, so one
      // device's writes reach the batcher in the order its messages arrived. A loaded chain is
      // called directly (no promise or closure of the engine's own per message).
      const n = msgs.length;
      const runs: Array<Promise<ChainOutcome & { chain?: CompiledChain | null }>> = new Array(n);
      const ranIn: Array<CompiledChain | undefined> = new Array(n);
      for (let i = 0; i < n; i++) {
        const m = msgs[i]!;
        const chain = loaded.get(m.tenantId);
        ranIn[i] = chain;
        runs[i] = chain !== undefined ? chain.run(m) : runOne(m);
      }
      const outcomes = await Promise.all(runs);
      const failed: Failed[] = [];
      for (let i = 0; i < n; i++) {
        const o = outcomes[i]!;
        if (o.ok) continue;
        const chain = ranIn[i] ?? o.chain;
        failed.push({ msg: msgs[i]!, error: o.error ?? 'Failure', chainId: chain?.id, strategy: strategyOf(chain) });
      }
      return failed;
    }
    const byOriginator = new Map<string, Msg[]>();
    for (const m of msgs) {
      const list = byOriginator.get(m.originator.id);
      if (list) list.push(m);
      else byOriginator.set(m.originator.id, [m]);
    }
    const failed: Failed[] = [];
    await Promise.all(
      [...byOriginator.values()].map(async (list) => {
        for (const m of list) {
          const outcome = await runOne(m);
          if (!outcome.ok) failed.push({ msg: m, error: outcome.error ?? 'Failure', chainId: outcome.chain?.id, strategy: strategyOf(outcome.chain) });
        }
      }),
    );
    return failed;
  }

  async function processBatch(msgs: ReadonlyArray<Msg>): Promise<void> {
    const failed = await runPass(msgs);
    counters.processed += msgs.length - failed.length;
    if (failed.length === 0) return;
    // Each chain's failures follow that chain's strategy; chains with different pauses retry side by side.
    const groups = new Map<ProcessingStrategy, Failed[]>();
    for (const f of failed) {
      const list = groups.get(f.strategy);
      if (list) list.push(f);
      else groups.set(f.strategy, [f]);
    }
    await Promise.all([...groups].map(([strategy, list]) => retryFailed(list, strategy)));
  }

  /**
   * Retries with backoff until each message succeeds or its chain's retries are used up; then it is
   * skipped (logged, counted) so the batch can be committed: a message that keeps failing never
   * holds its partition for longer than its strategy allows.
   */
  async function retryFailed(initial: Failed[], strategy: ProcessingStrategy): Promise<void> {
    let failed = initial;
    for (let attempt = 0; ; attempt++) {
      counters.failedAttempts += failed.length;
      // The strategy of the chain the latest attempt ran in: a chain saved meanwhile applies at once.
      const skip = failed.filter((f) => attempt >= f.strategy.retries);
      const retry = skip.length === 0 ? failed : failed.filter((f) => attempt < f.strategy.retries);
      if (skip.length > 0) {
        counters.skipped += skip.length;
        for (const f of skip.slice(0, 10)) {
          logger.error(
            { msgId: f.msg.id, tenantId: f.msg.tenantId, chainId: f.chainId, originatorId: f.msg.originator.id, error: f.error, attempts: attempt + 1 },
            'message skipped after retries',
          );
        }
        if (skip.length > 10) logger.error({ count: skip.length - 10 }, 'more messages skipped after retries');
      }
      if (retry.length === 0) return;
      counters.retried += retry.length;
      logger.warn({ count: retry.length, attempt: attempt + 1, firstError: retry[0]?.error, chainId: retry[0]?.chainId }, 'retrying failed messages');
      await sleep(retryPause(strategy, attempt));
      const again = await runPass(retry.map((f) => f.msg));
      counters.processed += retry.length - again.length;
      if (again.length === 0) return;
      failed = again;
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
      unsubscribeChains ??= options.broadcast?.subscribe(LiveChannel.RULE_CHAINS, onChainEvent);
      subscription = await options.queue.subscribe<unknown>({
        topic: options.topic ?? Topics.RULE_ENGINE,
        group: options.group ?? Groups.RULE_ENGINE,
        handler: handle,
        maxBatch: options.maxBatch ?? 500,
      });
    },
    async stop(opts) {
      unsubscribeChains?.();
      unsubscribeChains = undefined;
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
    invalidate,
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
