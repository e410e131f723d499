/**
 * Seeded randomness for the fuzz tests: one seed replays a whole run, and each case draws from its
 * own generator (seed and case index mixed), so a failing case can be regenerated on its own no
 * matter how the cases were spread over connections. No vitest here (exported from the entry point).
 */

/** The seed the fuzzers use when RIVULET_FUZZ_SEED is not set. */
export const DEFAULT_FUZZ_SEED = 0x5eed_0016;

/** RIVULET_FUZZ_SEED as given (decimal or 0x-hex), or the default; anything else is an error, not a silent default. */
export function parseFuzzSeed(raw: string | undefined, fallback = DEFAULT_FUZZ_SEED): number {
  if (raw === undefined || raw.trim() === '') return fallback;
  const n = Number(raw.trim());
  if (!Number.isSafeInteger(n) || n < 0) throw new Error(`RIVULET_FUZZ_SEED must be a non-negative integer (decimal or 0x...), got ${JSON.stringify(raw)}`);
  return n >>> 0;
}

export interface Rng {
  /** The seed this generator started from. */
  readonly seed: number;
  /** Uniform in [0, 1). */
  next(): number;
  /** Uniform integer in [lo, hi] (both included). */
  int(lo: number, hi: number): number;
  /** True with probability p. */
  chance(p: number): boolean;
  pick<T>(items: readonly T[]): T;
  /** n random bytes. */
  bytes(n: number): Buffer;
  /** A string of n characters drawn from `alphabet` (default: printable ASCII). */
  string(n: number, alphabet?: string): string;
  /** Mostly small, sometimes large: a length for a field. */
  length(max: number): number;
}

const PRINTABLE = Array.from({ length: 95 }, (_, i) => String.fromCharCode(32 + i)).join('');

/** mulberry32: 32-bit state, good enough spread for test inputs, and identical on every platform. */
export function createRng(seed: number): Rng {
  let a = seed >>> 0;
  const next = (): number => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const int = (lo: number, hi: number): number => lo + Math.floor(next() * (hi - lo + 1));
  return {
    seed: seed >>> 0,
    next,
    int,
    chance: (p) => next() < p,
    pick: <T>(items: readonly T[]): T => items[int(0, items.length - 1)] as T,
    bytes(n) {
      const b = Buffer.allocUnsafe(n);
      for (let i = 0; i < n; i++) b[i] = int(0, 255);
      return b;
    },
    string(n, alphabet = PRINTABLE) {
      let s = '';
      for (let i = 0; i < n; i++) s += alphabet[int(0, alphabet.length - 1)];
      return s;
    },
    length(max) {
      const r = next();
      if (r < 0.6) return int(0, Math.min(max, 16));
      if (r < 0.9) return int(0, Math.min(max, 256));
      return int(0, max);
    },
  };
}

/** The generator of case `index` of a run seeded `seed` (a 32-bit mix, so neighbouring cases differ). */
export function caseRng(seed: number, index: number): Rng {
  let h = (seed ^ Math.imul(index + 1, 0x9e3779b1)) >>> 0;
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b) >>> 0;
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35) >>> 0;
  return createRng((h ^ (h >>> 16)) >>> 0);
}

/** Values that tend to sit on boundaries of length and number fields. */
const INTERESTING = [0x00, 0x01, 0x7f, 0x80, 0xfe, 0xff];

/**
 * One to four mutations of a copy of `input`: bit flips, bytes set to boundary values, truncation,
 * random bytes inserted, a slice duplicated or deleted. The input itself is not changed.
 */
export function mutateBytes(rng: Rng, input: Buffer): Buffer {
  let b = Buffer.from(input);
  const rounds = rng.int(1, 4);
  for (let r = 0; r < rounds; r++) {
    const at = b.length === 0 ? 0 : rng.int(0, b.length - 1);
    switch (rng.int(0, 6)) {
      case 0: // bit flip
        if (b.length > 0) b[at] = (b[at] as number) ^ (1 << rng.int(0, 7));
        break;
      case 1: // boundary value
        if (b.length > 0) b[at] = rng.pick(INTERESTING);
        break;
      case 2: // random byte
        if (b.length > 0) b[at] = rng.int(0, 255);
        break;
      case 3: // truncate
        b = b.subarray(0, rng.int(0, b.length));
        break;
      case 4: // insert random bytes
        b = Buffer.concat([b.subarray(0, at), rng.bytes(rng.length(64)), b.subarray(at)]);
        break;
      case 5: {
        // duplicate a slice
        const end = rng.int(at, b.length);
        b = Buffer.concat([b.subarray(0, end), b.subarray(at, end), b.subarray(end)]);
        break;
      }
      default: {
        // delete a slice
        const end = rng.int(at, Math.min(b.length, at + 16));
        b = Buffer.concat([b.subarray(0, at), b.subarray(end)]);
      }
    }
  }
  return b;
}

/** A random JSON value: objects, arrays, strings (some with odd characters), numbers of every kind. */
export function randomJson(rng: Rng, depth = 3): unknown {
  const r = rng.int(0, depth <= 0 ? 4 : 7);
  switch (r) {
    case 0:
      return null;
    case 1:
      return rng.chance(0.5);
    case 2:
      return rng.pick([0, -1, 1.5, 1e308, -1e-308, Number.MAX_SAFE_INTEGER, 2 ** 53 + 1, rng.int(-1e9, 1e9), rng.next()]);
    case 3:
      return rng.string(rng.length(40));
    case 4:
      return rng.pick(['', ' ', '\u0000', '\ud800', '💧', 'true', '1e5', '{"a":1}', '__proto__', 'constructor', 'a'.repeat(300)]);
    case 5:
    case 6: {
      const o: Record<string, unknown> = {};
      const n = rng.length(12);
      for (let i = 0; i < n; i++) {
        const key = rng.chance(0.1) ? rng.pick(['__proto__', 'constructor', 'ts', 'values', '', 'k'.repeat(300)]) : rng.string(rng.int(1, 12));
        Object.defineProperty(o, key, { value: randomJson(rng, depth - 1), enumerable: true, writable: true, configurable: true });
      }
      return o;
    }
    default:
      return Array.from({ length: rng.length(8) }, () => randomJson(rng, depth - 1));
  }
}

/** `[[[...]]]` or `{"a":{"a":...}}` nested `depth` levels, as text (a stack-depth probe). */
export function deepJson(depth: number, kind: 'array' | 'object' = 'array'): string {
  return kind === 'array' ? '['.repeat(depth) + ']'.repeat(depth) : '{"a":'.repeat(depth) + '1' + '}'.repeat(depth);
}

/** Runs `task(i)` for i in [from, to) with at most `concurrency` at once; resolves when all settled. */
export async function runPool(from: number, to: number, concurrency: number, task: (i: number) => Promise<void>): Promise<void> {
  let next = from;
  const worker = async (): Promise<void> => {
    while (next < to) await task(next++);
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(concurrency, to - from)) }, worker));
}
