import { defineNode, Relation } from '@rivulet/rule-engine';
import { z } from 'zod';
import { asSwitchRelations, compileNodeScript, msgArgs, msgKey, scriptFields } from '../script/tb-script';

const DEFAULT_SWITCH = `function nextRelation(metadata, msg) {
    return ['one', 'nine'];
}
if (msgType === 'POST_TELEMETRY_REQUEST') {
    return ['two'];
}
return nextRelation(metadata, msg);`;

/** ThingsBoard's `function Switch(msg, metadata, msgType)`: returns the relation names to follow. */
export const scriptSwitchNode = defineNode({
  type: 'rivulet.filter.scriptSwitch',
  aliases: ['org.thingsboard.rule.engine.filter.TbJsSwitchNode'],
  category: 'filter',
  name: 'script switch',
  description: 'Runs a sandboxed script that returns a relation name or an array of them; the message leaves by each.',
  configSchema: z.looseObject(scriptFields(DEFAULT_SWITCH)),
  configVersion: 0,
  relations: [Relation.FAILURE],
  relationsDynamic: true,
  create(config, services) {
    const script = compileNodeScript(services, config, 'switch');
    return {
      async process(msg) {
        const relations = asSwitchRelations(await script.call(msgArgs(msg), msgKey(msg)));
        return [...new Set(relations)].map((relation) => ({ relation, msg }));
      },
      destroy: () => script.destroy(),
    };
  },
});
