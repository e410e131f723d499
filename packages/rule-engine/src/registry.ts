import type { RuleNodeDefinition } from './types';

export interface NodeRegistry {
  /** By our type name or a ThingsBoard class name. */
  get(type: string): RuleNodeDefinition | undefined;
  list(): RuleNodeDefinition[];
}

/** Registration is one entry per node (Node-RED's lesson): pass the definitions in. */
export function createNodeRegistry(defs: ReadonlyArray<RuleNodeDefinition>): NodeRegistry {
  const byType = new Map<string, RuleNodeDefinition>();
  for (const def of defs) {
    for (const name of [def.type, ...(def.aliases ?? [])]) {
      if (byType.has(name)) throw new Error(`Rule node type ${name} is registered twice`);
      byType.set(name, def);
    }
  }
  return {
    get: (type) => byType.get(type),
    list: () => [...defs],
  };
}
