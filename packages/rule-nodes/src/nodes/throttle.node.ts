import { defineNode } from '@rivulet/rule-engine';
import { z } from 'zod';
import { capMap } from '../util/data';
import { PASSED, SKIPPED } from '../util/sampling';

/**
 * At most `maxMessages` per `periodSeconds` per originator (a fixed window opened by the first
 * message). Messages over the limit leave by "Skipped" (unlinked: they are simply done). No timers:
 * windows expire when the next message looks at them; at most `maxOriginators` are tracked (the
 * oldest forgotten first).
 */
export const throttleNode = defineNode({
  type: 'rivulet.sampling.throttle',
  category: 'sampling',
  name: 'throttle',
  description: 'Lets at most N messages per T seconds through per originator; the rest leave by "Skipped".',
  configSchema: z.looseObject({
    maxMessages: z.number().int().positive().default(1),
    periodSeconds: z.number().positive().default(60),
    maxOriginators: z.number().int().positive().default(10_000),
  }),
  configVersion: 0,
  relations: [PASSED, SKIPPED],
  create(config, services) {
    const periodMs = config.periodSeconds * 1000;
    const windows = new Map<string, { start: number; count: number }>();
    return {
      process(msg) {
        const now = services.now();
        const id = msg.originator.id;
        let w = windows.get(id);
        if (!w || now - w.start >= periodMs) {
          windows.delete(id);
          w = { start: now, count: 0 };
          windows.set(id, w);
          capMap(windows, config.maxOriginators);
        }
        if (w.count >= config.maxMessages) return [{ relation: SKIPPED, msg }];
        w.count++;
        return [{ relation: PASSED, msg }];
      },
      destroy: () => windows.clear(),
    };
  },
});

