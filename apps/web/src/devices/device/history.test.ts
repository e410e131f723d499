import { describe, expect, it } from 'vitest';
import { bucketInterval, dropBefore, readPlan, TARGET_BUCKETS, type Point } from './history';

describe('chart history plan', () => {
  it('reads short windows raw and averages long ones into at most TARGET_BUCKETS round buckets', () => {
    expect(readPlan(15 * 60_000, 'AUTO')).toEqual({ agg: 'NONE' });
    expect(readPlan(3_600_000, 'AUTO')).toEqual({ agg: 'NONE' });
    expect(readPlan(24 * 3_600_000, 'AUTO')).toEqual({ agg: 'AVG', interval: 120_000 });
    expect(readPlan(7 * 24 * 3_600_000, 'MAX')).toEqual({ agg: 'MAX', interval: 900_000 });
    expect(readPlan(7 * 24 * 3_600_000, 'NONE')).toEqual({ agg: 'NONE' });
    const year = 365 * 86_400_000;
    expect(year / bucketInterval(year)).toBeLessThanOrEqual(TARGET_BUCKETS);
  });

  it('drops points older than the window without copying when nothing goes', () => {
    const pts: Point[] = [[1, 1], [2, 2], [3, 3], [4, 4]];
    expect(dropBefore(pts, 0)).toBe(pts);
    expect(dropBefore(pts, 3)).toEqual([[3, 3], [4, 4]]);
    expect(dropBefore(pts, 5)).toEqual([]);
  });
});
