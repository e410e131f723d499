import { AttributeScope, withMsg, type AttributeKv, type JsonValue, type Msg, type TsKv } from '@rivulet/core';
import { defineNode, Relation } from '@rivulet/rule-engine';
import { z } from 'zod';
import { MsgSource, putValues, tbBool } from '../util/data';
import { hasPattern, processPattern } from '../util/patterns';

/** Key names; ThingsBoard's `${metadataKey}` / `$[dataKey]` patterns are allowed. */
const Keys = z.array(z.string().min(1)).nullish();

export function keysOf(names: readonly string[], msg: Msg): string[] {
  return names.some(hasPattern) ? names.map((n) => processPattern(n, msg)) : [...names];
}

/**
 * Adds the originator's attributes (client `cs_`, shared `shared_`, server `ss_` prefixes, as in
 * ThingsBoard) and latest time series values to the message metadata (as strings) or data (typed).
 * Missing keys: Failure when tellFailureIfAbsent (with what was found), else left out.
 */
export const originatorAttributesNode = defineNode({
  type: 'rivulet.enrichment.originatorAttributes',
  aliases: ['org.thingsboard.rule.engine.metadata.TbGetAttributesNode'],
  category: 'enrichment',
  name: 'originator attributes',
  description: 'Adds the originator\'s client/shared/server attributes and latest telemetry to the metadata or data.',
  configSchema: z.looseObject({
    clientAttributeNames: Keys,
    sharedAttributeNames: Keys,
    serverAttributeNames: Keys,
    latestTsKeyNames: Keys,
    tellFailureIfAbsent: tbBool().default(true),
    getLatestValueWithTs: tbBool().default(false),
    fetchTo: MsgSource.optional(),
    /** ThingsBoard before 3.6: true meant DATA. */
    fetchToData: tbBool().optional(),
  }),
  configVersion: 0,
  relations: [Relation.SUCCESS, Relation.FAILURE],
  create(config, services) {
    const fetchTo = config.fetchTo ?? (config.fetchToData ? 'DATA' : 'METADATA');
    const scopes = [
      { scope: AttributeScope.CLIENT_SCOPE, names: config.clientAttributeNames ?? [], prefix: 'cs_' },
      { scope: AttributeScope.SHARED_SCOPE, names: config.sharedAttributeNames ?? [], prefix: 'shared_' },
      { scope: AttributeScope.SERVER_SCOPE, names: config.serverAttributeNames ?? [], prefix: 'ss_' },
    ].filter((s) => s.names.length > 0);
    const latestKeys = config.latestTsKeyNames ?? [];
    return {
      async process(msg) {
        const entityId = msg.originator.id;
        const missing: string[] = [];
        const values: Array<[string, JsonValue, boolean?]> = [];
        const note = (what: string, keys: string[], found: ReadonlyArray<AttributeKv | TsKv>) => {
          if (!config.tellFailureIfAbsent) return;
          const have = new Set(found.map((f) => f.key));
          const absent = keys.filter((k) => !have.has(k));
          if (absent.length > 0) missing.push(`[${what}]: ${absent.join(', ')}`);
        };
        const attrReads = scopes.map(async (s) => {
          const keys = keysOf(s.names, msg);
          const found = await services.attributes.find(entityId, s.scope, keys);
          note(s.scope, keys, found);
          for (const a of found) values.push([s.prefix + a.key, a.value, a.double]);
        });
        const tsRead = (async () => {
          if (latestKeys.length === 0) return;
          const keys = keysOf(latestKeys, msg);
          const found = await services.timeseries.findLatest(entityId, keys);
          note('LATEST_TS', keys, found);
          for (const t of found) values.push(config.getLatestValueWithTs ? [t.key, { ts: t.ts, value: t.value }] : [t.key, t.value, t.double]);
        })();
        await Promise.all([...attrReads, tsRead]);
        const out = withMsg(msg, putValues(msg, fetchTo, values, 'Fetching to data'));
        if (missing.length > 0) {
          const error = `The following attribute/telemetry keys are not present: ${missing.join('; ')}`;
          return [{ relation: Relation.FAILURE, msg: withMsg(out, { metadata: { ...out.metadata, error } }) }];
        }
        return [{ relation: Relation.SUCCESS, msg: out }];
      },
    };
  },
});
