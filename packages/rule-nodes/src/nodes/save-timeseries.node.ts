import { BadRequestError, msgDoubles, toKvObject, type JsonValue, type Msg, type TsPoint } from '@rivulet/core';
import { defineNode, Relation } from '@rivulet/rule-engine';
import { z } from 'zod';
import { tbBool } from '../util/data';

/** The points of a telemetry message: data {k:v} (or ThingsBoard's {ts, values} / array forms), ts from metadata.ts. */
export function pointsOf(msg: Msg, now: number): TsPoint[] {
  const metaTs = Number(msg.metadata.ts);
  const defaultTs = Number.isFinite(metaTs) && msg.metadata.ts !== undefined && msg.metadata.ts !== '' ? metaTs : msg.ts || now;
  const entityId = msg.originator.id;
  const out: TsPoint[] = [];
  const data = msg.data;
  const doubles = msgDoubles(msg);
  // Plain loops and top-level helpers: this runs per message, and closures created per call cost an
  // allocation each (and a name-keeping call each under tsx).
  if (Array.isArray(data)) for (const el of data) addElement(out, entityId, el, defaultTs, doubles);
  else addElement(out, entityId, data, defaultTs, doubles);
  return out;
}

function addElement(out: TsPoint[], entityId: string, el: JsonValue, defaultTs: number, doubles: ReadonlySet<string> | undefined): void {
  if (typeof el !== 'object' || el === null || Array.isArray(el)) {
    throw new BadRequestError('Telemetry message data must be an object or an array of objects');
  }
  if ('ts' in el && 'values' in el && typeof el.values === 'object' && el.values !== null && !Array.isArray(el.values)) {
    addGroup(out, entityId, el.values, Number(el.ts), doubles);
  } else addGroup(out, entityId, el, defaultTs, doubles);
}

function addGroup(out: TsPoint[], entityId: string, values: Record<string, JsonValue>, ts: number, doubles: ReadonlySet<string> | undefined): void {
  const kv = toKvObject(values, false);
  for (const key in kv) {
    const value = kv[key]!;
    // a key the message marks as a double (written 1.0) is stored as one (Msg.doubles)
    out.push(doubles !== undefined && typeof value === 'number' && doubles.has(key) ? { entityId, key, ts, value, double: true } : { entityId, key, ts, value });
  }
}

export const saveTimeseriesNode = defineNode({
  type: 'rivulet.action.saveTimeseries',
  aliases: ['org.thingsboard.rule.engine.telemetry.TbMsgTimeseriesNode'],
  category: 'action',
  name: 'save time series',
  description: 'Stores the message data as time series of the originator (idempotent on entity, key, ts).',
  configSchema: z.looseObject({
    /** ThingsBoard's TTL in seconds; retention is a storage policy here (docs/operations.md). */
    defaultTTL: z.number().int().nonnegative().default(0),
    /** Stamp points with the server's time instead of the message's. */
    useServerTs: tbBool().default(false),
  }),
  configVersion: 0,
  relations: [Relation.SUCCESS, Relation.FAILURE],
  create(config, services) {
    return {
      async process(msg) {
        if (msg.type !== 'POST_TELEMETRY_REQUEST' && msg.type !== 'TIMESERIES_UPDATED') {
          // ThingsBoard's node fails other types rather than guessing.
          throw new BadRequestError(`Unsupported message type ${msg.type}: save time series takes POST_TELEMETRY_REQUEST`);
        }
        let points = pointsOf(msg, services.now());
        if (config.useServerTs) {
          const now = services.now();
          points = points.map((p) => ({ ...p, ts: now }));
        }
        await services.timeseries.save(points);
        return [{ relation: Relation.SUCCESS, msg }];
      },
    };
  },
});
