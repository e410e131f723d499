import { randomUUID } from 'node:crypto';
import type { TokenPair } from '@rivulet/api-types';
import { errorMessage, type Logger } from '@rivulet/core';
import type { Storage, User } from '@rivulet/storage';
import { authFailed } from './api-error';
import type { TokenService } from './tokens';

/**
 * Login sessions with refresh token rotation and reuse detection (OAuth 2.0 Security BCP, RFC 9700
 * §4.14.2): each refresh hands out a new refresh token and retires the old one; a retired one coming
 * back means one of the two holders is an attacker, so the whole session is revoked.
 */
export interface SessionService {
  /** A new session for a user who just proved who they are; its first token pair. */
  start(user: User): Promise<TokenPair>;
  /** Rotation: a new pair for the current refresh token; 401 for anything else (revoking on reuse). */
  refresh(refreshToken: string): Promise<TokenPair>;
  /** Logout: the session's refresh and access tokens stop working. */
  end(sessionId: string, reason: string): Promise<void>;
  /** Every session of the user (but `exceptId`): after a password change or reset. */
  endAllOf(userId: string, reason: string, exceptId?: string): Promise<void>;
  /** Whether access tokens of this session are still good; a "live" answer is trusted for revocationCacheMs. */
  isActive(sessionId: string): Promise<boolean>;
  close(): void;
}

export interface SessionServiceOptions {
  storage: Storage;
  tokens: TokenService;
  logger: Logger;
  refreshTokenTtlSeconds: number;
  /** Access token lifetime, so housekeeping keeps a session row while its access tokens may live. */
  tokenTtlSeconds: number;
  /** How long this process trusts a "not revoked" answer before asking storage again. */
  revocationCacheMs: number;
}

/** Cached sessions at most; the oldest entries are dropped first. */
const CACHE_MAX = 10_000;
const HOUSEKEEPING_MS = 3_600_000;

export function createSessionService(options: SessionServiceOptions): SessionService {
  const { storage, logger } = options;
  const refreshTtlMs = options.refreshTokenTtlSeconds * 1000;
  // sessionId -> whether it is live, and when storage said so. A revoked session never comes back,
  // so "revoked" entries are final; "live" ones are re-read after revocationCacheMs. Revocations made
  // in this process are written here at once; another process sees them within revocationCacheMs.
  const cache = new Map<string, { active: boolean; checkedAt: number }>();
  const inFlight = new Map<string, Promise<boolean>>();

  function remember(id: string, active: boolean): void {
    cache.delete(id);
    if (cache.size >= CACHE_MAX) {
      const oldest = cache.keys().next();
      if (!oldest.done) cache.delete(oldest.value);
    }
    cache.set(id, { active, checkedAt: Date.now() });
  }

  async function lookup(id: string): Promise<boolean> {
    const s = await storage.authSessions.get(id);
    const active = s !== null && s.revokedTime === null;
    remember(id, active);
    return active;
  }

  const housekeeping = setInterval(() => {
    const before = Date.now() - options.tokenTtlSeconds * 1000;
    Promise.all([storage.authSessions.deleteExpired(before), storage.passwordResets.deleteExpired(Date.now())]).catch((e: unknown) =>
      logger.warn({ err: errorMessage(e) }, 'expired session cleanup failed'),
    );
  }, HOUSEKEEPING_MS);
  housekeeping.unref();

  async function revoke(id: string, reason: string): Promise<void> {
    await storage.authSessions.revoke(id, reason);
    remember(id, false);
  }

  return {
    async start(user) {
      const refreshJti = randomUUID();
      const session = await storage.authSessions.create({ userId: user.id, refreshJti, expiresTime: Date.now() + refreshTtlMs });
      remember(session.id, true);
      return options.tokens.issue(user, { id: session.id, refreshJti });
    },

    async refresh(refreshToken) {
      const claims = await options.tokens.verifyRefresh(refreshToken);
      const now = Date.now();
      const nextJti = randomUUID();
      const rotated = await storage.authSessions.rotate({ id: claims.sessionId, currentJti: claims.jti, nextJti, expiresTime: now + refreshTtlMs, now });
      if (!rotated || rotated.userId !== claims.userId) {
        const s = await storage.authSessions.get(claims.sessionId);
        if (s && s.revokedTime === null && s.refreshJti !== claims.jti) {
          await revoke(s.id, 'reuse');
          logger.warn({ userId: s.userId, sessionId: s.id }, 'refresh token reuse detected: session revoked');
        }
        throw authFailed('Invalid refresh token: it was already used, or its session has ended');
      }
      // Re-read the user so a new access token carries the current authority and tenant.
      const user = await storage.users.get(claims.userId);
      if (!user) {
        await revoke(claims.sessionId, 'user_deleted');
        throw authFailed('Invalid refresh token: the user no longer exists');
      }
      return options.tokens.issue(user, { id: claims.sessionId, refreshJti: nextJti });
    },

    end: revoke,

    async endAllOf(userId, reason, exceptId) {
      const ids = await storage.authSessions.revokeByUser(userId, reason, exceptId);
      for (const id of ids) remember(id, false);
    },

    isActive(id) {
      const hit = cache.get(id);
      if (hit && (!hit.active || Date.now() - hit.checkedAt < options.revocationCacheMs)) return Promise.resolve(hit.active);
      // Concurrent requests with the same token share one read.
      let p = inFlight.get(id);
      if (!p) {
        p = lookup(id).finally(() => inFlight.delete(id));
        inFlight.set(id, p);
      }
      return p;
    },

    close() {
      clearInterval(housekeeping);
    },
  };
}
