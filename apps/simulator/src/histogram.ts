/**
 * Latency histogram with bounded memory: log-spaced buckets 1% wide from 1 µs to ~17 min, so
 * millions of samples cost a fixed 2,100 counters and percentiles are within 1%.
 */
export interface Histogram {
  record(ms: number): void;
  /** Value (ms) at quantile q in [0, 1]; NaN when empty. */
  quantile(q: number): number;
  readonly count: number;
  readonly max: number;
  readonly mean: number;
  merge(other: Histogram): void;
  /** Bucket counts, to merge across processes. */
  toJSON(): { counts: number[]; max: number; sum: number };
}

const MIN_MS = 0.001;
const GROWTH = Math.log(1.01);
const BUCKETS = 2100;

function bucketOf(ms: number): number {
  if (!(ms > MIN_MS)) return 0;
  return Math.min(BUCKETS - 1, 1 + Math.floor(Math.log(ms / MIN_MS) / GROWTH));
}

/** Upper edge of a bucket, reported as its value (conservative). */
function valueOf(bucket: number): number {
  return bucket === 0 ? MIN_MS : MIN_MS * Math.exp(bucket * GROWTH);
}

export function createHistogram(from?: { counts: number[]; max: number; sum: number }): Histogram {
  const counts = new Float64Array(BUCKETS);
  let count = 0;
  let max = 0;
  let sum = 0;
  const h: Histogram = {
    record(ms) {
      counts[bucketOf(ms)]!++;
      count++;
      sum += ms;
      if (ms > max) max = ms;
    },
    quantile(q) {
      if (count === 0) return NaN;
      const rank = Math.max(1, Math.ceil(q * count));
      let seen = 0;
      for (let i = 0; i < BUCKETS; i++) {
        seen += counts[i]!;
        if (seen >= rank) return Math.min(valueOf(i), max);
      }
      return max;
    },
    get count() {
      return count;
    },
    get max() {
      return max;
    },
    get mean() {
      return count === 0 ? NaN : sum / count;
    },
    merge(other) {
      const o = other.toJSON();
      for (let i = 0; i < BUCKETS; i++) counts[i]! += o.counts[i] ?? 0;
      count += o.counts.reduce((a, b) => a + b, 0);
      sum += o.sum;
      if (o.max > max) max = o.max;
    },
    toJSON() {
      return { counts: Array.from(counts), max, sum };
    },
  };
  if (from) h.merge({ toJSON: () => from } as Histogram);
  return h;
}
