import { request as httpRequest } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ErrorResponseSchema } from '@rivulet/api-types';
import type { Storage } from '@rivulet/storage';
import { TOO_MANY_REQUESTS_CODE } from './express-app';
import { createTenantUser, createTestStorage, startTestApi, type TestApi, type TestUser } from './test-storage';

/** A raw request, so the path is sent exactly as written (fetch would normalise it). */
function raw(url: string, method: string, path: string, headers: Record<string, string> = {}, body?: string): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: string }> {
  const u = new URL(url);
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: u.hostname, port: u.port, method, path, headers }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (text += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

describe('REST API on express', () => {
  let storage: Storage;
  let t: TestApi;
  let admin: TestUser;
  let token: string;

  beforeAll(async () => {
    storage = await createTestStorage();
    admin = await createTenantUser(storage, 'admin@express.test', 'pw-express');
    t = await startTestApi(storage, { maxBodyBytes: 1000 });
    token = await t.login(admin);
  });
  afterAll(async () => {
    await t.close();
    await storage.close();
  });

  it("answers JSON with helmet's security headers and a CSP that loads nothing", async () => {
    const r = await fetch(`${t.url}/api/auth/user`, { headers: { 'x-authorization': `Bearer ${token}` } });
    expect(r.status).toBe(200);
    expect(r.headers.get('content-security-policy')).toBe("default-src 'none';frame-ancestors 'none';base-uri 'none';form-action 'none'");
    expect(r.headers.get('x-content-type-options')).toBe('nosniff');
    expect(r.headers.get('x-frame-options')).toBe('SAMEORIGIN');
    expect(r.headers.get('strict-transport-security')).toContain('max-age=');
    expect(r.headers.get('referrer-policy')).toBe('no-referrer');
    expect(r.headers.get('x-powered-by')).toBeNull();
    // errors carry them too
    const e = await fetch(`${t.url}/api/nothing`);
    expect(e.headers.get('x-content-type-options')).toBe('nosniff');
  });

  it('keeps the error shape: 404 unknown path, 405 with Allow, 400 malformed JSON and percent-encoding, 413 big body', async () => {
    const none = await t.request('GET', '/api/nothing/here', { token });
    expect(none.status).toBe(404);
    expect(ErrorResponseSchema.parse(none.body)).toMatchObject({ status: 404, errorCode: 32 });

    const put = await t.request('PUT', '/api/device/6f7c3f0e-1d1a-4d5e-9a7b-0c1d2e3f4a5b', { token });
    expect(put.status).toBe(405);
    expect(put.headers.get('allow')?.split(', ').sort()).toEqual(['DELETE', 'GET']);
    expect(ErrorResponseSchema.parse(put.body).status).toBe(405);

    const bad = await t.request('POST', '/api/device', { token, rawBody: '{"name": ' });
    expect(bad.status).toBe(400);
    expect(bad.body).toMatchObject({ status: 400, errorCode: 30 });
    expect(bad.body.message).toMatch(/^Invalid JSON/);

    const pct = await raw(t.url, 'GET', '/api/device/%E0%A4%A', { 'x-authorization': `Bearer ${token}` });
    expect(pct.status).toBe(400);
    expect(JSON.parse(pct.body)).toMatchObject({ status: 400, errorCode: 31, message: 'Malformed URL path: /api/device/%E0%A4%A' });

    const big = await t.request('POST', '/api/device', { token, rawBody: JSON.stringify({ name: 'x'.repeat(2000) }) });
    expect(big.status).toBe(413);
    expect(big.body).toMatchObject({ status: 413, message: 'Request body is larger than 1000 bytes' });
  });

  it('answers 400, not 500, for a NUL character in a body string, a key or a query parameter (found by schemathesis)', async () => {
    const title = await t.request('POST', '/api/dashboard', { token, body: { title: 'a\u0000b' } });
    expect(title.status).toBe(400);
    expect(title.body).toMatchObject({ status: 400, errorCode: 30, message: 'body.title: must not contain the NUL character (\\u0000)' });
    const key = await t.request('POST', '/api/dashboard', { token, body: { title: 't', configuration: { 'k\u0000': 1 } } });
    expect(key.status).toBe(400);
    const query = await t.request('GET', '/api/tenant/devices?textSearch=a%00b', { token });
    expect(query.status).toBe(400);
    expect(query.body.message).toBe("Parameter 'textSearch' must not contain the NUL character (\\u0000)");
  });

  it('routes literal segments before parameters and is case-sensitive, as the old router', async () => {
    // /api/ruleChain/nodeTypes is not /api/ruleChain/{ruleChainId}: without a rule engine it answers 503, not 400 "not a UUID"
    const types = await t.request('GET', '/api/ruleChain/nodeTypes', { token });
    expect(types.status).toBe(503);
    expect((await t.request('GET', '/api/Device/6f7c3f0e-1d1a-4d5e-9a7b-0c1d2e3f4a5b', { token })).status).toBe(404);
    // a trailing slash is the same route
    expect((await t.request('GET', '/api/auth/user/', { token })).status).toBe(200);
  });

  it('leaves the device API (/api/v1) and non-API paths to the caller', () => {
    const fake = { url: '/api/v1/token/telemetry', method: 'POST', headers: {} } as never;
    expect(t.api.handle(fake, {} as never)).toBe(false);
    expect(t.api.handle({ url: '/mqtt', method: 'GET', headers: {} } as never, {} as never)).toBe(false);
  });

  it('sends no CORS headers by default: a cross-origin preflight gets none', async () => {
    const pre = await raw(t.url, 'OPTIONS', '/api/auth/user', { origin: 'https://evil.example', 'access-control-request-method': 'GET', 'access-control-request-headers': 'x-authorization' });
    expect(pre.status).toBe(204);
    expect(pre.headers['access-control-allow-origin']).toBeUndefined();
    const get = await fetch(`${t.url}/api/auth/user`, { headers: { origin: 'https://evil.example', 'x-authorization': `Bearer ${token}` } });
    expect(get.headers.get('access-control-allow-origin')).toBeNull();
  });
});

describe('REST API CORS and rate limit, configured', () => {
  let storage: Storage;
  let t: TestApi;
  let admin: TestUser;

  beforeAll(async () => {
    storage = await createTestStorage();
    admin = await createTenantUser(storage, 'admin@limits.test', 'pw-limits');
    t = await startTestApi(storage, { corsOrigins: ['https://dash.example'], rateLimit: 5, rateLimitWindowMs: 60_000 });
  });
  afterAll(async () => {
    await t.close();
    await storage.close();
  });

  it('answers a preflight from an allowed origin, and only that origin', async () => {
    const pre = await raw(t.url, 'OPTIONS', '/api/device', { origin: 'https://dash.example', 'access-control-request-method': 'POST', 'access-control-request-headers': 'x-authorization,content-type' });
    expect(pre.status).toBe(204);
    expect(pre.headers['access-control-allow-origin']).toBe('https://dash.example');
    expect(String(pre.headers['access-control-allow-headers'])).toContain('X-Authorization');
    expect(String(pre.headers['access-control-allow-methods'])).toContain('POST');
    const other = await raw(t.url, 'OPTIONS', '/api/device', { origin: 'https://evil.example', 'access-control-request-method': 'POST' });
    expect(other.headers['access-control-allow-origin']).toBeUndefined();
  });

  it('answers 429 in the error shape past the limit per address, and keeps /api/health out of it', async () => {
    const statuses: number[] = [];
    let last: { status: number; body: any; headers: Headers } | undefined;
    for (let i = 0; i < 8; i++) {
      last = await t.request('POST', '/api/auth/login', { body: { username: admin.email, password: 'wrong' } });
      statuses.push(last.status);
    }
    // the preflights above counted too (2 of the 5)
    expect(statuses.filter((s) => s === 401).length).toBe(3);
    expect(statuses.slice(3)).toEqual([429, 429, 429, 429, 429]);
    expect(ErrorResponseSchema.parse(last!.body)).toMatchObject({ status: 429, errorCode: TOO_MANY_REQUESTS_CODE });
    expect(last!.headers.get('retry-after')).toMatch(/^\d+$/);
    expect((await t.request('GET', '/api/health')).status).toBe(200);
  });
});
