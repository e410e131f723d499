import { AttributeScope, withMsg, type JsonValue } from '@rivulet/core';
import { defineNode, Relation } from '@rivulet/rule-engine';
import { z } from 'zod';
import { MsgSource, putValues, tbBool } from '../util/data';
import { hasPattern, processPattern } from '../util/patterns';

/**
 * The tenant's server attributes (or latest telemetry) under new names: `dataMapping` maps each
 * source key to the key written to the metadata or data (ThingsBoard's TbGetTenantAttributeNode).
 */
export const tenantAttributesNode = defineNode({
  type: 'rivulet.enrichment.tenantAttributes',
  aliases: ['org.thingsboard.rule.engine.metadata.TbGetTenantAttributeNode'],
  category: 'enrichment',
  name: 'tenant attributes',
  description: 'Adds the tenant\'s attributes or latest telemetry to the metadata or data, renamed by a mapping.',
  configSchema: z.looseObject({
    dataMapping: z.record(z.string().min(1), z.string().min(1)).optional(),
    dataToFetch: z.enum(['ATTRIBUTES', 'LATEST_TELEMETRY']).optional(),
    fetchTo: MsgSource.optional(),
    /** ThingsBoard before 3.6. */
    attrMapping: z.record(z.string().min(1), z.string().min(1)).optional(),
    telemetry: tbBool().optional(),
    fetchToData: tbBool().optional(),
  }),
  configVersion: 0,
  relations: [Relation.SUCCESS, Relation.FAILURE],
  create(config, services) {
    const mapping = Object.entries(config.dataMapping ?? config.attrMapping ?? { alarmThreshold: 'threshold' });
    const telemetry = config.dataToFetch ? config.dataToFetch === 'LATEST_TELEMETRY' : config.telemetry === true;
    const fetchTo = config.fetchTo ?? (config.fetchToData ? 'DATA' : 'METADATA');
    const patterned = mapping.some(([s, t]) => hasPattern(s) || hasPattern(t));
    return {
      async process(msg) {
        const pairs = patterned ? mapping.map(([s, t]) => [processPattern(s, msg), processPattern(t, msg)] as const) : mapping;
        const keys = pairs.map(([s]) => s);
        const found = telemetry
          ? await services.timeseries.findLatest(msg.tenantId, keys)
          : await services.attributes.find(msg.tenantId, AttributeScope.SERVER_SCOPE, keys);
        const byKey = new Map<string, JsonValue>(found.map((f) => [f.key, f.value]));
        const values: Array<[string, JsonValue]> = [];
        for (const [source, target] of pairs) {
          const v = byKey.get(source);
          if (v !== undefined) values.push([target, v]);
        }
        return [{ relation: Relation.SUCCESS, msg: withMsg(msg, putValues(msg, fetchTo, values, 'Fetching to data')) }];
      },
    };
  },
});
