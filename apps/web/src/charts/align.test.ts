import { describe, expect, it } from 'vitest';
import { alignSeries } from './align';

describe('alignSeries', () => {
  it('copies one series into x and y columns, sorting it when needed', () => {
    const [xs, ys] = alignSeries([{ label: 'a', points: [[3, 30], [1, 10], [2, null]] }]);
    expect(Array.from(xs)).toEqual([1, 2, 3]);
    expect(ys).toEqual([10, null, 30]);
  });

  it('merges several series on the union of their timestamps: undefined where a series has no point, null kept as a gap', () => {
    const data = alignSeries([
      { label: 'a', points: [[1, 1], [3, 3], [5, null]] },
      { label: 'b', points: [[2, 20], [3, 30], [6, 60]] },
    ]);
    expect(data[0]).toEqual([1, 2, 3, 5, 6]);
    expect(data[1]).toEqual([1, undefined, 3, null, undefined]);
    expect(data[2]).toEqual([undefined, 20, 30, undefined, 60]);
  });

  it('handles no series and empty series', () => {
    expect(alignSeries([])).toEqual([[]]);
    expect(alignSeries([{ label: 'a', points: [] }, { label: 'b', points: [] }])).toEqual([[], [], []]);
  });

  it('aligns 2 x 100,000 points in well under a second', () => {
    const a: Array<[number, number]> = [];
    const b: Array<[number, number]> = [];
    for (let i = 0; i < 100_000; i++) {
      a.push([i * 2, i]);
      b.push([i * 3, i]);
    }
    const t0 = performance.now();
    const data = alignSeries([{ label: 'a', points: a }, { label: 'b', points: b }]);
    expect(performance.now() - t0).toBeLessThan(1000);
    // Union of multiples of 2 and 3 below 200,000 / 300,000.
    expect(data[0].length).toBe(100_000 + 100_000 - Math.ceil(200_000 / 6));
  });
});
