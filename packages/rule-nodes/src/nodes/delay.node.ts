import { BadRequestError, ErrorCode, RivuletError } from '@rivulet/core';
import { defineNode, Relation } from '@rivulet/rule-engine';
import { z } from 'zod';
import { tbBool } from '../util/data';
import { processPattern } from '../util/patterns';

const UNIT_MS = { MILLISECONDS: 1, SECONDS: 1000, MINUTES: 60_000, HOURS: 3_600_000 } as const;

/**
 * Sends each message on by Success after a delay (ThingsBoard's TbMsgDelayNode). The message is
 * acknowledged when it arrives and held in memory with a timer; when it fires the message continues
 * from this node (ctx.emit). So a delay never holds up its queue partition, and held messages are
 * lost if the process stops (as in ThingsBoard). More than maxPendingMsgs held: Failure.
 */
export const delayNode = defineNode({
  type: 'rivulet.action.delay',
  aliases: ['org.thingsboard.rule.engine.delay.TbMsgDelayNode', 'org.thingsboard.rule.engine.action.TbMsgDelayNode'],
  category: 'action',
  name: 'delay',
  description: 'Holds each message for a period, then sends it on by Success.',
  configSchema: z.looseObject({
    periodInSeconds: z.number().nonnegative().default(60),
    maxPendingMsgs: z.number().int().positive().max(100_000).default(1000),
    useMetadataPeriodInSecondsPatterns: tbBool().default(false),
    periodInSecondsPattern: z.string().nullish(),
    /** ThingsBoard 3.7+: period with a unit. */
    period: z.number().nonnegative().optional(),
    periodTimeUnit: z.enum(['MILLISECONDS', 'SECONDS', 'MINUTES', 'HOURS']).optional(),
  }),
  configVersion: 0,
  relations: [Relation.SUCCESS, Relation.FAILURE],
  create(config) {
    const pending = new Set<ReturnType<typeof setTimeout>>();
    const fixedMs = config.period !== undefined ? config.period * UNIT_MS[config.periodTimeUnit ?? 'SECONDS'] : config.periodInSeconds * 1000;
    return {
      process(msg, ctx) {
        let delayMs = fixedMs;
        if (config.useMetadataPeriodInSecondsPatterns) {
          const s = Number(processPattern(config.periodInSecondsPattern ?? '', msg));
          if (!Number.isFinite(s) || s < 0) throw new BadRequestError(`Delay pattern "${config.periodInSecondsPattern}" did not give a number of seconds`);
          delayMs = s * 1000;
        }
        if (pending.size >= config.maxPendingMsgs) throw new RivuletError(ErrorCode.UNAVAILABLE, `Max limit of pending messages reached (${config.maxPendingMsgs})`);
        const timer = setTimeout(() => {
          pending.delete(timer);
          void ctx.emit([{ relation: Relation.SUCCESS, msg }]);
        }, delayMs);
        timer.unref?.();
        pending.add(timer);
        return [];
      },
      destroy() {
        for (const t of pending) clearTimeout(t);
        pending.clear();
      },
    };
  },
});
