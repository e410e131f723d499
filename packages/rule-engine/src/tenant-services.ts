import { ErrorCode, RivuletError } from '@rivulet/core';
import { InvalidRuleChainError, type ValidatedChain } from './chain';
import type { AlarmService, DeviceLookup, EntityOwnership, RuleChainResolver, RuleNodeServices, RuleRpcService, TenantScope, TenantServices } from './types';

/**
 * A rule node reached an entity of another tenant (or one that does not exist). Thrown by the
 * tenant-bound services, so the node's message leaves by Failure with this message.
 */
export class EntityAccessError extends RivuletError {
  constructor(tenantId: string, entityId: string) {
    super(ErrorCode.FORBIDDEN, `Entity ${entityId} does not belong to this tenant (${tenantId})`, { details: { tenantId, entityId } });
    this.name = 'EntityAccessError';
  }
}

type Check = void | Promise<void>;

/**
 * Wraps services so that every call naming an entity checks first that the entity belongs to
 * `scope.tenantId` (a device of that tenant, or the tenant itself) and refuses otherwise: the
 * isolation lives here, not in each node. Tenant ids passed by nodes (alarms, devices, chains, RPC)
 * must be the bound tenant's. A cache hit in the ownership answers synchronously, so an allowed
 * write adds no await (the batching behind save() is unchanged).
 */
export function bindServicesToTenant(base: RuleNodeServices, scope: TenantScope): RuleNodeServices {
  const { tenantId, ownership } = scope;
  const deny = (id: string) => new EntityAccessError(tenantId, id);

  function checkOne(id: string): Check {
    if (id === tenantId) return;
    const owned = ownership.owns(tenantId, id);
    if (owned === true) return;
    if (owned === false) throw deny(id);
    return owned.then((ok) => {
      if (!ok) throw deny(id);
    });
  }
  function checkTenant(t: string): void {
    if (t !== tenantId) throw new RivuletError(ErrorCode.FORBIDDEN, `Tenant ${t} is not this chain's tenant (${tenantId})`);
  }
  /** Checks every item's entity (consecutive repeats once), then runs `then`; a refusal rejects, never throws. */
  function guarded<T>(items: ReadonlyArray<{ entityId: string }>, then: () => Promise<T>): Promise<T> {
    let pending: Array<Promise<void>> | undefined;
    try {
      let last: string | undefined;
      for (let i = 0; i < items.length; i++) {
        const id = items[i]!.entityId;
        if (id === last) continue;
        last = id;
        const r = checkOne(id);
        if (r) (pending ??= []).push(r);
      }
    } catch (e) {
      return Promise.reject(e);
    }
    return pending ? Promise.all(pending).then(then) : then();
  }
  function guardedId<T>(id: string, then: () => Promise<T>): Promise<T> {
    let r: Check;
    try {
      r = checkOne(id);
    } catch (e) {
      return Promise.reject(e);
    }
    return r ? r.then(then) : then();
  }

  const ts = base.timeseries;
  const attrs = base.attributes;
  const history = ts.findHistory?.bind(ts);
  const alarms: AlarmService | undefined = base.alarms && {
    createOrUpdate: (input) => guardedId(input.originatorId, async () => (checkTenant(input.tenantId), base.alarms!.createOrUpdate(input))),
    findActive: (t, originatorId, type) => guardedId(originatorId, async () => (checkTenant(t), base.alarms!.findActive(t, originatorId, type))),
    // Storage finds alarms by (tenant, id): one of another tenant is not found.
    clear: async (t, id, at, details) => (checkTenant(t), base.alarms!.clear(t, id, at, details)),
  };
  const devices: DeviceLookup | undefined = base.devices && {
    get: async (t, id) => (checkTenant(t), base.devices!.get(t, id)),
  };
  const ruleChains: RuleChainResolver | undefined = base.ruleChains && {
    get: async (t, id) => (checkTenant(t), base.ruleChains!.get(t, id)),
  };
  const rpc: RuleRpcService | undefined = base.rpc && {
    sendToDevice: (request) => guardedId(request.deviceId, async () => (checkTenant(request.tenantId), base.rpc!.sendToDevice(request))),
    replyToDevice: (reply) => guardedId(reply.deviceId, async () => base.rpc!.replyToDevice(reply)),
  };
  return {
    ...base,
    timeseries: {
      save: (points) => guarded(points, () => ts.save(points)),
      findLatest: (id, keys) => guardedId(id, () => ts.findLatest(id, keys)),
      ...(history ? { findHistory: (id: string, q: Parameters<typeof history>[1]) => guardedId(id, () => history(id, q)) } : {}),
    },
    attributes: {
      save: (items) => guarded(items, () => attrs.save(items)),
      find: (id, s, keys) => guardedId(id, () => attrs.find(id, s, keys)),
      delete: (id, s, keys) => guardedId(id, () => attrs.delete(id, s, keys)),
    },
    ...(alarms ? { alarms } : {}),
    ...(devices ? { devices } : {}),
    ...(ruleChains ? { ruleChains } : {}),
    ...(rpc ? { rpc } : {}),
    tenant: scope,
  };
}

