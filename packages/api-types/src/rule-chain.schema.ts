import { z } from 'zod';
import { IdSchema, JsonSchema, TenantIdSchema, entityIdSchema, pageSchema } from './common.schema';

export const RuleChainIdSchema = entityIdSchema('RULE_CHAIN');
export const RuleNodeIdSchema = entityIdSchema('RULE_NODE');

/** An id as a client sends it back: `{entityType?, id}` or the bare uuid. */
function incomingId<T extends string>(entityType: T) {
  return z.union([z.object({ entityType: z.literal(entityType).optional(), id: IdSchema }), IdSchema.transform((id) => ({ entityType, id }))]);
}

/** ThingsBoard's RuleChain. */
export const RuleChainSchema = z.object({
  id: RuleChainIdSchema,
  createdTime: z.number().int(),
  tenantId: TenantIdSchema,
  name: z.string(),
  type: z.literal('CORE'),
  firstRuleNodeId: RuleNodeIdSchema.nullable(),
  root: z.boolean(),
  debugMode: z.boolean(),
  configuration: JsonSchema.nullable(),
  additionalInfo: JsonSchema.nullable(),
  /** ThingsBoard's optimistic lock: send it back on save; a stale one is 409. */
  version: z.number().int(),
});
export type RuleChainDto = z.infer<typeof RuleChainSchema>;
export const RuleChainPageSchema = pageSchema(RuleChainSchema);

/**
 * `POST /api/ruleChain`: creates an empty chain, or with `id` renames / re-describes one (its nodes
 * are saved with POST /api/ruleChain/metadata). Unknown fields of a chain read earlier are ignored.
 */
export const RuleChainSaveRequestSchema = z.looseObject({
  id: incomingId('RULE_CHAIN').nullish(),
  name: z.string().trim().min(1, 'Rule chain name should be specified').max(255),
  type: z.enum(['CORE', 'EDGE']).nullish(),
  debugMode: z.boolean().nullish(),
  configuration: JsonSchema.nullish(),
  additionalInfo: JsonSchema.nullish(),
  /** The version read: when given and no longer current, 409 (the chain was changed elsewhere). */
  version: z.number().int().nullish(),
});
export type RuleChainSaveRequest = z.input<typeof RuleChainSaveRequestSchema>;

/** ThingsBoard's debugSettings of a node. */
export const DebugSettingsSchema = z.object({
  failuresEnabled: z.boolean(),
  allEnabled: z.boolean(),
  allEnabledUntil: z.number(),
});
export type DebugSettings = z.infer<typeof DebugSettingsSchema>;

/** A node as stored and served: ThingsBoard's RuleNode. Node configuration is checked by the node's own schema on save. */
export const RuleNodeSchema = z.looseObject({
  id: RuleNodeIdSchema.optional(),
  type: z.string().min(1),
  name: z.string(),
  debugMode: z.boolean().optional(),
  debugSettings: DebugSettingsSchema.partial().nullish(),
  configurationVersion: z.number().int().nonnegative().optional(),
  configuration: JsonSchema.optional(),
  additionalInfo: JsonSchema.nullish(),
});

export const NodeConnectionSchema = z.looseObject({
  fromIndex: z.number().int().nonnegative(),
  toIndex: z.number().int().nonnegative(),
  type: z.string().min(1),
});

/** ThingsBoard's RuleChainMetaData (`GET /api/ruleChain/{id}/metadata`). */
export const RuleChainMetadataSchema = z.object({
  ruleChainId: RuleChainIdSchema,
  /** The chain's version (ThingsBoard's RuleChainMetaData.version). */
  version: z.number().int(),
  firstNodeIndex: z.number().int().nullable(),
  nodes: z.array(RuleNodeSchema),
  connections: z.array(NodeConnectionSchema),
  ruleChainConnections: z.null(),
});
export type RuleChainMetadataDto = z.infer<typeof RuleChainMetadataSchema>;

/** `POST /api/ruleChain/metadata`: the nodes and connections of an existing chain, all at once. */
export const RuleChainMetadataSaveRequestSchema = z.looseObject({
  ruleChainId: incomingId('RULE_CHAIN'),
  /** The version read: when given and no longer current, 409 (the chain was changed elsewhere). */
  version: z.number().int().nullish(),
  firstNodeIndex: z.number().int().nullish(),
  nodes: z.array(RuleNodeSchema),
  connections: z.array(NodeConnectionSchema).nullish(),
  ruleChainConnections: z.array(z.unknown()).nullish(),
});

/** ThingsBoard's export (and import) of one chain. */
export const RuleChainExportSchema = z.looseObject({
  ruleChain: z.looseObject({
    name: z.string().trim().min(1, 'Rule chain name should be specified'),
    type: z.string().nullish(),
    root: z.boolean().nullish(),
    debugMode: z.boolean().nullish(),
    configuration: JsonSchema.nullish(),
    additionalInfo: JsonSchema.nullish(),
  }),
  metadata: z.looseObject({
    firstNodeIndex: z.number().int().nullish(),
    nodes: z.array(RuleNodeSchema),
    connections: z.array(NodeConnectionSchema).nullish(),
    ruleChainConnections: z.array(z.unknown()).nullish(),
  }),
});
export type RuleChainExport = z.input<typeof RuleChainExportSchema>;

