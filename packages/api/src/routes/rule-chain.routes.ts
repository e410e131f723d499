import { createHash } from 'node:crypto';
import { LiveChannel } from '@rivulet/broadcast';
import {
  DebugEventListQuerySchema,
  ErrorCodes,
  DebugEventPageSchema,
  DebugSettingsSchema,
  idParams,
  NodeTypeSchema,
  RuleChainListQuerySchema,
  RuleChainMetadataSchema,
  RuleChainPageSchema,
  RuleChainSchema,
  RuleChainStatsSchema,
  RuleNodeParamsSchema,
  TestRunResultSchema,
  NodeDebugRequestSchema,
  RuleChainExportSchema,
  RuleChainMetadataSaveRequestSchema,
  RuleChainSaveRequestSchema,
  TestRunRequestSchema,
  type DebugEventDto,
  type DebugSettings,
  type RuleChainDto,
  type RuleChainMetadataDto,
} from '@rivulet/api-types';
import { ErrorCode, newId, RivuletError, TenantLimitError, type JsonValue, type RuleChainEvent } from '@rivulet/core';
import type { DebugEventRecord, RuleChainRecord, RuleChainSave } from '@rivulet/storage';
import { ApiError, badParam, notFound } from '../api-error';
import { authed, TENANT_ADMIN_ONLY, type ApiDeps } from '../context';
import { pageParams, enumParam, parseBody, parseId } from '../params';
import { ok, type RouteDef, type RouteDoc } from '../router';
import { z } from 'zod';
import type { RuleChainsPort } from '../rule-chains-port';

/** ThingsBoard's message, word for word. */
export const ROOT_CHAIN_DELETE_PROHIBITED = 'Deletion of Root Tenant Rule Chain is prohibited!';
/** ThingsBoard's default "debug for" duration, and the longest Rivulet allows in one go. */
export const DEFAULT_DEBUG_MINUTES = 15;

const SORT_PROPERTIES = ['name', 'root', 'createdTime', 'updatedTime'] as const;

/** A node as stored: ThingsBoard's RuleNode without the fields that are implied (chain id). */
type StoredNode = Record<string, JsonValue> & { id?: { entityType: 'RULE_NODE'; id: string }; type: string; name: string };
interface StoredMetadata {
  firstNodeIndex: number | null;
  nodes: StoredNode[];
  connections: Array<{ fromIndex: number; toIndex: number; type: string }>;
}

function storedMetadata(rec: RuleChainRecord): StoredMetadata {
  const m = (rec.metadata ?? {}) as Partial<StoredMetadata>;
  const nodes = Array.isArray(m.nodes) ? m.nodes : [];
  return {
    firstNodeIndex: typeof m.firstNodeIndex === 'number' ? m.firstNodeIndex : nodes.length > 0 ? 0 : null,
    nodes,
    connections: Array.isArray(m.connections) ? m.connections : [],
  };
}

/**
 * A node's id. Nodes saved through this API get a random one; nodes stored without one (the
 * default chain written at first start) get one derived from chain and index, stable across reads.
 */
