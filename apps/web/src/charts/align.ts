import type uPlot from 'uplot';

/** One line of a chart: its points as `[epoch ms, value]`, oldest first; `null` values are gaps. */
export interface ChartSeries {
  label: string;
  /** A CSS colour; a palette colour when absent. */
  color?: string | undefined;
  points: ReadonlyArray<readonly [number, number | null]>;
}

/** Whether `points` is sorted by time (appends from a live subscription usually keep it so). */
function isSorted(points: ChartSeries['points']): boolean {
  for (let i = 1; i < points.length; i++) if (points[i]![0] < points[i - 1]![0]) return false;
  return true;
}

function sortedPoints(points: ChartSeries['points']): ChartSeries['points'] {
  return isSorted(points) ? points : [...points].sort((a, b) => a[0] - b[0]);
}

/**
 * uPlot's aligned columns: one x column (the union of every series' timestamps) and one y column
 * per series, `undefined` where a series has no point at that time. One series is a straight copy;
 * several are merged in one pass (k-way merge over already sorted inputs), O(total points).
 */
export function alignSeries(series: readonly ChartSeries[]): uPlot.AlignedData {
  const sorted = series.map((s) => sortedPoints(s.points));
  if (sorted.length === 0) return [[]];
  if (sorted.length === 1) {
    const pts = sorted[0]!;
    const xs = new Float64Array(pts.length);
    const ys: (number | null)[] = new Array<number | null>(pts.length);
    for (let i = 0; i < pts.length; i++) {
      xs[i] = pts[i]![0];
      ys[i] = pts[i]![1];
    }
    return [xs as unknown as number[], ys];
  }
  const idx = sorted.map(() => 0);
  const xs: number[] = [];
  // `undefined` where a series has no point at that time (uPlot spans it), `null` for a real gap.
  const ys: (number | null | undefined)[][] = sorted.map(() => []);
  for (;;) {
    let next = Infinity;
    for (let s = 0; s < sorted.length; s++) {
      const p = sorted[s]![idx[s]!];
      if (p && p[0] < next) next = p[0];
    }
    if (next === Infinity) break;
    xs.push(next);
    for (let s = 0; s < sorted.length; s++) {
      const p = sorted[s]![idx[s]!];
      if (p && p[0] === next) {
        ys[s]!.push(p[1]);
        idx[s] = idx[s]! + 1;
      } else ys[s]!.push(undefined);
    }
  }
  return [xs, ...ys];
}
