import { withMsg, type JsonObject } from '@rivulet/core';
import { defineNode, Relation } from '@rivulet/rule-engine';
import { z } from 'zod';
import { isObject, MsgSource, tbBool } from '../util/data';

export const renameKeysNode = defineNode({
  type: 'rivulet.transformation.renameKeys',
  aliases: ['org.thingsboard.rule.engine.transform.TbRenameKeysNode'],
  category: 'transformation',
  name: 'rename keys',
  description: 'Renames keys of the data or metadata by a mapping (old name -> new name).',
  configSchema: z.looseObject({
    renameKeysMapping: z.record(z.string().min(1), z.string().min(1)).default({ temp: 'temperature' }),
    renameIn: MsgSource.optional(),
    /** ThingsBoard before 3.6. */
    fromMetadata: tbBool().optional(),
  }),
  configVersion: 0,
  relations: [Relation.SUCCESS, Relation.FAILURE],
  create(config) {
    const where = config.renameIn ?? (config.fromMetadata ? 'METADATA' : 'DATA');
    const mapping = Object.entries(config.renameKeysMapping);
    function rename<T extends JsonObject | Record<string, string>>(src: Readonly<T>): T | undefined {
      let out: T | undefined;
      for (const [from, to] of mapping) {
        if (!Object.hasOwn(src, from) || from === to) continue;
        out ??= { ...src };
        const v = out[from]!;
        delete out[from];
        (out as Record<string, unknown>)[to] = v;
      }
      return out;
    }
    return {
      process(msg) {
        if (where === 'METADATA') {
          const metadata = rename(msg.metadata);
          return [{ relation: Relation.SUCCESS, msg: metadata ? withMsg(msg, { metadata }) : msg }];
        }
        if (!isObject(msg.data)) return [{ relation: Relation.SUCCESS, msg }];
        const data = rename(msg.data);
        return [{ relation: Relation.SUCCESS, msg: data ? withMsg(msg, { data }) : msg }];
      },
    };
  },
});
