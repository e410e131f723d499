import type { AggregationName } from '@rivulet/api-types';
import type { JsonObject } from './model';

/**
 * ThingsBoard's dashboard time window (`configuration.timewindow`): `selectedTab` 0 is realtime
 * (the last `realtime.timewindowMs`), 1 is history (the last `history.timewindowMs`, or
 * `history.fixedTimewindow` when `historyType` is 1); `aggregation` {type, limit} applies to both.
 */
export interface TbTimewindow {
  selectedTab?: number;
  realtime?: { realtimeType?: number; timewindowMs?: number; interval?: number };
  history?: { historyType?: number; timewindowMs?: number; interval?: number; fixedTimewindow?: { startTimeMs: number; endTimeMs: number } };
  aggregation?: { type?: string; limit?: number };
  [k: string]: unknown;
}

/** A history read is split into at most this many aggregation intervals, whatever its range. */
export const MAX_INTERVALS = 1000;
/** Raw points kept per series (read in pages of the server's maximum, 50,000). */
export const MAX_RAW_POINTS = 100_000;
/** Points held per series while live: older ones are dropped as new ones arrive. */
export const MAX_LIVE_POINTS = 20_000;

const AGGS: readonly AggregationName[] = ['NONE', 'AVG', 'MIN', 'MAX', 'SUM', 'COUNT'];

export interface Window {
  mode: 'realtime' | 'history';
  startTs: number;
  endTs: number;
  /** Realtime only: the window's length, kept while live points arrive. */
  spanMs: number;
  agg: AggregationName;
  /** Aggregation interval in ms (0 for NONE). */
  interval: number;
  /** Points per series asked of the server. */
  limit: number;
}

export function readTimewindow(config: JsonObject): TbTimewindow {
  const tw = config.timewindow;
  return tw && typeof tw === 'object' && !Array.isArray(tw) ? (tw as TbTimewindow) : {};
}

export function isRealtime(tw: TbTimewindow): boolean {
  if (tw.selectedTab === 1) return false;
  if (tw.selectedTab === 0) return true;
  return !tw.history || !!tw.realtime;
}

const NICE = [1000, 2000, 5000, 10_000, 15_000, 30_000, 60_000, 120_000, 300_000, 600_000, 900_000, 1_800_000, 3_600_000, 7_200_000, 10_800_000, 21_600_000, 43_200_000, 86_400_000, 172_800_000, 604_800_000, 2_592_000_000];

/** The smallest "round" interval (1 s, 5 min, 12 h...) that splits `rangeMs` into at most MAX_INTERVALS, and not below `wanted`. */
export function aggregationInterval(rangeMs: number, wanted = 0): number {
  const min = Math.max(wanted, Math.ceil(rangeMs / MAX_INTERVALS), 1000);
  return NICE.find((n) => n >= min) ?? Math.ceil(min / 86_400_000) * 86_400_000;
}

/** The window to read now, for the dashboard's time window. */
export function resolveWindow(tw: TbTimewindow, now = Date.now()): Window {
  const realtime = isRealtime(tw);
  const aggType = AGGS.includes(tw.aggregation?.type as AggregationName) ? (tw.aggregation!.type as AggregationName) : 'NONE';
  let startTs: number;
  let endTs: number;
  let wanted = 0;
  if (realtime) {
    const span = positive(tw.realtime?.timewindowMs, 3_600_000);
    startTs = now - span;
    endTs = now;
    wanted = tw.realtime?.interval ?? 0;
  } else {
    const h = tw.history ?? {};
    if (h.historyType === 1 && h.fixedTimewindow && h.fixedTimewindow.endTimeMs > h.fixedTimewindow.startTimeMs) {
      startTs = h.fixedTimewindow.startTimeMs;
      endTs = h.fixedTimewindow.endTimeMs;
    } else {
      const span = positive(h.timewindowMs, 86_400_000);
      startTs = now - span;
      endTs = now;
    }
    wanted = h.interval ?? 0;
  }
  const spanMs = endTs - startTs;
  if (aggType === 'NONE') {
    const limit = Math.min(positive(tw.aggregation?.limit, MAX_RAW_POINTS), MAX_RAW_POINTS);
    return { mode: realtime ? 'realtime' : 'history', startTs, endTs, spanMs, agg: 'NONE', interval: 0, limit };
  }
  const interval = aggregationInterval(spanMs, wanted);
  return { mode: realtime ? 'realtime' : 'history', startTs, endTs, spanMs, agg: aggType, interval, limit: Math.ceil(spanMs / interval) + 1 };
}

function positive(v: unknown, d: number): number {
  return typeof v === 'number' && Number.isFinite(v) && v > 0 ? v : d;
}

const UNITS: Array<[number, string]> = [
  [86_400_000, 'd'],
  [3_600_000, 'h'],
  [60_000, 'min'],
  [1000, 's'],
];
export function formatSpan(ms: number): string {
  for (const [u, name] of UNITS) if (ms >= u && ms % u === 0) return `${ms / u} ${name}`;
  for (const [u, name] of UNITS) if (ms >= u) return `${(ms / u).toFixed(1)} ${name}`;
  return `${ms} ms`;
}

/** "Last 1 h, live" / "1 Jan – 31 Dec, AVG per 12 h": the control's label. */
export function describeTimewindow(tw: TbTimewindow): string {
  const w = resolveWindow(tw);
  const agg = w.agg === 'NONE' ? '' : `, ${w.agg} per ${formatSpan(w.interval)}`;
  if (w.mode === 'realtime') return `Last ${formatSpan(w.spanMs)}, live${agg}`;
  const h = tw.history ?? {};
  if (h.historyType === 1 && h.fixedTimewindow) {
    const f = (t: number) => new Date(t).toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' });
    return `${f(w.startTs)} – ${f(w.endTs)}${agg}`;
  }
  return `History: last ${formatSpan(w.spanMs)}${agg}`;
}
