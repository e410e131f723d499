import { BadRequestError, withMsg, type JsonValue, type Msg } from '@rivulet/core';
import { defineNode, Relation } from '@rivulet/rule-engine';
import { z } from 'zod';
import { MsgSource, putValues, requireCapability, tbBool } from '../util/data';
import { processPattern } from '../util/patterns';
import { keysOf } from './originator-attributes.node.js';

const TimeUnit = z.enum(['MILLISECONDS', 'SECONDS', 'MINUTES', 'HOURS', 'DAYS']);
const UNIT_MS: Record<z.infer<typeof TimeUnit>, number> = { MILLISECONDS: 1, SECONDS: 1000, MINUTES: 60_000, HOURS: 3_600_000, DAYS: 86_400_000 };

/**
 * The originator's telemetry into the metadata (ThingsBoard's TbGetTelemetryNode) or data.
 * fetchMode LATEST (Rivulet's default): the latest value of each key. FIRST / LAST / ALL
 * (ThingsBoard's modes): the first or last value in the interval [now - start, now - end) as a string,
 * or all of them as a JSON array of {ts, value} (optionally aggregated).
 */
export const originatorTelemetryNode = defineNode({
  type: 'rivulet.enrichment.originatorTelemetry',
  aliases: ['org.thingsboard.rule.engine.metadata.TbGetTelemetryNode'],
  category: 'enrichment',
  name: 'originator telemetry',
  description: 'Adds the originator\'s latest telemetry values (or the first/last/all in an interval) to the metadata or data.',
  configSchema: z.looseObject({
    latestTsKeyNames: z.array(z.string().min(1)).min(1).default(['temperature']),
    fetchMode: z.enum(['LATEST', 'FIRST', 'LAST', 'ALL']).default('LATEST'),
    startInterval: z.number().nonnegative().default(2),
    startIntervalTimeUnit: TimeUnit.default('MINUTES'),
    endInterval: z.number().nonnegative().default(1),
    endIntervalTimeUnit: TimeUnit.default('MINUTES'),
    useMetadataIntervalPatterns: tbBool().default(false),
    startIntervalPattern: z.string().nullish(),
    endIntervalPattern: z.string().nullish(),
    orderBy: z.enum(['ASC', 'DESC']).default('ASC'),
    aggregation: z.enum(['NONE', 'AVG', 'MIN', 'MAX', 'SUM', 'COUNT']).default('NONE'),
    limit: z.number().int().positive().max(1000).default(1000),
    fetchTo: MsgSource.default('METADATA'),
  }),
  configVersion: 0,
  relations: [Relation.SUCCESS, Relation.FAILURE],
  create(config, services) {
    function interval(msg: Msg): { startTs: number; endTs: number } {
      if (config.useMetadataIntervalPatterns) {
        const startTs = Number(processPattern(config.startIntervalPattern ?? '', msg));
        const endTs = Number(processPattern(config.endIntervalPattern ?? '', msg));
        if (!Number.isFinite(startTs) || !Number.isFinite(endTs)) throw new BadRequestError('Interval patterns did not resolve to timestamps');
        return { startTs, endTs };
      }
      const now = services.now();
      return {
        startTs: now - config.startInterval * UNIT_MS[config.startIntervalTimeUnit],
        endTs: now - config.endInterval * UNIT_MS[config.endIntervalTimeUnit],
      };
    }
    return {
      async process(msg) {
        const keys = keysOf(config.latestTsKeyNames, msg);
        const values: Array<[string, JsonValue, boolean?]> = [];
        if (config.fetchMode === 'LATEST') {
          for (const t of await services.timeseries.findLatest(msg.originator.id, keys)) values.push([t.key, t.value, t.double]);
        } else {
          const findHistory = services.timeseries.findHistory;
          if (!findHistory) throw new BadRequestError('This server reads no telemetry history: use fetchMode LATEST');
          const { startTs, endTs } = interval(msg);
          const all = config.fetchMode === 'ALL';
          const agg = all ? config.aggregation : 'NONE';
          const found = await findHistory.call(services.timeseries, msg.originator.id, {
            keys,
            startTs,
            endTs,
            limit: all ? config.limit : 1,
            orderBy: all ? config.orderBy : config.fetchMode === 'FIRST' ? 'ASC' : 'DESC',
            agg,
            ...(agg !== 'NONE' ? { interval: Math.max(1, endTs - startTs) } : {}),
          });
          for (const key of keys) {
            const list = found[key];
            if (!list || list.length === 0) continue;
            values.push([key, all ? list.map((p) => ({ ts: p.ts, value: p.value })) : list[0]!.value]);
          }
        }
        return [{ relation: Relation.SUCCESS, msg: withMsg(msg, putValues(msg, config.fetchTo, values, 'Fetching to data')) }];
      },
    };
  },
});
