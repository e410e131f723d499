import { withMsg } from '@rivulet/core';
import { defineNode, Relation } from '@rivulet/rule-engine';
import { z } from 'zod';
import { isObject, keyMatcher, metadataValue, MsgSource, tbBool } from '../util/data';

/** Copies keys matching the patterns (regular expressions, whole key) from the data to the metadata or back. */
export const copyKeysNode = defineNode({
  type: 'rivulet.transformation.copyKeys',
  aliases: ['org.thingsboard.rule.engine.transform.TbCopyKeysNode'],
  category: 'transformation',
  name: 'copy keys',
  description: 'Copies keys (regular expressions allowed) from the data to the metadata, or from the metadata to the data.',
  configSchema: z.looseObject({
    /** Where the keys are copied from. */
    copyFrom: MsgSource.optional(),
    /** ThingsBoard before 3.6: true copies metadata -> data. */
    fromMetadata: tbBool().optional(),
    keys: z.array(z.string().min(1)).default([]),
  }),
  configVersion: 0,
  relations: [Relation.SUCCESS, Relation.FAILURE],
  create(config) {
    const from = config.copyFrom ?? (config.fromMetadata ? 'METADATA' : 'DATA');
    const matches = keyMatcher(config.keys);
    return {
      process(msg) {
        if (!isObject(msg.data)) return [{ relation: Relation.SUCCESS, msg }];
        if (from === 'METADATA') {
          const picked = Object.entries(msg.metadata).filter(([k]) => matches(k));
          if (picked.length === 0) return [{ relation: Relation.SUCCESS, msg }];
          return [{ relation: Relation.SUCCESS, msg: withMsg(msg, { data: { ...msg.data, ...Object.fromEntries(picked) } }) }];
        }
        const picked = Object.entries(msg.data).filter(([k]) => matches(k));
        if (picked.length === 0) return [{ relation: Relation.SUCCESS, msg }];
        const metadata = { ...msg.metadata };
        for (const [k, v] of picked) metadata[k] = metadataValue(v);
        return [{ relation: Relation.SUCCESS, msg: withMsg(msg, { metadata }) }];
      },
    };
  },
});
