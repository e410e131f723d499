import { defineNode, Relation } from '@rivulet/rule-engine';
import { z } from 'zod';
import { MsgSource, toNumber } from '../util/data';
import { dataPath } from '../util/patterns';

const Operator = z.enum(['>', '>=', '<', '<=', '==', '!=']);

/**
 * Compares one value of the message with a constant, no script needed. Numbers compare as numbers
 * (numeric strings included); with a string `value`, == and != compare text. A missing or
 * non-numeric value is False.
 */
export const thresholdNode = defineNode({
  type: 'rivulet.filter.threshold',
  category: 'filter',
  name: 'threshold',
  description: 'True when data.key (or metadata.key) compared with a value holds, e.g. temperature > 30; else False.',
  configSchema: z
    .looseObject({
      key: z.string().min(1).default('temperature'),
      operator: Operator.default('>'),
      value: z.union([z.number(), z.string()]).default(30),
      source: MsgSource.default('DATA'),
    })
    .refine((c) => c.operator === '==' || c.operator === '!=' || toNumber(c.value) !== undefined, {
      message: 'operators other than == and != need a number',
      path: ['value'],
    }),
  configVersion: 0,
  relations: [Relation.TRUE, Relation.FALSE],
  create(config) {
    const target = toNumber(config.value);
    const textual = target === undefined;
    const test = (v: number): boolean => {
      const t = target!;
      switch (config.operator) {
        case '>':
          return v > t;
        case '>=':
          return v >= t;
        case '<':
          return v < t;
        case '<=':
          return v <= t;
        case '==':
          return v === t;
        case '!=':
          return v !== t;
      }
    };
    return {
      process(msg) {
        const raw = config.source === 'DATA' ? dataPath(msg.data, config.key) : msg.metadata[config.key];
        let ok: boolean;
        if (textual) {
          const text = raw === undefined ? undefined : typeof raw === 'string' ? raw : JSON.stringify(raw);
          ok = text !== undefined && (config.operator === '==' ? text === config.value : text !== config.value);
        } else {
          const n = toNumber(raw);
          ok = n !== undefined && test(n);
        }
        return [{ relation: ok ? Relation.TRUE : Relation.FALSE, msg }];
      },
    };
  },
});