function nodeIdOf(chainId: string, index: number, node: StoredNode): string {
  if (node.id && typeof node.id.id === 'string') return node.id.id;
  const h = createHash('sha1').update(`${chainId}:${index}`).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-5${h.slice(13, 16)}-${((parseInt(h.slice(16, 17), 16) & 0x3) | 0x8).toString(16)}${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

export function toRuleChainDto(rec: RuleChainRecord): RuleChainDto {
  const m = storedMetadata(rec);
  const first = m.firstNodeIndex === null ? undefined : m.nodes[m.firstNodeIndex];
  return {
    id: { entityType: 'RULE_CHAIN', id: rec.id },
    createdTime: rec.createdTime,
    tenantId: { entityType: 'TENANT', id: rec.tenantId },
    name: rec.name,
    type: 'CORE',
    firstRuleNodeId: first && m.firstNodeIndex !== null ? { entityType: 'RULE_NODE', id: nodeIdOf(rec.id, m.firstNodeIndex, first) } : null,
    root: rec.root,
    debugMode: rec.debugMode,
    configuration: rec.configuration ?? null,
    additionalInfo: rec.additionalInfo ?? null,
    version: rec.version,
  };
}

export function toMetadataDto(rec: RuleChainRecord): RuleChainMetadataDto {
  const m = storedMetadata(rec);
  const ruleChainId = { entityType: 'RULE_CHAIN' as const, id: rec.id };
  return {
    ruleChainId,
    version: rec.version,
    firstNodeIndex: m.firstNodeIndex,
    nodes: m.nodes.map((n, i) => ({ ...n, id: { entityType: 'RULE_NODE' as const, id: nodeIdOf(rec.id, i, n) }, ruleChainId })),
    connections: m.connections,
    ruleChainConnections: null,
  };
}

/**
 * ThingsBoard's export of one chain ({ruleChain, metadata}, ids left out as ThingsBoard does), which
 * is also what the rule engine and the validator read.
 */
export function toRuleChainExport(rec: RuleChainRecord) {
  const m = storedMetadata(rec);
  return {
    ruleChain: {
      additionalInfo: rec.additionalInfo ?? null,
      name: rec.name,
      type: 'CORE' as const,
      firstRuleNodeId: null,
      root: rec.root,
      debugMode: rec.debugMode,
      configuration: rec.configuration ?? null,
    },
    metadata: {
      firstNodeIndex: m.firstNodeIndex,
      nodes: m.nodes.map(({ id: _id, ...rest }) => rest),
      connections: m.connections,
      ruleChainConnections: null,
    },
  };
}

/** Nodes as they will be stored: each keeps its id or gets one; implied fields dropped. */
function normalizeNodes(nodes: ReadonlyArray<Record<string, unknown>>, keepIds: boolean): StoredNode[] {
  return nodes.map((n) => {
    const { id, ruleChainId: _chain, createdTime: _created, externalId: _ext, ...rest } = n;
    const given = keepIds && typeof id === 'object' && id !== null && typeof (id as { id?: unknown }).id === 'string' ? (id as { id: string }).id : undefined;
    return { ...(rest as Record<string, JsonValue>), id: { entityType: 'RULE_NODE', id: given ?? newId() } } as StoredNode;
  });
}

/** ThingsBoard's message for a save with a stale version (EntityVersionMismatchException), 409. */
export const RULE_CHAIN_VERSION_MISMATCH = 'Rule chain was already changed by someone else (version mismatch): reload it, or save again to overwrite';

/** Saves with the optimistic lock: a stale `expectedVersion` is 409 with ThingsBoard's VERSION_CONFLICT code. */
async function saveChecked(storage: ApiDeps['storage'], rec: RuleChainSave): Promise<RuleChainRecord> {
  const current = rec.expectedVersion === undefined ? undefined : await storage.ruleChains.get(rec.tenantId, rec.id);
  if (current && current.version !== rec.expectedVersion) throw versionMismatch();
  try {
    return await storage.ruleChains.save(rec);
  } catch (e) {
    // Another save won between the read above and this one.
    if (e instanceof RivuletError && e.code === ErrorCode.CONFLICT && /version mismatch/.test(e.message)) throw versionMismatch();
    throw e;
  }
}

function versionMismatch(): ApiError {
  return new ApiError(ErrorCode.CONFLICT, ErrorCodes.VERSION_CONFLICT, RULE_CHAIN_VERSION_MISMATCH);
}

function noRuleChainConnections(list: unknown[] | null | undefined): void {
  if (list && list.length > 0) {
    throw badParam('ruleChainConnections (links to other chains, ThingsBoard before 3.0) are not supported: use a rule chain node instead');
  }
}

function port(deps: ApiDeps): RuleChainsPort {
  if (!deps.ruleChains) throw new RivuletError(ErrorCode.UNAVAILABLE, 'The rule engine service is not available in this process');
  return deps.ruleChains;
}

function toDebugEventDto(e: DebugEventRecord, nodeId: string): DebugEventDto {
  return {
    id: { id: e.id ?? '' },
    createdTime: e.ts,
    tenantId: { entityType: 'TENANT', id: e.tenantId },
    entityId: { entityType: 'RULE_NODE', id: nodeId },
    type: 'DEBUG_RULE_NODE',
    body: {
      type: e.direction,
      entityType: e.originatorType,
      entityId: e.originatorId,
      msgId: e.msgId,
      msgType: e.msgType,
      relationType: e.relation,
      dataType: 'JSON',
      data: JSON.stringify(e.data),
      metadata: JSON.stringify(e.metadata),
      error: e.error,
      nodeIndex: e.nodeIndex,
      nodeName: e.nodeName,
      durationMs: e.durationMs,
    },
  };
}


export function ruleChainRoutes(deps: ApiDeps): RouteDef[] {
  const { storage, broadcast, tokens } = deps;

  function publish(event: RuleChainEvent): void {
    broadcast.publish(LiveChannel.RULE_CHAINS, event);
  }

  async function chainOf(tenantId: string, rawId: string | undefined): Promise<RuleChainRecord> {
    const id = parseId(rawId, 'ruleChainId');
    const rec = await storage.ruleChains.get(tenantId, id);
    if (!rec) throw notFound(`Rule chain ${id} not found`);
    return rec;
  }

  /**
   * Refuses one more chain than the tenant's maxRuleChains with 403, errorCode 41 (ThingsBoard's EntitiesLimitException, as for maxDevices).
   * Two creates at the same moment may both pass: the limit is a guard against runaway use, not a quota ledger.
   */
  async function checkChainCount(tenantId: string): Promise<void> {
    const max = deps.ruleChains?.maxRuleChains?.(tenantId) ?? 0;
    if (max <= 0) return;
    const { totalElements } = await storage.ruleChains.list(tenantId, { page: 0, pageSize: 1 });
    if (totalElements >= max) throw new TenantLimitError('maxRuleChains', max, `Can't create more than ${max} rule chains: this tenant's limit (maxRuleChains) is reached`);
  }

  function nodeIndexOf(rec: RuleChainRecord, raw: string | undefined): number {
    const n = Number(raw);
    const count = storedMetadata(rec).nodes.length;
    if (raw === undefined || !/^\d+$/.test(raw) || !Number.isSafeInteger(n)) throw badParam(`Incorrect nodeIndex '${raw ?? ''}': not a node index`);
    if (n >= count) throw notFound(`Rule chain ${rec.id} has no node ${n} (it has ${count})`);
    return n;
  }

  const route = (method: RouteDef['method'], path: string, doc: RouteDoc, handler: Parameters<typeof authed>[1]): RouteDef => ({
    method,
    path,
    tag: 'Rule chain',
    ...doc,
    handler: authed(tokens, handler, TENANT_ADMIN_ONLY),
  });

  return [
    route('POST', '/api/ruleChain', { summary: 'Create an empty rule chain, or rename one (body with id)', body: RuleChainSaveRequestSchema, response: RuleChainSchema, createsId: ['ruleChainId'], versioned: true }, async (ctx, user) => {
      const input = parseBody(RuleChainSaveRequestSchema, await ctx.body());
      if (input.type === 'EDGE') throw badParam('Edge rule chains are not supported');
      const existing = input.id ? await chainOf(user.tenantId, input.id.id) : undefined;
      if (!existing) await checkChainCount(user.tenantId);
      const rec = {
        id: existing?.id ?? newId(),
        tenantId: user.tenantId,
        name: input.name,
        root: existing?.root ?? false,
        debugMode: input.debugMode ?? existing?.debugMode ?? false,
        metadata: existing?.metadata ?? { firstNodeIndex: null, nodes: [], connections: [] },
        configuration: input.configuration === undefined ? (existing?.configuration ?? null) : input.configuration,
        additionalInfo: input.additionalInfo === undefined ? (existing?.additionalInfo ?? null) : input.additionalInfo,
        ...(existing ? { createdTime: existing.createdTime } : {}),
        ...(existing && typeof input.version === 'number' ? { expectedVersion: input.version } : {}),
      };
      // The configuration carries the processing strategy: checked as a save of the whole chain would be.
      await port(deps).validate(toRuleChainExport({ ...rec, createdTime: 0, updatedTime: 0, version: 0 }), user.tenantId);
      const saved = await saveChecked(storage, rec);
      if (existing) publish({ tenantId: user.tenantId, chainId: saved.id, kind: 'saved' });
      return ok(toRuleChainDto(saved));
    }),

    route('GET', '/api/ruleChain/{ruleChainId}', { summary: 'A rule chain', params: idParams('ruleChainId'), response: RuleChainSchema }, async (ctx, user) => ok(toRuleChainDto(await chainOf(user.tenantId, ctx.params.ruleChainId)))),

    route('GET', '/api/ruleChains', { summary: "A page of the tenant's rule chains", query: RuleChainListQuerySchema, response: RuleChainPageSchema }, async (ctx, user) => {
      const query = pageParams(ctx.query, SORT_PROPERTIES);
      if (enumParam(ctx.query, 'type', ['CORE', 'EDGE'] as const) === 'EDGE') {
        return ok({ data: [], totalPages: 0, totalElements: 0, hasNext: false });
      }
      const page = await storage.ruleChains.list(user.tenantId, query);
      return ok({ ...page, data: page.data.map(toRuleChainDto) });
    }),

    route('DELETE', '/api/ruleChain/{ruleChainId}', { summary: 'Delete a rule chain (not the root one)', params: idParams('ruleChainId'), response: null }, async (ctx, user) => {
      const rec = await chainOf(user.tenantId, ctx.params.ruleChainId);
      if (rec.root) throw badParam(ROOT_CHAIN_DELETE_PROHIBITED);
      if (!(await storage.ruleChains.delete(user.tenantId, rec.id))) throw notFound(`Rule chain ${rec.id} not found`);
      await storage.debugEvents.deleteByChain(user.tenantId, rec.id);
      // What its nodes kept per device (the rule engine's node ids are "<chain id>:<index>").
      await storage.ruleNodeStates.deleteByNode(user.tenantId, `${rec.id}:`, { prefix: true });
      publish({ tenantId: user.tenantId, chainId: rec.id, kind: 'deleted' });
      return ok();
    }),

    route('GET', '/api/ruleChain/{ruleChainId}/metadata', { summary: "A rule chain's nodes and connections", params: idParams('ruleChainId'), response: RuleChainMetadataSchema }, async (ctx, user) => ok(toMetadataDto(await chainOf(user.tenantId, ctx.params.ruleChainId)))),

    route('POST', '/api/ruleChain/metadata', { summary: "Save a rule chain's nodes and connections (validated: 400 names node and field)", body: RuleChainMetadataSaveRequestSchema, response: RuleChainMetadataSchema, versioned: true }, async (ctx, user) => {
      const input = parseBody(RuleChainMetadataSaveRequestSchema, await ctx.body());
      noRuleChainConnections(input.ruleChainConnections);
      const rec = await chainOf(user.tenantId, input.ruleChainId.id);
      const nodes = normalizeNodes(input.nodes, true);
      const metadata: StoredMetadata = {
        firstNodeIndex: input.firstNodeIndex ?? (nodes.length > 0 ? 0 : null),
        nodes,
        connections: input.connections ?? [],
      };
      const next = { ...rec, metadata: metadata as unknown as JsonValue };
      // A stale editor is told before anything else (its chain may not even validate against the new one).
      if (typeof input.version === 'number' && input.version !== rec.version) throw versionMismatch();
      // Unknown node types, configurations failing a node's schema, dangling links: 400 naming node and field.
      await port(deps).validate(toRuleChainExport(next), user.tenantId);
      const saved = await saveChecked(storage, { ...next, ...(typeof input.version === 'number' ? { expectedVersion: input.version } : {}) });
      // Debug events and rule node state are kept per node index: those of an index now holding another node are stale.
      const before = storedMetadata(rec).nodes;
      for (let i = 0; i < before.length; i++) {
        if (nodeIdOf(rec.id, i, before[i]!) !== nodes[i]?.id?.id) {
          await storage.debugEvents.deleteByChain(user.tenantId, rec.id, i);
          // So is the state the node there kept (ThingsBoard drops a replaced node's state with it).
          await storage.ruleNodeStates.deleteByNode(user.tenantId, `${rec.id}:${i}`);
        }
      }
      publish({ tenantId: user.tenantId, chainId: rec.id, kind: 'saved' });
      return ok(toMetadataDto(saved));
    }),

    route('POST', '/api/ruleChain/{ruleChainId}/root', { summary: 'Make a rule chain the root one', params: idParams('ruleChainId'), body: null, response: RuleChainSchema }, async (ctx, user) => {
      const rec = await chainOf(user.tenantId, ctx.params.ruleChainId);
      await storage.ruleChains.setRoot(user.tenantId, rec.id);
      publish({ tenantId: user.tenantId, chainId: rec.id, kind: 'root' });
      return ok(toRuleChainDto((await storage.ruleChains.get(user.tenantId, rec.id)) ?? { ...rec, root: true }));
    }),

    route('GET', '/api/ruleChain/{ruleChainId}/export', { summary: "A rule chain in ThingsBoard's export format", params: idParams('ruleChainId'), response: RuleChainExportSchema }, async (ctx, user) => ok(toRuleChainExport(await chainOf(user.tenantId, ctx.params.ruleChainId)))),

    route('POST', '/api/ruleChain/import', { summary: "Import a rule chain in ThingsBoard's export format", body: RuleChainExportSchema, response: RuleChainSchema, createsId: ['ruleChainId'] }, async (ctx, user) => {
      const input = parseBody(RuleChainExportSchema, await ctx.body());
      noRuleChainConnections(input.metadata.ruleChainConnections);
      await checkChainCount(user.tenantId);
      const nodes = normalizeNodes(input.metadata.nodes, false);
      const rec = {
        id: newId(),
        tenantId: user.tenantId,
        name: input.ruleChain.name,
        // An import never takes over the root: POST /api/ruleChain/{id}/root does that deliberately.
        root: false,
        debugMode: input.ruleChain.debugMode ?? false,
        metadata: {
          firstNodeIndex: input.metadata.firstNodeIndex ?? (nodes.length > 0 ? 0 : null),
          nodes,
          connections: input.metadata.connections ?? [],
        } as unknown as JsonValue,
        configuration: input.ruleChain.configuration ?? null,
        additionalInfo: input.ruleChain.additionalInfo ?? null,
      };
      // Node types Rivulet does not implement are reported by name (400), never dropped.
      await port(deps).validate(toRuleChainExport({ ...rec, createdTime: 0, updatedTime: 0, version: 0 }), user.tenantId);
      return ok(toRuleChainDto(await storage.ruleChains.save(rec)));
    }),

    route('GET', '/api/ruleChain/nodeTypes', { summary: 'The node types the rule engine runs', response: z.array(NodeTypeSchema) }, async () => ok(port(deps).nodeTypes())),

    route('POST', '/api/ruleChain/testRun', { summary: 'Run a sample message through a chain or one node, storing nothing', body: TestRunRequestSchema, response: TestRunResultSchema }, async (ctx, user) => {
      const input = parseBody(TestRunRequestSchema, await ctx.body());
      let chain = input.chain;
      let chainId: string | undefined;
      if (input.chainId) {
        const rec = await chainOf(user.tenantId, input.chainId.id);
        chain = toRuleChainExport(rec);
        chainId = rec.id;
      }
      const msg = {
        type: input.msg.type,
        data: input.msg.data,
        ...(input.msg.metadata ? { metadata: input.msg.metadata } : {}),
        ...(input.msg.originator ? { originator: { entityType: input.msg.originator.entityType, id: input.msg.originator.id.toLowerCase() } } : {}),
        ...(input.msg.ts !== undefined ? { ts: input.msg.ts } : {}),
      };
      const result = await port(deps).testRun({
        tenantId: user.tenantId,
        chain,
        ...(chainId ? { chainId } : {}),
        ...(input.nodeIndex !== undefined ? { nodeIndex: input.nodeIndex } : {}),
        msg,
      });
      return ok(result);
    }),

    route('GET', '/api/ruleChain/{ruleChainId}/stats', { summary: "Per-node counters of a chain as this process's engine runs it", params: idParams('ruleChainId'), response: RuleChainStatsSchema }, async (ctx, user) => {
      const rec = await chainOf(user.tenantId, ctx.params.ruleChainId);
      const nodes = port(deps).stats(user.tenantId, rec.id);
      return ok({ ruleChainId: { entityType: 'RULE_CHAIN', id: rec.id }, loaded: nodes !== null, nodes: nodes ?? [] });
    }),

    route('GET', '/api/ruleChain/{ruleChainId}/node/{nodeIndex}/debug', { summary: "A page of a node's debug events", params: RuleNodeParamsSchema, query: DebugEventListQuerySchema, response: DebugEventPageSchema }, async (ctx, user) => {
      const rec = await chainOf(user.tenantId, ctx.params.ruleChainId);
      const index = nodeIndexOf(rec, ctx.params.nodeIndex);
      const nodeId = nodeIdOf(rec.id, index, storedMetadata(rec).nodes[index]!);
      const page = await storage.debugEvents.list(user.tenantId, rec.id, index, pageParams(ctx.query, ['ts']));
      return ok({ ...page, data: page.data.map((e) => toDebugEventDto(e, nodeId)) });
    }),

    route('POST', '/api/ruleChain/{ruleChainId}/node/{nodeIndex}/debug', { summary: "Switch a node's debug mode on for some minutes, or off", params: RuleNodeParamsSchema, body: NodeDebugRequestSchema, response: DebugSettingsSchema }, async (ctx, user) => {
      const input = parseBody(NodeDebugRequestSchema, await ctx.body());
      const rec = await chainOf(user.tenantId, ctx.params.ruleChainId);
      const index = nodeIndexOf(rec, ctx.params.nodeIndex);
      const m = storedMetadata(rec);
      const node = m.nodes[index]!;
      const prev = (node.debugSettings ?? {}) as Partial<DebugSettings>;
      const debug: DebugSettings = {
        failuresEnabled: input.failuresEnabled ?? prev.failuresEnabled ?? true,
        allEnabled: false,
        allEnabledUntil: input.enabled ? Date.now() + (input.minutes ?? DEFAULT_DEBUG_MINUTES) * 60_000 : 0,
      };
      // debugSettings supersedes the older debugMode flag, which would otherwise switch debug on at every load.
      const { debugMode: _old, ...rest } = node;
      const nodes = m.nodes.map((n, i) => (i === index ? ({ ...rest, debugSettings: debug } as StoredNode) : n));
      // Not an edit of the chain: the version stays, so an editor open on it can still save.
      await storage.ruleChains.save({ ...rec, metadata: { ...m, nodes } as unknown as JsonValue, keepVersion: true, expectedVersion: rec.version });
      // Applied in place by the engines: no reload, node state and counters stay.
      publish({ tenantId: user.tenantId, chainId: rec.id, kind: 'debug', nodeIndex: index, debug });
      return ok(debug);
    }),
  ];
}
