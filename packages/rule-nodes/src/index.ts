import type { RuleNodeDefinition } from '@rivulet/rule-engine';
import { logNode } from './nodes/log.node';
import { msgTypeSwitchNode } from './nodes/msg-type-switch.node';
import { saveAttributesNode } from './nodes/save-attributes.node';
import { saveTimeseriesNode } from './nodes/save-timeseries.node';

export { logNode, msgTypeSwitchNode, saveAttributesNode, saveTimeseriesNode };
export { MSG_TYPE_RELATIONS } from './nodes/msg-type-switch.node';
export { pointsOf } from './nodes/save-timeseries.node';
export { defaultRootChain } from './default-chain';

/** Every built-in node; the server registers them all. */
export const builtinNodes: ReadonlyArray<RuleNodeDefinition> = [msgTypeSwitchNode, saveTimeseriesNode, saveAttributesNode, logNode];
