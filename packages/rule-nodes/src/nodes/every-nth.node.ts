import { defineNode } from '@rivulet/rule-engine';
import { z } from 'zod';
import { capMap } from '../util/data';
import { PASSED, SKIPPED } from '../util/sampling';

/** Per originator, lets the 1st, (n+1)th, (2n+1)th... message through; the rest leave by "Skipped". */
export const everyNthNode = defineNode({
  type: 'rivulet.sampling.everyNth',
  category: 'sampling',
  name: 'every Nth message',
  description: 'Per originator, lets one message in every N through (the first, then every Nth after it).',
  configSchema: z.looseObject({
    n: z.number().int().positive().default(10),
    maxOriginators: z.number().int().positive().default(10_000),
  }),
  configVersion: 0,
  relations: [PASSED, SKIPPED],
  create(config) {
    const counts = new Map<string, number>();
    return {
      process(msg) {
        const id = msg.originator.id;
        const seen = counts.get(id);
        const c = seen ?? 0;
        counts.set(id, (c + 1) % config.n);
        if (seen === undefined) capMap(counts, config.maxOriginators);
        return [{ relation: c === 0 ? PASSED : SKIPPED, msg }];
      },
      destroy: () => counts.clear(),
    };
  },
});
