import { afterEach, describe, expect, it } from 'vitest';
import { isRivuletError } from '@rivulet/core';
import { queueContract } from './contract';
import { QueueClosedError } from './errors';
import { createMemoryQueue, partitionOf, type MemoryQueue, type MemoryQueueOptions } from './memory-queue';
import type { ConsumedRecord, QueueRecord } from './types';

queueContract('memory', async () => {
  const queue = createMemoryQueue({ retryBackoffMs: 5 });
  return { queue, deadLetters: async (topic) => queue.deadLetters(topic), cleanup: () => queue.close() };
});

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

async function waitFor(what: string, cond: () => boolean | Promise<boolean>, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(2);
  }
}

function gate(): { promise: Promise<void>; open(): void } {
  let open!: () => void;
  const promise = new Promise<void>((resolve) => {
    open = resolve;
  });
  return { promise, open };
}

function records(count: number, key = 'k', from = 0): QueueRecord<number>[] {
  return Array.from({ length: count }, (_, i) => ({ key, value: from + i }));
}

/** Tracks a promise's state without awaiting it. */
function track(p: Promise<unknown>): { settled: () => boolean; error: () => unknown } {
  let settled = false;
  let error: unknown;
  p.then(
    () => {
      settled = true;
    },
    (e: unknown) => {
      settled = true;
      error = e;
    },
  );
  return { settled: () => settled, error: () => error };
}

/** Two keys that land in different partitions. */
function keysInDifferentPartitions(partitions: number): [string, string] {
  const a = 'key-a';
  for (let i = 0; ; i++) {
    const b = `key-b${i}`;
    if (partitionOf(b, partitions) !== partitionOf(a, partitions)) return [a, b];
  }
}

