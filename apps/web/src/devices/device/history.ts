import type { HistoryQuery } from './device-api';
import { numericValue } from '../../charts/values';
import { getHistory } from './device-api';

/** Time windows of the chart, and how history is read for each so long windows stay fast. */

export const WINDOWS = [
  { value: '15m', label: 'Last 15 min', ms: 15 * 60_000 },
  { value: '1h', label: 'Last hour', ms: 3_600_000 },
  { value: '6h', label: 'Last 6 hours', ms: 6 * 3_600_000 },
  { value: '24h', label: 'Last 24 hours', ms: 24 * 3_600_000 },
  { value: '7d', label: 'Last 7 days', ms: 7 * 24 * 3_600_000 },
] as const;
export type WindowValue = (typeof WINDOWS)[number]['value'];

export type AggChoice = 'AUTO' | HistoryQuery['agg'];
export const AGG_CHOICES: Array<{ value: AggChoice; label: string }> = [
  { value: 'AUTO', label: 'Auto' },
  { value: 'NONE', label: 'Raw' },
  { value: 'AVG', label: 'Average' },
  { value: 'MIN', label: 'Min' },
  { value: 'MAX', label: 'Max' },
  { value: 'SUM', label: 'Sum' },
  { value: 'COUNT', label: 'Count' },
];

/** Windows up to this long are read raw under Auto; longer ones are averaged into buckets. */
export const RAW_UP_TO_MS = 3_600_000;
/** About this many buckets per aggregated window (enough for any screen width). */
export const TARGET_BUCKETS = 1000;
/** Points one raw request asks for (the API's most). */
export const PAGE_LIMIT = 50_000;
/** Raw points kept per key: older ones beyond this are not read (memory stays bounded). */
export const RAW_CAP = 200_000;

const NICE_INTERVALS = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400].map((s) => s * 1000);

/** The smallest "round" interval giving at most TARGET_BUCKETS buckets over the span. */
export function bucketInterval(spanMs: number): number {
  const raw = spanMs / TARGET_BUCKETS;
  return NICE_INTERVALS.find((i) => i >= raw) ?? Math.ceil(raw / 86_400_000) * 86_400_000;
}

export interface ReadPlan {
  agg: HistoryQuery['agg'];
  interval?: number;
}

export function readPlan(spanMs: number, choice: AggChoice): ReadPlan {
  const agg = choice === 'AUTO' ? (spanMs <= RAW_UP_TO_MS ? 'NONE' : 'AVG') : choice;
  return agg === 'NONE' ? { agg } : { agg, interval: bucketInterval(spanMs) };
}

export type Point = [number, number | null];

/**
 * One key's history, oldest first. Raw: pages of PAGE_LIMIT newest-first until the window is read or
 * RAW_CAP is reached. Aggregated: one request (a bucket per interval).
 */
export async function readHistory(deviceId: string, key: string, startTs: number, endTs: number, plan: ReadPlan, signal?: AbortSignal): Promise<{ points: Point[]; truncated: boolean }> {
  if (plan.agg !== 'NONE') {
    const res = await getHistory(deviceId, { key, startTs, endTs, agg: plan.agg, interval: plan.interval, limit: PAGE_LIMIT, orderBy: 'ASC' }, signal);
    const pts = (res[key] ?? []).map((p): Point => [p.ts, numericValue(p.value)]);
    pts.sort((a, b) => a[0] - b[0]);
    return { points: pts, truncated: false };
  }
  const pages: Point[][] = [];
  let total = 0;
  let end = endTs;
  for (;;) {
    const res = await getHistory(deviceId, { key, startTs, endTs: end, agg: 'NONE', limit: PAGE_LIMIT, orderBy: 'DESC' }, signal);
    const rows = res[key] ?? [];
    const page: Point[] = new Array<Point>(rows.length);
    for (let i = 0; i < rows.length; i++) {
      // Newest first on the wire: reversed into oldest first.
      const r = rows[rows.length - 1 - i]!;
      page[i] = [r.ts, numericValue(r.value)];
    }
    pages.unshift(page);
    total += rows.length;
    if (rows.length < PAGE_LIMIT) return { points: pages.flat(), truncated: false };
    if (total >= RAW_CAP) return { points: pages.flat(), truncated: true };
    const oldest = rows[rows.length - 1]!.ts;
    if (oldest <= startTs) return { points: pages.flat(), truncated: false };
    end = oldest - 1;
  }
}

/** Points at or after `from`, keeping the array when nothing is dropped (points are oldest first). */
export function dropBefore(points: Point[], from: number): Point[] {
  if (points.length === 0 || points[0]![0] >= from) return points;
  let lo = 0;
  let hi = points.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (points[mid]![0] < from) lo = mid + 1;
    else hi = mid;
  }
  return points.slice(lo);
}
