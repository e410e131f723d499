import { parseArgs } from 'node:util';

/** Options of `npm run soak`. */
export interface SoakOptions {
  minutes: number;
  /** Messages per second over all transports; undefined: half the measured capacity (docs/benchmarks.md). */
  rate: number | undefined;
  /** Shares of the rate per transport (sum 1). */
  split: { mqtt: number; http: number; coap: number };
  /** Minutes left out of the growth figures (warm-up). */
  warmup: number;
  out: string | undefined;
  /** Sampling period (seconds); 60 in a real soak. */
  sampleS: number;
}

export const SOAK_USAGE = `Usage: npm run soak -- --minutes N [--rate MSG_PER_S] [--split mqtt:50,http:30,coap:20] [--warmup 3] [--out FILE] [--sample-seconds 60]`;

export function parseSoakArgs(argv: readonly string[]): SoakOptions {
  const { values: v } = parseArgs({
    args: [...argv],
    strict: true,
    options: { minutes: { type: 'string' }, rate: { type: 'string' }, split: { type: 'string' }, warmup: { type: 'string' }, out: { type: 'string' }, 'sample-seconds': { type: 'string' } },
  });
  const num = (name: string, s: string | undefined, def: number, min: number): number => {
    if (s === undefined) return def;
    const n = Number(s);
    if (!Number.isFinite(n) || n < min) throw new Error(`--${name} must be a number >= ${min} (got "${s}")`);
    return n;
  };
  const minutes = num('minutes', v.minutes, 30, 1);
  const rate = v.rate === undefined ? undefined : num('rate', v.rate, 0, 1);
  const split = { mqtt: 50, http: 30, coap: 20 };
  if (v.split !== undefined) {
    for (const k of Object.keys(split) as Array<keyof typeof split>) split[k] = 0;
    for (const part of v.split.split(',')) {
      const [k, n] = part.split(':');
      if (k !== 'mqtt' && k !== 'http' && k !== 'coap') throw new Error(`--split: unknown transport "${k}" (mqtt, http, coap)`);
      split[k] = num('split', n, 0, 0);
    }
  }
  const total = split.mqtt + split.http + split.coap;
  if (total <= 0) throw new Error('--split: the shares add up to 0');
  return {
    minutes,
    rate,
    split: { mqtt: split.mqtt / total, http: split.http / total, coap: split.coap / total },
    warmup: num('warmup', v.warmup, Math.min(3, Math.max(0, minutes - 1)), 0),
    out: v.out,
    sampleS: num('sample-seconds', v['sample-seconds'], 60, 1),
  };
}

/**
 * The measured capacity (stored points/s) of this machine from docs/benchmarks.md: the closing
 * `bench rivulet-<config>-mqtt: stored_per_s=N` line of the latest full run (the first such line).
 */
