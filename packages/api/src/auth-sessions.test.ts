import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ErrorResponseSchema, TokenPairSchema } from '@rivulet/api-types';
import type { Logger } from '@rivulet/core';
import type { Storage } from '@rivulet/storage';
import { createTenantUser, createTestStorage, startTestApi, type TestApi, type TestUser } from './test-storage';

function recordingLogger(): Logger & { lines: Array<{ level: string; msg: string; fields: Record<string, unknown> }> } {
  const lines: Array<{ level: string; msg: string; fields: Record<string, unknown> }> = [];
  const at = (level: string) => (fields: Record<string, unknown>, msg: string) => void lines.push({ level, msg, fields });
  const logger = { lines, debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error'), child: () => logger };
  return logger;
}

describe('sessions: refresh rotation, logout, change and reset password', () => {
  let storage: Storage;
  let t: TestApi;
  const log = recordingLogger();

  beforeAll(async () => {
    storage = await createTestStorage();
    t = await startTestApi(storage, { logger: log, passwordPolicy: { minLength: 8 } });
  });
  afterAll(async () => {
    await t.close();
    await storage.close();
  });

  async function pair(user: TestUser): Promise<{ token: string; refreshToken: string }> {
    const r = await t.request('POST', '/api/auth/login', { body: { username: user.email, password: user.password } });
    expect(r.status).toBe(200);
    return TokenPairSchema.parse(r.body);
  }
  const me = async (token: string) => (await t.request('GET', '/api/auth/user', { token })).status;
  const refresh = (refreshToken: string) => t.request('POST', '/api/auth/token', { body: { refreshToken } });

  it('rotates the refresh token; a reused one is refused and revokes the whole family', async () => {
    const user = await createTenantUser(storage, 'rot@s.test', 'password-1');
    const first = await pair(user);
    const second = await refresh(first.refreshToken);
    expect(second.status).toBe(200);
    const p2 = TokenPairSchema.parse(second.body);
    expect(p2.refreshToken).not.toBe(first.refreshToken);
    const third = await refresh(p2.refreshToken);
    expect(third.status).toBe(200);
    const p3 = TokenPairSchema.parse(third.body);
    expect(await me(p3.token)).toBe(200);

    // The first refresh token again: reuse. 401, and the newest pair of the family stops working too.
    const reused = await refresh(first.refreshToken);
    expect(reused.status).toBe(401);
    expect(ErrorResponseSchema.parse(reused.body).errorCode).toBe(10);
    expect((await refresh(p3.refreshToken)).status).toBe(401);
    expect(await me(p3.token)).toBe(401);
    expect(log.lines.some((l) => l.msg === 'refresh token reuse detected: session revoked' && l.fields.userId === user.userId)).toBe(true);

    // Another session of the same user is not touched.
    const other = await pair(user);
    expect(await me(other.token)).toBe(200);
    expect((await refresh(other.refreshToken)).status).toBe(200);
  });

  it('two refreshes racing with one refresh token: one wins, the other is reuse and ends the session', async () => {
    const user = await createTenantUser(storage, 'race@s.test', 'password-1');
    const p = await pair(user);
    const answers = await Promise.all([refresh(p.refreshToken), refresh(p.refreshToken)]);
    expect(answers.map((a) => a.status).sort()).toEqual([200, 401]);
    const winner = TokenPairSchema.parse(answers.find((a) => a.status === 200)?.body);
    expect(await me(winner.token)).toBe(401);
  });

  it('logout revokes the session: its access and refresh tokens are refused, other sessions stay', async () => {
    const user = await createTenantUser(storage, 'out@s.test', 'password-1');
    const a = await pair(user);
    const b = await pair(user);
    const out = await t.request('POST', '/api/auth/logout', { token: a.token });
    expect(out.status).toBe(200);
    expect(await me(a.token)).toBe(401);
    expect((await refresh(a.refreshToken)).status).toBe(401);
    expect(await me(b.token)).toBe(200);
    expect((await t.request('POST', '/api/auth/logout')).status).toBe(401);
  });

  it('logout closes a WebSocket connection opened with the session\'s token', async () => {
    const user = await createTenantUser(storage, 'ws-open@s.test', 'password-1');
    const a = await pair(user);
    const { WebSocket } = await import('ws');
    const ws = new WebSocket(`${t.wsUrl}/api/ws`);
    await new Promise<void>((resolve, reject) => {
      ws.on('open', () => resolve());
      ws.on('error', reject);
    });
    const closed = new Promise<{ code: number; reason: string; ms: number }>((resolve) => {
      let start = 0;
      ws.on('close', (code, reason) => resolve({ code, reason: String(reason), ms: performance.now() - start }));
      ws.send(JSON.stringify({ authCmd: { cmdId: 0, token: a.token } }));
      // Authenticated (no answer), then the logout.
      setTimeout(() => {
        start = performance.now();
        void t.request('POST', '/api/auth/logout', { token: a.token });
      }, 300);
    });
    const c = await closed;
    expect(c.code).toBe(1008);
    expect(c.reason).toMatch(/session has ended/);
    // The check runs every max(1 s, revocation cache time): default 5 s.
    expect(c.ms).toBeLessThan(6500);
  }, 15_000);

  it('the WebSocket refuses an access token of a logged-out session', async () => {
    const user = await createTenantUser(storage, 'ws@s.test', 'password-1');
    const a = await pair(user);
    await t.request('POST', '/api/auth/logout', { token: a.token });
    const { WebSocket } = await import('ws');
    const ws = new WebSocket(`${t.wsUrl}/api/ws`);
    const first = await new Promise<string>((resolve, reject) => {
      ws.on('open', () => ws.send(JSON.stringify({ authCmd: { cmdId: 0, token: a.token } })));
      ws.on('message', (m) => resolve(String(m)));
      ws.on('close', (code) => resolve(`closed ${code}`));
      ws.on('error', reject);
      // An accepted authCmd gets no answer: silence means the token was taken.
      setTimeout(() => resolve('no answer'), 1500);
    });
    ws.close();
    expect(first).toMatch(/"errorCode":3/);
  });

  it('changes the password: wrong current 400, short new 400, then the old password and every other session stop working', async () => {
    const user = await createTenantUser(storage, 'chg@s.test', 'password-1');
    const a = await pair(user);
    const b = await pair(user);
    const wrong = await t.request('POST', '/api/auth/changePassword', { token: a.token, body: { currentPassword: 'nope-nope', newPassword: 'password-2' } });
    expect(wrong.status).toBe(400);
    expect(wrong.body.message).toMatch(/Current password doesn't match/);
    const short = await t.request('POST', '/api/auth/changePassword', { token: a.token, body: { currentPassword: 'password-1', newPassword: 'short' } });
    expect(short.status).toBe(400);
    expect(short.body).toMatchObject({ errorCode: 31, message: expect.stringMatching(/at least 8 characters/) });

    const ok = await t.request('POST', '/api/auth/changePassword', { token: a.token, body: { currentPassword: 'password-1', newPassword: 'password-2' } });
    expect(ok.status).toBe(200);
    const fresh = TokenPairSchema.parse(ok.body);
    expect(await me(fresh.token)).toBe(200);
    expect(await me(b.token)).toBe(401);
    expect((await refresh(b.refreshToken)).status).toBe(401);
    expect(await me(a.token)).toBe(401);
    expect((await t.request('POST', '/api/auth/login', { body: { username: user.email, password: 'password-1' } })).status).toBe(401);
    expect((await t.request('POST', '/api/auth/login', { body: { username: user.email, password: 'password-2' } })).status).toBe(200);
  });

  it('resets a password through a one-time, expiring link that is logged for the operator', async () => {
    const user = await createTenantUser(storage, 'reset@s.test', 'password-1');
    const before = await pair(user);
    // Always 200, known e-mail or not.
    expect((await t.request('POST', '/api/noauth/resetPasswordByEmail', { body: { email: 'nobody@s.test' } })).status).toBe(200);
    expect((await t.request('POST', '/api/noauth/resetPasswordByEmail', { body: { email: 'RESET@s.test' } })).status).toBe(200);
    const line = log.lines.find((l) => l.msg === 'password reset requested: give this link to the user' && l.fields.email === user.email);
    expect(line).toBeDefined();
    expect(log.lines.some((l) => l.msg.startsWith('password reset requested') && l.fields.email === 'nobody@s.test' && 'resetLink' in l.fields)).toBe(false);
    const link = new URL(String(line?.fields.resetLink));
    const resetToken = link.searchParams.get('resetToken') as string;
    expect(resetToken.length).toBeGreaterThanOrEqual(32);

    const short = await t.request('POST', '/api/noauth/resetPassword', { body: { resetToken, password: 'short' } });
    expect(short.status).toBe(400);
    const done = await t.request('POST', '/api/noauth/resetPassword', { body: { resetToken, password: 'password-new' } });
    expect(done.status).toBe(200);
    expect(await me(TokenPairSchema.parse(done.body).token)).toBe(200);
    // Sessions from before the reset are gone; the token works once.
    expect(await me(before.token)).toBe(401);
    const again = await t.request('POST', '/api/noauth/resetPassword', { body: { resetToken, password: 'password-other' } });
    expect(again.status).toBe(400);
    expect(again.body.message).toMatch(/Invalid reset token/);
    expect((await t.request('POST', '/api/auth/login', { body: { username: user.email, password: 'password-new' } })).status).toBe(200);
  });

  it('refuses an expired reset token', async () => {
    const t2 = await startTestApi(storage, { logger: log, passwordResetTtlSeconds: 1 });
    try {
      const user = await createTenantUser(storage, 'expire@s.test', 'password-1');
      await t2.request('POST', '/api/noauth/resetPasswordByEmail', { body: { email: user.email } });
      const line = log.lines.find((l) => l.msg.startsWith('password reset requested') && l.fields.email === user.email);
      const resetToken = new URL(String(line?.fields.resetLink)).searchParams.get('resetToken') as string;
      await new Promise((r) => setTimeout(r, 1100));
      expect((await t2.request('POST', '/api/noauth/resetPassword', { body: { resetToken, password: 'password-new' } })).status).toBe(400);
    } finally {
      await t2.close();
    }
  });

  it('another API process on the same storage stops taking a logged-out token within its revocation cache time', async () => {
    const other = await startTestApi(storage, { logger: log, sessionRevocationCacheSeconds: 1 });
    try {
      const user = await createTenantUser(storage, 'multi@s.test', 'password-1');
      const p = await pair(user);
      expect((await other.request('GET', '/api/auth/user', { token: p.token })).status).toBe(200);
      expect((await t.request('POST', '/api/auth/logout', { token: p.token })).status).toBe(200);
      // The refresh token is checked in storage: refused everywhere at once.
      expect((await other.request('POST', '/api/auth/token', { body: { refreshToken: p.refreshToken } })).status).toBe(401);
      // The access token: the other process trusts its cached "live" for up to a second.
      await new Promise((r) => setTimeout(r, 1100));
      expect((await other.request('GET', '/api/auth/user', { token: p.token })).status).toBe(401);
    } finally {
      await other.close();
    }
  });
});
