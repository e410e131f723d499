import type { RuleNodeDefinition } from '@rivulet/rule-engine';
// '.js' on these paths: Node treats a bare '*.node' path as a native addon, so tsx would not map it to the .ts file.
import { logNode } from './nodes/log.node.js';
import { msgTypeSwitchNode } from './nodes/msg-type-switch.node.js';
import { saveAttributesNode } from './nodes/save-attributes.node.js';
import { saveTimeseriesNode } from './nodes/save-timeseries.node.js';
import { rpcCallReplyNode } from './nodes/rpc-call-reply.node.js';
import { rpcCallRequestNode } from './nodes/rpc-call-request.node.js';

export { logNode, msgTypeSwitchNode, saveAttributesNode, saveTimeseriesNode };
export { rpcCallReplyNode, rpcCallRequestNode };
export { MSG_TYPE_RELATIONS } from './nodes/msg-type-switch.node.js';
export { pointsOf } from './nodes/save-timeseries.node.js';
export { defaultRootChain } from './default-chain';

/** Every built-in node; the server registers them all. */
export const builtinNodes: ReadonlyArray<RuleNodeDefinition> = [msgTypeSwitchNode, saveTimeseriesNode, saveAttributesNode, logNode, rpcCallReplyNode, rpcCallRequestNode];
