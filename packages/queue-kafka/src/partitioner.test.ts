import { describe, expect, it } from 'vitest';
import { Partitioners, type PartitionerArgs } from 'kafkajs';
import { cachingPartitioner } from './producer';

const meta = (n: number) => Array.from({ length: n }, (_, i) => ({ partitionErrorCode: 0, partitionId: i, leader: 1, replicas: [1], isr: [1] }));
const args = (topic: string, n: number, key: string, partition?: number): PartitionerArgs => ({ topic, partitionMetadata: meta(n), message: { key, value: 'x', ...(partition === undefined ? {} : { partition }) } });

describe('cachingPartitioner', () => {
  it('picks the same partition as the default partitioner for every key, partition count and topic, cached or not', () => {
    const plain = Partitioners.DefaultPartitioner();
    const cached = cachingPartitioner(Partitioners.DefaultPartitioner)();
    const spread = new Set<number>();
    for (const n of [8, 3, 8, 16]) {
      for (let i = 0; i < 2_000; i++) {
        const key = `device-${i % 500}-${globalThis.crypto.randomUUID().slice(0, i % 3)}`;
        for (const topic of ['a', 'b']) {
          const want = plain(args(topic, n, key));
          expect(cached(args(topic, n, key))).toBe(want);
          expect(cached(args(topic, n, key))).toBe(want); // from the cache
          if (n === 16) spread.add(want);
        }
      }
    }
    expect(spread.size).toBe(16);
  });

  it('keeps an explicit partition', () => {
    const cached = cachingPartitioner(Partitioners.DefaultPartitioner)();
    const k = 'device-1';
    const natural = cached(args('t', 8, k));
    expect(cached(args('t', 8, k, (natural + 1) % 8))).toBe((natural + 1) % 8);
    expect(cached(args('t', 8, k))).toBe(natural);
  });
});
