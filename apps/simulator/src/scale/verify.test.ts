import { describe, expect, it } from 'vitest';
import { compare, formatResult, type StoredPoint } from './verify';

const p = (deviceId: string, seq: number, xid: number, ts = 1000 + seq): StoredPoint => ({ deviceId, seq, ts, xid });

describe('scale run comparison of acknowledged and stored points', () => {
  it('all acknowledged points stored once, in order: zeros', () => {
    const acked = new Map([['a', new Set([1, 2, 3])], ['b', new Set([1, 2])]]);
    const r = compare(acked, [p('a', 1, 10), p('a', 2, 10), p('a', 3, 11), p('b', 2, 12), p('b', 1, 12)]);
    expect(formatResult(r)).toBe('acked=5 stored=5 duplicates=0 lost=0 out_of_order=0');
  });
  it('counts a lost point, a seq stored under two ts, and a later seq written by an earlier transaction', () => {
    const acked = new Map([['a', new Set([1, 2, 3, 4])]]);
    const r = compare(acked, [p('a', 1, 10), p('a', 2, 12), p('a', 2, 13, 5000), p('a', 3, 11)]);
    expect(r).toEqual({ acked: 4, stored: 3, duplicates: 1, lost: 1, outOfOrder: 1, storedNotAcked: 0 });
  });
  it('points stored but never acknowledged are counted apart, not as lost', () => {
    const r = compare(new Map([['a', new Set([1])]]), [p('a', 1, 1), p('a', 2, 2), p('x', 1, 1)]);
    expect(r).toMatchObject({ acked: 1, stored: 2, lost: 0, storedNotAcked: 1 });
  });
});
