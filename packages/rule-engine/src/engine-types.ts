import type { Broadcast } from '@rivulet/broadcast';
import type { Logger, Msg } from '@rivulet/core';
import type { Queue } from '@rivulet/queue';
import type { DebugSink, NodeStats } from './chain';
import type { NodeRegistry } from './registry';
import type { TenantServices } from './types';

/** Where the engine finds each tenant's root chain (the server backs it with storage). */
export interface RuleChainSource {
  /** The tenant's root chain; `version` (storage's optimistic lock) lets the version check see changes. */
  getRootChain(tenantId: string): Promise<{ id: string; json: unknown; version?: number } | null>;
  /** The tenant's root chain id and version as stored now, without the chain (the periodic version check). */
  rootVersion?(tenantId: string): Promise<{ id: string; version: number } | null>;
  /** A chain of the tenant by id (the chain a device profile names); null when the tenant has none of that id. */
  getChain?(tenantId: string, chainId: string): Promise<{ id: string; json: unknown; version?: number } | null>;
  /** That chain's id and version as stored now (the periodic version check). */
  chainVersion?(tenantId: string, chainId: string): Promise<{ id: string; version: number } | null>;
}

/**
 * Picks the chain a message goes to when it is not the tenant's root chain: ThingsBoard's device
 * profile defaultRuleChainId. Called once per message, so it answers synchronously when it knows
 * (a cache), and with a promise only when it must read storage.
 */
export interface MsgChainRouter {
  /** The id of the tenant's chain that takes the message, or null for the tenant's root chain. */
  chainIdFor(msg: Msg): string | null | Promise<string | null>;
}

export interface RuleEngineOptions {
  queue: Queue;
  registry: NodeRegistry;
  /** Each tenant's chain runs on services bound to that tenant (createTenantServices). */
  servicesFor: TenantServices;
  chains: RuleChainSource;
  /** Without it every message goes to its tenant's root chain. With it, `chains.getChain` is required. */
  router?: MsgChainRouter;
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
  /**
   * ThingsBoard's packProcessingTimeout: how long one pass over a batch may take (default 8000 ms;
   * 0: no limit). Messages still running then are timed out: given up (dead-lettered) unless their
   * chain's strategy retries timed-out messages, so one slow node cannot stall a partition. Their
   * runs go on in the background (counted in stats().abandoned). Keep it below the Kafka session
   * timeout unless the queue heartbeats during a batch.
   */
  packTimeoutMs?: number;
  /**
   * Timed-out runs still going in the background before the next batch waits (up to one pack
   * timeout) for some to end: under overload they pace the engine instead of piling up. Default 4 × maxBatch.
   */
  maxAbandoned?: number;
  /**
   * Where given-up messages go (DeadLetter records keyed by originator): default `<topic>.dlq`;
   * null: only logged and counted. Writing one waits `deadLetterTimeoutMs` (10 s) at most.
   */
  deadLetterTopic?: string | null;
  deadLetterTimeoutMs?: number;
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
  /**
   * Every this many ms, compare each loaded root chain's version with storage (chains.rootVersion)
   * and reload the changed ones: the safety net for a missed change event when the broadcast
   * crosses processes (RIVULET_RULE_CHAIN_CHECK_MS). 0 or absent: off.
   */
  chainCheckMs?: number;
  /** Receives traces of nodes in debug mode and of failures (buffered; see createBatchedDebugSink). */
  debugSink?: DebugSink;
  /** How long a node's "debug all" lasts when switched on without an end; default 15 minutes. */
  debugDurationMs?: number;
}

export interface RuleEngineStats {
  processed: number;
  /** Attempts that failed or timed out. */
  failedAttempts: number;
  retried: number;
  /** Messages given up (after retries, or timed out): dead-lettered, or only logged without a dead-letter topic. */
  skipped: number;
  /** Attempts still running when their batch's pack timeout passed. */
  timedOut: number;
  /** Runs of timed-out attempts still going in the background now. */
  abandoned: number;
  /** Given-up messages written to the dead-letter topic. */
  deadLettered: number;
  /** Given-up messages whose dead letter could not be written (logged). */
  deadLetterErrors: number;
  /** Chains found older than storage by the version check (a change event was missed) and reloaded. */
  staleChainReloads: number;
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
