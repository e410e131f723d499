import { afterAll, describe, expect, it } from 'vitest';
import type { Rivulet } from './app';
import { loadConfig } from './config';
import { ADMIN, startServerProcess, startTestServer, tempDir } from './test-helpers';

/** `npm start` minus npm, until it exits: its exit code and everything it printed. */
async function runUntilExit(env: Record<string, string>): Promise<{ code: number | null; output: string }> {
  const p = startServerProcess({ RIVULET_HTTP_PORT: '0', RIVULET_MQTT_PORT: '0', RIVULET_COAP_PORT: '0', RIVULET_HTTP_HOST: '127.0.0.1', ...env });
  const timer = setTimeout(() => p.child.kill('SIGKILL'), 20_000);
  const code = await p.exited;
  clearTimeout(timer);
  return { code, output: p.output() };
}

describe('secrets and password policy at start', () => {
  const dir = tempDir('rivulet-authcfg-');
  afterAll(() => dir.remove());

  it('refuses to start with a JWT secret shorter than 32 characters, saying so', async () => {
    const r = await runUntilExit({ RIVULET_DATA_DIR: dir.dir, RIVULET_JWT_SECRET: 'x', RIVULET_ADMIN_PASSWORD: 'long-enough-password' });
    expect(r.code).toBe(2);
    expect(r.output).toMatch(/RIVULET_JWT_SECRET: must be at least 32 characters long/);
  }, 30_000);

  it('refuses to start with an administrator password shorter than the policy, saying so', async () => {
    const r = await runUntilExit({ RIVULET_DATA_DIR: dir.dir, RIVULET_ADMIN_PASSWORD: 'a' });
    expect(r.code).toBe(2);
    expect(r.output).toMatch(/RIVULET_ADMIN_PASSWORD: must be at least 8 characters long/);
    expect(r.output).not.toMatch(/Rivulet is listening/);
  }, 30_000);

  it('reads the policy and throttle settings, with their defaults', () => {
    const d = loadConfig({});
    expect(d).toMatchObject({ RIVULET_PASSWORD_MIN_LENGTH: 8, RIVULET_LOGIN_MAX_FAILURES: 5, RIVULET_LOGIN_LOCKOUT_SECONDS: 300, RIVULET_LOGIN_ADDRESS_MAX_FAILURES: 20, RIVULET_TRUSTED_PROXIES: '' });
    expect(() => loadConfig({ RIVULET_PASSWORD_MIN_LENGTH: '12', RIVULET_ADMIN_PASSWORD: 'eleven-char' })).toThrow(/RIVULET_ADMIN_PASSWORD: must be at least 12/);
    expect(() => loadConfig({ RIVULET_TRUSTED_PROXIES: '10.0.0.0/8, nonsense' })).toThrow(/RIVULET_TRUSTED_PROXIES/);
    expect(() => loadConfig({ RIVULET_TRUSTED_PROXIES: '10.0.0.0/8, ::1, 192.168.1.7' })).not.toThrow();
    expect(() => loadConfig({ RIVULET_JWT_SECRET: 'a'.repeat(32) })).not.toThrow();
  });
});

describe('the whole server: lockout, logout and password policy as configured', () => {
  let app: Rivulet;
  const dir = tempDir('rivulet-auth-');
  afterAll(async () => {
    await app?.stop();
    dir.remove();
  });

  const post = async (path: string, body: unknown, token?: string) => {
    const r = await fetch(`${app.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', ...(token ? { 'x-authorization': `Bearer ${token}` } : {}) }, body: JSON.stringify(body) });
    const text = await r.text();
    return { status: r.status, body: text ? JSON.parse(text) : undefined };
  };

  it('locks after RIVULET_LOGIN_MAX_FAILURES, unlocks after RIVULET_LOGIN_LOCKOUT_SECONDS; logout and policy work end to end', async () => {
    app = await startTestServer({ RIVULET_DATA_DIR: dir.dir, RIVULET_LOGIN_MAX_FAILURES: '2', RIVULET_LOGIN_LOCKOUT_SECONDS: '1', RIVULET_PASSWORD_MIN_LENGTH: '9' });
    expect((await post('/api/auth/login', { username: ADMIN.username, password: 'wrong' })).status).toBe(401);
    const second = await post('/api/auth/login', { username: ADMIN.username, password: 'wrong' });
    expect(second.body.message).toMatch(/locked/);
    expect((await post('/api/auth/login', ADMIN)).status).toBe(401);
    await new Promise((r) => setTimeout(r, 1100));
    const login = await post('/api/auth/login', ADMIN);
    expect(login.status).toBe(200);

    const short = await post('/api/auth/changePassword', { currentPassword: ADMIN.password, newPassword: 'eight-ch' }, login.body.token);
    expect(short).toMatchObject({ status: 400, body: { errorCode: 31, message: 'Password must be at least 9 characters long' } });

    expect((await post('/api/auth/logout', {}, login.body.token)).status).toBe(200);
    const after = await fetch(`${app.url}/api/auth/user`, { headers: { 'x-authorization': `Bearer ${login.body.token}` } });
    expect(after.status).toBe(401);
    expect((await post('/api/auth/token', { refreshToken: login.body.refreshToken })).status).toBe(401);
  }, 30_000);
});
