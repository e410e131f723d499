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
}

interface Waiter {
  resolve(): void;
  reject(e: unknown): void;
}

const defer: (fn: () => void) => void =
  typeof globalThis.setImmediate === 'function' ? (fn) => globalThis.setImmediate(fn) : (fn) => void setTimeout(fn, 0);

export function createBatcher<T>(opts: BatcherOptions<T>): Batcher<T> {
  const maxBatch = opts.maxBatch ?? 1000;
  const concurrency = opts.concurrency ?? 2;
  let pending: T[] = [];
  // Each waiter is released when the write containing the last of its items finishes. Waiters are
  // queued with the count of pending items at which they end.
  let waiters: Array<{ end: number; w: Waiter }> = [];
  let inFlight = 0;
  let scheduled = false;
  const idle: Array<() => void> = [];

  function schedule(): void {
    if (scheduled) return;
    scheduled = true;
    defer(pump);
  }

  function pump(): void {
    scheduled = false;
    while (pending.length > 0 && inFlight < concurrency) {
      const take = Math.min(pending.length, maxBatch);
      const items = pending.slice(0, take);
      pending = pending.slice(take);
      // Waiters whose items all fall into this write; the rest shift down.
      const done: Waiter[] = [];
      const partial: Waiter[] = [];
      const rest: Array<{ end: number; w: Waiter }> = [];
      for (const x of waiters) {
        if (x.end <= take) done.push(x.w);
        else {
          rest.push({ end: x.end - take, w: x.w });
          // a waiter split across writes must also see this write's failure
          partial.push(x.w);
        }
      }
      waiters = rest;
      inFlight++;
      opts.write(items).then(
        () => {
          for (const w of done) w.resolve();
          finish();
        },
        (e: unknown) => {
          for (const w of done) w.reject(e);
          for (const w of partial) w.reject(e);
          finish();
        },
      );
    }
    if (pending.length === 0 && inFlight === 0) {
      for (const f of idle.splice(0)) f();
    }
  }

  function finish(): void {
    inFlight--;
    if (pending.length > 0) pump();
    else if (inFlight === 0) for (const f of idle.splice(0)) f();
  }

  return {
    add(items) {
      if (items.length === 0) return Promise.resolve();
      return new Promise<void>((resolve, reject) => {
        let settled = false;
        const w: Waiter = {
          resolve: () => {
            if (!settled) {
              settled = true;
              resolve();
            }
          },
          reject: (e) => {
            if (!settled) {
              settled = true;
              reject(e);
            }
          },
        };
        for (const it of items) pending.push(it);
        waiters.push({ end: pending.length, w });
        if (pending.length >= maxBatch && inFlight < concurrency) pump();
        else schedule();
      });
    },
    flush() {
      if (pending.length === 0 && inFlight === 0) return Promise.resolve();
      return new Promise<void>((resolve) => idle.push(resolve));
    },
  };
}
