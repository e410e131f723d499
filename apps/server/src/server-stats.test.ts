import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { api, login, startTestServer, SYSADMIN, tempDir } from './test-helpers';
import type { Rivulet } from './app';

/** GET /api/admin/stats: process-wide figures (what `npm run soak` samples), for the system administrator only. */
describe('server stats endpoint', () => {
  const dir = tempDir();
  let app: Rivulet;
  beforeAll(async () => {
    app = await startTestServer({ RIVULET_DATA_DIR: dir.dir });
  });
  afterAll(async () => {
    await app?.stop();
    dir.remove();
  });

  it('answers the system administrator with memory, event-loop delay, queue lag, rule-engine, rate-limit and connection counters; a tenant administrator gets 403, no token 401', async () => {
    const sys = await login(app.url, SYSADMIN);
    const s = await api<{ memory: { rssBytes: number; heapUsedBytes: number }; eventLoopDelayMs: { p99: number; samples: number }; queue: { lag: number }; ruleEngine: { processed: number } | null; rateLimits: unknown; httpConnections: { open: number; refused: number } }>(app.url, sys, '/api/admin/stats?reset=true');
    expect(s.status).toBe(200);
    expect(s.body.memory.rssBytes).toBeGreaterThan(s.body.memory.heapUsedBytes);
    expect(s.body.queue.lag).toBe(0);
    expect(s.body.ruleEngine?.processed).toBeGreaterThanOrEqual(0);
    expect(s.body.eventLoopDelayMs.p99).toBeGreaterThanOrEqual(0);
    // the limits' counters an operator reads (rate-limits.test.ts makes them move)
    expect(s.body.rateLimits).toEqual(app.rateLimitStats());
    expect(s.body.httpConnections.open).toBeGreaterThanOrEqual(1); // this request's own
    expect(s.body.httpConnections).toMatchObject({ refused: app.httpConnectionStats().refused });
    const tenant = await login(app.url);
    expect((await api(app.url, tenant, '/api/admin/stats')).status).toBe(403);
    expect((await fetch(`${app.url}/api/admin/stats`)).status).toBe(401);
  });
});
