import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Rivulet } from './app';
import { ADMIN, api, createDevice, createTenantWithAdmin, login, startTestServer, SYSADMIN, tempDir } from './test-helpers';

const DAY = 86_400_000;

describe('time series retention in the running server', () => {
  let app: Rivulet;
  const dir = tempDir();
  beforeAll(async () => {
    // the embedded database; the global TTL: one day; a pass every second
    app = await startTestServer({ RIVULET_DATA_DIR: dir.dir, RIVULET_TIMESERIES_TTL_DAYS: '1', RIVULET_RETENTION_INTERVAL_SECONDS: '1' });
  });
  afterAll(async () => {
    await app?.stop();
    dir.remove();
  });

  it('expires points past the global TTL, keeps newer ones, and a tenant profile’s defaultStorageTtlDays overrides it', async () => {
    const sys = await login(app.url, SYSADMIN);
    const run = Math.random().toString(36).slice(2, 8);
    const profile = await api<{ id: { id: string } }>(app.url, sys, '/api/tenantProfile', {
      method: 'POST',
      body: { name: `Keeps 30 days ${run}`, profileData: { configuration: { type: 'DEFAULT', defaultStorageTtlDays: 30 } } },
    });
    expect(profile.status, JSON.stringify(profile.body)).toBe(200);
    const other = await createTenantWithAdmin(app.url, sys, { title: `Long memory ${run}`, email: `long-${run}@rivulet.local`, password: 'long-memory-1', tenantProfileId: profile.body.id.id });
    const mine = await createDevice(app.url, await login(app.url, ADMIN), `short-memory-${run}`);
    const theirs = await createDevice(app.url, other.jwt, `long-memory-${run}`);
    const now = Date.now();
    const body = JSON.stringify([
      { ts: now - 3 * DAY, values: { t: 1 } },
      { ts: now - 3_600_000, values: { t: 2 } },
    ]);
    for (const d of [mine, theirs]) {
      const r = await fetch(`${app.url}/api/v1/${d.token}/telemetry`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
      expect(r.status).toBe(200);
    }
    const deadline = Date.now() + 20_000;
    while ((await app.storage.timeseries.count(mine.id)) !== 1 || (await app.storage.timeseries.count(theirs.id)) !== 2) {
      if (Date.now() > deadline) throw new Error(`points left: mine ${await app.storage.timeseries.count(mine.id)} (want 1), theirs ${await app.storage.timeseries.count(theirs.id)} (want 2)`);
      await new Promise((r) => setTimeout(r, 200));
    }
    // a couple more passes change nothing: the newer point and the 30-day tenant's old one stay
    await new Promise((r) => setTimeout(r, 2500));
    expect(await app.storage.timeseries.count(mine.id)).toBe(1);
    expect(await app.storage.timeseries.count(theirs.id)).toBe(2);
    expect((await app.storage.timeseries.findLatest(mine.id)).map((p) => p.value)).toEqual([2]);
  }, 60_000);
});
