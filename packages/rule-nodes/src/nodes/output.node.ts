import { defineNode, Relation } from '@rivulet/rule-engine';
import { z } from 'zod';

/**
 * Ends the message's way through this chain and hands it back to the rule chain node that called the
 * chain, which sends it on by this node's name (ThingsBoard's TbRuleChainOutputNode). In a chain
 * nobody called (the root), the message is simply done.
 */
export const outputNode = defineNode({
  type: 'rivulet.flow.output',
  aliases: ['org.thingsboard.rule.engine.flow.TbRuleChainOutputNode'],
  category: 'flow',
  name: 'output',
  description: 'Returns the message to the calling chain; the node\'s name is the relation it leaves the rule chain node by.',
  configSchema: z.looseObject({ version: z.number().optional() }),
  configVersion: 0,
  relations: [],
  create() {
    return {
      process: (msg, ctx) => [{ relation: ctx.nodeName || Relation.SUCCESS, msg, chainOutput: true }],
    };
  },
});
