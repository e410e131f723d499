import { LiveChannel } from '@rivulet/broadcast';
import { errorMessage, isMsg, silentLogger, type Msg, type RuleChainEvent } from '@rivulet/core';
import { Groups, Topics, type ConsumedRecord, type Subscription } from '@rivulet/queue';
import { startChainVersionCheck, stampOf, type ChainStamp } from './chain-version-check';
import { compileRuleChain, validateRuleChain, type ChainOutcome, type CompiledChain } from './chain';
import { deadLetterTopicOf, type DeadLetter } from './dead-letter';
import type { RuleEngine, RuleEngineOptions, RuleEngineStats } from './engine-types';
import { settleWithin, within } from './pack-timeout';
import { mergeStrategy, retryPause, shouldRetry, type ProcessingStrategy } from './processing-strategy';
import { checkChainForTenant } from './tenant-services';

export type { MsgChainRouter, RuleChainSource, RuleEngine, RuleEngineOptions, RuleEngineStats } from './engine-types';

/**
 * What the engine caches a compiled chain under: the tenant id for its root chain, `tenant/chain`
 * for a chain a router picked (a device profile's). Tenant ids are UUIDs, so the two never meet.
 */
type ChainKey = string;
function parseKey(key: ChainKey): { tenantId: string; chainId: string | null } {
  const i = key.indexOf('/');
  return i < 0 ? { tenantId: key, chainId: null } : { tenantId: key.slice(0, i), chainId: key.slice(i + 1) };
}
const isTenantKey = (key: ChainKey, tenantId: string): boolean => key === tenantId || key.startsWith(`${tenantId}/`);

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

interface Failed {
  msg: Msg;
  error: string;
  chainId: string | undefined;
  strategy: ProcessingStrategy;
  timedOut: boolean;
}

