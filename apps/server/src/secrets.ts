import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { MIN_JWT_SECRET_LENGTH } from '@rivulet/api';

/**
 * The JWT secret: the configured one, else one generated once and kept beside the embedded
 * database so logins survive restarts. Processes that share a Postgres server and split roles
 * must be given RIVULET_JWT_SECRET (documented in docs/configuration.md).
 */
export function resolveJwtSecret(configured: string | undefined, dataDir: string): { secret: string; source: 'config' | 'file' | 'generated' } {
  if (configured) {
    // config.ts refuses it first; this keeps any other caller from signing with a guessable key.
    if (configured.length < MIN_JWT_SECRET_LENGTH) throw new Error(`RIVULET_JWT_SECRET must be at least ${MIN_JWT_SECRET_LENGTH} characters long`);
    return { secret: configured, source: 'config' };
  }
  const file = join(dataDir, 'jwt-secret');
  try {
    const s = readFileSync(file, 'utf8').trim();
    if (s.length >= MIN_JWT_SECRET_LENGTH) return { secret: s, source: 'file' };
  } catch {
    // first start: fall through and create it
  }
  const secret = randomBytes(48).toString('base64url');
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  writeFileSync(file, `${secret}\n`, { mode: 0o600 });
  return { secret, source: 'generated' };
}
