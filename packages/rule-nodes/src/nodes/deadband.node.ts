import { defineNode, Relation } from '@rivulet/rule-engine';
import { withMsg, type JsonObject, type JsonValue } from '@rivulet/core';
import { z } from 'zod';
import { capMap, isObject, toNumber, tbBool } from '../util/data';
import { SKIPPED } from '../util/sampling';

interface Reported {
  value: JsonValue;
  at: number;
}

/**
 * Report by exception (deadband): per originator and key, a value is reported when it moved past
 * the band since the value last reported (not the last seen, so slow drift is reported too), or
 * when the key was not reported for `maxIntervalSeconds` (a heartbeat). A message with at least one
 * reported key goes on by Success (optionally with only those keys); the others by "Skipped".
 * Non-numeric values are reported when they change. State: at most `maxOriginators` originators
 * (oldest forgotten first; a forgotten one reports its next values).
 */
export const deadbandNode = defineNode({
  type: 'rivulet.sampling.deadband',
  category: 'sampling',
  name: 'report by exception',
  description: 'Lets a message through when a value moved past a deadband since last reported, or after a max interval.',
  configSchema: z.looseObject({
    /** Keys watched; empty: every key of the data. */
    keys: z.array(z.string().min(1)).default([]),
    /** Absolute band: a change larger than this is reported (0: any change). */
    deadband: z.number().nonnegative().default(0),
    /** Relative band in percent of the last reported value (0: off); either band reports. */
    deadbandPercent: z.number().nonnegative().default(0),
    /** Report a key at least this often even when unchanged (0: never). */
    maxIntervalSeconds: z.number().nonnegative().default(0),
    /** Send on only the keys that were reported (the others are left out of the data). */
    dropUnchangedKeys: tbBool().default(false),
    maxOriginators: z.number().int().positive().default(10_000),
  }),
  configVersion: 0,
  relations: [Relation.SUCCESS, SKIPPED],
  create(config, services) {
    const state = new Map<string, Map<string, Reported>>();
    const maxIntervalMs = config.maxIntervalSeconds * 1000;
    const watched = config.keys.length > 0 ? config.keys : undefined;

    function changed(prev: Reported | undefined, v: JsonValue, now: number): boolean {
      if (!prev) return true;
      if (maxIntervalMs > 0 && now - prev.at >= maxIntervalMs) return true;
      const a = toNumber(prev.value);
      const b = toNumber(v);
      if (a === undefined || b === undefined || typeof v === 'boolean') return JSON.stringify(prev.value) !== JSON.stringify(v);
      const delta = Math.abs(b - a);
      if (config.deadband === 0 && config.deadbandPercent === 0) return delta > 0;
      return (config.deadband > 0 && delta > config.deadband) || (config.deadbandPercent > 0 && delta > (Math.abs(a) * config.deadbandPercent) / 100);
    }

    return {
      process(msg) {
        if (!isObject(msg.data)) return [{ relation: Relation.SUCCESS, msg }];
        const data = msg.data;
        const now = services.now();
        const id = msg.originator.id;
        let last = state.get(id);
        if (!last) {
          last = new Map();
          state.set(id, last);
          capMap(state, config.maxOriginators);
        }
        const reported: JsonObject = {};
        let any = false;
        for (const key of watched ?? Object.keys(data)) {
          const v = data[key];
          if (v === undefined) continue;
          if (changed(last.get(key), v, now)) {
            last.set(key, { value: v, at: now });
            reported[key] = v;
            any = true;
          }
        }
        if (!any) return [{ relation: SKIPPED, msg }];
        if (!config.dropUnchangedKeys) return [{ relation: Relation.SUCCESS, msg }];
        // Unwatched keys ride along; watched keys that did not change are left out.
        const out: JsonObject = {};
        for (const [k, v] of Object.entries(data)) {
          const isWatched = !watched || watched.includes(k);
          if (!isWatched || k in reported) out[k] = v;
        }
        return [{ relation: Relation.SUCCESS, msg: withMsg(msg, { data: out }) }];
      },
      destroy: () => state.clear(),
    };
  },
});
