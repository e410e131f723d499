import { describe, expect, it } from 'vitest';
import { createBatcher } from './batcher';

/** A write function whose calls stay pending until the test settles them. */
function controlledWrite<T>() {
  const calls: Array<{ items: T[]; resolve(): void; reject(e: unknown): void }> = [];
  let active = 0;
  let maxActive = 0;
  return {
    calls,
    get maxActive() {
      return maxActive;
    },
    get active() {
      return active;
    },
    write(items: T[]): Promise<void> {
      active++;
      maxActive = Math.max(maxActive, active);
      return new Promise<void>((resolve, reject) => {
        calls.push({
          items,
          resolve: () => {
            active--;
            resolve();
          },
          reject: (e) => {
            active--;
            reject(e);
          },
        });
      });
    },
  };
}

/** Lets deferred pumps (setImmediate) and promise callbacks run. */
const tick = () => new Promise<void>((r) => setImmediate(r));

/** Observes a promise without awaiting it, so tests can check it is still pending. */
function track(p: Promise<void>) {
  const s: { state: 'pending' | 'resolved' | 'rejected'; error?: unknown } = { state: 'pending' };
  p.then(
    () => (s.state = 'resolved'),
    (e: unknown) => {
      s.state = 'rejected';
      s.error = e;
    },
  );
  return s;
}

