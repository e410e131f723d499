/**
 * Waits for every run, or `timeoutMs` at most (ThingsBoard's packProcessingTimeout): the result
 * holds each run's value, or undefined for a run still going when time was up. A run cannot be
 * cancelled: it goes on in the background and `late()` is called when it ends, so the caller can
 * count the runs it abandoned. A rejected run counts as its `onError` value. timeoutMs <= 0: no limit.
 */
export function settleWithin<T>(
  runs: ReadonlyArray<Promise<T>>,
  timeoutMs: number,
  onError: (e: unknown) => T,
  late?: () => void,
): Promise<Array<T | undefined>> {
  const n = runs.length;
  const out: Array<T | undefined> = new Array(n);
  if (n === 0) return Promise.resolve(out);
  return new Promise((resolve) => {
    let left = n;
    let expired = false;
    const timer =
      timeoutMs > 0
        ? setTimeout(() => {
            expired = true;
            resolve(out);
          }, timeoutMs)
        : undefined;
    const settle = (i: number, v: T) => {
      if (expired) {
        late?.();
        return;
      }
      out[i] = v;
      if (--left === 0) {
        if (timer) clearTimeout(timer);
        resolve(out);
      }
    };
    for (let i = 0; i < n; i++) {
      runs[i]!.then(
        (v) => settle(i, v),
        (e: unknown) => settle(i, onError(e)),
      );
    }
  });
}

/** Resolves with the promise, or rejects with `message` after `ms` (the promise is left running). */
export function within<T>(p: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  return Promise.race([
    p,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(message)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}
