import { ErrorCode, RivuletError, errorMessage, withMsg, type Logger, type Msg } from '@rivulet/core';
import { RuleChainJson, type DebugSettingsJson, type RuleChainMetadataJson } from './chain-schema';
import { parseStrategy, type StrategyOverride } from './processing-strategy';
import type { NodeRegistry } from './registry';
import { Relation, type NodeContext, type NodeFault, type Route, type RuleNode, type RuleNodeDefinition, type RuleNodeServices } from './types';

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
  /** Messages that counted as strikes against the node (its script hit the time limit or crashed the sandbox). */
  strikes: number;
  /** Messages the node refused while it was disabled (too many strikes). */
  disabledRefusals: number;
  /** While the node is disabled, until when (ms); 0 when it runs. */
  disabledUntil: number;
}

/** How long "debug all" lasts when switched on without an end (ThingsBoard's 15 minutes). */
export const DEFAULT_DEBUG_DURATION_MS = 15 * 60_000;

/** A node's debug settings (ThingsBoard's debugSettings): failures always, all traffic until a time. */
export interface NodeDebugSettings {
  failuresEnabled: boolean;
  /** All traffic for DEFAULT_DEBUG_DURATION_MS (or the compile option) from when the chain loads. */
  allEnabled: boolean;
  /** All traffic until this time (ms); 0 when off. */
  allEnabledUntil: number;
}

/**
 * What one node did with one message: the input, each route it left by (with the nodes the route
 * leads to), the error if it failed, and the time process() took. Debug events and test runs are
 * both built from these.
 */
export interface NodeTrace {
  readonly chainId: string;
  readonly nodeIndex: number;
  readonly nodeName: string;
  readonly nodeType: string;
  /** Order in which visits started within this compiled chain (test runs sort by it). */
  readonly seq: number;
  readonly startTs: number;
  readonly msgIn: Msg;
  readonly routes: ReadonlyArray<{ relation: string; msg: Msg; targets: readonly number[] }>;
  readonly error: string | null;
  readonly durationMs: number;
}

/**
 * Receives traces of nodes in debug mode and of failures. Called on the hot path: it must only
 * buffer (see createBatchedDebugSink), never wait for storage.
 */
export interface DebugSink {
  record(trace: NodeTrace): void;
}

export interface ChainOutcome {
  ok: boolean;
  /** Why the message failed: a Failure route with no link, or a loop. */
  error?: string;
  /** Routes that left the chain by output nodes (for the rule chain node that called it). */
  outputs?: Route[];
}

export interface CompiledChain {
  readonly id: string;
  readonly name: string;
  /** Never rejects: an error anywhere is the outcome's error. */
  run(msg: Msg): Promise<ChainOutcome>;
  stats(): NodeStats[];
  /** The chain's own processing strategy (ruleChain.configuration.processingStrategy), if any. */
  readonly strategy: StrategyOverride | undefined;
  /** Changes a node's debug settings in place (no reload: node state and counters stay). False: no such node. */
  setNodeDebug(nodeIndex: number, settings: Partial<NodeDebugSettings>): boolean;
  destroy(): Promise<void>;
}

interface CompiledNode {
  index: number;
  def: RuleNodeDefinition;
  instance: RuleNode;
  ctx: NodeContext;
  links: Map<string, number[]>;
  stats: NodeStats;
  /** Debug traffic is recorded while now < debugUntil; failures while debugFailures. */
  debugUntil: number;
  debugFailures: boolean;
}

interface ValidatedNode {
  index: number;
  name: string;
  def: RuleNodeDefinition;
  config: unknown;
  debug: NodeDebugSettings;
}

export interface ValidatedChain {
  name: string;
  firstNodeIndex: number | null;
  nodes: ValidatedNode[];
  links: Array<Map<string, number[]>>;
  strategy?: StrategyOverride | undefined;
}

