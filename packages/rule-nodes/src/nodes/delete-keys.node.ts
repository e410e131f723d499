import { withMsg, type JsonObject } from '@rivulet/core';
import { defineNode, Relation } from '@rivulet/rule-engine';
import { z } from 'zod';
import { isObject, keyMatcher, MsgSource, tbBool } from '../util/data';

/** Deletes keys matching the patterns (regular expressions, whole key) from the data or metadata. */
export const deleteKeysNode = defineNode({
  type: 'rivulet.transformation.deleteKeys',
  aliases: ['org.thingsboard.rule.engine.transform.TbDeleteKeysNode'],
  category: 'transformation',
  name: 'delete keys',
  description: 'Deletes keys (regular expressions allowed) from the data or the metadata.',
  configSchema: z.looseObject({
    deleteFrom: MsgSource.optional(),
    /** ThingsBoard before 3.6. */
    fromMetadata: tbBool().optional(),
    keys: z.array(z.string().min(1)).default([]),
  }),
  configVersion: 0,
  relations: [Relation.SUCCESS, Relation.FAILURE],
  create(config) {
    const from = config.deleteFrom ?? (config.fromMetadata ? 'METADATA' : 'DATA');
    const matches = keyMatcher(config.keys);
    const without = <T extends JsonObject | Readonly<Record<string, string>>>(src: T): T | undefined => {
      const drop = Object.keys(src).filter(matches);
      if (drop.length === 0) return undefined;
      const out = { ...src } as Record<string, unknown>;
      for (const k of drop) delete out[k];
      return out as T;
    };
    return {
      process(msg) {
        if (from === 'METADATA') {
          const metadata = without(msg.metadata);
          return [{ relation: Relation.SUCCESS, msg: metadata ? withMsg(msg, { metadata }) : msg }];
        }
        if (!isObject(msg.data)) return [{ relation: Relation.SUCCESS, msg }];
        const data = without(msg.data);
        return [{ relation: Relation.SUCCESS, msg: data ? withMsg(msg, { data }) : msg }];
      },
    };
  },
});
