import { createMsg, MsgType, RivuletError, ErrorCode, type JsonValue, type Msg } from '@rivulet/core';
import { defineNode, Relation, type NodeContext } from '@rivulet/rule-engine';
import { z } from 'zod';
import { capMap } from '../util/data';

interface Pending {
  first: Msg;
  last: Msg;
  all: Msg[];
  timer: ReturnType<typeof setTimeout>;
}

/**
 * Deduplication per originator over an interval (ThingsBoard's TbMsgDeduplicationNode).
 *
 * - FIRST: the first message of an originator goes on at once (still inside its own processing,
 *   so it is retried and acknowledged like any message); the others until the interval ends are
 *   dropped. Needs no timer.
 * - LAST / ALL: messages are held per originator; when the interval that the first one opened ends,
 *   the last one (LAST), or one message whose data is the array of all their data (ALL, type
 *   `outMsgType`), goes on by Success through ctx.emit. Held messages are acknowledged when they
 *   arrive, so a restart loses what is held (ThingsBoard's pending messages behave the same).
 *
 * State is capped: at most `maxPendingMsgs` messages held per originator (ALL) and
 * `maxOriginators` originators in flight; past either, the message goes to Failure. destroy() clears
 * every timer and drops what is held.
 */
export const deduplicationNode = defineNode({
  type: 'rivulet.sampling.deduplication',
  aliases: ['org.thingsboard.rule.engine.deduplication.TbMsgDeduplicationNode'],
  category: 'sampling',
  name: 'deduplication',
  description: 'Per originator, lets one message (FIRST or LAST) or one pack of all (ALL) through per interval.',
  configSchema: z.looseObject({
    /** Seconds (ThingsBoard's unit). */
    interval: z.number().positive().default(60),
    strategy: z.enum(['FIRST', 'LAST', 'ALL']).default('FIRST'),
    outMsgType: z.string().min(1).nullish(),
    queueName: z.string().nullish(),
    maxPendingMsgs: z.number().int().positive().max(100_000).default(100),
    maxRetries: z.number().int().nonnegative().default(3),
    maxOriginators: z.number().int().positive().default(10_000),
  }),
  configVersion: 0,
  relations: [Relation.SUCCESS, Relation.FAILURE],
  create(config, services) {
    const intervalMs = Math.round(config.interval * 1000);
    /** FIRST: when each originator's current interval ends. */
    const windowEnds = new Map<string, number>();
    /** LAST / ALL: what is held per originator. */
    const pending = new Map<string, Pending>();
    let ctxRef: NodeContext | undefined;

    const full = (what: string) => new RivuletError(ErrorCode.UNAVAILABLE, `Deduplication holds too many ${what}`);

    function flush(originatorId: string): void {
      const p = pending.get(originatorId);
      if (!p) return;
      pending.delete(originatorId);
      let out: Msg;
      if (config.strategy === 'LAST') out = p.last;
      else {
        out = createMsg({
          type: config.outMsgType ?? MsgType.POST_TELEMETRY_REQUEST,
          originator: p.last.originator,
          tenantId: p.last.tenantId,
          metadata: { ...p.last.metadata },
          data: p.all.map((m) => m.data) as JsonValue[],
        });
      }
      void ctxRef?.emit([{ relation: Relation.SUCCESS, msg: out }]);
    }

    return {
      process(msg, ctx) {
        const id = msg.originator.id;
        if (config.strategy === 'FIRST') {
          const now = services.now();
          const end = windowEnds.get(id);
          if (end !== undefined && now < end) return [];
          windowEnds.delete(id);
          windowEnds.set(id, now + intervalMs);
          // Expired windows are dropped oldest first; a live one dropped early only lets one extra message through.
          capMap(windowEnds, config.maxOriginators);
          return [{ relation: Relation.SUCCESS, msg }];
        }
        ctxRef = ctx;
        const p = pending.get(id);
        if (p) {
          if (config.strategy === 'ALL') {
            if (p.all.length >= config.maxPendingMsgs) throw full(`messages of originator ${id} (maxPendingMsgs ${config.maxPendingMsgs})`);
            p.all.push(msg);
          }
          p.last = msg;
          return [];
        }
        if (pending.size >= config.maxOriginators) throw full(`originators (maxOriginators ${config.maxOriginators})`);
        const timer = setTimeout(() => flush(id), intervalMs);
        timer.unref?.();
        pending.set(id, { first: msg, last: msg, all: [msg], timer });
        return [];
      },
      destroy() {
        for (const p of pending.values()) clearTimeout(p.timer);
        pending.clear();
        windowEnds.clear();
      },
    };
  },
});
