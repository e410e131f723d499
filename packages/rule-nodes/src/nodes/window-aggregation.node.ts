import { createMsg, MsgType, RivuletError, ErrorCode, type JsonObject, type Msg } from '@rivulet/core';
import { defineNode, Relation, type NodeContext } from '@rivulet/rule-engine';
import { z } from 'zod';
import { isObject, toNumber } from '../util/data';

const Aggregation = z.enum(['AVG', 'MIN', 'MAX', 'SUM', 'COUNT']);
type Aggregation = z.infer<typeof Aggregation>;

interface Acc {
  count: number;
  sum: number;
  min: number;
  max: number;
}

interface OriginatorWindow {
  originator: Msg['originator'];
  tenantId: string;
  metadata: Readonly<Record<string, string>>;
  keys: Map<string, Acc>;
}

/**
 * Tumbling-window aggregation per originator and key. Windows are aligned to multiples of the
 * interval (every originator's window closes at the same instant), so one timer per node serves
 * them all. Telemetry messages are consumed (acknowledged at once); when a window closes, one
 * message per originator with the aggregates goes on by Success via ctx.emit, with metadata.ts the
 * window start. Other messages leave at once by "Other".
 *
 * With one aggregation a key keeps its name (temperature = its average); with several, each gets a
 * suffix (temperature_avg, temperature_max). Only numbers (and numeric strings) are aggregated.
 * Capped at `maxOriginators` originators and `maxKeys` keys each per window (past them: Failure);
 * what a window holds is lost if the chain is replaced or the process stops before it closes.
 */
export const windowAggregationNode = defineNode({
  type: 'rivulet.sampling.windowAggregation',
  category: 'sampling',
  name: 'window aggregation',
  description: 'Aggregates numeric telemetry per originator and key over tumbling windows (avg/min/max/sum/count).',
  configSchema: z.looseObject({
    intervalSeconds: z.number().positive().default(60),
    /** Keys to aggregate; empty: every numeric key. */
    keys: z.array(z.string().min(1)).default([]),
    aggregations: z.array(Aggregation).min(1).default(['AVG']),
    outMsgType: z.string().min(1).default(MsgType.POST_TELEMETRY_REQUEST),
    maxOriginators: z.number().int().positive().default(10_000),
    maxKeys: z.number().int().positive().default(100),
  }),
  configVersion: 0,
  relations: [Relation.SUCCESS, Relation.OTHER, Relation.FAILURE],
  create(config, services) {
    const intervalMs = Math.round(config.intervalSeconds * 1000);
    const only = config.keys.length > 0 ? new Set(config.keys) : undefined;
    const suffix = config.aggregations.length > 1;
    let windowStart = 0;
    let windows = new Map<string, OriginatorWindow>();
    let timer: ReturnType<typeof setTimeout> | undefined;
    let ctxRef: NodeContext | undefined;

    const value = (acc: Acc, agg: Aggregation): number => {
      switch (agg) {
        case 'AVG':
          return acc.sum / acc.count;
        case 'MIN':
          return acc.min;
        case 'MAX':
          return acc.max;
        case 'SUM':
          return acc.sum;
        case 'COUNT':
          return acc.count;
      }
    };

    function close(): void {
      timer = undefined;
      const closing = windows;
      const start = windowStart;
      windows = new Map();
      for (const w of closing.values()) {
        if (w.keys.size === 0) continue;
        const data: JsonObject = {};
        for (const [key, acc] of w.keys) {
          for (const agg of config.aggregations) data[suffix ? `${key}_${agg.toLowerCase()}` : key] = value(acc, agg);
        }
        const msg = createMsg({
          type: config.outMsgType,
          originator: w.originator,
          tenantId: w.tenantId,
          metadata: { ...w.metadata, ts: String(start), windowStart: String(start), windowEnd: String(start + intervalMs) },
          data,
        });
        void ctxRef?.emit([{ relation: Relation.SUCCESS, msg }]);
      }
    }

    function add(w: OriginatorWindow, values: JsonObject): void {
      for (const [key, raw] of Object.entries(values)) {
        if (only && !only.has(key)) continue;
        const n = toNumber(raw);
        if (n === undefined || typeof raw === 'boolean') continue;
        let acc = w.keys.get(key);
        if (!acc) {
          if (w.keys.size >= config.maxKeys) throw new RivuletError(ErrorCode.UNAVAILABLE, `Window aggregation holds too many keys for ${w.originator.id} (maxKeys ${config.maxKeys})`);
          acc = { count: 0, sum: 0, min: n, max: n };
          w.keys.set(key, acc);
        }
        acc.count++;
        acc.sum += n;
        if (n < acc.min) acc.min = n;
        if (n > acc.max) acc.max = n;
      }
    }

    return {
      process(msg, ctx) {
        if (msg.type !== MsgType.POST_TELEMETRY_REQUEST) return [{ relation: Relation.OTHER, msg }];
        ctxRef = ctx;
        const now = services.now();
        const start = Math.floor(now / intervalMs) * intervalMs;
        // A window whose timer has not fired yet (a busy event loop) closes before the next opens.
        if (timer && start !== windowStart) {
          clearTimeout(timer);
          close();
        }
        const id = msg.originator.id;
        let w = windows.get(id);
        if (!w) {
          if (windows.size >= config.maxOriginators) throw new RivuletError(ErrorCode.UNAVAILABLE, `Window aggregation holds too many originators (maxOriginators ${config.maxOriginators})`);
          w = { originator: msg.originator, tenantId: msg.tenantId, metadata: msg.metadata, keys: new Map() };
          windows.set(id, w);
        } else w.metadata = msg.metadata;
        const data = msg.data;
        const groups = Array.isArray(data) ? data : [data];
        for (const g of groups) {
          if (!isObject(g)) continue;
          add(w, 'ts' in g && isObject(g.values) ? g.values : g);
        }
        if (!timer) {
          windowStart = start;
          timer = setTimeout(close, start + intervalMs - now);
          timer.unref?.();
        }
        return [];
      },
      destroy() {
        if (timer) clearTimeout(timer);
        timer = undefined;
        windows.clear();
      },
    };
  },
});
