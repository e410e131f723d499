import { BadRequestError, MsgType, withMsg, type JsonObject } from '@rivulet/core';
import { defineNode, Relation } from '@rivulet/rule-engine';
import { z } from 'zod';
import { capMap, isObject, msgTs, toNumber, tbBool } from '../util/data';

/**
 * The difference between this message's value of `inputValueKey` and the originator's previous one
 * (ThingsBoard's CalculateDeltaNode), added to the data as `outputValueKey`. The previous value comes
 * from a per-originator cache (useCache) or the latest stored value. Messages that are not telemetry
 * or lack the key leave by "Other".
 */
export const calculateDeltaNode = defineNode({
  type: 'rivulet.enrichment.calculateDelta',
  aliases: ['org.thingsboard.rule.engine.metadata.CalculateDeltaNode'],
  category: 'enrichment',
  name: 'calculate delta',
  description: 'Adds the change of a telemetry value since the originator\'s previous one (e.g. a meter reading).',
  configSchema: z.looseObject({
    inputValueKey: z.string().min(1).default('pulseCounter'),
    outputValueKey: z.string().min(1).default('delta'),
    useCache: tbBool().default(true),
    addPeriodBetweenMsgs: tbBool().default(false),
    periodValueKey: z.string().min(1).default('periodInMs'),
    /** Decimal places; null: as computed. */
    round: z.number().int().min(0).max(15).nullish(),
    tellFailureIfDeltaIsNegative: tbBool().default(true),
    excludeZeroDeltas: tbBool().default(false),
    maxOriginators: z.number().int().positive().default(100_000),
  }),
  configVersion: 0,
  relations: [Relation.SUCCESS, Relation.FAILURE, Relation.OTHER],
  create(config, services) {
    const cache = new Map<string, { value: number; ts: number }>();
    const round = (n: number) => (config.round === null || config.round === undefined ? n : Number(n.toFixed(config.round)));
    return {
      async process(msg) {
        if (msg.type !== MsgType.POST_TELEMETRY_REQUEST || !isObject(msg.data)) return [{ relation: Relation.OTHER, msg }];
        const value = toNumber(msg.data[config.inputValueKey]);
        if (value === undefined) return [{ relation: Relation.OTHER, msg }];
        const id = msg.originator.id;
        const ts = msgTs(msg);
        let prev = config.useCache ? cache.get(id) : undefined;
        if (!prev) {
          const latest = (await services.timeseries.findLatest(id, [config.inputValueKey]))[0];
          const n = latest ? toNumber(latest.value) : undefined;
          if (latest && n !== undefined) prev = { value: n, ts: latest.ts };
        }
        if (config.useCache) {
          cache.delete(id);
          cache.set(id, { value, ts });
          capMap(cache, config.maxOriginators);
        }
        const delta = prev ? round(value - prev.value) : 0;
        if (config.tellFailureIfDeltaIsNegative && delta < 0) throw new BadRequestError(`Delta value is negative: ${delta}`);
        if (config.excludeZeroDeltas && delta === 0) return [{ relation: Relation.SUCCESS, msg }];
        const data: JsonObject = { ...msg.data, [config.outputValueKey]: delta };
        if (config.addPeriodBetweenMsgs) data[config.periodValueKey] = prev ? ts - prev.ts : 0;
        return [{ relation: Relation.SUCCESS, msg: withMsg(msg, { data }) }];
      },
      destroy: () => cache.clear(),
    };
  },
});
