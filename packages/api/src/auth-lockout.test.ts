import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ErrorResponseSchema } from '@rivulet/api-types';
import type { Logger } from '@rivulet/core';
import type { Storage } from '@rivulet/storage';
import { createTenantUser, createTestStorage, postFrom, startTestApi, type TestApi, type TestUser } from './test-storage';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Keeps every log line, to check what a failed login leaves in the log. */
function recordingLogger(): Logger & { lines: Array<{ level: string; msg: string; fields: Record<string, unknown> }> } {
  const lines: Array<{ level: string; msg: string; fields: Record<string, unknown> }> = [];
  const at = (level: string) => (fields: Record<string, unknown>, msg: string) => void lines.push({ level, msg, fields });
  const logger = { lines, debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error'), child: () => logger };
  return logger;
}

describe('login throttling and lockout', () => {
  let storage: Storage;
  let t: TestApi;
  let admin: TestUser;
  const log = recordingLogger();

  beforeAll(async () => {
    storage = await createTestStorage();
    admin = await createTenantUser(storage, 'admin@lock.test', 'pw-of-the-admin');
    t = await startTestApi(storage, { logger: log, loginThrottle: { maxFailures: 3, lockoutSeconds: 2, addressMaxFailures: 6 } });
  });
  afterAll(async () => {
    await t.close();
    await storage.close();
  });

  const login = (from: string, username: string, password: string) => postFrom(t.url, from, '/api/auth/login', { username, password });

  it('N-1 failures leave the account usable; the Nth locks it; a correct password is refused while locked; it works after the lockout', async () => {
    // N-1 = 2 failures, then the right password works (and clears the count).
    for (let i = 0; i < 2; i++) expect((await login('127.0.0.10', admin.email, 'wrong')).status).toBe(401);
    expect((await login('127.0.0.10', admin.email, admin.password)).status).toBe(200);

    // N = 3 failures in a row: the third answers that the account is locked.
    expect((await login('127.0.0.11', admin.email, 'wrong-1')).body.message).toBe('Invalid username or password');
    expect((await login('127.0.0.11', admin.email, 'wrong-2')).status).toBe(401);
    const third = await login('127.0.0.11', admin.email, 'wrong-3');
    expect(third.status).toBe(401);
    expect(ErrorResponseSchema.parse(third.body)).toMatchObject({ status: 401, errorCode: 10, message: expect.stringMatching(/locked/) });

    // Locked: the right password from another address is refused too, in the same words.
    const locked = await login('127.0.0.12', admin.email.toUpperCase(), admin.password);
    expect(locked.status).toBe(401);
    expect(locked.body.message).toMatch(/locked/);

    // Refused without hashing: twenty refusals cost less than a handful of scrypt runs would.
    const start = performance.now();
    for (let i = 0; i < 20; i++) expect((await login('127.0.0.12', admin.email, admin.password)).status).toBe(401);
    expect(performance.now() - start).toBeLessThan(600);

    await sleep(2100);
    expect((await login('127.0.0.12', admin.email, admin.password)).status).toBe(200);
  }, 30_000);

  it('locks an unknown account the same way (no telling which accounts exist)', async () => {
    for (let i = 0; i < 3; i++) await login('127.0.0.13', 'ghost@lock.test', 'x');
    const r = await login('127.0.0.13', 'ghost@lock.test', 'x');
    expect(r.status).toBe(401);
    expect(r.body.message).toMatch(/locked/);
  });

  it('throttles an address after repeated failures across accounts: 429, while other addresses log in', async () => {
    const from = '127.0.0.20';
    const answers: number[] = [];
    for (let i = 0; i < 6; i++) answers.push((await login(from, `user${i}@lock.test`, 'wrong')).status);
    expect(answers).toEqual([401, 401, 401, 401, 401, 401]);
    const r = await login(from, admin.email, admin.password);
    expect(r.status).toBe(429);
    expect(ErrorResponseSchema.parse(r.body)).toMatchObject({ status: 429, errorCode: 33, message: expect.stringMatching(/Too many failed login attempts/) });
    expect((await login('127.0.0.21', admin.email, admin.password)).status).toBe(200);
    await sleep(2100);
    expect((await login(from, admin.email, admin.password)).status).toBe(200);
  }, 30_000);

  it('logs failed logins with e-mail, address and reason, never the password', async () => {
    await login('127.0.0.30', 'someone@lock.test', 'the-secret-guess');
    const line = log.lines.find((l) => l.msg === 'login failed' && l.fields.email === 'someone@lock.test');
    expect(line).toMatchObject({ level: 'warn', fields: { email: 'someone@lock.test', address: '127.0.0.30', reason: expect.any(String) } });
    expect(JSON.stringify(log.lines)).not.toContain('the-secret-guess');
    expect(JSON.stringify(log.lines)).not.toContain(admin.password);
  });

  it('takes the client address from X-Forwarded-For only from a configured trusted proxy', async () => {
    const t2 = await startTestApi(storage, { logger: log, loginThrottle: { maxFailures: 50, lockoutSeconds: 2, addressMaxFailures: 2, trustedProxies: ['127.0.0.40'] } });
    try {
      // Untrusted peer: its X-Forwarded-For is ignored, so two failures throttle the peer itself.
      for (let i = 0; i < 2; i++) await postFrom(t2.url, '127.0.0.41', '/api/auth/login', { username: `u${i}@xff.test`, password: 'x' }, { 'x-forwarded-for': `10.0.0.${i}` });
      expect((await postFrom(t2.url, '127.0.0.41', '/api/auth/login', { username: admin.email, password: admin.password }, { 'x-forwarded-for': '10.0.0.99' })).status).toBe(429);
      // Trusted proxy: each forwarded client counts on its own.
      for (let i = 0; i < 2; i++) await postFrom(t2.url, '127.0.0.40', '/api/auth/login', { username: `v${i}@xff.test`, password: 'x' }, { 'x-forwarded-for': '10.0.0.1' });
      expect((await postFrom(t2.url, '127.0.0.40', '/api/auth/login', { username: admin.email, password: admin.password }, { 'x-forwarded-for': '10.0.0.1' })).status).toBe(429);
      expect((await postFrom(t2.url, '127.0.0.40', '/api/auth/login', { username: admin.email, password: admin.password }, { 'x-forwarded-for': '10.0.0.2' })).status).toBe(200);
      expect(log.lines.some((l) => l.msg === 'login failed' && l.fields.address === '10.0.0.1')).toBe(true);
    } finally {
      await t2.close();
    }
  }, 30_000);
});
