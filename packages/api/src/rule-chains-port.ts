import type { NodeStatsDto, NodeTypeDto, TestRunResultDto } from '@rivulet/api-types';
import type { EntityId, JsonObject, JsonValue } from '@rivulet/core';

/**
 * What the rule-chain routes need of the rule engine, injected by the server (rule-engine's
 * createRuleChainService provides it), so this package does not depend on the engine's runtime.
 */
export interface RuleChainsPort {
  /**
   * Rejects unless the chain (ThingsBoard's export shape) would load for the tenant: a RivuletError
   * with code INVALID_RULE_CHAIN whose message names the node and field (unknown node types all by
   * name; entities a node names, such as a generator's originator, that are not the tenant's).
   */
  validate(json: unknown, tenantId: string): Promise<void>;
  /** Every node type the engine runs, for the editor. */
  nodeTypes(): NodeTypeDto[];
  /** Runs a sample message through the chain (or one node) without storing anything. */
  testRun(input: {
    tenantId: string;
    chain: unknown;
    chainId?: string;
    nodeIndex?: number;
    msg: { type: string; data: JsonValue; metadata?: Record<string, string>; originator?: EntityId; ts?: number };
  }): Promise<TestRunResultDto>;
  /** Rule chains the tenant may have (its maxRuleChains; 0 or absent: no limit). */
  maxRuleChains?(tenantId: string): number;
  /**
   * Throws a BadRequestError naming the field when the device profile node cannot evaluate the
   * profile's alarm rules (profileData.alarms), so such a profile is refused when it is saved.
   */
  checkDeviceProfile?(profile: { name: string; profileData: JsonObject }): void;
  /** Counters of the chain as this process's engine runs it; null when it does not run it. */
  stats(tenantId: string, chainId: string): NodeStatsDto[] | null;
}
