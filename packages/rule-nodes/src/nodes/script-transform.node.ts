import { defineNode, Relation } from '@rivulet/rule-engine';
import { z } from 'zod';
import { asTransformResults, compileNodeScript, msgArgs, msgKey, scriptFields } from '../script/tb-script';

/** ThingsBoard's `function Transform(msg, metadata, msgType)`: returns {msg, metadata, msgType} or an array of them. */
export const scriptTransformNode = defineNode({
  type: 'rivulet.transformation.script',
  aliases: ['org.thingsboard.rule.engine.transform.TbTransformMsgNode'],
  category: 'transformation',
  name: 'script transform',
  description: 'Runs a sandboxed script that returns the new {msg, metadata, msgType} (or several); each leaves by Success.',
  configSchema: z.looseObject(scriptFields('return {msg: msg, metadata: metadata, msgType: msgType};')),
  configVersion: 0,
  relations: [Relation.SUCCESS, Relation.FAILURE],
  create(config, services) {
    const script = compileNodeScript(services, config, 'transform');
    return {
      async process(msg) {
        const out = asTransformResults(await script.call(msgArgs(msg), msgKey(msg)), msg);
        return out.map((m) => ({ relation: Relation.SUCCESS, msg: m }));
      },
      destroy: () => script.destroy(),
    };
  },
});
