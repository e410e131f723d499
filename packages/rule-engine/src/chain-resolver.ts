import { errorMessage, silentLogger, type Logger } from '@rivulet/core';
import { compileRuleChain, validateRuleChain, type CompiledChain, type DebugSink } from './chain';
import type { NodeRegistry } from './registry';
import { checkChainForTenant } from './tenant-services';
import type { RuleChainResolver, RunnableChain, TenantServices } from './types';

export interface RuleChainResolverOptions {
  registry: NodeRegistry;
  /**
   * The services each tenant's nested chains run with, bound to that tenant. Called when a chain is
   * compiled, so those services may contain this resolver (a chain may call another chain).
   */
  servicesFor: TenantServices;
  /** Reads a chain in ThingsBoard's export shape ({ruleChain, metadata}); null when the tenant has none of that id. */
  load(tenantId: string, chainId: string): Promise<{ json: unknown } | null>;
  logger?: Logger;
  debugSink?: DebugSink;
  /** How long a replaced chain stays alive for messages already inside it. */
  retireAfterMs?: number;
  /** Most compiled chains kept (least recently loaded dropped first). */
  maxChains?: number;
}

export interface ChainResolver extends RuleChainResolver {
  /** Drops a compiled chain (or all of a tenant's, or all) after it was saved or deleted. */
  invalidate(tenantId?: string, chainId?: string): void;
  /** Destroys every compiled chain (their timers stop). */
  close(): Promise<void>;
}

/**
 * Compiled non-root chains for the rule chain node: each chain is loaded and compiled once, on
 * first use, then reused until invalidated. A chain that fails to load is not cached, so the next
 * message tries again and its error reaches that message's outcome.
 */
export function createRuleChainResolver(options: RuleChainResolverOptions): ChainResolver {
  const logger = (options.logger ?? silentLogger).child({ component: 'rule-chain-resolver' });
  const retireAfterMs = options.retireAfterMs ?? 30_000;
  const maxChains = options.maxChains ?? 1000;
  const cache = new Map<string, Promise<CompiledChain | null>>();
  const key = (tenantId: string, chainId: string) => `${tenantId}/${chainId}`;
  let closed = false;

  function retire(p: Promise<CompiledChain | null>, delayMs: number): void {
    void p.then(
      (c) => {
        if (c) setTimeout(() => void c.destroy(), delayMs).unref();
      },
      () => {},
    );
  }

  function drop(k: string, delayMs = retireAfterMs): void {
    const p = cache.get(k);
    if (!p) return;
    cache.delete(k);
    retire(p, delayMs);
  }

  return {
    get(tenantId, chainId): Promise<RunnableChain | null> {
      if (closed) return Promise.resolve(null);
      const k = key(tenantId, chainId);
      let p = cache.get(k);
      if (!p) {
        p = (async () => {
          const src = await options.load(tenantId, chainId);
          if (!src) return null;
          const validated = validateRuleChain(src.json, options.registry);
          const services = options.servicesFor(tenantId);
          await checkChainForTenant(validated, services);
          return compileRuleChain({
            id: chainId,
            tenantId,
            chain: validated,
            services,
            logger: options.logger ?? silentLogger,
            ...(options.debugSink ? { debugSink: options.debugSink } : {}),
          });
        })();
        const loading = p;
        cache.set(k, loading);
        loading.then(
          (c) => {
            // "No such chain" is not cached: it may be created a moment later.
            if (c === null && cache.get(k) === loading) cache.delete(k);
          },
          (e: unknown) => {
            if (cache.get(k) === loading) cache.delete(k);
            logger.warn({ tenantId, chainId, err: errorMessage(e) }, 'rule chain failed to load');
          },
        );
        if (cache.size > maxChains) {
          const oldest = cache.keys().next().value;
          if (oldest !== undefined && oldest !== k) drop(oldest);
        }
      }
      return p;
    },
    invalidate(tenantId, chainId) {
      for (const k of [...cache.keys()]) {
        if (tenantId === undefined || (chainId === undefined ? k.startsWith(`${tenantId}/`) : k === key(tenantId, chainId))) drop(k);
      }
    },
    async close() {
      closed = true;
      const all = [...cache.values()];
      cache.clear();
      for (const p of all) {
        const c = await p.catch(() => null);
        await c?.destroy();
      }
    },
  };
}
