import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Storage } from '@rivulet/storage';
import { spawn } from 'node:child_process';
import { createTenantUser, createTestStorage, postFrom, startTestApi, type TestApi, type TestUser } from './test-storage';

/**
 * A correct login from one address during a flood of wrong passwords from another. Both come over
 * real sockets bound to different loopback addresses (127.0.0.2 floods, 127.0.0.3 logs in), so the
 * server sees two clients by their socket address, as it would on a network.
 */
describe('login during a flood of wrong passwords from another address', () => {
  let storage: Storage;
  let t: TestApi;
  let admin: TestUser;

  beforeAll(async () => {
    storage = await createTestStorage();
    admin = await createTenantUser(storage, 'admin@flood.test', 'pw-of-the-admin');
    t = await startTestApi(storage);
  });
  afterAll(async () => {
    await t.close();
    await storage.close();
  });

  it('answers the correct login in well under a second while 200 wrong logins arrive at once', async () => {
    // The same login on a quiet server, for comparison (the machine may be busy with other work).
    const quietStart = performance.now();
    expect((await postFrom(t.url, '127.0.0.4', '/api/auth/login', { username: admin.email, password: admin.password })).status).toBe(200);
    const quietMs = performance.now() - quietStart;
    // Unknown accounts, each different: no account lockout helps here, only the per-address limits.
    // The flood comes from another process (as an attacker's would), so its client work is not ours.
    const flood = floodFrom(t.url, '127.0.0.2', 200);
    await flood.started;
    const start = performance.now();
    const r = await postFrom(t.url, '127.0.0.3', '/api/auth/login', { username: admin.email, password: admin.password });
    const latencyMs = performance.now() - start;
    const statuses = (await flood.done).map((status) => ({ status }));
    console.log(`correct login during the flood: ${latencyMs.toFixed(0)} ms (quiet: ${quietMs.toFixed(0)} ms); flood answers: ${JSON.stringify(countBy(statuses.map((s) => s.status)))}`);
    expect(r.status).toBe(200);
    expect(latencyMs).toBeLessThan(1000);
    // Every flood request was refused: wrong passwords (401) or throttled (429), never a 5xx.
    for (const s of statuses) expect([401, 429]).toContain(s.status);
  }, 60_000);
});

function countBy(xs: number[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const x of xs) out[x] = (out[x] ?? 0) + 1;
  return out;
}

/**
 * `count` concurrent wrong logins from a child node process bound to `localAddress`. `started`
 * resolves once every request has been sent, `done` with every answer's status.
 */
function floodFrom(baseUrl: string, localAddress: string, count: number): { started: Promise<void>; done: Promise<number[]> } {
  const script = `
    const http = require('node:http');
    const statuses = [];
    let sent = 0;
    for (let i = 0; i < ${count}; i++) {
      const body = JSON.stringify({ username: 'nobody-' + i + '@flood.test', password: 'wrong-' + i });
      const req = http.request(${JSON.stringify(baseUrl)} + '/api/auth/login', { method: 'POST', localAddress: ${JSON.stringify(localAddress)}, agent: false,
        headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } }, (res) => {
        res.resume();
        res.on('end', () => { statuses.push(res.statusCode); if (statuses.length === ${count}) process.stdout.write('DONE ' + JSON.stringify(statuses) + '\\n'); });
      });
      req.on('error', (e) => { statuses.push(0); });
      req.end(body, () => { if (++sent === ${count}) process.stdout.write('SENT\\n'); });
    }`;
  const child = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  let onSent: () => void = () => undefined;
  const started = new Promise<void>((resolve) => (onSent = resolve));
  const done = new Promise<number[]>((resolve, reject) => {
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('SENT')) onSent();
    });
    child.on('exit', () => {
      const m = /DONE (.*)/.exec(out);
      if (m) resolve(JSON.parse(m[1] as string) as number[]);
      else reject(new Error(`flood process ended without answers: ${out}`));
    });
  });
  return { started, done };
}