export function capacityFromDocs(markdown: string, config: 'embedded' | 'postgres'): { pointsPerS: number; line: string } | undefined {
  const re = new RegExp(`^\`?bench rivulet-${config}-mqtt: stored_per_s=(\\d+)[^\\n]*`, 'm');
  const m = re.exec(markdown);
  if (!m) return undefined;
  return { pointsPerS: Number(m[1]), line: m[0].replace(/`/g, '') };
}

/** Integer rates per transport that add up to `rate`. */
export function splitRate(rate: number, split: SoakOptions['split']): { mqtt: number; http: number; coap: number } {
  const mqtt = Math.round(rate * split.mqtt);
  const http = Math.round(rate * split.http);
  return { mqtt, http, coap: Math.max(0, Math.round(rate) - mqtt - http) };
}

/** One minute's sample. */
export interface SoakSample {
  minute: number;
  rssMB: number;
  /** Heap used after a full GC. */
  heapMB: number;
  loopP99Ms: number;
  loopMaxMs: number;
  /** Queue lag (messages produced, not yet processed by the rule engine). */
  lag: number;
  /** Errors in this minute: client-side failed sends plus server error log lines. */
  errors: number;
  /** Messages sent and acknowledged in this minute, over all transports. */
  sent: number;
  acked: number;
  /** Messages the rule engine processed in this minute. */
  processed: number;
  wsUpdates: number;
}

const f0 = (n: number) => (Number.isFinite(n) ? Math.round(n).toLocaleString('en-US') : 'n/a');
const f1 = (n: number) => (Number.isFinite(n) ? n.toFixed(1) : 'n/a');

export function sampleLine(s: SoakSample): string {
  return `minute ${s.minute}: RSS ${f0(s.rssMB)} MB, heap ${f1(s.heapMB)} MB, event-loop p99 ${f1(s.loopP99Ms)} ms (max ${f1(s.loopMaxMs)}), lag ${f0(s.lag)}, errors ${s.errors}, sent ${f0(s.sent)}, acked ${f0(s.acked)}, processed ${f0(s.processed)}, ws updates ${f0(s.wsUpdates)}`;
}

export function renderTable(samples: readonly SoakSample[]): string {
  const rows = ['| minute | RSS MB | heap MB (after GC) | event-loop p99 ms | lag | errors | sent msgs | acked msgs | processed msgs | WS updates |', '|---|---|---|---|---|---|---|---|---|---|'];
  for (const s of samples) rows.push(`| ${s.minute} | ${f0(s.rssMB)} | ${f1(s.heapMB)} | ${f1(s.loopP99Ms)} | ${f0(s.lag)} | ${s.errors} | ${f0(s.sent)} | ${f0(s.acked)} | ${f0(s.processed)} | ${f0(s.wsUpdates)} |`);
  return rows.join('\n');
}

export interface SoakSummary {
  start: SoakSample;
  middle: SoakSample;
  end: SoakSample;
  /** Growth from the first sample after warm-up to the end, in % (RSS and heap). */
  rssGrowthPct: number;
  heapGrowthPct: number;
  /** Within `tolerancePct` after warm-up (RSS and heap). */
  flat: boolean;
}

/** Start = first minute after warm-up, middle = the middle of the rest, end = the last minute. */
export function summarize(samples: readonly SoakSample[], warmupMinutes: number, tolerancePct = 10): SoakSummary | undefined {
  const after = samples.filter((s) => s.minute > warmupMinutes);
  const use = after.length > 0 ? after : samples;
  if (use.length === 0) return undefined;
  const start = use[0]!;
  const end = use[use.length - 1]!;
  const middle = use[Math.floor((use.length - 1) / 2)]!;
  const pct = (a: number, b: number) => (a > 0 ? ((b - a) / a) * 100 : NaN);
  const rssGrowthPct = pct(start.rssMB, end.rssMB);
  const heapGrowthPct = pct(start.heapMB, end.heapMB);
  return { start, middle, end, rssGrowthPct, heapGrowthPct, flat: Math.abs(rssGrowthPct) <= tolerancePct && Math.abs(heapGrowthPct) <= tolerancePct };
}

export function renderSummary(sum: SoakSummary, warmupMinutes: number): string {
  const row = (name: string, s: SoakSample) => `| ${name} (minute ${s.minute}) | ${f0(s.rssMB)} | ${f1(s.heapMB)} | ${f1(s.loopP99Ms)} | ${f0(s.lag)} | ${s.errors} |`;
  const sign = (n: number) => (n >= 0 ? `+${f1(n)}` : f1(n));
  return [
    '| | RSS MB | heap MB (after GC) | event-loop p99 ms | lag | errors |',
    '|---|---|---|---|---|---|',
    row('start', sum.start),
    row('middle', sum.middle),
    row('end', sum.end),
    '',
    `Growth after warm-up (minutes 1-${warmupMinutes} left out), start -> end: RSS ${sign(sum.rssGrowthPct)}%, heap ${sign(sum.heapGrowthPct)}%: ${sum.flat ? 'flat within 10%' : 'NOT flat within 10%'}.`,
  ].join('\n');
}
