import type { Broadcast } from '@rivulet/broadcast';
import type { Logger, TenantLimitsSource } from '@rivulet/core';
import { createNodeRegistry, createTenantServices, type BatchedDebugSink, type NodeRegistry, type RuleNodeServices } from '@rivulet/rule-engine';
import { builtinNodes } from '@rivulet/rule-nodes';
import { createKafkaService, createOutbound, DEFAULT_RESERVED_TOPIC_PREFIXES } from '@rivulet/outbound';
import type { Storage } from '@rivulet/storage';
import { Topics, type Queue } from '@rivulet/queue';
import type { Config } from './config';
import { createRuleRpcService } from './rule-rpc';
import { createNodeCapabilities } from './node-capabilities';

/** What rule nodes are handed (bound to one tenant each), shared by the rule engine and the API's test runs. */
export interface RuleServices {
  readonly registry: NodeRegistry;
  readonly servicesFor: ReturnType<typeof createTenantServices>;
  /** The rule engine's debug sink, once it exists (nodes of chains run elsewhere write none). */
  setDebugSink(sink: BatchedDebugSink | undefined): void;
  /** Script sandbox, device cache, nested chains, outbound connections, Kafka producers. */
  close(): Promise<void>;
  /** Server-side RPC from rule nodes (after the queue and the rule engine stopped). */
  closeRpc(): void;
}

export function createRuleServices(o: { config: Config; storage: Storage; broadcast: Broadcast; queue: Queue; tenantLimits: TenantLimitsSource; logger: Logger }): RuleServices {
  const { config, storage, broadcast, logger } = o;
  const registry = createNodeRegistry(builtinNodes);
  const ruleRpc = createRuleRpcService(broadcast, { pickupTimeoutMs: config.RIVULET_RPC_PICKUP_TIMEOUT_MS });
  let debugSink: BatchedDebugSink | undefined;
  // Device lookups (cached), nested chains for the rule chain node, the script sandbox (a worker thread).
  const nodeCapabilities = createNodeCapabilities({
    storage,
    broadcast,
    registry,
    logger,
    servicesFor: (tenantId) => servicesFor(tenantId),
    debugSink: () => debugSink,
    // Each tenant's scripts get its own time and memory limits when they compile (tenantLimits);
    // these are the defaults for scripts run for no tenant, and when strikes disable a script.
    scripts: {
      timeoutMs: config.RIVULET_SCRIPT_TIMEOUT_MS,
      memoryLimitBytes: config.RIVULET_SCRIPT_MEMORY_MB * 1024 * 1024,
      strikes: { maxStrikes: config.RIVULET_SCRIPT_MAX_STRIKES, windowMs: config.RIVULET_SCRIPT_STRIKE_WINDOW_MS, cooldownMs: config.RIVULET_SCRIPT_DISABLE_COOLDOWN_MS, maxTenantHardKills: config.RIVULET_SCRIPT_MAX_TENANT_HARD_KILLS },
    },
  });
  // REST API call and MQTT publish nodes: every connection checked against RIVULET_OUTBOUND_*.
  const outbound = createOutbound({ allow: config.RIVULET_OUTBOUND_ALLOW, deny: config.RIVULET_OUTBOUND_DENY, logger });
  // The Kafka node's producers (its brokers under the same policy); none when the limit is 0, and then
  // a chain with a Kafka node is refused on save and load. Topics rivulet.* and __* are refused.
  const kafka =
    config.RIVULET_RULE_KAFKA_MAX_PRODUCERS > 0
      ? createKafkaService({
          policy: outbound.policy,
          logger,
          maxProducers: config.RIVULET_RULE_KAFKA_MAX_PRODUCERS,
          maxProducersPerTenant: config.RIVULET_RULE_KAFKA_MAX_PRODUCERS_PER_TENANT,
          // The platform's topics as they are named on the cluster (RIVULET_QUEUE_PREFIX before them).
          reservedTopicPrefixes: [...DEFAULT_RESERVED_TOPIC_PREFIXES, ...(config.RIVULET_QUEUE_PREFIX ? [`${config.RIVULET_QUEUE_PREFIX}rivulet.`] : [])],
        })
      : undefined;
  const nodeServices: RuleNodeServices = {
    ...nodeCapabilities.services,
    logger,
    timeseries: storage.timeseries,
    attributes: storage.attributes,
    now: () => Date.now(),
    rpc: ruleRpc,
    // Create / clear alarm nodes: one active alarm per originator and type, enforced by storage.
    alarms: storage.alarms,
    // The device profile node's persisted alarm rule state (persistAlarmRulesState).
    ruleNodeStates: storage.ruleNodeStates,
    outbound,
    ...(kafka ? { kafka } : {}),
    // Notifications nodes send (ATTRIBUTES_UPDATED / ATTRIBUTES_DELETED) go through the queue like any message.
    platformEvents: { enqueue: (msg) => o.queue.produce(Topics.RULE_ENGINE, [{ key: msg.originator.id, value: msg }]) },
  };
  // Every chain, nested chain and test run runs on these bound to its tenant: another tenant's entities are refused.
  const servicesFor = createTenantServices({ base: nodeServices, ownership: nodeCapabilities.ownership, limits: o.tenantLimits });
  return {
    registry,
    servicesFor,
    setDebugSink: (sink) => {
      debugSink = sink;
    },
    async close() {
      await nodeCapabilities.close();
      outbound.close();
      await kafka?.close();
    },
    closeRpc: () => ruleRpc.close(),
  };
}
