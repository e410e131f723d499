import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Storage } from '@rivulet/storage';
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
    // Unknown accounts, each different: no account lockout helps here, only the per-address limits.
    const flood = Array.from({ length: 200 }, (_, i) =>
      postFrom(t.url, '127.0.0.2', '/api/auth/login', { username: `nobody-${i}@flood.test`, password: `wrong-${i}` }),
    );
    // Let the flood reach the server first.
    await new Promise((r) => setTimeout(r, 50));
    const start = performance.now();
    const r = await postFrom(t.url, '127.0.0.3', '/api/auth/login', { username: admin.email, password: admin.password });
    const latencyMs = performance.now() - start;
    const statuses = await Promise.all(flood);
    console.log(`correct login during the flood: ${latencyMs.toFixed(0)} ms; flood answers: ${JSON.stringify(countBy(statuses.map((s) => s.status)))}`);
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
