import { defineNode, Relation } from '@rivulet/rule-engine';
import { z } from 'zod';

export const logNode = defineNode({
  type: 'rivulet.action.log',
  aliases: ['org.thingsboard.rule.engine.action.TbLogNode'],
  category: 'action',
  name: 'log',
  description: 'Writes the message to the server log. (ThingsBoard\'s jsScript formatting comes with script nodes.)',
  configSchema: z.looseObject({
    level: z.enum(['debug', 'info', 'warn', 'error']).default('info'),
  }),
  configVersion: 0,
  relations: [Relation.SUCCESS, Relation.FAILURE],
  create(config) {
    return {
      process(msg, ctx) {
        ctx.logger[config.level](
          { msgId: msg.id, msgType: msg.type, originatorId: msg.originator.id, metadata: msg.metadata, data: msg.data },
          'rule chain log node',
        );
        return [{ relation: Relation.SUCCESS, msg }];
      },
    };
  },
});
