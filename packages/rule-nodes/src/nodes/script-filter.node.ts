import { defineNode, Relation } from '@rivulet/rule-engine';
import { z } from 'zod';
import { asFilterResult, compileNodeScript, msgArgs, msgKey, scriptFields } from '../script/tb-script';

/** ThingsBoard's `function Filter(msg, metadata, msgType)`: returns a boolean. */
export const scriptFilterNode = defineNode({
  type: 'rivulet.filter.script',
  aliases: ['org.thingsboard.rule.engine.filter.TbJsFilterNode'],
  category: 'filter',
  name: 'script filter',
  description: 'Runs a sandboxed script (msg, metadata, msgType) that returns a boolean: True or False.',
  configSchema: z.looseObject(scriptFields('return msg.temperature > 20;')),
  configVersion: 0,
  relations: [Relation.TRUE, Relation.FALSE, Relation.FAILURE],
  create(config, services) {
    const script = compileNodeScript(services, config, 'filter');
    return {
      async process(msg) {
        const ok = asFilterResult(await script.call(msgArgs(msg), msgKey(msg)));
        return [{ relation: ok ? Relation.TRUE : Relation.FALSE, msg }];
      },
      destroy: () => script.destroy(),
    };
  },
});
