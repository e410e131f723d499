import type { TenantLimitsSource } from '@rivulet/core';
import { z } from 'zod';
import { validateRuleChain, type NodeStats } from './chain';
import type { NodeRegistry } from './registry';
import { testRunChain, type TestRunInput, type TestRunResult } from './test-run';
import { checkChainForTenant } from './tenant-services';
import type { NodeCategory, TenantServices } from './types';

/** A node type as the web editor needs it: what it is, where its links may go, and its form. */
export interface NodeTypeDescription {
  type: string;
  /** ThingsBoard class names accepted for it on import. */
  aliases: string[];
  category: NodeCategory;
  name: string;
  description: string;
  relations: string[];
  /** Relation names come from the data (e.g. a switch on message type): the editor lets the user type them. */
  relationsDynamic: boolean;
  configVersion: number;
  /** JSON Schema (draft 2020-12) of the configuration, generated from the node's zod schema. */
  configSchema: Record<string, unknown>;
  /** The configuration of a freshly dropped node: the schema's defaults, or null when it has required fields. */
  defaultConfiguration: unknown;
}

/** Every registered node's description, sorted by category then name. */
export function describeNodeTypes(registry: NodeRegistry): NodeTypeDescription[] {
  return registry
    .list()
    .map((def) => {
      let configSchema: Record<string, unknown>;
      try {
        // The input side: what a user writes (defaults make fields optional).
        configSchema = z.toJSONSchema(def.configSchema, { io: 'input', unrepresentable: 'any' }) as Record<string, unknown>;
      } catch {
        configSchema = { type: 'object' };
      }
      const defaults = def.configSchema.safeParse({});
      return {
        type: def.type,
        aliases: [...(def.aliases ?? [])],
        category: def.category,
        name: def.name,
        description: def.description,
        relations: [...def.relations],
        relationsDynamic: def.relationsDynamic === true,
        configVersion: def.configVersion,
        configSchema,
        defaultConfiguration: defaults.success ? defaults.data : null,
      };
    })
    .sort((a, b) => a.category.localeCompare(b.category) || a.name.localeCompare(b.name));
}

/**
 * What the REST API needs of the rule engine, as one object the server injects (so the API package
 * does not depend on the engine's runtime): validation on save, the editor's node catalog, test
 * runs and per-node counters.
 */
export interface RuleChainServiceOptions {
  registry: NodeRegistry;
  /** Real services, bound per tenant; test runs read from them (refused for other tenants' entities) and never write. */
  servicesFor: TenantServices;
  /** Counters of the chain as this process's engine runs it; null when it does not (not root, no engine here). */
  stats?: (tenantId: string, chainId: string) => NodeStats[] | null;
  /** A tenant's chain in ThingsBoard's JSON, for rule chain nodes in test runs; null when there is none. */
  loadChain?: (tenantId: string, chainId: string) => Promise<unknown | null>;
  testRunTimeoutMs?: number;
  /** Each tenant's limits: maxRuleChains (nodes per chain and generator period come with servicesFor). */
  limits?: TenantLimitsSource;
}

export function createRuleChainService(options: RuleChainServiceOptions) {
  const { registry } = options;
  let nodeTypes: NodeTypeDescription[] | undefined;
  return {
    /**
     * Rejects with InvalidRuleChainError (a 400 naming node and field) unless the chain would load
     * for this tenant: entities its nodes name (a generator's originator) must be the tenant's.
     */
    async validate(json: unknown, tenantId: string): Promise<void> {
      await checkChainForTenant(validateRuleChain(json, registry), options.servicesFor(tenantId));
    },
    nodeTypes(): NodeTypeDescription[] {
      nodeTypes ??= describeNodeTypes(registry);
      return nodeTypes;
    },
    testRun(input: Pick<TestRunInput, 'chain' | 'chainId' | 'nodeIndex' | 'msg' | 'tenantId'>): Promise<TestRunResult> {
      return testRunChain({
        ...input,
        registry,
        services: options.servicesFor(input.tenantId),
        ...(options.loadChain ? { loadChain: options.loadChain } : {}),
        ...(options.testRunTimeoutMs !== undefined ? { timeoutMs: options.testRunTimeoutMs } : {}),
      });
    },
    /** Rule chains the tenant may have (0: no limit). */
    maxRuleChains(tenantId: string): number {
      return options.limits?.forTenant(tenantId).maxRuleChains ?? 0;
    },
    stats(tenantId: string, chainId: string): NodeStats[] | null {
      return options.stats?.(tenantId, chainId) ?? null;
    },
  };
}

export type RuleChainService = ReturnType<typeof createRuleChainService>;
