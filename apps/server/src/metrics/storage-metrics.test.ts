import { Registry } from 'prom-client';
import { createMemoryBroadcast } from '@rivulet/broadcast';
import type { TsPoint } from '@rivulet/core';
import type { Storage } from '@rivulet/storage';
import { describe, expect, it } from 'vitest';
import { createLiveStorage } from '../live-storage';
import { storageMetrics } from './collectors';

describe('storage write metrics', () => {
  it('one observation per batch written: its rows and latency; a failed write is counted as a failure', async () => {
    let fail = false;
    const saved: number[] = [];
    const fake = {
      kind: 'postgres',
      timeseries: {
        async save(points: ReadonlyArray<TsPoint>) {
          await new Promise((r) => setTimeout(r, 20));
          if (fail) throw new Error('database is down');
          saved.push(points.length);
        },
      },
      attributes: { async save() {} },
      async close() {},
    } as unknown as Storage;
    const reg = new Registry();
    const m = storageMetrics(reg);
    const storage = createLiveStorage(fake, createMemoryBroadcast(), { writeConcurrency: 1, onBatch: m.observeBatch });
    const point = (i: number): TsPoint => ({ entityId: 'e', key: 'k', ts: i, value: i }) as unknown as TsPoint;
    // saves made together are gathered into batches (how many is the batcher's business)
    await Promise.all([storage.timeseries.save([point(1)]), storage.timeseries.save([point(2), point(3)]), storage.timeseries.save([point(4)])]);
    fail = true;
    await expect(storage.timeseries.save([point(5)])).rejects.toThrow('database is down');
    const get = async (name: string) => (await reg.getSingleMetric(name)!.get()).values.filter((v) => v.labels.kind === 'timeseries') as Array<{ value: number; metricName?: string }>;
    const size = await get('rivulet_storage_batch_size');
    expect(saved.reduce((a, b) => a + b, 0)).toBe(4);
    // the stored batches and the failed one
    expect(size.find((v) => v.metricName === 'rivulet_storage_batch_size_count')?.value).toBe(saved.length + 1);
    expect(size.find((v) => v.metricName === 'rivulet_storage_batch_size_sum')?.value).toBe(5);
    const secs = await get('rivulet_storage_write_seconds');
    expect(secs.find((v) => v.metricName === 'rivulet_storage_write_seconds_sum')!.value).toBeGreaterThanOrEqual(0.018 * (saved.length + 1));
    expect((await get('rivulet_storage_write_failures_total'))[0]?.value).toBe(1);
  });
});
