import { describe, expect, it } from 'vitest';
import { capacityFromDocs, parseSoakArgs, renderSummary, renderTable, splitRate, summarize, type SoakSample } from './soak-report';

const sample = (minute: number, rssMB: number, heapMB: number): SoakSample => ({ minute, rssMB, heapMB, loopP99Ms: 20, loopMaxMs: 40, lag: 5, errors: 0, sent: 100, acked: 100, processed: 100, wsUpdates: 10 });

describe('soak arguments', () => {
  it('defaults: 30 minutes, rate from the docs, 50/30/20 split, 3 warm-up minutes', () => {
    const o = parseSoakArgs([]);
    expect(o).toMatchObject({ minutes: 30, rate: undefined, warmup: 3, sampleS: 60, out: undefined });
    expect(o.split.mqtt).toBeCloseTo(0.5);
    expect(o.split.coap).toBeCloseTo(0.2);
  });
  it('--minutes, --rate, --split, --out', () => {
    const o = parseSoakArgs(['--minutes', '3', '--rate', '900', '--split', 'mqtt:1,http:1,coap:1', '--out', 'x.md']);
    expect(o).toMatchObject({ minutes: 3, rate: 900, warmup: 2, out: 'x.md' });
    expect(o.split.http).toBeCloseTo(1 / 3);
  });
  it('refuses bad values', () => {
    expect(() => parseSoakArgs(['--minutes', '0'])).toThrow(/--minutes/);
    expect(() => parseSoakArgs(['--split', 'amqp:5'])).toThrow(/unknown transport/);
    expect(() => parseSoakArgs(['--split', 'mqtt:0'])).toThrow(/add up to 0/);
    expect(() => parseSoakArgs(['--bogus'])).toThrow();
  });
});

describe('capacity from docs/benchmarks.md', () => {
  const md = 'text\n```\nbench rivulet-postgres-mqtt: stored_per_s=117941 p99_ms=45.5\nbench rivulet-embedded-mqtt: stored_per_s=63106 p99_ms=55.6\n```\n`bench rivulet-postgres-mqtt: stored_per_s=104435 p99_ms=46.0`\n';
  it('takes the first line of the configuration', () => {
    expect(capacityFromDocs(md, 'embedded')?.pointsPerS).toBe(63106);
    expect(capacityFromDocs(md, 'postgres')?.pointsPerS).toBe(117941);
    expect(capacityFromDocs('nothing', 'embedded')).toBeUndefined();
  });
  it('splits a rate into integers that add up', () => {
    const r = splitRate(10517, { mqtt: 0.5, http: 0.3, coap: 0.2 });
    expect(r.mqtt + r.http + r.coap).toBe(10517);
  });
});

describe('table and summary', () => {
  it('start is the first minute after warm-up, middle the middle, end the last; growth in %', () => {
    const s = [sample(1, 300, 50), sample(2, 400, 60), sample(3, 500, 70), sample(4, 500, 70), sample(5, 510, 72), sample(6, 520, 77)];
    const sum = summarize(s, 3)!;
    expect([sum.start.minute, sum.middle.minute, sum.end.minute]).toEqual([4, 5, 6]);
    expect(sum.rssGrowthPct).toBeCloseTo(4);
    expect(sum.heapGrowthPct).toBeCloseTo(10);
    expect(sum.flat).toBe(true);
    expect(summarize([...s, sample(7, 600, 70)], 3)!.flat).toBe(false);
    expect(renderSummary(sum, 3)).toContain('RSS +4.0%, heap +10.0%: flat within 10%');
  });
  it('uses every minute when the run is no longer than the warm-up', () => {
    expect(summarize([sample(1, 1, 1), sample(2, 1, 1)], 3)!.start.minute).toBe(1);
    expect(summarize([], 3)).toBeUndefined();
  });
  it('renders one row per minute', () => {
    const t = renderTable([sample(1, 300.4, 50.25), sample(2, 301, 51)]);
    expect(t.split('\n')).toHaveLength(4);
    expect(t).toContain('| 1 | 300 | 50.3 | 20.0 | 5 | 0 | 100 | 100 | 100 | 10 |');
  });
});
