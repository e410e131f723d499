import { createMsg, type EntityId, type JsonValue, type Msg } from '@rivulet/core';
import type { RuleNode, RuleNodeDefinition, RuleNodeServices, Route } from '@rivulet/rule-engine';
import { createRecordingServices, testNodeContext, type TestNodeContext } from '@rivulet/rule-engine/testing';

/** Shared by the node tests: a device, messages from it, and a node built from a partial configuration. */
export const DEVICE: EntityId = { entityType: 'DEVICE', id: '7d6c1e2a-0000-4000-8000-000000000001' };
export const DEVICE2: EntityId = { entityType: 'DEVICE', id: '7d6c1e2a-0000-4000-8000-000000000002' };
export const TENANT = 't1';

export function tmsg(type: string, data: JsonValue, metadata: Record<string, string> = {}, originator: EntityId = DEVICE): Msg {
  return createMsg({ type, originator, tenantId: TENANT, data, metadata, ts: 1000 });
}

export const telemetry = (data: JsonValue, metadata: Record<string, string> = {}, originator: EntityId = DEVICE) =>
  tmsg('POST_TELEMETRY_REQUEST', data, metadata, originator);

export function build<D extends RuleNodeDefinition>(def: D, config: Record<string, unknown> = {}, services: RuleNodeServices = createRecordingServices()): RuleNode {
  return def.create(def.configSchema.parse(config), services);
}

export async function run(node: RuleNode, msg: Msg, ctx: TestNodeContext = testNodeContext()): Promise<Route[]> {
  return node.process(msg, ctx);
}

export const relationsOf = (routes: readonly Route[]) => routes.map((r) => r.relation);
