import { ErrorCode, RivuletError, errorMessage, withMsg, type Logger, type Msg } from '@rivulet/core';
import { RuleChainJson, type RuleChainMetadataJson } from './chain-schema';
import type { NodeRegistry } from './registry';
import { Relation, type NodeContext, type Route, type RuleNode, type RuleNodeDefinition, type RuleNodeServices } from './types';

/** Hops one message may take through a chain before it is failed as a loop. */
export const MAX_HOPS = 64;

export class InvalidRuleChainError extends RivuletError {
  constructor(message: string, details?: Record<string, unknown>) {
    super(ErrorCode.INVALID_RULE_CHAIN, message, details ? { details } : undefined);
    this.name = 'InvalidRuleChainError';
  }
}

export interface NodeStats {
  nodeIndex: number;
  name: string;
  type: string;
  in: number;
  out: Record<string, number>;
  errors: number;
  /** Total time spent in process(), ms. */
  timeMs: number;
}

export interface ChainOutcome {
  ok: boolean;
  /** Why the message failed: a Failure route with no link, or a loop. */
  error?: string;
}

export interface CompiledChain {
  readonly id: string;
  readonly name: string;
  run(msg: Msg): Promise<ChainOutcome>;
  stats(): NodeStats[];
  destroy(): Promise<void>;
}

interface CompiledNode {
  index: number;
  def: RuleNodeDefinition;
  instance: RuleNode;
  ctx: NodeContext;
  links: Map<string, number[]>;
  stats: NodeStats;
}

interface ValidatedNode {
  index: number;
  name: string;
  def: RuleNodeDefinition;
  config: unknown;
}

export interface ValidatedChain {
  name: string;
  firstNodeIndex: number | null;
  nodes: ValidatedNode[];
  links: Array<Map<string, number[]>>;
}

function nodeLabel(i: number, name: string, type: string): string {
  return `node ${i} "${name || type}"`;
}

/**
 * Checks a chain before it is saved or run: every node type known, every configuration valid
 * against its node's schema (after upgrades), every link pointing at a node and naming a relation
 * the node emits. The error names the node and the field.
 */
export function validateRuleChain(input: unknown, registry: NodeRegistry): ValidatedChain {
  const parsed = RuleChainJson.safeParse(input);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const where = issue ? issue.path.join('.') : '';
    throw new InvalidRuleChainError(`Invalid rule chain: ${where ? `${where}: ` : ''}${issue?.message ?? 'bad shape'}`, { field: where });
  }
  return validateMetadata(parsed.data.ruleChain.name, parsed.data.metadata, registry);
}

export function validateMetadata(name: string, metadata: RuleChainMetadataJson, registry: NodeRegistry): ValidatedChain {
  const nodes: ValidatedNode[] = [];
  const unknown: string[] = [];
  metadata.nodes.forEach((n, i) => {
    const def = registry.get(n.type);
    if (!def) {
      unknown.push(`${nodeLabel(i, n.name, n.type)}: unknown node type ${n.type}`);
      return;
    }
    const fromVersion = n.configurationVersion ?? def.configVersion;
    let raw: unknown = n.configuration ?? {};
    if (fromVersion < def.configVersion && def.upgrade) raw = def.upgrade(raw, fromVersion);
    const cfg = def.configSchema.safeParse(raw ?? {});
    if (!cfg.success) {
      const issue = cfg.error.issues[0];
      const field = issue ? issue.path.join('.') : '';
      throw new InvalidRuleChainError(
        `Invalid configuration of ${nodeLabel(i, n.name, n.type)}: ${field ? `${field}: ` : ''}${issue?.message ?? 'invalid'}`,
        { nodeIndex: i, nodeName: n.name, field },
      );
    }
    nodes.push({ index: i, name: n.name, def, config: cfg.data });
  });
  if (unknown.length > 0) {
    throw new InvalidRuleChainError(`Rule chain "${name}" uses node types Rivulet does not implement: ${unknown.join('; ')}`, { unknown });
  }
  const count = metadata.nodes.length;
  const first = metadata.firstNodeIndex ?? (count > 0 ? 0 : null);
  if (first !== null && (first < 0 || first >= count)) {
    throw new InvalidRuleChainError(`firstNodeIndex ${first} does not point at a node (the chain has ${count})`, { field: 'firstNodeIndex' });
  }
  const links = nodes.map(() => new Map<string, number[]>());
  (metadata.connections ?? []).forEach((c, ci) => {
    const from = nodes[c.fromIndex];
    if (!from || c.toIndex >= count) {
      throw new InvalidRuleChainError(
        `Connection ${ci} (${c.fromIndex} -> ${c.toIndex}, "${c.type}") points at a node that does not exist (the chain has ${count})`,
        { connectionIndex: ci },
      );
    }
    const def = from.def;
    if (!def.relationsDynamic && c.type !== Relation.FAILURE && !def.relations.includes(c.type)) {
      throw new InvalidRuleChainError(
        `Connection ${ci} leaves ${nodeLabel(c.fromIndex, from.name, def.type)} by "${c.type}", which it never emits (it emits: ${[...def.relations].join(', ')})`,
        { connectionIndex: ci, nodeIndex: c.fromIndex },
      );
    }
    const list = links[c.fromIndex]!.get(c.type);
    if (list) list.push(c.toIndex);
    else links[c.fromIndex]!.set(c.type, [c.toIndex]);
  });
  return { name, firstNodeIndex: first, nodes, links };
}