/**
 * The composition root's one way to hand services to chains: `servicesFor(tenantId)` is `base`
 * bound to that tenant (made once per tenant and reused).
 */
export function createTenantServices(options: { base: RuleNodeServices; ownership: EntityOwnership }): TenantServices {
  const bound = new Map<string, RuleNodeServices>();
  return (tenantId) => {
    let s = bound.get(tenantId);
    if (!s) {
      s = bindServicesToTenant(options.base, { tenantId, ownership: options.ownership });
      bound.set(tenantId, s);
    }
    return s;
  };
}

/**
 * Refuses a chain whose node configurations name entities of another tenant (or none): a
 * generator with another tenant's device as originator fails its save and its load with an error
 * naming node and field, not only each message. Services not bound to a tenant: nothing to check.
 */
export async function checkChainEntities(chain: ValidatedChain, services: RuleNodeServices): Promise<void> {
  const scope = services.tenant;
  if (!scope) return;
  for (const n of chain.nodes) {
    for (const ref of n.def.entityRefs?.(n.config as never) ?? []) {
      if (ref.id === scope.tenantId || (await scope.ownership.owns(scope.tenantId, ref.id))) continue;
      throw new InvalidRuleChainError(
        `Invalid configuration of node ${n.index} "${n.name || n.def.type}": ${ref.field}: ${ref.entityType} ${ref.id} is not an entity of this tenant`,
        { nodeIndex: n.index, nodeName: n.name, field: ref.field },
      );
    }
  }
}

interface Entry {
  at: number;
  owned: boolean | Promise<boolean>;
}

export interface OwnershipCache extends EntityOwnership {
  /** Forget what is known of one entity (it was created, deleted or moved). */
  invalidate(tenantId: string, entityId: string): void;
}

/**
 * Ownership answers cached per (tenant, entity): a known answer is returned synchronously. "Owned"
 * lives `ttlMs`, "not owned" `missTtlMs` (short: a device created a moment later is found), both
 * dropped at once by invalidate(). Concurrent misses share one lookup.
 */
export function createOwnershipCache(options: {
  lookup: (tenantId: string, entityId: string) => Promise<boolean>;
  ttlMs?: number;
  missTtlMs?: number;
  maxEntries?: number;
  now?: () => number;
}): OwnershipCache {
  const ttlMs = options.ttlMs ?? 30_000;
  const missTtlMs = options.missTtlMs ?? 2_000;
  const maxEntries = options.maxEntries ?? 100_000;
  const now = options.now ?? Date.now;
  // Per tenant, then per entity: no key string is built per call (an id's hash is cached in the string).
  const tenants = new Map<string, Map<string, Entry>>();
  let size = 0;
  function drop(tenantId: string, entityId: string): void {
    const m = tenants.get(tenantId);
    if (m?.delete(entityId)) {
      size--;
      if (m.size === 0) tenants.delete(tenantId);
    }
  }
  return {
    owns(tenantId, entityId) {
      if (entityId === tenantId) return true;
      let m = tenants.get(tenantId);
      const hit = m?.get(entityId);
      const t = now();
      if (hit && (typeof hit.owned !== 'boolean' || t - hit.at < (hit.owned ? ttlMs : missTtlMs))) return hit.owned;
      const pending = options.lookup(tenantId, entityId);
      const entry: Entry = { at: t, owned: pending };
      if (hit) drop(tenantId, entityId);
      if (size >= maxEntries) {
        // Over the cap: the oldest entry of the first tenant goes (cheap, and rare).
        const first = tenants.entries().next();
        if (!first.done) drop(first.value[0], first.value[1].keys().next().value as string);
      }
      m = tenants.get(tenantId);
      if (!m) tenants.set(tenantId, (m = new Map()));
      m.set(entityId, entry);
      size++;
      pending.then(
        (owned) => {
          if (tenants.get(tenantId)?.get(entityId) === entry) entry.owned = owned;
        },
        () => {
          if (tenants.get(tenantId)?.get(entityId) === entry) drop(tenantId, entityId);
        },
      );
      return pending;
    },
    invalidate: drop,
  };
}
