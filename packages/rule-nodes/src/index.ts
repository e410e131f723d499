import type { JsonObject } from '@rivulet/core';
import type { RuleNodeDefinition } from '@rivulet/rule-engine';
import { compileProfile } from './profile/alarm-rules';
// '.js' on these paths: Node treats a bare '*.node' path as a native addon, so tsx would not map it to the .ts file.
import { logNode } from './nodes/log.node.js';
import { msgTypeSwitchNode } from './nodes/msg-type-switch.node.js';
import { saveAttributesNode } from './nodes/save-attributes.node.js';
import { saveTimeseriesNode } from './nodes/save-timeseries.node.js';
import { rpcCallReplyNode } from './nodes/rpc-call-reply.node.js';
import { rpcCallRequestNode } from './nodes/rpc-call-request.node.js';
// The catalog (issue #5): filter, sampling, enrichment, transformation, action, external, flow.
import { msgTypeFilterNode } from './nodes/msg-type-filter.node.js';
import { scriptFilterNode } from './nodes/script-filter.node.js';
import { scriptSwitchNode } from './nodes/script-switch.node.js';
import { checkFieldsNode } from './nodes/check-fields.node.js';
import { thresholdNode } from './nodes/threshold.node.js';
import { originatorTypeSwitchNode } from './nodes/originator-type-switch.node.js';
import { deviceTypeSwitchNode } from './nodes/device-type-switch.node.js';
import { deduplicationNode } from './nodes/deduplication.node.js';
import { throttleNode } from './nodes/throttle.node.js';
import { everyNthNode } from './nodes/every-nth.node.js';
import { windowAggregationNode } from './nodes/window-aggregation.node.js';
import { deadbandNode } from './nodes/deadband.node.js';
import { originatorAttributesNode } from './nodes/originator-attributes.node.js';
import { originatorFieldsNode } from './nodes/originator-fields.node.js';
import { originatorTelemetryNode } from './nodes/originator-telemetry.node.js';
import { calculateDeltaNode } from './nodes/calculate-delta.node.js';
import { tenantAttributesNode } from './nodes/tenant-attributes.node.js';
import { scriptTransformNode } from './nodes/script-transform.node.js';
import { renameKeysNode } from './nodes/rename-keys.node.js';
import { copyKeysNode } from './nodes/copy-keys.node.js';
import { deleteKeysNode } from './nodes/delete-keys.node.js';
import { splitArrayNode } from './nodes/split-array.node.js';
import { mathNode } from './nodes/math.node.js';
import { deleteAttributesNode } from './nodes/delete-attributes.node.js';
import { createAlarmNode } from './nodes/create-alarm.node.js';
import { clearAlarmNode } from './nodes/clear-alarm.node.js';
import { msgCountNode } from './nodes/msg-count.node.js';
import { generatorNode } from './nodes/generator.node.js';
import { delayNode } from './nodes/delay.node.js';
import { deviceStateNode } from './nodes/device-state.node.js';
import { deviceProfileNode } from './nodes/device-profile.node.js';
import { restApiCallNode } from './nodes/rest-api-call.node.js';
import { mqttPublishNode } from './nodes/mqtt-publish.node.js';
import { kafkaPublishNode } from './nodes/kafka-publish.node.js';
import { ruleChainNode } from './nodes/rule-chain.node.js';
import { outputNode } from './nodes/output.node.js';

// Single nodes are reached through builtinNodes (by type); these few are exported for tests and embedders.
export { logNode, msgTypeSwitchNode, saveAttributesNode, saveTimeseriesNode };
export {
  createScriptSandbox,
  defaultScriptSandbox,
  checkScriptSyntax,
  DEFAULT_STRIKE_POLICY,
  ScriptError,
  type ScriptSandbox,
  type ScriptSandboxOptions,
  type ScriptSandboxStats,
  type StrikePolicy,
} from './script/sandbox';
export { SKIPPED } from './util/sampling';
export { MAX_CHAIN_DEPTH } from './nodes/rule-chain.node.js';
export { MSG_TYPE_RELATIONS } from './nodes/msg-type-switch.node.js';
export { pointsOf } from './nodes/save-timeseries.node.js';
export { defaultRootChain } from './default-chain';
export { AlarmRulesError, compileProfile } from './profile/alarm-rules';

/** Throws an AlarmRulesError (a 400 naming the field) unless the device profile node can evaluate the profile's alarm rules. */
export function checkDeviceProfileAlarms(profile: { name: string; profileData: JsonObject }): void {
  compileProfile({ id: '', ...profile });
}

/** Every built-in node; the server registers them all. */
export const builtinNodes: ReadonlyArray<RuleNodeDefinition> = [
  msgTypeSwitchNode,
  saveTimeseriesNode,
  saveAttributesNode,
  logNode,
  rpcCallReplyNode,
  rpcCallRequestNode,
  msgTypeFilterNode,
  scriptFilterNode,
  scriptSwitchNode,
  checkFieldsNode,
  thresholdNode,
  originatorTypeSwitchNode,
  deviceTypeSwitchNode,
  deduplicationNode,
  throttleNode,
  everyNthNode,
  windowAggregationNode,
  deadbandNode,
  originatorAttributesNode,
  originatorFieldsNode,
  originatorTelemetryNode,
  calculateDeltaNode,
  tenantAttributesNode,
  scriptTransformNode,
  renameKeysNode,
  copyKeysNode,
  deleteKeysNode,
  splitArrayNode,
  mathNode,
  deleteAttributesNode,
  createAlarmNode,
  clearAlarmNode,
  msgCountNode,
  generatorNode,
  delayNode,
  deviceStateNode,
  deviceProfileNode,
  restApiCallNode,
  mqttPublishNode,
  kafkaPublishNode,
  ruleChainNode,
  outputNode,
];
