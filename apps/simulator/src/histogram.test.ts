import { describe, expect, it } from 'vitest';
import { createHistogram } from './histogram';

describe('latency histogram', () => {
  it('percentiles within 1% in fixed memory; merges', () => {
    const h = createHistogram();
    for (let i = 1; i <= 10_000; i++) h.record(i / 100); // 0.01 .. 100 ms
    expect(h.count).toBe(10_000);
    expect(h.quantile(0.5)).toBeGreaterThan(50 * 0.99);
    expect(h.quantile(0.5)).toBeLessThan(50 * 1.01);
    expect(h.quantile(0.99)).toBeGreaterThan(99 * 0.99);
    expect(h.quantile(0.99)).toBeLessThan(99 * 1.01);
    expect(h.max).toBe(100);
    const other = createHistogram(h.toJSON());
    other.merge(h);
    expect(other.count).toBe(20_000);
    expect(other.quantile(0.5)).toBeCloseTo(h.quantile(0.5));
    expect(createHistogram().quantile(0.5)).toBeNaN();
  });
});
