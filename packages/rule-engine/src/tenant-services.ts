import { BadRequestError, ErrorCode, RivuletError, createMsg, overLimit, type TenantLimits, type TenantLimitsSource } from '@rivulet/core';
import { InvalidRuleChainError, type ValidatedChain } from './chain';
import { MAX_PLATFORM_EVENT_DEPTH, PLATFORM_EVENT_DEPTH_KEY, type AlarmService, type DeviceLookup, type DeviceProfileLookup, type EntityOwnership, type KafkaService, type NodeCapability, type PlatformEventQueue, type RuleChainResolver, type RuleNodeServices, type RuleNodeStateService, type RuleRpcService, type TenantScope, type TenantServices } from './types';

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
 * `scope.tenantId` (the tenant itself, or an entity the ownership says is its own) and refuses otherwise: the
 * isolation lives here, not in each node. Tenant ids passed by nodes (alarms, devices, chains, RPC)
 * must be the bound tenant's. A cache hit in the ownership answers synchronously, so an allowed
 * write adds no await (the batching behind save() is unchanged).
 */
export function bindServicesToTenant(base: RuleNodeServices, scope: TenantScope, limits?: TenantLimitsSource): RuleNodeServices {
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
  const otherTenant = (t: string) => new RivuletError(ErrorCode.FORBIDDEN, `Tenant ${t} is not this chain's tenant (${tenantId})`);
  function checkTenant(t: string): void {
    if (t !== tenantId) throw otherTenant(t);
  }
  /**
   * Checks every item's entity (consecutive repeats once). Undefined: all known to be the tenant's
   * (the hot path: no promise, no closure); an error: refused; a promise: some answers pending.
   */
  function checkItems(items: ReadonlyArray<{ entityId: string }>): undefined | Error | Promise<unknown> {
    let pending: Array<Promise<void>> | undefined;
    let last: string | undefined;
    for (let i = 0; i < items.length; i++) {
      const id = items[i]!.entityId;
      if (id === last || id === tenantId) continue;
      last = id;
      const owned = ownership.owns(tenantId, id);
      if (owned === true) continue;
      if (owned === false) return deny(id);
      (pending ??= []).push(
        owned.then((ok) => {
          if (!ok) throw deny(id);
        }),
      );
    }
    return pending && (pending.length === 1 ? pending[0] : Promise.all(pending));
  }
  /** Runs the write once its items are checked; a refusal rejects, never throws. */
  function guarded<I extends { entityId: string }>(items: ReadonlyArray<I>, write: (items: ReadonlyArray<I>) => Promise<void>): Promise<void> {
    const c = checkItems(items);
    if (c === undefined) return write(items);
    if (c instanceof Error) return Promise.reject(c);
    return c.then(() => write(items));
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
  const saveTs = ts.save.bind(ts);
  const saveAttrs = attrs.save.bind(attrs);
  const alarms: AlarmService | undefined = base.alarms && {
    createOrUpdate: (input) => guardedId(input.originatorId, async () => (checkTenant(input.tenantId), base.alarms!.createOrUpdate(input))),
    findActive: (t, originatorId, type) => guardedId(originatorId, async () => (checkTenant(t), base.alarms!.findActive(t, originatorId, type))),
    // Storage finds alarms by (tenant, id): one of another tenant is not found.
    clear: async (t, id, at, details) => (checkTenant(t), base.alarms!.clear(t, id, at, details)),
  };
  // Storage finds devices and chains by (tenant, id): only the tenant must be the bound one. No extra
  // promise on the way (originator fields and the device type switch call this per message).
  const devices: DeviceLookup | undefined = base.devices && {
    get: (t, id) => (t === tenantId ? base.devices!.get(t, id) : Promise.reject(otherTenant(t))),
  };
  // A device profile is found through its device: the device must be this tenant's. Checked without
  // a promise when its ownership is cached, and a cached profile comes back without one either (the
  // device profile node calls this per message).
  const deviceProfiles: DeviceProfileLookup | undefined = base.deviceProfiles && {
    getForDevice: (t, id) => {
      if (t !== tenantId) return Promise.reject(otherTenant(t));
      let r: Check;
      try {
        r = checkOne(id);
      } catch (e) {
        return Promise.reject(e);
      }
      return r ? r.then(() => base.deviceProfiles!.getForDevice(t, id)) : base.deviceProfiles!.getForDevice(t, id);
    },
  };
  const ruleChains: RuleChainResolver | undefined = base.ruleChains && {
    get: (t, id) => (t === tenantId ? base.ruleChains!.get(t, id) : Promise.reject(otherTenant(t))),
  };
  const rpc: RuleRpcService | undefined = base.rpc && {
    sendToDevice: (request) => guardedId(request.deviceId, async () => (checkTenant(request.tenantId), base.rpc!.sendToDevice(request))),
    replyToDevice: (reply) => guardedId(reply.deviceId, async () => base.rpc!.replyToDevice(reply)),
  };
  // A node's saved state: the bound tenant's rows (storage keys them by tenant), about its own entities.
  const ruleNodeStates: RuleNodeStateService | undefined = base.ruleNodeStates && {
    get: (t, nodeId, entityId) => guardedId(entityId, async () => (checkTenant(t), base.ruleNodeStates!.get(t, nodeId, entityId))),
    save: (items) => {
      for (const it of items) if (it.tenantId !== tenantId) return Promise.reject(otherTenant(it.tenantId));
      return guarded(items, (checked) => base.ruleNodeStates!.save(checked));
    },
    delete: (t, nodeId, entityId) => guardedId(entityId, async () => (checkTenant(t), base.ruleNodeStates!.delete(t, nodeId, entityId))),
  };
  // Producers are the tenant's own (never shared with another tenant's nodes, counted against its bound).
  const kafka: KafkaService | undefined = base.kafka && { producer: (o) => base.kafka!.producer({ ...o, tenantId }) };
  // A node's new message: this tenant's, about an entity of this tenant, or refused.
  const platformEvents: PlatformEventQueue | undefined = base.platformEvents && {
    enqueue: (msg, cause) =>
      guardedId(msg.originator.id, async () => {
        checkTenant(msg.tenantId);
        const depth = (Number(cause.metadata[PLATFORM_EVENT_DEPTH_KEY]) || 0) + 1;
        if (depth > MAX_PLATFORM_EVENT_DEPTH) {
          throw new BadRequestError(`${msg.type} not sent: it would be the ${depth}th platform event in a row caused by the one before (at most ${MAX_PLATFORM_EVENT_DEPTH}); the rule chain answers its own notifications in a loop`);
        }
        return base.platformEvents!.enqueue(createMsg({ ...msg, metadata: { ...msg.metadata, [PLATFORM_EVENT_DEPTH_KEY]: String(depth) } }), cause);
      }),
  };
  return {
    ...base,
    ...(platformEvents ? { platformEvents } : {}),
    timeseries: {
      save: (points) => guarded(points, saveTs),
      findLatest: (id, keys) => guardedId(id, () => ts.findLatest(id, keys)),
      ...(history ? { findHistory: (id: string, q: Parameters<typeof history>[1]) => guardedId(id, () => history(id, q)) } : {}),
    },
    attributes: {
      save: (items) => guarded(items, saveAttrs),
      find: (id, s, keys) => guardedId(id, () => attrs.find(id, s, keys)),
      delete: (id, s, keys) => guardedId(id, () => attrs.delete(id, s, keys)),
    },
    ...(alarms ? { alarms } : {}),
    ...(devices ? { devices } : {}),
    ...(deviceProfiles ? { deviceProfiles } : {}),
    ...(ruleChains ? { ruleChains } : {}),
    ...(rpc ? { rpc } : {}),
    ...(kafka ? { kafka } : {}),
    ...(ruleNodeStates ? { ruleNodeStates } : {}),
    ...(limits ? { limits: () => limits.forTenant(tenantId) } : {}),
    tenant: scope,
  };
}

/**
 * The composition root's one way to hand services to chains: `servicesFor(tenantId)` is `base`
 * bound to that tenant (made once per tenant and reused).
 */
export function createTenantServices(options: {
  base: RuleNodeServices;
  ownership: EntityOwnership;
  /** Each tenant's limits (script time and memory, nodes per chain, generator period). */
  limits?: TenantLimitsSource;
}): TenantServices {
  const bound = new Map<string, RuleNodeServices>();
  return (tenantId) => {
    let s = bound.get(tenantId);
    if (!s) {
      s = bindServicesToTenant(options.base, { tenantId, ownership: options.ownership }, options.limits);
      bound.set(tenantId, s);
    }
    return s;
  };
}

/**
 * Refuses a chain over the tenant's limits: more nodes than maxRuleNodesPerChain, or a node whose
 * configuration its own checkLimits refuses (a generator faster than minGeneratorPeriodMs). The
 * error names the limit (and the node and field).
 */
export function checkChainLimits(chain: ValidatedChain, limits: TenantLimits): void {
  if (overLimit(limits.maxRuleNodesPerChain, chain.nodes.length)) {
    throw new InvalidRuleChainError(
      `Rule chain "${chain.name}" has ${chain.nodes.length} nodes: this tenant's limit is ${limits.maxRuleNodesPerChain} nodes per rule chain (maxRuleNodesPerChain)`,
      { field: 'metadata.nodes', limit: 'maxRuleNodesPerChain' },
    );
  }
  for (const n of chain.nodes) {
    const problem = n.def.checkLimits?.(n.config as never, limits);
    if (!problem) continue;
    throw new InvalidRuleChainError(`Invalid configuration of node ${n.index} "${n.name || n.def.type}": ${problem.field}: ${problem.message}`, {
      nodeIndex: n.index,
      nodeName: n.name,
      field: problem.field,
    });
  }
}

/** What a chain must pass for its tenant, on save and on load: the capabilities its nodes need, its limits, then the entities it names. */
export async function checkChainForTenant(chain: ValidatedChain, services: RuleNodeServices): Promise<void> {
  checkChainCapabilities(chain, services);
  const limits = services.limits?.();
  if (limits) checkChainLimits(chain, limits);
  await checkChainEntities(chain, services);
}

const CAPABILITY_NAMES: Record<NodeCapability, string> = {
  alarms: 'alarm storage',
  devices: 'device lookups',
  deviceProfiles: 'device profiles',
  ruleChains: 'nested rule chains',
  kafka: 'Kafka producers',
  rpc: 'device RPC',
  outbound: 'outbound calls',
};

/**
 * Refuses a chain with a node that needs a capability these services lack (the Kafka node on a
 * deployment without Kafka producers): the error names the node and the capability, when the chain
 * is saved or loaded, instead of each message failing.
 */
export function checkChainCapabilities(chain: ValidatedChain, services: RuleNodeServices): void {
  for (const n of chain.nodes) {
    for (const cap of n.def.requires ?? []) {
      if (services[cap] !== undefined && services[cap] !== null) continue;
      throw new InvalidRuleChainError(
        `Node ${n.index} "${n.name || n.def.name}" (${n.def.name}) needs ${CAPABILITY_NAMES[cap]}, which this deployment does not provide ('${cap}' capability)`,
        { nodeIndex: n.index, nodeName: n.name, field: 'type', capability: cap },
      );
    }
  }
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
  tenantId: string;
  at: number;
  owned: boolean | Promise<boolean>;
}

export interface OwnershipCache extends EntityOwnership {
  /** Forget what is known of one entity (it was created, deleted or moved). */
  invalidate(tenantId: string, entityId: string): void;
}

/**
 * Ownership answers cached per (tenant, entity): a known answer is returned synchronously. "Owned"
 * is asked again in the background after `ttlMs` (and served meanwhile), "not owned" lives
 * `missTtlMs` (short: a device created a moment later is found); invalidate() drops either at once.
 * Concurrent misses share one lookup.
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
  const clock = options.now;
  // Keyed by entity alone (ids are uuids: one entity, one tenant), the tenant asked about kept in the
  // entry: one lookup of a string whose hash is cached, no key built per call.
  const cache = new Map<string, Entry>();
  return {
    owns(tenantId, entityId) {
      if (entityId === tenantId) return true;
      const hit = cache.get(entityId);
      const t = clock ? clock() : Date.now();
      if (hit !== undefined && hit.tenantId === tenantId) {
        const owned = hit.owned;
        if (typeof owned !== 'boolean' || t - hit.at < (owned ? ttlMs : missTtlMs)) return owned;
        if (owned) {
          // An entity never moves to another tenant (deletion is announced): it stays the tenant's
          // while it is asked again in the background, so the hot path never waits for a refresh.
          hit.at = t;
          options.lookup(tenantId, entityId).then(
            (still) => {
              if (!still && cache.get(entityId) === hit) hit.owned = false;
            },
            () => {},
          );
          return true;
        }
      }
      const pending = options.lookup(tenantId, entityId);
      const entry: Entry = { tenantId, at: t, owned: pending };
      cache.delete(entityId);
      cache.set(entityId, entry);
      if (cache.size > maxEntries) {
        const oldest = cache.keys().next();
        if (!oldest.done) cache.delete(oldest.value);
      }
      pending.then(
        (owned) => {
          if (cache.get(entityId) === entry) entry.owned = owned;
        },
        () => {
          if (cache.get(entityId) === entry) cache.delete(entityId);
        },
      );
      return pending;
    },
    invalidate(_tenantId, entityId) {
      cache.delete(entityId);
    },
  };
}
