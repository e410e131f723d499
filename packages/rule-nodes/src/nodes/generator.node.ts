import { createMsg, errorMessage, isUuid, newId, type EntityId, type EntityType, type Msg } from '@rivulet/core';
import { defineNode, Relation, type NodeContext } from '@rivulet/rule-engine';
import { z } from 'zod';
import { asTransformResults, compileNodeScript, scriptFields } from '../script/tb-script';

const DEFAULT_GENERATOR = `var msg = { temp: 42, humidity: 77 };
var metadata = { data: 40 };
var msgType = "POST_TELEMETRY_REQUEST";

return { msg: msg, metadata: metadata, msgType: msgType };`;

/**
 * Makes a message every `periodInSeconds` from a script `Generate(prevMsg, prevMetadata,
 * prevMsgType)` returning {msg, metadata, msgType}, and sends it on from this node by Success
 * (ctx.emit), as ThingsBoard's generator does: it continues from the generator's own links, not from
 * the root chain. Starts when its chain starts (not in validation or test runs); the next tick waits
 * for the previous message to finish, so a slow chain slows the generator instead of piling up.
 * Stops after msgCount messages (0: never) and in destroy().
 */
export const generatorNode = defineNode({
  type: 'rivulet.action.generator',
  aliases: ['org.thingsboard.rule.engine.debug.TbMsgGeneratorNode'],
  category: 'action',
  name: 'generator',
  description: 'Generates a message every period from a script (originator: a device, or the node itself).',
  configSchema: z.looseObject({
    msgCount: z.number().int().nonnegative().default(0),
    periodInSeconds: z.number().positive().default(1),
    originatorId: z.string().nullish(),
    originatorType: z.string().nullish(),
    ...scriptFields(DEFAULT_GENERATOR),
  }),
  configVersion: 0,
  relations: [Relation.SUCCESS, Relation.FAILURE],
  // The originator must be the chain's tenant's (checked on save and load), as ThingsBoard's checkTenantEntity.
  entityRefs: (config) =>
    config.originatorId && isUuid(config.originatorId) ? [{ field: 'originatorId', entityType: config.originatorType ?? 'DEVICE', id: config.originatorId }] : [],
  // ThingsBoard's tenant profile bounds how often a generator may fire (0.0001 s would be 10,000 messages/s).
  checkLimits: (config, limits) =>
    limits.minGeneratorPeriodMs > 0 && config.periodInSeconds * 1000 < limits.minGeneratorPeriodMs
      ? {
          field: 'periodInSeconds',
          message: `${config.periodInSeconds} s is shorter than this tenant's minimum generator period of ${limits.minGeneratorPeriodMs / 1000} s (minGeneratorPeriodMs)`,
        }
      : undefined,
  create(config, services) {
    const script = compileNodeScript(services, config, 'generator', ['prevMsg', 'prevMetadata', 'prevMsgType']);
    const periodMs = Math.round(config.periodInSeconds * 1000);
    let timer: ReturnType<typeof setTimeout> | undefined;
    let stopped = false;
    let sent = 0;
    let prev: Msg | undefined;

    async function tick(ctx: NodeContext, originator: EntityId, tenantId: string): Promise<void> {
      timer = undefined;
      const started = Date.now();
      const seed = prev ?? createMsg({ type: '', originator, tenantId, data: {} });
      try {
        const out = asTransformResults(await script.call([seed.data, { ...seed.metadata }, seed.type]), seed)[0]!;
        const msg = createMsg({ id: newId(), type: out.type || 'POST_TELEMETRY_REQUEST', originator, tenantId, metadata: { ...out.metadata }, data: out.data });
        prev = msg;
        sent++;
        await ctx.emit([{ relation: Relation.SUCCESS, msg }]);
      } catch (e) {
        ctx.logger.warn({ err: errorMessage(e) }, 'generator script failed');
      }
      if (stopped || (config.msgCount > 0 && sent >= config.msgCount)) return;
      timer = setTimeout(() => void tick(ctx, originator, tenantId), Math.max(0, periodMs - (Date.now() - started)));
      timer.unref?.();
    }

    return {
      start(ctx) {
        if (!ctx.tenantId) {
          ctx.logger.warn({}, 'generator not started: its chain runs for no tenant');
          return;
        }
        const originator: EntityId =
          config.originatorId && isUuid(config.originatorId)
            ? { entityType: (config.originatorType ?? 'DEVICE') as EntityType, id: config.originatorId }
            : { entityType: 'RULE_NODE', id: ctx.nodeId };
        const tenantId = ctx.tenantId;
        timer = setTimeout(() => void tick(ctx, originator, tenantId), periodMs);
        timer.unref?.();
      },
      // ThingsBoard's generator takes no input; a message linked to it passes through.
      process: (msg) => [{ relation: Relation.SUCCESS, msg }],
      destroy() {
        stopped = true;
        if (timer) clearTimeout(timer);
        timer = undefined;
        script.destroy();
      },
    };
  },
});
