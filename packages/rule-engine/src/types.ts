import type { AttributeScope, AttributeWrite, KvValue, Logger, Msg, TsPoint, AttributeKv, TsKv } from '@rivulet/core';
import type { z } from 'zod';

/** Relation names (link labels) shared by many nodes. Node-specific ones live beside their node. */
export const Relation = {
  SUCCESS: 'Success',
  FAILURE: 'Failure',
  TRUE: 'True',
  FALSE: 'False',
  OTHER: 'Other',
} as const;

/** Where a message leaves a node: the chain decides which nodes that relation leads to. */
export interface Route {
  readonly relation: string;
  readonly msg: Msg;
}

export type NodeCategory = 'filter' | 'enrichment' | 'transformation' | 'action' | 'external' | 'flow';

/**
 * The few capabilities a node may use (instead of ThingsBoard's god-object context). Writes are
 * batched behind these calls: many concurrent messages share one statement.
 */
export interface RuleNodeServices {
  readonly logger: Logger;
  readonly timeseries: {
    save(points: ReadonlyArray<TsPoint>): Promise<void>;
    findLatest(entityId: string, keys?: readonly string[]): Promise<TsKv[]>;
  };
  readonly attributes: {
    save(items: ReadonlyArray<AttributeWrite>): Promise<void>;
    find(entityId: string, scope: AttributeScope, keys?: readonly string[]): Promise<AttributeKv[]>;
    delete(entityId: string, scope: AttributeScope, keys: readonly string[]): Promise<number>;
  };
  /** Current time; injectable for tests. */
  now(): number;
}

/** Per-call context: identifies the node for logs and errors. */
export interface NodeContext {
  readonly chainId: string;
  readonly nodeId: string;
  readonly nodeName: string;
  readonly logger: Logger;
}

export interface RuleNode {
  /**
   * Resolves with the routes the message (or derived messages) leaves by, or throws: a throw is
   * routed as Failure with the error in the metadata. It can neither forget to finish nor finish
   * twice (the Node-RED lesson).
   */
  process(msg: Msg, ctx: NodeContext): Promise<Route[]> | Route[];
  /** Releases timers and handles when the chain is replaced or stopped. */
  destroy?(): void | Promise<void>;
}

export interface RuleNodeDefinition<S extends z.ZodType = z.ZodType> {
  /** Our type name, e.g. "rivulet.filter.msgTypeSwitch". */
  readonly type: string;
  /** ThingsBoard class names this node stands for, so ThingsBoard exports import unchanged. */
  readonly aliases?: readonly string[];
  readonly category: NodeCategory;
  readonly name: string;
  readonly description: string;
  /** One schema drives validation, defaults and (later) the editor's form. */
  readonly configSchema: S;
  /** Version of the configuration shape; `upgrade` brings older saved configurations forward. */
  readonly configVersion: number;
  upgrade?(config: unknown, fromVersion: number): unknown;
  /** Relations the node may emit ("Success", "Failure", "True", ...). Dynamic ones: relationsDynamic. */
  readonly relations: readonly string[];
  /** True when relation names come from the data (e.g. the message type switch). */
  readonly relationsDynamic?: boolean;
  /** Called once per node when a chain is loaded: compile scripts here, not per message. */
  create(config: z.output<S>, services: RuleNodeServices): RuleNode;
}

/** Small helper so each node file reads as one declaration with its config type inferred. */
export function defineNode<S extends z.ZodType>(def: RuleNodeDefinition<S>): RuleNodeDefinition<S> {
  return def;
}

export type { KvValue };
