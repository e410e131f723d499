import { createMsg } from '@rivulet/core';
import { defineNode, Relation } from '@rivulet/rule-engine';
import { z } from 'zod';

/**
 * A message whose data is an array becomes one message per element (new ids, same originator,
 * type and metadata), each leaving by Success; an empty array leaves nothing. Other data passes on.
 */
export const splitArrayNode = defineNode({
  type: 'rivulet.transformation.splitArray',
  aliases: ['org.thingsboard.rule.engine.transform.TbSplitArrayMsgNode'],
  category: 'transformation',
  name: 'split array',
  description: 'Splits a message whose data is an array into one message per element.',
  configSchema: z.looseObject({ maxElements: z.number().int().positive().default(10_000) }),
  configVersion: 0,
  relations: [Relation.SUCCESS, Relation.FAILURE],
  create(config) {
    return {
      process(msg) {
        if (!Array.isArray(msg.data)) return [{ relation: Relation.SUCCESS, msg }];
        if (msg.data.length > config.maxElements) throw new Error(`The array has ${msg.data.length} elements, more than maxElements (${config.maxElements})`);
        return msg.data.map((data) => ({
          relation: Relation.SUCCESS,
          msg: createMsg({ type: msg.type, originator: msg.originator, tenantId: msg.tenantId, metadata: { ...msg.metadata }, data, ts: msg.ts }),
        }));
      },
    };
  },
});
