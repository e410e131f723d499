import { randomBytes, scrypt as scryptCb, timingSafeEqual, type ScryptOptions } from 'node:crypto';

/** OWASP's scrypt minimum (N=2^17 would be stronger but costs ~130 MiB per login). */
const DEFAULT_N = 16384;
const DEFAULT_R = 8;
const DEFAULT_P = 1;
const KEY_LENGTH = 32;
const SALT_LENGTH = 16;
/** Bounds for parameters read back from a stored hash, so a corrupt row cannot make verify allocate gigabytes. */
const MAX_N = 1 << 20;
const MAX_R = 32;
const MAX_P = 16;

function scrypt(password: string, salt: Buffer, keylen: number, options: ScryptOptions): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    scryptCb(password, salt, keylen, options, (err, key) => (err ? reject(err) : resolve(key)));
  });
}

/** Memory scrypt needs is 128·N·r bytes; Node refuses above maxmem (32 MiB by default). */
function maxmemFor(N: number, r: number): number {
  return 128 * N * r * 2 + 1024 * 1024;
}

/**
 * A self-describing hash, "scrypt$N$r$p$salt$hash" (salt and hash in base64), so the parameters can
 * be raised later without invalidating stored passwords.
 */
export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(SALT_LENGTH);
  const key = await scrypt(password, salt, KEY_LENGTH, { N: DEFAULT_N, r: DEFAULT_R, p: DEFAULT_P, maxmem: maxmemFor(DEFAULT_N, DEFAULT_R) });
  return ['scrypt', DEFAULT_N, DEFAULT_R, DEFAULT_P, salt.toString('base64'), key.toString('base64')].join('$');
}

/** False for a wrong password and for a hash it cannot read (never throws on stored data). */
export async function verifyPassword(password: string, hash: string): Promise<boolean> {
  const parts = hash.split('$');
  if (parts.length !== 6 || parts[0] !== 'scrypt') return false;
  const N = Number(parts[1]);
  const r = Number(parts[2]);
  const p = Number(parts[3]);
  if (!Number.isSafeInteger(N) || N < 2 || N > MAX_N || (N & (N - 1)) !== 0) return false;
  if (!Number.isSafeInteger(r) || r < 1 || r > MAX_R) return false;
  if (!Number.isSafeInteger(p) || p < 1 || p > MAX_P) return false;
  const salt = Buffer.from(parts[4] ?? '', 'base64');
  const expected = Buffer.from(parts[5] ?? '', 'base64');
  if (salt.length === 0 || expected.length === 0) return false;
  let actual: Buffer;
  try {
    actual = await scrypt(password, salt, expected.length, { N, r, p, maxmem: maxmemFor(N, r) });
  } catch {
    return false;
  }
  return actual.length === expected.length && timingSafeEqual(actual, expected);
}