function isPromiseLike<T>(v: unknown): v is PromiseLike<T> {
  return typeof v === 'object' && v !== null && typeof (v as { then?: unknown }).then === 'function';
}

/**
 * Builds the runnable chain: each node's instance is created once here (scripts compile once),
 * and run() walks the graph by relation:
 * - no link for the relation: that branch is done;
 * - Failure with no link: the message failed;
 * - several links (fan-out): done when every branch is.
 */
export function compileRuleChain(options: {
  id: string;
  chain: ValidatedChain;
  services: RuleNodeServices;
  logger: Logger;
}): CompiledChain {
  const { id, chain, services, logger } = options;
  const nodes: CompiledNode[] = [];
  try {
    for (const n of chain.nodes) {
      const nodeId = `${id}:${n.index}`;
      const ctx: NodeContext = {
        chainId: id,
        nodeId,
        nodeName: n.name,
        logger: logger.child({ chainId: id, nodeId, nodeName: n.name }),
      };
      nodes[n.index] = {
        index: n.index,
        def: n.def,
        instance: n.def.create(n.config, services),
        ctx,
        links: chain.links[n.index] ?? new Map(),
        stats: { nodeIndex: n.index, name: n.name, type: n.def.type, in: 0, out: {}, errors: 0, timeMs: 0 },
      };
    }
  } catch (e) {
    for (const n of nodes) void Promise.resolve(n?.instance.destroy?.()).catch(() => {});
    throw new InvalidRuleChainError(`Rule chain "${chain.name}" failed to start: ${errorMessage(e)}`);
  }

  const failRoute = (msg: Msg, e: unknown): Route[] => [
    { relation: Relation.FAILURE, msg: withMsg(msg, { metadata: { ...msg.metadata, error: errorMessage(e) } }) },
  ];

  async function visit(index: number, msg: Msg, hops: number): Promise<string | undefined> {
    if (hops > MAX_HOPS) return `Message passed ${MAX_HOPS} nodes: the chain loops`;
    const node = nodes[index]!;
    const stats = node.stats;
    stats.in++;
    const t0 = performance.now();
    let routes: Route[];
    try {
      const r = node.instance.process(msg, node.ctx);
      routes = isPromiseLike<Route[]>(r) ? await r : r;
    } catch (e) {
      stats.errors++;
      routes = failRoute(msg, e);
    }
    stats.timeMs += performance.now() - t0;
    let error: string | undefined;
    let branches: Array<Promise<string | undefined>> | undefined;
    for (const route of routes) {
      stats.out[route.relation] = (stats.out[route.relation] ?? 0) + 1;
      const targets = node.links.get(route.relation);
      if (!targets) {
        if (route.relation === Relation.FAILURE) {
          error ??= `${nodeLabel(index, node.ctx.nodeName, node.def.type)} failed: ${route.msg.metadata.error ?? 'Failure'}`;
        }
        continue;
      }
      for (const t of targets) (branches ??= []).push(visit(t, route.msg, hops + 1));
    }
    if (branches) {
      const results = branches.length === 1 ? [await branches[0]] : await Promise.all(branches);
      for (const r of results) if (r !== undefined) error ??= r;
    }
    return error;
  }

  return {
    id,
    name: chain.name,
    async run(msg) {
      if (chain.firstNodeIndex === null) return { ok: true };
      const error = await visit(chain.firstNodeIndex, msg, 0);
      return error === undefined ? { ok: true } : { ok: false, error };
    },
    stats: () => nodes.filter(Boolean).map((n) => ({ ...n.stats, out: { ...n.stats.out } })),
    async destroy() {
      await Promise.allSettled(nodes.filter(Boolean).map((n) => n.instance.destroy?.()));
    },
  };
}
