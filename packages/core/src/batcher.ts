/**
 * Group commit: callers add items and await their write; items added while a write is in flight
 * are gathered into the next one. One statement per batch instead of one round trip per item.
 */
export interface Batcher<T> {
  /** Resolves when the batch holding these items has been written; rejects if that write failed. */
  add(items: readonly T[]): Promise<void>;
  /** Resolves when everything added so far has been written (or failed). */
  flush(): Promise<void>;
}

export interface BatcherOptions<T> {
  write(items: T[]): Promise<void>;
  /** Most items per write (a larger backlog is split). */
  maxBatch?: number;
  /** Writes in flight at once (e.g. the connection pool's size). */
  concurrency?: number;
  /**
   * When a write of several callers' items fails, write each caller's items on its own, so only
   * the callers whose items the store refuses fail (one device's bad value must not fail the other
   * messages of its batch). Default true.
   */
  isolateFailures?: boolean;
}

/**
 * A caller waiting for its items, which sit at [start, end) of `pending` (indices shift down as
 * writes take items). It may span several writes: it succeeds when the write holding its last item
 * and every earlier one of its writes succeeded, and fails with the first of them that fails.
 */
interface Waiter {
  start: number;
  end: number;
  /** Writes holding some of its items that have not finished yet. */
  outstanding: number;
  /** All its items have been handed to writes. */
  assigned: boolean;
  resolve(): void;
  reject(e: unknown): void;
}

/** A Waiter settled at most once. A class rather than closures: one is made per add(), on the hot path. */
class SettleOnce implements Waiter {
  outstanding = 0;
  assigned = false;
  private settled = false;
  constructor(
    public start: number,
    public end: number,
    private readonly onResolve: () => void,
    private readonly onReject: (e: unknown) => void,
  ) {}
  resolve(): void {
    if (this.settled) return;
    this.settled = true;
    this.onResolve();
  }
  reject(e: unknown): void {
    if (this.settled) return;
    this.settled = true;
    this.onReject(e);
  }
}

const defer: (fn: () => void) => void =
  typeof globalThis.setImmediate === 'function' ? (fn) => globalThis.setImmediate(fn) : (fn) => void setTimeout(fn, 0);

export function createBatcher<T>(opts: BatcherOptions<T>): Batcher<T> {
  const maxBatch = Math.max(1, opts.maxBatch ?? 1000);
  const concurrency = Math.max(1, opts.concurrency ?? 2);
  let pending: T[] = [];
  let waiters: Waiter[] = [];
  // Settled-either-way promises of the writes in flight, for flush().
  const inFlight = new Set<Promise<void>>();
  let scheduled = false;

  function schedule(): void {
    if (scheduled) return;
    scheduled = true;
    defer(() => {
      scheduled = false;
      pump();
    });
  }

  const isolate = opts.isolateFailures ?? true;

  function write(items: T[]): Promise<void> {
    try {
      return Promise.resolve(opts.write(items));
    } catch (e) {
      // a write function that throws instead of rejecting must not strand its callers
      return Promise.reject(e);
    }
  }

  function succeeded(w: Waiter): void {
    w.outstanding--;
    if (w.assigned && w.outstanding === 0) w.resolve();
  }

  /** holders[i] owns items[slices[i][0], slices[i][1]) of this write. */
  function startWrite(items: T[], holders: Waiter[], slices: Array<[number, number]>): void {
    const done: Promise<void> = write(items).then(
      () => {
        for (const w of holders) succeeded(w);
      },
      async (e: unknown) => {
        const owners = holders.filter((_, i) => slices[i]![1] > slices[i]![0]);
        if (!isolate || owners.length < 2) {
          for (const w of holders) w.reject(e);
          return;
        }
        // Split the failed write by caller: the store's verdict on each caller's own items.
        await Promise.all(
          holders.map(async (w, i) => {
            const [a, b] = slices[i]!;
            if (a === b) return succeeded(w);
            try {
              await write(items.slice(a, b));
              succeeded(w);
            } catch (own) {
              w.reject(own);
            }
          }),
        );
      },
    );
    const settled = done.finally(() => {
      inFlight.delete(settled);
      if (pending.length > 0) pump();
    });
    inFlight.add(settled);
  }

  function pump(): void {
    while (pending.length > 0 && inFlight.size < concurrency) {
      const take = Math.min(pending.length, maxBatch);
      const items = pending.slice(0, take);
      pending = pending.slice(take);
      const holders: Waiter[] = [];
      const slices: Array<[number, number]> = [];
      const rest: Waiter[] = [];
      for (const w of waiters) {
        // `end <= take` also catches a flush waiter that owns no items
        if (w.start < take || w.end <= take) {
          holders.push(w);
          slices.push([Math.min(w.start, take), Math.min(w.end, take)]);
          w.outstanding++;
        }
        if (w.end <= take) w.assigned = true;
        else {
          w.start = Math.max(0, w.start - take);
          w.end -= take;
          rest.push(w);
        }
      }
      waiters = rest;
      startWrite(items, holders, slices);
    }
  }

  function waitFor(start: number, end: number, resolve: () => void, reject: (e: unknown) => void): void {
    waiters.push(new SettleOnce(start, end, resolve, reject));
  }
  return {
    add(items) {
      if (items.length === 0) return Promise.resolve();
      return new Promise<void>((resolve, reject) => {
        const start = pending.length;
        for (const it of items) pending.push(it);
        waitFor(start, pending.length, resolve, reject);
        // A full batch goes at once; a partial one waits a tick for company.
        if (pending.length >= maxBatch && inFlight.size < concurrency) pump();
        else schedule();
      });
    },
    flush() {
      const waits: Array<Promise<void>> = [...inFlight];
      if (pending.length > 0) {
        waits.push(new Promise<void>((resolve) => waitFor(0, pending.length, resolve, () => resolve())));
      }
      return Promise.all(waits).then(() => undefined);
    },
  };
}
