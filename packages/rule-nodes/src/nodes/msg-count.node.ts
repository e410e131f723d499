import { createMsg, MsgType } from '@rivulet/core';
import { defineNode, Relation, type NodeContext } from '@rivulet/rule-engine';
import { z } from 'zod';

/**
 * Counts the messages that reach it (they end here, acknowledged) and every `interval` seconds sends
 * one telemetry message from the tenant, `{ [telemetryPrefix]: count }`, by Success (ctx.emit),
 * as ThingsBoard's TbMsgCountNode does (its key also carries a server id). Counting starts with the
 * first message; the timer stops in destroy().
 */
export const msgCountNode = defineNode({
  type: 'rivulet.action.msgCount',
  aliases: ['org.thingsboard.rule.engine.action.TbMsgCountNode'],
  category: 'action',
  name: 'message count',
  description: 'Counts incoming messages and sends the count as tenant telemetry every interval.',
  configSchema: z.looseObject({
    interval: z.number().positive().default(1),
    telemetryPrefix: z.string().min(1).default('messageCount'),
  }),
  configVersion: 0,
  relations: [Relation.SUCCESS, Relation.FAILURE],
  create(config, services) {
    const intervalMs = Math.round(config.interval * 1000);
    let count = 0;
    let timer: ReturnType<typeof setInterval> | undefined;
    let tenantId = '';
    let ctxRef: NodeContext | undefined;
    function tick(): void {
      const n = count;
      count = 0;
      const msg = createMsg({
        type: MsgType.POST_TELEMETRY_REQUEST,
        originator: { entityType: 'TENANT', id: tenantId },
        tenantId,
        metadata: { delta: String(intervalMs), ts: String(services.now()) },
        data: { [config.telemetryPrefix]: n },
      });
      void ctxRef?.emit([{ relation: Relation.SUCCESS, msg }]);
    }
    return {
      process(msg, ctx) {
        count++;
        if (!timer) {
          tenantId = msg.tenantId;
          ctxRef = ctx;
          timer = setInterval(tick, intervalMs);
          timer.unref?.();
        }
        return [];
      },
      destroy() {
        if (timer) clearInterval(timer);
        timer = undefined;
      },
    };
  },
});
