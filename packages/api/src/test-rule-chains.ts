import { isUuid, silentLogger } from '@rivulet/core';
import type { Storage } from '@rivulet/storage';
import type { RuleChainsPort } from './rule-chains-port';

/**
 * Test helper only (not exported from index.ts): the real rule-chain service over the built-in
 * nodes, as the server injects it. Imported dynamically for the same reason as the storage in
 * test-storage.ts: @rivulet/api depends on neither at run time.
 */
export async function createTestRuleChains(storage: Storage, stats?: RuleChainsPort['stats']): Promise<RuleChainsPort> {
  const engine = await import('@rivulet/rule-engine');
  const nodes = await import('@rivulet/rule-nodes');
  return engine.createRuleChainService({
    registry: engine.createNodeRegistry(nodes.builtinNodes),
    // Bound per tenant as the server binds them: a device of another tenant is refused.
    servicesFor: engine.createTenantServices({
      base: { logger: silentLogger, timeseries: storage.timeseries, attributes: storage.attributes, now: () => Date.now() },
      ownership: { owns: async (tenantId, entityId) => isUuid(entityId) && (await storage.devices.get(tenantId, entityId)) !== null },
    }),
    ...(stats ? { stats } : {}),
  });
}
