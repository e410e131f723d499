import { describe, expect, it } from 'vitest';
import { newId } from '@rivulet/core';
import type { Storage } from './types';

/**
 * Login sessions and password reset tokens, part of the storage contract (storageContract calls
 * this with its storage). Every case makes its own user ids, so it shares a database safely.
 */
export function authStorageContract(getStorage: () => Storage): void {
  const HOUR = 3_600_000;

  describe('auth sessions', () => {
    it('creates and reads a session', async () => {
      const storage = getStorage();
      const userId = newId();
      const jti = newId();
      const before = Date.now();
      const s = await storage.authSessions.create({ userId, refreshJti: jti, expiresTime: before + HOUR });
      expect(s).toMatchObject({ userId, refreshJti: jti, expiresTime: before + HOUR, revokedTime: null, revokedReason: null });
      expect(s.createdTime).toBeGreaterThanOrEqual(before);
      expect(await storage.authSessions.get(s.id)).toEqual(s);
      expect(await storage.authSessions.get(newId())).toBeNull();
      expect(await storage.authSessions.get('not-a-uuid')).toBeNull();
    });

    it('rotates only from the current refresh token id, once', async () => {
      const storage = getStorage();
      const s = await storage.authSessions.create({ userId: newId(), refreshJti: newId(), expiresTime: Date.now() + HOUR });
      const next = newId();
      const now = Date.now();
      const rotated = await storage.authSessions.rotate({ id: s.id, currentJti: s.refreshJti, nextJti: next, expiresTime: now + 2 * HOUR, now });
      expect(rotated).toMatchObject({ id: s.id, refreshJti: next, expiresTime: now + 2 * HOUR });
      // The old id again: no row changes.
      expect(await storage.authSessions.rotate({ id: s.id, currentJti: s.refreshJti, nextJti: newId(), expiresTime: now + HOUR, now })).toBeNull();
      expect((await storage.authSessions.get(s.id))?.refreshJti).toBe(next);
    });

    it('lets exactly one of two concurrent rotations with the same token win', async () => {
      const storage = getStorage();
      const s = await storage.authSessions.create({ userId: newId(), refreshJti: newId(), expiresTime: Date.now() + HOUR });
      const now = Date.now();
      const results = await Promise.all(
        [newId(), newId(), newId()].map((nextJti) => storage.authSessions.rotate({ id: s.id, currentJti: s.refreshJti, nextJti, expiresTime: now + HOUR, now })),
      );
      expect(results.filter((r) => r !== null)).toHaveLength(1);
    });

    it('does not rotate a revoked or expired session', async () => {
      const storage = getStorage();
      const now = Date.now();
      const revoked = await storage.authSessions.create({ userId: newId(), refreshJti: newId(), expiresTime: now + HOUR });
      expect(await storage.authSessions.revoke(revoked.id, 'logout')).toBe(true);
      expect(await storage.authSessions.revoke(revoked.id, 'logout')).toBe(false);
      expect(await storage.authSessions.get(revoked.id)).toMatchObject({ revokedReason: 'logout', revokedTime: expect.any(Number) });
      expect(await storage.authSessions.rotate({ id: revoked.id, currentJti: revoked.refreshJti, nextJti: newId(), expiresTime: now + HOUR, now })).toBeNull();
      const expired = await storage.authSessions.create({ userId: newId(), refreshJti: newId(), expiresTime: now - 1 });
      expect(await storage.authSessions.rotate({ id: expired.id, currentJti: expired.refreshJti, nextJti: newId(), expiresTime: now + HOUR, now })).toBeNull();
    });

    it('revokes every live session of a user but the one kept', async () => {
      const storage = getStorage();
      const userId = newId();
      const other = await storage.authSessions.create({ userId: newId(), refreshJti: newId(), expiresTime: Date.now() + HOUR });
      const [a, b, keep] = await Promise.all([0, 1, 2].map(() => storage.authSessions.create({ userId, refreshJti: newId(), expiresTime: Date.now() + HOUR })));
      await storage.authSessions.revoke(a!.id, 'logout');
      const revoked = await storage.authSessions.revokeByUser(userId, 'password_change', keep!.id);
      expect(revoked).toEqual([b!.id]);
      expect((await storage.authSessions.get(a!.id))?.revokedReason).toBe('logout');
      expect((await storage.authSessions.get(b!.id))?.revokedReason).toBe('password_change');
      expect((await storage.authSessions.get(keep!.id))?.revokedTime).toBeNull();
      expect((await storage.authSessions.get(other.id))?.revokedTime).toBeNull();
      expect((await storage.authSessions.revokeByUser(userId, 'password_reset')).sort()).toEqual([keep!.id]);
    });

    it('deletes expired sessions', async () => {
      const storage = getStorage();
      const old = await storage.authSessions.create({ userId: newId(), refreshJti: newId(), expiresTime: 1000 });
      const live = await storage.authSessions.create({ userId: newId(), refreshJti: newId(), expiresTime: Date.now() + HOUR });
      expect(await storage.authSessions.deleteExpired(2000)).toBeGreaterThanOrEqual(1);
      expect(await storage.authSessions.get(old.id)).toBeNull();
      expect(await storage.authSessions.get(live.id)).not.toBeNull();
    });
  });

  describe('password reset tokens', () => {
    const hash = () => newId().replace(/-/g, '').padEnd(64, '0');

    it('consumes a token once, before it expires', async () => {
      const storage = getStorage();
      const userId = newId();
      const h = hash();
      await storage.passwordResets.create({ userId, tokenHash: h, expiresTime: Date.now() + HOUR });
      expect(await storage.passwordResets.consume(h, Date.now())).toBe(userId);
      expect(await storage.passwordResets.consume(h, Date.now())).toBeNull();
      expect(await storage.passwordResets.consume(hash(), Date.now())).toBeNull();
    });

    it('refuses an expired token and replaces a user\'s older unused token', async () => {
      const storage = getStorage();
      const userId = newId();
      const first = hash();
      const second = hash();
      await storage.passwordResets.create({ userId, tokenHash: first, expiresTime: Date.now() + HOUR });
      await storage.passwordResets.create({ userId, tokenHash: second, expiresTime: Date.now() + HOUR });
      expect(await storage.passwordResets.consume(first, Date.now())).toBeNull();
      expect(await storage.passwordResets.consume(second, Date.now() + 2 * HOUR)).toBeNull();
      expect(await storage.passwordResets.consume(second, Date.now())).toBe(userId);
      expect(await storage.passwordResets.deleteExpired(Date.now() + 2 * HOUR)).toBeGreaterThanOrEqual(1);
    });
  });

  describe('user password hash', () => {
    it('replaces the hash of an existing user only', async () => {
      const storage = getStorage();
      const tenantId = (await storage.tenants.create({ title: 'pw' })).id;
      const email = `pw.${newId().slice(0, 8)}@example.com`;
      const u = await storage.users.create({ tenantId, email, authority: 'TENANT_ADMIN', passwordHash: 'old' });
      expect(await storage.users.setPassword(u.id, 'new')).toBe(true);
      expect((await storage.users.findByEmail(email))?.passwordHash).toBe('new');
      expect(await storage.users.setPassword(newId(), 'x')).toBe(false);
      expect(await storage.users.setPassword('nope', 'x')).toBe(false);
    });
  });
}