describe('memory queue', () => {
  const open: MemoryQueue[] = [];
  function make(options: MemoryQueueOptions = {}): MemoryQueue {
    const q = createMemoryQueue({ retryBackoffMs: 5, ...options });
    open.push(q);
    return q;
  }
  afterEach(async () => {
    await Promise.all(open.splice(0).map((q) => q.close()));
  });

  it('hashes keys to stable partitions', () => {
    expect(partitionOf('device-1', 8)).toBe(partitionOf('device-1', 8));
    const used = new Set(Array.from({ length: 200 }, (_, i) => partitionOf(`device-${i}`, 8)));
    expect(used.size).toBe(8);
  });

  it('rejects invalid options', () => {
    expect(() => createMemoryQueue({ partitions: 0 })).toThrow(/partitions/);
    expect(() => createMemoryQueue({ capacity: 1.5 })).toThrow(/capacity/);
    expect(() => createMemoryQueue({ retryBackoffMs: -1 })).toThrow(/retryBackoffMs/);
  });

  it('backpressure: produce waits while the partition is full and resumes on commit', async () => {
    const q = make({ capacity: 100, partitions: 1 });
    const hold = gate();
    const seen: number[] = [];
    await q.subscribe<number>({
      topic: 't',
      group: 'g',
      handler: async (batch) => {
        await hold.promise;
        for (const r of batch) seen.push(r.value);
      },
    });
    await q.produce('t', records(100));
    const extra = track(q.produce('t', records(1, 'k', 100)));
    await sleep(30);
    expect(extra.settled()).toBe(false);
    const [s] = q.stats('t')!;
    expect(s!.retained).toBe(100);
    expect(s!.waitingProducers).toBe(1);
    expect(s!.allocated).toBeLessThanOrEqual(200);
    hold.open();
    await waitFor('the waiting produce to resolve', extra.settled);
    expect(extra.error()).toBeUndefined();
    await waitFor('record 101', () => seen.length === 101);
    expect(seen).toEqual(records(101).map((r) => r.value));
  });

  it('keeps memory bounded under sustained load through a slow consumer', async () => {
    const q = make({ capacity: 100, partitions: 2 });
    let maxAllocated = 0;
    let maxRetained = 0;
    let received = 0;
    await q.subscribe<number>({
      topic: 't',
      group: 'g',
      maxBatch: 30,
      handler: async (batch) => {
        for (const s of q.stats('t')!) {
          maxAllocated = Math.max(maxAllocated, s.allocated);
          maxRetained = Math.max(maxRetained, s.retained);
        }
        received += batch.length;
        await sleep(0);
      },
    });
    for (let i = 0; i < 100; i++) await q.produce('t', [...records(50, 'a', i * 50), ...records(50, 'b', i * 50)]);
    await waitFor('all records', () => received === 10_000);
    expect(maxRetained).toBeLessThanOrEqual(100);
    expect(maxAllocated).toBeLessThanOrEqual(200);
    // `received` counts before the handler resolves; the last commit follows.
    await waitFor('the last commit', () => q.stats('t')!.every((s) => s.retained === 0));
  });

  it('completes a single produce larger than the capacity as the consumer commits', async () => {
    const q = make({ capacity: 100, partitions: 1 });
    const big = track(q.produce('t', records(250)));
    await sleep(20);
    // No group yet: the first 100 are retained for a future subscriber, the rest wait.
    expect(big.settled()).toBe(false);
    expect(q.stats('t')![0]!.retained).toBe(100);
    const seen: number[] = [];
    await q.subscribe<number>({
      topic: 't',
      group: 'g',
      handler: async (batch) => {
        for (const r of batch) seen.push(r.value);
      },
    });
    await waitFor('the big produce', big.settled);
    expect(big.error()).toBeUndefined();
    await waitFor('all 250', () => seen.length === 250);
    expect(seen).toEqual(records(250).map((r) => r.value));
  });

  it('keeps produce order for calls that wait behind a full partition', async () => {
    const q = make({ capacity: 10, partitions: 1 });
    const first = q.produce('t', records(25, 'k', 0));
    const second = q.produce('t', records(5, 'k', 25));
    const seen: number[] = [];
    await q.subscribe<number>({
      topic: 't',
      group: 'g',
      maxBatch: 4,
      handler: async (batch) => {
        for (const r of batch) seen.push(r.value);
      },
    });
    await Promise.all([first, second]);
    await waitFor('all 30', () => seen.length === 30);
    expect(seen).toEqual(records(30).map((r) => r.value));
  });

  it('releases records once every subscribed group has committed them', async () => {
    const q = make({ partitions: 1 });
    await q.produce('t', records(50));
    expect(q.stats('t')![0]!.retained).toBe(50);
    expect(await q.lag('t', 'a')).toBe(50);

    let aCount = 0;
    await q.subscribe<number>({
      topic: 't',
      group: 'a',
      handler: async (batch) => {
        aCount += batch.length;
      },
    });
    const holdB = gate();
    await q.subscribe<number>({ topic: 't', group: 'b', handler: () => holdB.promise });
    await waitFor('group a to commit', async () => (await q.lag('t', 'a')) === 0);
    expect(aCount).toBe(50);
    // Group b has not committed: everything stays.
    expect(q.stats('t')![0]!.retained).toBe(50);
    expect(await q.lag('t', 'b')).toBe(50);
    holdB.open();
    await waitFor('group b to commit', async () => (await q.lag('t', 'b')) === 0);
    const [s] = q.stats('t')!;
    expect(s).toMatchObject({ retained: 0, startOffset: 50, endOffset: 50 });
  });

  it('starts a group that joins later from the oldest retained record', async () => {
    const q = make({ partitions: 1 });
    const holdA = gate();
    // Group a commits the first 10 records, then blocks, so 10..14 stay retained.
    await q.subscribe<number>({
      topic: 't',
      group: 'a',
      handler: async (batch) => {
        if (batch[0]!.offset >= 10) await holdA.promise;
      },
    });
    await q.produce('t', records(10));
    await waitFor('release', () => q.stats('t')![0]!.retained === 0);
    await q.produce('t', records(5, 'k', 10));
    const seen: ConsumedRecord<number>[] = [];
    await q.subscribe<number>({
      topic: 't',
      group: 'late',
      handler: async (batch) => {
        seen.push(...batch);
      },
    });
    await waitFor('the late group', () => seen.length >= 5);
    holdA.open();
    expect(seen.map((r) => r.offset)).toEqual([10, 11, 12, 13, 14]);
  });

  it('rejects produce and subscribe after close, and produce calls still waiting at close', async () => {
    const q = make({ capacity: 5, partitions: 1 });
    const waiting = track(q.produce('t', records(6)));
    await sleep(5);
    await q.close();
    await waitFor('the waiting produce', waiting.settled);
    expect(waiting.error()).toBeInstanceOf(QueueClosedError);
    const err = await q.produce('t', records(1)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(QueueClosedError);
    expect(isRivuletError(err) && err.code).toBe('UNAVAILABLE');
    expect((err as Error).message).toMatch(/closed/);
    await expect(q.subscribe({ topic: 't', group: 'g', handler: async () => {} })).rejects.toThrow(/closed/);
  });

  it('close waits for in-flight batches and stops redelivery', async () => {
    const q = make({ partitions: 1, retryBackoffMs: 20 });
    await q.produce('t', records(3));
    let calls = 0;
    await q.subscribe<number>({
      topic: 't',
      group: 'g',
      handler: async () => {
        calls++;
        throw new Error('always fails');
      },
    });
    await waitFor('first delivery', () => calls === 1);
    await q.close();
    await sleep(60);
    expect(calls).toBe(1);
  });

  it('treats a synchronous throw as a failed batch and redelivers it', async () => {
    const q = make({ partitions: 1 });
    await q.produce('t', records(2));
    const counts: number[] = [];
    await q.subscribe<number>({
      topic: 't',
      group: 'g',
      handler: (batch) => {
        counts.push(batch[0]!.deliveryCount);
        if (counts.length < 3) throw new Error('sync failure');
        return Promise.resolve();
      },
    });
    await waitFor('commit', async () => (await q.lag('t', 'g')) === 0);
    expect(counts).toEqual([1, 2, 3]);
  });

  it('backs off exponentially between redeliveries', async () => {
    const q = make({ partitions: 1, retryBackoffMs: 20 });
    await q.produce('t', records(1));
    const at: number[] = [];
    await q.subscribe<number>({
      topic: 't',
      group: 'g',
      handler: async () => {
        at.push(performance.now());
        if (at.length < 4) throw new Error('failure');
      },
    });
    await waitFor('commit', async () => (await q.lag('t', 'g')) === 0);
    const gaps = at.slice(1).map((t, i) => t - at[i]!);
    // 20, 40, 80 ms; timers may fire a millisecond early by rounding.
    expect(gaps[0]).toBeGreaterThanOrEqual(19);
    expect(gaps[1]).toBeGreaterThanOrEqual(39);
    expect(gaps[2]).toBeGreaterThanOrEqual(79);
  });

  it('keeps other partitions flowing while one partition keeps failing', async () => {
    const q = make({ partitions: 4 });
    const [bad, good] = keysInDifferentPartitions(4);
    const goodSeen: number[] = [];
    let badDeliveries = 0;
    await q.subscribe<number>({
      topic: 't',
      group: 'g',
      handler: async (batch) => {
        if (batch[0]!.key === bad) {
          badDeliveries++;
          throw new Error('poison');
        }
        for (const r of batch) goodSeen.push(r.value);
      },
    });
    await q.produce('t', records(3, bad));
    for (let i = 0; i < 10; i++) {
      await q.produce('t', records(10, good, i * 10));
      await sleep(1);
    }
    await waitFor('good records', () => goodSeen.length === 100);
    await waitFor('some redeliveries', () => badDeliveries >= 3);
    expect(await q.lag('t', 'g')).toBe(3);
  });

  it('processes partitions concurrently, but never one partition concurrently with itself', async () => {
    const q = make({ partitions: 4 });
    const keys = Array.from({ length: 16 }, (_, i) => `dev-${i}`);
    const active = new Map<string, number>();
    let maxSame = 0;
    let maxParallel = 0;
    let running = 0;
    const lastSeq = new Map<string, number>();
    const outOfOrder: string[] = [];
    let total = 0;
    const handler = async (batch: ReadonlyArray<ConsumedRecord<number>>): Promise<void> => {
      const id = `${batch[0]!.partition}`;
      const n = (active.get(id) ?? 0) + 1;
      active.set(id, n);
      maxSame = Math.max(maxSame, n);
      maxParallel = Math.max(maxParallel, ++running);
      await sleep(1);
      for (const r of batch) {
        // Collected, not asserted here: a throw would only fail the batch and cause a redelivery.
        if (r.value !== (lastSeq.get(r.key) ?? -1) + 1) outOfOrder.push(`${r.key}:${r.value}`);
        lastSeq.set(r.key, r.value);
      }
      total += batch.length;
      running--;
      active.set(id, n - 1);
    };
    const subs = [await q.subscribe({ topic: 't', group: 'g', handler, maxBatch: 5 })];
    for (let round = 0; round < 20; round++) {
      await q.produce(
        't',
        keys.map((key) => ({ key, value: round })),
      );
      // Join and leave while records flow, to exercise rebalancing.
      if (round % 5 === 1) subs.push(await q.subscribe({ topic: 't', group: 'g', handler, maxBatch: 5 }));
      if (round % 5 === 3) await subs.shift()!.stop();
      await sleep(1);
    }
    await waitFor('all records', () => total === 20 * keys.length);
    expect(maxSame).toBe(1);
    expect(maxParallel).toBeGreaterThan(1);
    expect(outOfOrder).toEqual([]);
  });

  it('assigns partitions round-robin between the subscriptions of a group', async () => {
    const q = make({ partitions: 8 });
    const owners = new Map<number, string>();
    const handler = (name: string) => async (batch: ReadonlyArray<ConsumedRecord<number>>) => {
      owners.set(batch[0]!.partition, name);
    };
    await q.subscribe({ topic: 't', group: 'g', handler: handler('a') });
    await q.subscribe({ topic: 't', group: 'g', handler: handler('b') });
    const keys: string[] = [];
    for (let i = 0; new Set(keys.map((k) => partitionOf(k, 8))).size < 8; i++) keys.push(`d${i}`);
    await q.produce(
      't',
      keys.map((key) => ({ key, value: 0 })),
    );
    await waitFor('all partitions', () => owners.size === 8);
    for (const [p, name] of owners) expect(name).toBe(p % 2 === 0 ? 'a' : 'b');
  });

  it('drain also consumes records still waiting for room when it starts', async () => {
    const q = make({ partitions: 2, capacity: 50 });
    let received = 0;
    const sub = await q.subscribe<number>({
      topic: 't',
      group: 'g',
      maxBatch: 10,
      handler: async (batch) => {
        received += batch.length;
        await sleep(1);
      },
    });
    // More than capacity: part of it is still waiting to be appended when the drain starts.
    const produced = q.produce('t', [...records(100, 'x'), ...records(100, 'y')]);
    await sleep(2);
    await sub.stop({ drain: true });
    await produced;
    // Commits admit the waiting records before the drain checks for the end, so it takes them too.
    expect(received).toBe(200);
    expect(await q.lag('t', 'g')).toBe(0);
  });

  it('a plain stop overrides a drain in progress', async () => {
    const q = make({ partitions: 1 });
    await q.produce('t', records(20));
    let calls = 0;
    const sub = await q.subscribe<number>({
      topic: 't',
      group: 'g',
      maxBatch: 1,
      handler: async () => {
        calls++;
        await sleep(5);
      },
    });
    const draining = sub.stop({ drain: true });
    await waitFor('a few batches', () => calls >= 2);
    await sub.stop();
    await draining;
    const after = calls;
    await sleep(20);
    expect(calls).toBe(after);
    expect(await q.lag('t', 'g')).toBe(20 - calls);
  });

  it('wakes an idle consumer promptly on produce', async () => {
    const q = make();
    let at = 0;
    await q.subscribe<number>({
      topic: 't',
      group: 'g',
      handler: async () => {
        at = performance.now();
      },
    });
    await sleep(20);
    const start = performance.now();
    await q.produce('t', records(1));
    await waitFor('delivery', () => at > 0);
    expect(at - start).toBeLessThan(20);
  });
});
