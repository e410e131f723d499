import { z } from 'zod';

/**
 * ThingsBoard's rule chain export shape, so its exports import unchanged:
 * {"ruleChain":{"name","root"},"metadata":{"firstNodeIndex","nodes":[..],"connections":[..]}}.
 * Unknown extra fields (ids, additionalInfo, ruleChainConnections) are kept, not rejected.
 */
/**
 * ThingsBoard 3.9+'s per-node debug settings: failures always, everything until a time (its
 * "debug for 15 minutes"). Older exports carry `debugMode: true` instead.
 */
export const DebugSettingsJson = z.looseObject({
  failuresEnabled: z.boolean().optional(),
  allEnabled: z.boolean().optional(),
  allEnabledUntil: z.number().optional(),
});
export type DebugSettingsJson = z.infer<typeof DebugSettingsJson>;

export const RuleNodeJson = z.looseObject({
  type: z.string().min(1),
  name: z.string().default(''),
  debugMode: z.boolean().optional(),
  debugSettings: DebugSettingsJson.nullable().optional(),
  configurationVersion: z.number().int().nonnegative().optional(),
  configuration: z.unknown().optional(),
  additionalInfo: z.unknown().optional(),
});
export type RuleNodeJson = z.infer<typeof RuleNodeJson>;

export const ConnectionJson = z.looseObject({
  fromIndex: z.number().int().nonnegative(),
  toIndex: z.number().int().nonnegative(),
  type: z.string().min(1),
});
export type ConnectionJson = z.infer<typeof ConnectionJson>;

export const RuleChainMetadataJson = z.looseObject({
  firstNodeIndex: z.number().int().nullable().optional(),
  nodes: z.array(RuleNodeJson),
  connections: z.array(ConnectionJson).nullable().optional(),
});
export type RuleChainMetadataJson = z.infer<typeof RuleChainMetadataJson>;

export const RuleChainJson = z.looseObject({
  ruleChain: z.looseObject({
    name: z.string().min(1),
    root: z.boolean().optional(),
    debugMode: z.boolean().optional(),
    /** Rivulet reads `processingStrategy` here (see processing-strategy.ts); ThingsBoard leaves it null. */
    configuration: z.unknown().optional(),
  }),
  metadata: RuleChainMetadataJson,
});
export type RuleChainJson = z.infer<typeof RuleChainJson>;
