export * from './types';
export * from './chain-schema';
export { createNodeRegistry, type NodeRegistry } from './registry';
export {
  compileRuleChain,
  validateRuleChain,
  validateMetadata,
  InvalidRuleChainError,
  MAX_HOPS,
  type ChainOutcome,
  type CompiledChain,
  type NodeStats,
  type ValidatedChain,
} from './chain';
export { createRuleEngine, type RuleChainSource, type RuleEngine, type RuleEngineOptions, type RuleEngineStats } from './engine';