/** ThingsBoard's debugSettings, or its older debugMode flag (all traffic, for the default duration). */
export function debugSettingsOf(node: { debugMode?: boolean | undefined; debugSettings?: DebugSettingsJson | null | undefined }): NodeDebugSettings {
  const s = node.debugSettings;
  if (s) return { failuresEnabled: s.failuresEnabled ?? true, allEnabled: s.allEnabled ?? false, allEnabledUntil: s.allEnabledUntil ?? 0 };
  return { failuresEnabled: true, allEnabled: node.debugMode === true, allEnabledUntil: 0 };
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
  const strategy = parseStrategy(parsed.data.ruleChain.configuration);
  if (!strategy.ok) {
    throw new InvalidRuleChainError(`Invalid rule chain: ${strategy.field}: ${strategy.message}`, { field: strategy.field });
  }
  return { ...validateMetadata(parsed.data.ruleChain.name, parsed.data.metadata, registry), strategy: strategy.override };
}

export function validateMetadata(name: string, metadata: RuleChainMetadataJson, registry: NodeRegistry): ValidatedChain {
  const nodes: ValidatedNode[] = [];
  // Unknown types first and all of them: an import learns every node it lacks at once, not only
  // what the first bad configuration would have said.
  const unknown: string[] = [];
  metadata.nodes.forEach((n, i) => {
    if (!registry.get(n.type)) unknown.push(`${nodeLabel(i, n.name, n.type)}: unknown node type ${n.type}`);
  });
  metadata.nodes.forEach((n, i) => {
    const def = registry.get(n.type);
    if (!def || unknown.length > 0) return;
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
    nodes.push({ index: i, name: n.name, def, config: cfg.data, debug: debugSettingsOf(n) });
  });
  if (unknown.length > 0) {
    const unknownTypes = [...new Set(metadata.nodes.filter((n) => !registry.get(n.type)).map((n) => n.type))];
    throw new InvalidRuleChainError(`Rule chain "${name}" uses node types Rivulet does not implement: ${unknown.join('; ')}`, { unknown, unknownTypes });
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

const OK: ChainOutcome = Object.freeze({ ok: true });

/** What a visit decided about tracing before its node ran (only when the chain has a sink). */
interface VisitInfo {
  seq: number;
  startTs: number;
  traced: boolean;
}

/** run() never rejects: whatever goes wrong is the message's failure. */
function failedOutcome(e: unknown): ChainOutcome {
  return { ok: false, error: errorMessage(e) };
}

function outcomeOf(error: string | undefined, outputs: Route[]): ChainOutcome {
  if (error !== undefined) return { ok: false, error };
  return outputs.length > 0 ? { ok: true, outputs } : OK;
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
  /** Where traces of nodes in debug mode and of failures go. None: nothing is traced. */
  debugSink?: DebugSink;
  /** Trace every node visit regardless of its settings (test runs). */
  traceAll?: boolean;
  /** How long `allEnabled` lasts from load; default DEFAULT_DEBUG_DURATION_MS. */
  debugDurationMs?: number;
  now?: () => number;
  /** The tenant the chain runs for (nodes that make messages of their own need it). */
  tenantId?: string;
  /** Call the nodes' start() (generators begin); default true. False for validation and test runs. */
  startNodes?: boolean;
}): CompiledChain {
  const { id, chain, services, logger } = options;
  const sink = options.debugSink;
  const traceAll = options.traceAll === true;
  const now = options.now ?? Date.now;
  const debugDurationMs = options.debugDurationMs ?? DEFAULT_DEBUG_DURATION_MS;
  const untilOf = (d: Partial<NodeDebugSettings>, from: number): number =>
    Math.max(d.allEnabledUntil ?? 0, d.allEnabled ? from + debugDurationMs : 0);
  let seq = 0;
  const loadedAt = now();
  const nodes: CompiledNode[] = [];
  // The node being created, so a failure (a script that does not compile) names it like validation does.
  let creating: { index: number; name: string; type: string } | undefined;
  try {
    for (const n of chain.nodes) {
      creating = { index: n.index, name: n.name, type: n.def.type };
      const nodeId = `${id}:${n.index}`;
      const ctx: NodeContext = {
        chainId: id,
        nodeId,
        nodeName: n.name,
        logger: logger.child({ chainId: id, nodeId, nodeName: n.name }),
        tenantId: options.tenantId,
        emit: (routes) => emitFrom(n.index, routes),
      };
      nodes[n.index] = {
        index: n.index,
        def: n.def,
        instance: n.def.create(n.config, services),
        ctx,
        links: chain.links[n.index] ?? new Map(),
        stats: { nodeIndex: n.index, name: n.name, type: n.def.type, in: 0, out: {}, errors: 0, timeMs: 0, strikes: 0, disabledRefusals: 0, disabledUntil: 0 },
        debugUntil: untilOf(n.debug, loadedAt),
        debugFailures: n.debug.failuresEnabled,
      };
    }
  } catch (e) {
    for (const n of nodes) void Promise.resolve(n?.instance.destroy?.()).catch(() => {});
    const where = creating ? `${nodeLabel(creating.index, creating.name, creating.type)}: ` : '';
    throw new InvalidRuleChainError(`Rule chain "${chain.name}" failed to start: ${where}${errorMessage(e)}`, creating ? { nodeIndex: creating.index, nodeName: creating.name } : undefined);
  }
  let destroyed = false;
  if (options.startNodes !== false) {
    for (const n of nodes) {
      if (!n?.instance.start) continue;
      try {
        n.instance.start(n.ctx);
      } catch (e) {
        n.ctx.logger.error({ err: errorMessage(e) }, 'rule node failed to start');
      }
    }
  }

  const failRoute = (msg: Msg, e: unknown): Route[] => [
    { relation: Relation.FAILURE, msg: withMsg(msg, { metadata: { ...msg.metadata, error: errorMessage(e) } }) },
  ];

  /**
   * Runs one node and follows its routes. Synchronous as long as the nodes are (a switch, a filter):
   * a promise only where a node returns one, so a message costs no promise per synchronous hop.
   */
  function visit(index: number, msg: Msg, hops: number, out: Route[] | undefined): string | undefined | Promise<string | undefined> {
    if (hops > MAX_HOPS) return `Message passed ${MAX_HOPS} nodes: the chain loops`;
    const node = nodes[index]!;
    node.stats.in++;
    // Decided once per visit, before the node runs: cheap when nothing is traced (no sink).
    const startTs = sink ? now() : 0;
    const info: VisitInfo | undefined = sink ? { seq: seq++, startTs, traced: traceAll || startTs < node.debugUntil } : undefined;
    const t0 = performance.now();
    let r: Route[] | Promise<Route[]>;
    try {
      r = node.instance.process(msg, node.ctx);
    } catch (e) {
      noteFault(node, e);
      return settled(node, index, msg, hops, out, failRoute(msg, e), errorMessage(e), t0, info);
    }
    if (!isPromiseLike<Route[]>(r)) return settled(node, index, msg, hops, out, r, undefined, t0, info);
    return Promise.resolve(r).then(
      (routes) => settled(node, index, msg, hops, out, routes, undefined, t0, info),
      (e: unknown) => {
        noteFault(node, e);
        return settled(node, index, msg, hops, out, failRoute(msg, e), errorMessage(e), t0, info);
      },
    );
  }

  /**
   * A node's error that says what it did to the node (NodeFault, from the script sandbox): counted,
   * and the moment the node becomes disabled is logged once (the messages it then refuses are
   * failures in its debug events, and counted).
   */
  function noteFault(node: CompiledNode, e: unknown): void {
    if (typeof e !== 'object' || e === null) return;
    const f = e as NodeFault;
    if (f.nodeFault === 'strike') node.stats.strikes++;
    else if (f.nodeFault === 'disabled') node.stats.disabledRefusals++;
    const until = f.disabledUntil;
    if (typeof until !== 'number' || until <= node.stats.disabledUntil) return;
    const wasRunning = node.stats.disabledUntil <= now();
    node.stats.disabledUntil = until;
    if (wasRunning) {
      node.ctx.logger.warn({ tenantId: options.tenantId, until: new Date(until).toISOString(), error: errorMessage(e) }, 'rule node disabled');
    }
  }

  /** After a node ran: its counters and trace, then its routes followed. */
  function settled(
    node: CompiledNode,
    index: number,
    msg: Msg,
    hops: number,
    out: Route[] | undefined,
    routes: Route[],
    thrown: string | undefined,
    t0: number,
    info: VisitInfo | undefined,
  ): string | undefined | Promise<string | undefined> {
    const stats = node.stats;
    const durationMs = performance.now() - t0;
    stats.timeMs += durationMs;
    if (thrown !== undefined) stats.errors++;
    if (info) trace(node, index, msg, routes, thrown, durationMs, info);
    return follow(index, routes, hops, out);
  }

  function trace(node: CompiledNode, index: number, msg: Msg, routes: Route[], thrown: string | undefined, durationMs: number, info: VisitInfo): void {
    if (!sink) return;
    const { traced, seq: visitSeq, startTs } = info;
    const failure = thrown ?? routes.find((r) => r.relation === Relation.FAILURE)?.msg.metadata.error ?? (routes.some((r) => r.relation === Relation.FAILURE) ? 'Failure' : undefined);
    if (!traced && !(failure !== undefined && node.debugFailures)) return;
    try {
      sink.record({
        chainId: id,
        nodeIndex: index,
        nodeName: node.ctx.nodeName,
        nodeType: node.def.type,
        seq: visitSeq,
        startTs,
        msgIn: msg,
        routes: routes.map((r) => ({ relation: r.relation, msg: r.msg, targets: node.links.get(r.relation) ?? [] })),
        error: failure ?? null,
        durationMs,
      });
    } catch (e) {
      // Debugging must never change what happens to the message.
      node.ctx.logger.warn({ err: errorMessage(e) }, 'debug sink failed');
    }
  }

  /**
   * Sends a node's routes on by its links; the first error of any branch comes back. Output-node
   * routes are collected in `out` instead. Synchronous when no link is followed.
   */
  function follow(index: number, routes: readonly Route[], hops: number, out: Route[] | undefined): string | undefined | Promise<string | undefined> {
    const node = nodes[index]!;
    const stats = node.stats;
    let error: string | undefined;
    let branches: Array<string | undefined | Promise<string | undefined>> | undefined;
    for (const route of routes) {
      stats.out[route.relation] = (stats.out[route.relation] ?? 0) + 1;
      if (route.chainOutput) {
        out?.push(route);
        continue;
      }
      const targets = node.links.get(route.relation);
      if (!targets) {
        if (route.relation === Relation.FAILURE) {
          error ??= `${nodeLabel(index, node.ctx.nodeName, node.def.type)} failed: ${route.msg.metadata.error ?? 'Failure'}`;
        }
        continue;
      }
      for (const t of targets) (branches ??= []).push(visit(t, route.msg, hops + 1, out));
    }
    if (!branches) return error;
    if (branches.length === 1 && error === undefined) return branches[0];
    return Promise.all(branches).then((results) => {
      for (const r of results) if (r !== undefined) error ??= r;
      return error;
    });
  }

  /** ctx.emit: routes a node gives after process() returned, followed like returned ones. */
  async function emitFrom(index: number, routes: readonly Route[]): Promise<ChainOutcome> {
    if (destroyed) return { ok: false, error: `Rule chain "${chain.name}" was stopped` };
    let error: string | undefined;
    try {
      const next = follow(index, routes, 0, undefined);
      error = typeof next === 'object' ? await next : next;
    } catch (e) {
      error = errorMessage(e);
    }
    if (error === undefined) return { ok: true };
    nodes[index]?.ctx.logger.warn({ error }, 'message sent on later by the node failed');
    return { ok: false, error };
  }

  return {
    id,
    name: chain.name,
    run(msg) {
      if (chain.firstNodeIndex === null) return Promise.resolve(OK);
      const outputs: Route[] = [];
      let error: string | undefined | Promise<string | undefined>;
      try {
        error = visit(chain.firstNodeIndex, msg, 0, outputs);
      } catch (e) {
        return Promise.resolve(failedOutcome(e));
      }
      if (typeof error === 'object') return error.then((e) => outcomeOf(e, outputs), failedOutcome);
      return Promise.resolve(outcomeOf(error, outputs));
    },
    stats: () => {
      const t = now();
      return nodes.filter(Boolean).map((n) => ({ ...n.stats, out: { ...n.stats.out }, disabledUntil: n.stats.disabledUntil > t ? n.stats.disabledUntil : 0 }));
    },
    strategy: chain.strategy,
    setNodeDebug(nodeIndex, settings) {
      const node = nodes[nodeIndex];
      if (!node) return false;
      if (settings.failuresEnabled !== undefined) node.debugFailures = settings.failuresEnabled;
      if (settings.allEnabled !== undefined || settings.allEnabledUntil !== undefined) node.debugUntil = untilOf(settings, now());
      return true;
    },
    async destroy() {
      destroyed = true;
      await Promise.allSettled(nodes.filter(Boolean).map((n) => n.instance.destroy?.()));
    },
  };
}
