import { defineNode, Relation } from '@rivulet/rule-engine';
import { z } from 'zod';
import { isObject, tbBool } from '../util/data';

export const checkFieldsNode = defineNode({
  type: 'rivulet.filter.checkFields',
  aliases: ['org.thingsboard.rule.engine.filter.TbCheckMessageNode'],
  category: 'filter',
  name: 'check fields presence',
  description: 'True when the message data and metadata have the listed fields (all of them, or any with checkAllKeys off).',
  configSchema: z
    .looseObject({
      messageNames: z.array(z.string().min(1)).default([]),
      metadataNames: z.array(z.string().min(1)).default([]),
      checkAllKeys: tbBool().default(true),
    })
    .refine((c) => c.messageNames.length + c.metadataNames.length > 0, { message: 'name at least one message or metadata field', path: ['messageNames'] }),
  configVersion: 0,
  relations: [Relation.TRUE, Relation.FALSE],
  create(config) {
    return {
      process(msg) {
        const data = isObject(msg.data) ? msg.data : {};
        const checks = [
          ...config.messageNames.map((k) => Object.hasOwn(data, k)),
          ...config.metadataNames.map((k) => Object.hasOwn(msg.metadata, k)),
        ];
        const ok = config.checkAllKeys ? checks.every(Boolean) : checks.some(Boolean);
        return [{ relation: ok ? Relation.TRUE : Relation.FALSE, msg }];
      },
    };
  },
});