describe('createBatcher', () => {
  it('coalesces concurrent adds into one write', async () => {
    const writes: number[][] = [];
    const b = createBatcher<number>({
      write: async (items) => {
        writes.push(items);
      },
    });
    await Promise.all([b.add([1]), b.add([2, 3]), b.add([4])]);
    expect(writes).toEqual([[1, 2, 3, 4]]);
  });

  it('gathers items added during a write into the next one', async () => {
    const w = controlledWrite<number>();
    const b = createBatcher<number>({ isolateFailures: false, write: (i) => w.write(i), concurrency: 1 });
    const first = track(b.add([1]));
    await tick();
    expect(w.calls.map((c) => c.items)).toEqual([[1]]);
    const second = track(b.add([2]));
    const third = track(b.add([3]));
    await tick();
    expect(w.calls).toHaveLength(1); // concurrency 1: waits for the first write
    w.calls[0]?.resolve();
    await tick();
    expect(first.state).toBe('resolved');
    expect(w.calls.map((c) => c.items)).toEqual([[1], [2, 3]]);
    expect(second.state).toBe('pending');
    w.calls[1]?.resolve();
    await tick();
    expect([second.state, third.state]).toEqual(['resolved', 'resolved']);
  });

  it('splits at maxBatch', async () => {
    const writes: number[][] = [];
    const b = createBatcher<number>({
      maxBatch: 3,
      write: async (items) => {
        writes.push(items);
      },
    });
    await Promise.all([b.add([1, 2]), b.add([3, 4, 5, 6, 7]), b.add([8])]);
    expect(writes).toEqual([
      [1, 2, 3],
      [4, 5, 6],
      [7, 8],
    ]);
    expect(writes.every((w) => w.length <= 3)).toBe(true);
  });

  it('resolves nothing and writes nothing for an empty add', async () => {
    const writes: number[][] = [];
    const b = createBatcher<number>({ write: async (items) => void writes.push(items) });
    await b.add([]);
    await b.flush();
    expect(writes).toEqual([]);
  });

  describe('a failed write rejects exactly its callers', () => {
    it('callers of other writes succeed', async () => {
      const w = controlledWrite<string>();
      const b = createBatcher<string>({ isolateFailures: false, write: (i) => w.write(i), maxBatch: 2, concurrency: 4 });
      const a = track(b.add(['a1', 'a2'])); // write 0
      const c = track(b.add(['c1'])); // write 1 (with d1)
      const d = track(b.add(['d1']));
      await tick();
      expect(w.calls.map((x) => x.items)).toEqual([['a1', 'a2'], ['c1', 'd1']]);
      const boom = new Error('disk full');
      w.calls[1]?.reject(boom);
      w.calls[0]?.resolve();
      await tick();
      expect(a.state).toBe('resolved');
      expect([c.state, d.state]).toEqual(['rejected', 'rejected']);
      expect(c.error).toBe(boom);
    });

    it('a caller whose items come after a failed write in the same backlog is not rejected', async () => {
      const w = controlledWrite<number>();
      const b = createBatcher<number>({ isolateFailures: false, write: (i) => w.write(i), maxBatch: 3, concurrency: 1 });
      const busy = track(b.add([0]));
      await tick();
      // backlog while the first write is in flight: [1,2] [3,4] [5]; writes will be [1,2,3] [4,5]
      const x = track(b.add([1, 2]));
      const y = track(b.add([3, 4]));
      const z = track(b.add([5]));
      w.calls[0]?.resolve();
      await tick();
      expect(w.calls.map((c) => c.items)).toEqual([[0], [1, 2, 3]]);
      w.calls[1]?.reject(new Error('write failed'));
      await tick();
      expect(w.calls.map((c) => c.items)).toEqual([[0], [1, 2, 3], [4, 5]]);
      w.calls[2]?.resolve();
      await tick();
      expect(busy.state).toBe('resolved');
      expect(x.state).toBe('rejected');
      expect(y.state).toBe('rejected'); // 3 was in the failed write
      expect(z.state).toBe('resolved'); // 5 was not
    });

    it('a caller split across writes fails when an earlier part fails after the last part succeeded', async () => {
      const w = controlledWrite<number>();
      const b = createBatcher<number>({ isolateFailures: false, write: (i) => w.write(i), maxBatch: 2, concurrency: 2 });
      const p = track(b.add([1, 2, 3]));
      await tick();
      expect(w.calls.map((c) => c.items)).toEqual([[1, 2], [3]]);
      w.calls[1]?.resolve();
      await tick();
      expect(p.state).toBe('pending'); // its first part is still being written
      w.calls[0]?.reject(new Error('first part failed'));
      await tick();
      expect(p.state).toBe('rejected');
    });

    it('a write function that throws synchronously rejects its callers and the batcher goes on', async () => {
      let n = 0;
      const b = createBatcher<number>({
        write: (items) => {
          if (n++ === 0) throw new Error('sync throw');
          return Promise.resolve(void items);
        },
      });
      await expect(b.add([1])).rejects.toThrow('sync throw');
      await expect(b.add([2])).resolves.toBeUndefined();
    });
  });

  describe('flush', () => {
    it('waits for pending and in-flight writes', async () => {
      const w = controlledWrite<number>();
      const b = createBatcher<number>({ isolateFailures: false, write: (i) => w.write(i), maxBatch: 2, concurrency: 1 });
      void b.add([1, 2]).catch(() => {});
      void b.add([3]).catch(() => {});
      const f = track(b.flush());
      await tick();
      expect(f.state).toBe('pending');
      w.calls[0]?.resolve();
      await tick();
      expect(f.state).toBe('pending'); // [3] is being written now
      w.calls[1]?.reject(new Error('x')); // flush resolves after failures too
      await tick();
      expect(f.state).toBe('resolved');
    });

    it('resolves at once when idle', async () => {
      const b = createBatcher<number>({ write: async () => {} });
      await expect(b.flush()).resolves.toBeUndefined();
    });

    it('does not wait for items added after it', async () => {
      const w = controlledWrite<number>();
      const b = createBatcher<number>({ isolateFailures: false, write: (i) => w.write(i), concurrency: 1 });
      void b.add([1]);
      const f = track(b.flush());
      await tick();
      void b.add([2]);
      w.calls[0]?.resolve();
      await tick();
      expect(f.state).toBe('resolved');
      expect(w.calls.map((c) => c.items)).toEqual([[1], [2]]);
      w.calls[1]?.resolve();
    });
  });

  it('respects the concurrency limit', async () => {
    const w = controlledWrite<number>();
    const b = createBatcher<number>({ isolateFailures: false, write: (i) => w.write(i), maxBatch: 1, concurrency: 3 });
    const all = Promise.all(Array.from({ length: 10 }, (_, i) => b.add([i])));
    await tick();
    expect(w.active).toBe(3);
    let done = 0;
    while (done < 10) {
      const open = w.calls.splice(0);
      expect(open.length).toBeGreaterThan(0);
      for (const c of open) c.resolve();
      done += open.length;
      await tick();
      expect(w.active).toBeLessThanOrEqual(3);
    }
    await all;
    expect(w.maxActive).toBe(3);
  });
});

describe('batcher failure isolation', () => {
  it('a write refused because of one caller\'s items fails only that caller', async () => {
    const writes: number[][] = [];
    const b = createBatcher<number>({
      async write(items) {
        writes.push([...items]);
        if (items.includes(13)) throw new Error('refused 13');
      },
    });
    const results = await Promise.allSettled([b.add([1, 2]), b.add([13]), b.add([3])]);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    expect((results[1] as PromiseRejectedResult).reason.message).toBe('refused 13');
    expect(writes[0]).toEqual([1, 2, 13, 3]); // first together, then one write per caller
    expect(writes.slice(1).sort()).toEqual([[1, 2], [13], [3]].sort());
  });
  it('without isolation the whole batch fails', async () => {
    const b = createBatcher<number>({ isolateFailures: false, async write(items) { if (items.includes(13)) throw new Error('x'); } });
    const results = await Promise.allSettled([b.add([1]), b.add([13])]);
    expect(results.map((r) => r.status)).toEqual(['rejected', 'rejected']);
  });
});
