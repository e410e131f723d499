export * from './types';
export * from './outbound';
export { createRecordingOutbound, maskHeaders, maskUrl, type RecordedHttpCall, type RecordedMqttPublish } from './recording-outbound';
export * from './chain-schema';
export { createNodeRegistry, type NodeRegistry } from './registry';
export {
  compileRuleChain,
  validateRuleChain,
  validateMetadata,
  InvalidRuleChainError,
  MAX_HOPS,
  DEFAULT_DEBUG_DURATION_MS,
  debugSettingsOf,
  type ChainOutcome,
  type CompiledChain,
  type DebugSink,
  type NodeDebugSettings,
  type NodeStats,
  type NodeTrace,
  type ValidatedChain,
} from './chain';
export { createBatchedDebugSink, traceToEvents, type BatchedDebugSink, type BatchedDebugSinkOptions, type DebugEvent } from './debug';
export {
  MAX_PAUSE_MS,
  MAX_RETRIES,
  mergeStrategy,
  parseStrategy,
  ProcessingStrategyJson,
  retryPause,
  type ProcessingStrategy,
  type StrategyOverride,
} from './processing-strategy';
export {
  createDryRunServices,
  testRunChain,
  type RecordedLog,
  type RecordedWrite,
  type TestRunInput,
  type TestRunMsg,
  type TestRunResult,
  type TestRunStep,
} from './test-run';
export { createRuleChainService, describeNodeTypes, type NodeTypeDescription, type RuleChainService, type RuleChainServiceOptions } from './rule-chain-service';
export { createRuleChainResolver, type ChainResolver, type RuleChainResolverOptions } from './chain-resolver';
export {
  bindServicesToTenant,
  checkChainCapabilities,
  checkChainEntities,
  checkChainForTenant,
  checkChainLimits,
  createOwnershipCache,
  createTenantServices,
  EntityAccessError,
  type OwnershipCache,
} from './tenant-services';
export { deadLetterTopicOf, isDeadLetter, type DeadLetter, type DeadLetterEntry } from './dead-letter';
export { createDeadLetterStore, messageOf, type DeadLetterStore, type DeadLetterStoreOptions } from './dead-letter-store';
export { createRuleEngine, type MsgChainRouter, type RuleChainSource, type RuleEngine, type RuleEngineOptions, type RuleEngineStats } from './engine';