type RunOutcome = ChainOutcome & { chain?: CompiledChain | null };
const rejected = (e: unknown): RunOutcome => ({ ok: false, error: errorMessage(e) });

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
  const counters = { processed: 0, failedAttempts: 0, retried: 0, skipped: 0, timedOut: 0, abandoned: 0, deadLettered: 0, deadLetterErrors: 0, staleChainReloads: 0 };
  /** The stamp (chain id and version) each loaded chain was loaded with, for the version check; by ChainKey. */
  const stamps = new Map<ChainKey, ChainStamp>();
  const router = options.router;
  /**
   * Keys of routed chains are built once per (tenant, chain) and reused: a string built per message
   * would have to be hashed per message (~1.6 µs measured), a reused one keeps its hash.
   */
  const routedKeys = new Map<string, Map<string, ChainKey>>();
  function keyOf(tenantId: string, chainId: string | null): ChainKey {
    if (chainId === null) return tenantId;
    let byChain = routedKeys.get(tenantId);
    if (!byChain) routedKeys.set(tenantId, (byChain = new Map()));
    let key = byChain.get(chainId);
    if (key === undefined) byChain.set(chainId, (key = `${tenantId}/${chainId}`));
    return key;
  }
  let stopCheck: (() => void) | undefined;
  const packTimeoutMs = options.packTimeoutMs ?? 8000;
  const topic = options.topic ?? Topics.RULE_ENGINE;
  const deadLetterTopic = options.deadLetterTopic === undefined ? deadLetterTopicOf(topic) : options.deadLetterTopic;
  const deadLetterTimeoutMs = options.deadLetterTimeoutMs ?? 10_000;
  const timeoutError = `Not processed within the pack timeout (${packTimeoutMs} ms)`;
  const maxAbandoned = options.maxAbandoned ?? 4 * (options.maxBatch ?? 500);
  /** Batches waiting for abandoned runs to end (see maxAbandoned). */
  const pacing = new Set<() => void>();
  const late = () => {
    counters.abandoned--;
    if (pacing.size > 0 && counters.abandoned < maxAbandoned) {
      for (const resume of pacing) resume();
      pacing.clear();
    }
  };
  /** Too many timed-out runs still going: wait for some to end, one pack timeout at most (never for good). */
  async function pace(): Promise<void> {
    if (counters.abandoned < maxAbandoned || packTimeoutMs <= 0) return;
    logger.warn({ abandoned: counters.abandoned, maxAbandoned }, 'rule engine paced: many timed-out runs still going');
    await new Promise<void>((resume) => {
      const timer = setTimeout(() => {
        pacing.delete(done);
        resume();
      }, packTimeoutMs);
      const done = () => {
        clearTimeout(timer);
        resume();
      };
      pacing.add(done);
    });
  }
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

  /**
   * The chain key of a message: its tenant's root unless the router names another chain; a string
   * when the router knew at once (the usual case), a promise when it had to read.
   */
  function keyFor(msg: Msg): ChainKey | Promise<ChainKey> {
    if (!router) return msg.tenantId;
    const routed = router.chainIdFor(msg);
    if (routed === null || typeof routed === 'string') return keyOf(msg.tenantId, routed);
    return routed.then((chainId) => keyOf(msg.tenantId, chainId));
  }

  function readChain(key: ChainKey): Promise<{ id: string; json: unknown; version?: number } | null> {
    const { tenantId, chainId } = parseKey(key);
    if (chainId === null) return options.chains.getRootChain(tenantId);
    if (!options.chains.getChain) return Promise.reject(new Error('The rule engine was given a router but no way to load chains by id'));
    return options.chains.getChain(tenantId, chainId);
  }

  function loadChain(key: ChainKey): Promise<CompiledChain | null> {
    let p = chains.get(key);
    if (!p) {
      const { tenantId } = parseKey(key);
      // Read inside the async body, after the await, by which time it is assigned.
      let self: Promise<CompiledChain | null> | undefined;
      self = (async () => {
        const src = await readChain(key);
        if (chains.get(key) === self) stamps.set(key, stampOf(src));
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
        if (chains.get(key) === self) loaded.set(key, compiled);
        else retire(Promise.resolve(compiled));
        return compiled;
      })();
      p = self;
      chains.set(key, p);
      // A failed load is not cached: the next message tries again (the error reaches its outcome).
      p.catch((e: unknown) => {
        if (chains.get(key) === p) {
          chains.delete(key);
          stamps.delete(key);
        }
        logger.error({ tenantId, chainId: parseKey(key).chainId ?? undefined, err: errorMessage(e) }, 'rule chain refused');
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

  /** A message whose chain is not loaded yet (first message, after a change, or a route still being read). */
  async function runOne(msg: Msg, knownKey?: ChainKey | Promise<ChainKey>): Promise<RunOutcome> {
    let chain: CompiledChain | null = null;
    try {
      const key = await (knownKey ?? keyFor(msg));
      chain = await loadChain(key);
      if (!chain) {
        const chainId = parseKey(key).chainId;
        return { ok: false, error: chainId === null ? `Tenant ${msg.tenantId} has no root rule chain` : `Rule chain ${chainId} of tenant ${msg.tenantId} not found` };
      }
      return { ...(await chain.run(msg)), chain };
    } catch (e) {
      return { ok: false, error: errorMessage(e), chain };
    }
  }

  function onChainEvent(event: unknown): void {
    const e = event as RuleChainEvent;
    if (typeof e !== 'object' || e === null || typeof e.tenantId !== 'string') return;
    if (e.kind === 'debug') {
      if (e.nodeIndex === undefined || !e.debug) return;
      // The root and a profile's chain may be the same chain, compiled twice.
      for (const [key, chain] of loaded) if (isTenantKey(key, e.tenantId) && chain.id === e.chainId) chain.setNodeDebug(e.nodeIndex, e.debug);
      return;
    }
    // A device profile's chain that was saved or deleted is reloaded on its next message.
    drop(keyOf(e.tenantId, e.chainId));
    // Another chain of the tenant was saved or deleted: the root keeps running as it is (its node
    // state too). A root switch, or a change of the root itself, reloads it.
    const current = loaded.get(e.tenantId);
    if (e.kind !== 'root' && current && current.id !== e.chainId) return;
    drop(e.tenantId);
  }

  function drop(key: ChainKey): void {
    const p = chains.get(key);
    stamps.delete(key);
    loaded.delete(key);
    if (!p) return;
    chains.delete(key);
    retire(p);
  }

  /** Drops every chain of the tenant (its root and its profiles' chains), or of every tenant. */
  function invalidate(tenantId?: string): void {
    for (const key of [...chains.keys()]) if (tenantId === undefined || isTenantKey(key, tenantId)) drop(key);
  }

  const sequential = options.submitStrategy === 'SEQUENTIAL_BY_ORIGINATOR';

  /** A message without an outcome when time was up; its run goes on (counted as abandoned). */
  function timedOut(msg: Msg, chain: CompiledChain | null | undefined, running = true): Failed {
    counters.timedOut++;
    if (running) counters.abandoned++;
    // The first messages of a tenant ran while its chain loaded: the chain loaded by now is theirs.
    const c = chain ?? loaded.get(msg.tenantId);
    return { msg, error: timeoutError, chainId: c?.id, strategy: strategyOf(c), timedOut: true };
  }

  /**
   * One pass over a batch, bounded by the pack timeout; the failed and timed-out messages come
   * back for a retry or a dead letter, with their chain's strategy.
   */
  async function runPass(msgs: ReadonlyArray<Msg>): Promise<Failed[]> {
    const n = msgs.length;
    const failed: Failed[] = [];
    if (!sequential) {
      // Started in arrival order: each chain runs synchronously up to its first await, so one
      // device's writes reach the batcher in the order its messages arrived. A loaded chain is
      // called directly (no promise or closure of the engine's own per message).
      const runs: Array<Promise<RunOutcome>> = new Array(n);
      const ranIn: Array<CompiledChain | undefined> = new Array(n);
      for (let i = 0; i < n; i++) {
        const m = msgs[i]!;
        const key = keyFor(m);
        const chain = typeof key === 'string' ? loaded.get(key) : undefined;
        ranIn[i] = chain;
        runs[i] = chain !== undefined ? chain.run(m) : runOne(m, key);
      }
      const outcomes = await settleWithin(runs, packTimeoutMs, rejected, late);
      for (let i = 0; i < n; i++) {
        const o = outcomes[i];
        if (o === undefined) failed.push(timedOut(msgs[i]!, ranIn[i]));
        else if (!o.ok) {
          const chain = ranIn[i] ?? o.chain;
          failed.push({ msg: msgs[i]!, error: o.error ?? 'Failure', chainId: chain?.id, strategy: strategyOf(chain), timedOut: false });
        }
      }
      return failed;
    }
    const byOriginator = new Map<string, number[]>();
    for (let i = 0; i < n; i++) {
      const id = msgs[i]!.originator.id;
      const list = byOriginator.get(id);
      if (list) list.push(i);
      else byOriginator.set(id, [i]);
    }
    // Once time is up, no list starts another message: those left wait no longer than the rest.
    let expired = false;
    const outcomes: Array<RunOutcome | undefined> = new Array(n);
    const running = new Set<number>();
    const lists = [...byOriginator.values()].map(async (list) => {
      for (const i of list) {
        if (expired) return;
        running.add(i);
        outcomes[i] = await runOne(msgs[i]!);
        running.delete(i);
      }
    });
    await settleWithin(lists, packTimeoutMs, () => undefined, late);
    expired = true;
    for (let i = 0; i < n; i++) {
      const o = outcomes[i];
      if (o === undefined) {
        // Only the message a list was running when time ran out goes on in the background.
        failed.push(timedOut(msgs[i]!, undefined, running.has(i)));
      } else if (!o.ok) failed.push({ msg: msgs[i]!, error: o.error ?? 'Failure', chainId: o.chain?.id, strategy: strategyOf(o.chain), timedOut: false });
    }
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
   * Retries with backoff until each message succeeds or its chain's strategy gives it up; then it
   * is dead-lettered (or only logged and counted) so the batch can be committed: a message that
   * keeps failing never holds its partition for longer than its strategy allows.
   */
  async function retryFailed(initial: Failed[], strategy: ProcessingStrategy): Promise<void> {
    let failed = initial;
    for (let attempt = 0; ; attempt++) {
      counters.failedAttempts += failed.length;
      // The strategy of the chain the latest attempt ran in: a chain saved meanwhile applies at once.
      const retry: Failed[] = [];
      const giveUp: Failed[] = [];
      for (const f of failed) (shouldRetry(f.strategy, attempt, f.timedOut) ? retry : giveUp).push(f);
      if (giveUp.length > 0) await deadLetter(giveUp, attempt + 1);
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

  /** Gives messages up: logged, counted, and written to the dead-letter topic (bounded wait: never blocks the partition for good). */
  async function deadLetter(list: Failed[], attempts: number): Promise<void> {
    counters.skipped += list.length;
    for (const f of list.slice(0, 10)) {
      logger.error(
        { msgId: f.msg.id, tenantId: f.msg.tenantId, chainId: f.chainId, originatorId: f.msg.originator.id, error: f.error, attempts, timedOut: f.timedOut },
        deadLetterTopic ? 'message dead-lettered' : 'message skipped after retries',
      );
    }
    if (list.length > 10) logger.error({ count: list.length - 10 }, deadLetterTopic ? 'more messages dead-lettered' : 'more messages skipped after retries');
    if (!deadLetterTopic) return;
    const ts = Date.now();
    const records = list.map((f) => {
      const value: DeadLetter = { kind: 'rule-engine.dead-letter', msg: f.msg, reason: f.timedOut ? 'timed-out' : 'failed', error: f.error, chainId: f.chainId, attempts, ts };
      return { key: f.msg.originator.id, value };
    });
    try {
      await within(options.queue.produce(deadLetterTopic, records), deadLetterTimeoutMs, `dead-letter topic ${deadLetterTopic} did not accept within ${deadLetterTimeoutMs} ms`);
      counters.deadLettered += list.length;
    } catch (e) {
      counters.deadLetterErrors += list.length;
      logger.error({ topic: deadLetterTopic, count: list.length, err: errorMessage(e) }, 'dead letters not written; the messages are only logged');
    }
  }

  async function handle(records: ReadonlyArray<ConsumedRecord<unknown>>): Promise<void> {
    const msgs: Msg[] = [];
    for (const r of records) {
      if (isMsg(r.value)) msgs.push(r.value);
      else logger.error({ partition: r.partition, offset: r.offset }, 'record is not a rule-engine message; skipped');
    }
    await pace();
    await processBatch(msgs);
  }

  return {
    async start() {
      if (subscription) return;
      unsubscribeChains ??= options.broadcast?.subscribe(LiveChannel.RULE_CHAINS, onChainEvent);
      const rootVersion = options.chains.rootVersion?.bind(options.chains);
      const chainVersion = options.chains.chainVersion?.bind(options.chains);
      if (options.chainCheckMs && rootVersion && !stopCheck) {
        stopCheck = startChainVersionCheck({
          everyMs: options.chainCheckMs,
          // Keys are tenant ids (roots) or tenant/chain (profiles' chains): the check reads each as it was loaded.
          rootVersion: (key) => {
            const { tenantId, chainId } = parseKey(key);
            return chainId === null ? rootVersion(tenantId) : (chainVersion as NonNullable<typeof chainVersion>)(tenantId, chainId);
          },
          loaded: () => [...stamps.entries()].filter(([key]) => chainVersion !== undefined || parseKey(key).chainId === null),
          onStale(tenantId, was, now) {
            // changed again (an event arrived) while this check read storage: nothing is stale
            if (stamps.get(tenantId) !== was) return;
            counters.staleChainReloads++;
            logger.warn({ tenantId: parseKey(tenantId).tenantId, chainKey: tenantId, loaded: was, stored: now }, 'rule chain changed without a change event reaching this engine: reloading');
            drop(tenantId);
          },
          logger,
        });
      }
      subscription = await options.queue.subscribe<unknown>({
        topic,
        group: options.group ?? Groups.RULE_ENGINE,
        handler: handle,
        maxBatch: options.maxBatch ?? 500,
      });
    },
    async stop(opts) {
      unsubscribeChains?.();
      unsubscribeChains = undefined;
      stopCheck?.();
      stopCheck = undefined;
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
      const list: RuleEngineStats['chains'] = [...loaded.entries()].map(([key, c]) => ({
        tenantId: parseKey(key).tenantId,
        chainId: c.id,
        name: c.name,
        nodes: c.stats(),
      }));
      return { ...counters, chains: list };
    },
  };
}