/** `POST /api/ruleChain/{id}/node/{index}/debug`: all traffic for `minutes` (default 15), or off. */
export const NodeDebugRequestSchema = z.object({
  enabled: z.boolean(),
  minutes: z.number().int().min(1).max(24 * 60).optional(),
  failuresEnabled: z.boolean().optional(),
});

/** ThingsBoard's DEBUG_RULE_NODE event, with data and metadata as JSON text as it sends them. */
export const DebugEventSchema = z.object({
  id: z.object({ id: z.string() }),
  createdTime: z.number(),
  tenantId: TenantIdSchema,
  entityId: z.object({ entityType: z.literal('RULE_NODE'), id: z.string() }),
  type: z.literal('DEBUG_RULE_NODE'),
  body: z.object({
    type: z.enum(['IN', 'OUT']),
    entityType: z.string(),
    entityId: z.string(),
    msgId: z.string(),
    msgType: z.string(),
    relationType: z.string().nullable(),
    dataType: z.literal('JSON'),
    data: z.string(),
    metadata: z.string(),
    error: z.string().nullable(),
    nodeIndex: z.number().int(),
    nodeName: z.string(),
    durationMs: z.number().nullable(),
  }),
});
export type DebugEventDto = z.infer<typeof DebugEventSchema>;
export const DebugEventPageSchema = pageSchema(DebugEventSchema);

/** Per-node counters of a chain as the rule engine runs it. */
export const NodeStatsSchema = z.object({
  nodeIndex: z.number().int(),
  name: z.string(),
  type: z.string(),
  in: z.number(),
  out: z.record(z.string(), z.number()),
  errors: z.number(),
  timeMs: z.number(),
  /** Messages that counted as strikes against the node (its script hit the time limit or crashed the sandbox). */
  strikes: z.number(),
  /** Messages the node refused while disabled (too many strikes in the window). */
  disabledRefusals: z.number(),
  /** While the node is disabled, until when (ms since epoch); 0 when it runs. */
  disabledUntil: z.number(),
});
export type NodeStatsDto = z.infer<typeof NodeStatsSchema>;
export const RuleChainStatsSchema = z.object({
  ruleChainId: RuleChainIdSchema,
  /** False when no rule engine of this process runs the chain (not the root chain, or another process's role). */
  loaded: z.boolean(),
  nodes: z.array(NodeStatsSchema),
});

/** A node type for the editor (`GET /api/ruleChain/nodeTypes`). */
export const NodeTypeSchema = z.object({
  type: z.string(),
  aliases: z.array(z.string()),
  category: z.string(),
  name: z.string(),
  description: z.string(),
  relations: z.array(z.string()),
  relationsDynamic: z.boolean(),
  configVersion: z.number().int(),
  configSchema: z.record(z.string(), z.unknown()),
  defaultConfiguration: z.unknown(),
});
export type NodeTypeDto = z.infer<typeof NodeTypeSchema>;

const TestMsgOriginatorSchema = z.object({ entityType: z.enum(['DEVICE', 'TENANT']), id: IdSchema });

/** `POST /api/ruleChain/testRun`: a chain (ThingsBoard JSON) or a saved chain's id, a sample message, optionally one node. */
export const TestRunRequestSchema = z
  .object({
    chain: z.unknown().optional(),
    chainId: incomingId('RULE_CHAIN').optional(),
    nodeIndex: z.number().int().nonnegative().optional(),
    msg: z.object({
      type: z.string().min(1),
      data: JsonSchema,
      metadata: z.record(z.string(), z.string()).optional(),
      originator: TestMsgOriginatorSchema.optional(),
      ts: z.number().int().optional(),
    }),
  })
  .refine((r) => (r.chain === undefined) !== (r.chainId === undefined), { message: 'Give either chain or chainId', path: ['chain'] });
export type TestRunRequest = z.input<typeof TestRunRequestSchema>;

const TestRunMsgSchema = z.object({
  id: z.string(),
  ts: z.number(),
  type: z.string(),
  originator: z.object({ entityType: z.string(), id: z.string() }),
  metadata: z.record(z.string(), z.string()),
  data: JsonSchema,
});

export const TestRunResultSchema = z.object({
  ok: z.boolean(),
  error: z.string().nullable(),
  timedOut: z.boolean(),
  path: z.array(z.number().int()),
  steps: z.array(
    z.object({
      /** The tested chain, or one it called through a rule chain node. */
      chainId: z.string(),
      nodeIndex: z.number().int(),
      nodeName: z.string(),
      nodeType: z.string(),
      in: TestRunMsgSchema,
      outputs: z.array(z.object({ relation: z.string(), msg: TestRunMsgSchema, targets: z.array(z.number().int()) })),
      error: z.string().nullable(),
      durationMs: z.number(),
    }),
  ),
  /** What the run would have written (recorded, not stored). */
  writes: z.array(z.looseObject({ kind: z.string() })),
  logs: z.array(z.object({ level: z.string(), msg: z.string(), fields: z.record(z.string(), z.unknown()) })),
});
export type TestRunResultDto = z.infer<typeof TestRunResultSchema>;
