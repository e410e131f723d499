import { randomBytes } from 'node:crypto';

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
// Bytes at or above this are dropped so every character is equally likely (248 = 4 * 62).
const LIMIT = 256 - (256 % ALPHABET.length);

/** A random alphanumeric access token (ThingsBoard's are 20 characters). */
export function generateAccessToken(length = 20): string {
  let out = '';
  while (out.length < length) {
    for (const b of randomBytes(length * 2)) {
      if (b >= LIMIT) continue;
      out += ALPHABET[b % ALPHABET.length];
      if (out.length === length) break;
    }
  }
  return out;
}
