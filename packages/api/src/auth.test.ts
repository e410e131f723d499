import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SignJWT } from 'jose';
import { ErrorResponseSchema, TokenPairSchema, UserSchema } from '@rivulet/api-types';
import type { Storage } from '@rivulet/storage';
import { createTenantUser, createTestStorage, startTestApi, TEST_JWT_SECRET, type TestApi, type TestUser } from './test-storage';

describe('REST authentication', () => {
  let storage: Storage;
  let t: TestApi;
  let admin: TestUser;
  let ready = false;

  beforeAll(async () => {
    storage = await createTestStorage();
    admin = await createTenantUser(storage, 'admin@a.test', 'pw-of-admin');
    t = await startTestApi(storage, { isReady: () => ready });
  });
  afterAll(async () => {
    await t.close();
    await storage.close();
  });

  it('logs in with the right password (e-mail case-insensitive) and answers a token pair', async () => {
    const r = await t.request('POST', '/api/auth/login', { body: { username: 'Admin@A.test', password: 'pw-of-admin' } });
    expect(r.status).toBe(200);
    const pair = TokenPairSchema.parse(r.body);
    const claims = JSON.parse(Buffer.from(pair.token.split('.')[1] as string, 'base64url').toString());
    expect(claims).toMatchObject({ sub: 'admin@a.test', userId: admin.userId, tenantId: admin.tenantId, scopes: ['TENANT_ADMIN'], iss: 'rivulet' });
    expect(claims.exp - claims.iat).toBe(9000);
    const refresh = JSON.parse(Buffer.from(pair.refreshToken.split('.')[1] as string, 'base64url').toString());
    expect(refresh.scopes).toEqual(['REFRESH_TOKEN']);
    expect(refresh.exp - refresh.iat).toBe(604800);
  });

  it('answers 401 errorCode 10 for a wrong password or an unknown user', async () => {
    for (const body of [{ username: 'admin@a.test', password: 'nope' }, { username: 'nobody@a.test', password: 'pw-of-admin' }]) {
      const r = await t.request('POST', '/api/auth/login', { body });
      expect(r.status).toBe(401);
      expect(ErrorResponseSchema.parse(r.body)).toMatchObject({ status: 401, message: 'Invalid username or password', errorCode: 10 });
    }
  });

  it('answers 400 naming the missing field', async () => {
    const r = await t.request('POST', '/api/auth/login', { body: { username: 'admin@a.test' } });
    expect(r.status).toBe(400);
    expect(r.body.errorCode).toBe(30);
    expect(r.body.message).toContain('password');
    const empty = await t.request('POST', '/api/auth/login', { rawBody: '' });
    expect(empty.status).toBe(400);
    expect(empty.body.message).toBe('Request body is required');
  });

  it('returns the current user in ThingsBoard shape, with either header', async () => {
    const token = await t.login(admin);
    const r = await t.request('GET', '/api/auth/user', { token });
    expect(r.status).toBe(200);
    expect(UserSchema.parse(r.body)).toMatchObject({
      id: { entityType: 'USER', id: admin.userId },
      tenantId: { entityType: 'TENANT', id: admin.tenantId },
      email: 'admin@a.test',
      authority: 'TENANT_ADMIN',
    });
    const std = await t.request('GET', '/api/auth/user', { headers: { authorization: `Bearer ${token}` } });
    expect(std.status).toBe(200);
  });

  it('refreshes a token pair; the refresh token is no access token', async () => {
    const login = await t.request('POST', '/api/auth/login', { body: { username: admin.email, password: admin.password } });
    const r = await t.request('POST', '/api/auth/token', { body: { refreshToken: login.body.refreshToken } });
    expect(r.status).toBe(200);
    const pair = TokenPairSchema.parse(r.body);
    expect((await t.request('GET', '/api/auth/user', { token: pair.token })).status).toBe(200);

    const asAccess = await t.request('GET', '/api/auth/user', { token: login.body.refreshToken });
    expect(asAccess.status).toBe(401);
    expect(asAccess.body.errorCode).toBe(10);

    // And an access token is no refresh token.
    const wrong = await t.request('POST', '/api/auth/token', { body: { refreshToken: pair.token } });
    expect(wrong.status).toBe(401);
  });

  it('answers 401 for a missing, garbage, foreign or expired token (expired: errorCode 11)', async () => {
    const none = await t.request('GET', '/api/auth/user');
    expect(none.status).toBe(401);
    expect(none.body.errorCode).toBe(10);

    const garbage = await t.request('GET', '/api/auth/user', { token: 'not.a.jwt' });
    expect(garbage).toMatchObject({ status: 401, body: { errorCode: 10 } });

    const claims = { userId: admin.userId, tenantId: admin.tenantId, scopes: ['TENANT_ADMIN'] };
    const foreign = await new SignJWT(claims).setProtectedHeader({ alg: 'HS256' }).setIssuer('rivulet').setSubject(admin.email).setIssuedAt().setExpirationTime('1h').sign(new TextEncoder().encode('another-secret-entirely'));
    expect((await t.request('GET', '/api/auth/user', { token: foreign })).status).toBe(401);

    const now = Math.floor(Date.now() / 1000);
    const expired = await new SignJWT(claims).setProtectedHeader({ alg: 'HS256' }).setIssuer('rivulet').setSubject(admin.email).setIssuedAt(now - 100).setExpirationTime(now - 10).sign(new TextEncoder().encode(TEST_JWT_SECRET));
    const r = await t.request('GET', '/api/auth/user', { token: expired });
    expect(r.status).toBe(401);
    expect(r.body).toMatchObject({ errorCode: 11, message: 'Token has expired' });
  });

  it('answers 403 errorCode 20 to a user without the tenant administrator authority', async () => {
    const customer = await createTenantUser(storage, 'customer@a.test', 'pw-of-customer', 'CUSTOMER_USER');
    const token = await t.login(customer);
    const r = await t.request('GET', '/api/tenant/devices', { token });
    expect(r.status).toBe(403);
    expect(r.body.errorCode).toBe(20);
  });

  it('health: 503 until ready, then 200 UP, without a token', async () => {
    expect((await t.request('GET', '/api/health')).status).toBe(503);
    ready = true;
    expect(await t.request('GET', '/api/health')).toMatchObject({ status: 200, body: { status: 'UP' } });
  });

  it('answers JSON errors for unknown routes, wrong methods, malformed and oversized bodies', async () => {
    const token = await t.login(admin);
    const unknown = await t.request('GET', '/api/nothing/here', { token });
    expect(unknown.status).toBe(404);
    expect(ErrorResponseSchema.parse(unknown.body).errorCode).toBe(32);

    const method = await t.request('PUT', '/api/auth/login');
    expect(method.status).toBe(405);
    expect(method.headers.get('allow')).toBe('POST');

    const malformed = await t.request('POST', '/api/auth/login', { rawBody: '{"username": "a", ' });
    expect(malformed.status).toBe(400);
    expect(malformed.body.message).toMatch(/^Invalid JSON: /);

    const big = await t.request('POST', '/api/device', { token, rawBody: JSON.stringify({ name: 'x', additionalInfo: { blob: 'a'.repeat(1024 * 1024 + 10) } }) });
    expect(big.status).toBe(413);
    expect(big.body.status).toBe(413);
  });

  it('leaves the device API and other paths to others', async () => {
    const r = await fetch(`${t.url}/api/v1/some-token/telemetry`, { method: 'POST', body: '{}' });
    expect(await r.text()).toBe('not the api');
  });
});

describe('oversized body without Content-Length', () => {
  it('refuses a chunked body past the cap with 413', async () => {
    const storage = await createTestStorage();
    const admin = await createTenantUser(storage, 'admin@b.test', 'pw');
    const t = await startTestApi(storage, { maxBodyBytes: 1000 });
    try {
      const token = await t.login(admin);
      const stream = new ReadableStream<Uint8Array>({
        start(controller) {
          for (let i = 0; i < 20; i++) controller.enqueue(new TextEncoder().encode('a'.repeat(100)));
          controller.close();
        },
      });
      const res = await fetch(`${t.url}/api/device`, { method: 'POST', headers: { 'x-authorization': `Bearer ${token}` }, body: stream, duplex: 'half' } as RequestInit);
      expect(res.status).toBe(413);
      expect(((await res.json()) as { message: string }).message).toContain('1000 bytes');
    } finally {
      await t.close();
      await storage.close();
    }
  });
});
