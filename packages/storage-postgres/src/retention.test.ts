import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Storage } from '@rivulet/storage';
import { createTestDatabase } from '@rivulet/testing';
import { createPostgresStorage } from './index';

const DAY = 86_400_000;

describe('time series retention (deleteExpired)', () => {
  let db: Awaited<ReturnType<typeof createTestDatabase>>;
  let storage: Storage;
  let sql: pg.Client;
  beforeAll(async () => {
    db = await createTestDatabase('retention');
    storage = await createPostgresStorage({ url: db.url });
    sql = new pg.Client({ connectionString: db.url });
    await sql.connect();
  });
  afterAll(async () => {
    await sql?.end();
    await storage?.close();
    await db?.drop();
  });

  it('deletes points older than their tenant’s TTL and keeps newer ones and latest values', async () => {
    const now = Date.UTC(2026, 5, 1);
    const a = (await storage.tenants.create({ title: 'Keeps ten days' })).id;
    const b = (await storage.tenants.create({ title: 'Keeps one day' })).id;
    const c = (await storage.tenants.create({ title: 'Keeps everything' })).id;
    const dev = async (tenantId: string) => (await storage.devices.create({ tenantId, name: `d-${tenantId.slice(0, 8)}`, type: 'sensor' })).device.id;
    const [da, db_, dc] = [await dev(a), await dev(b), await dev(c)];
    const ages = [20 * DAY, 5 * DAY, 12 * 3_600_000];
    for (const entityId of [da, db_, dc, a]) {
      await storage.timeseries.save(ages.flatMap((age) => ['t', 'h'].map((key) => ({ entityId, key, ts: now - age, value: age }))));
    }
    const ttl = new Map([[a, 10 * DAY], [b, 1 * DAY], [c, 0]]);
    const r = await storage.timeseries.deleteExpired({ ttlMsFor: (t) => (t === null ? 1 : (ttl.get(t) ?? 1)), now, seriesPerStatement: 3 });
    const left = async (id: string) => ((await storage.timeseries.findHistory(id, { keys: ['t'], startTs: 0, endTs: now + 1, limit: 100 })).t?.map((p) => now - p.ts) ?? []).sort((x, y) => y - x);
    expect(await left(da)).toEqual([5 * DAY, 12 * 3_600_000]);
    expect(await left(db_)).toEqual([12 * 3_600_000]);
    expect((await left(dc)).length).toBe(3);
    // the tenant's own telemetry follows the tenant's TTL
    expect((await left(a)).length).toBe(2);
    // points deleted: device a 1 per key, device b 2 per key, tenant a 1 per key; in statements of 3 series
    expect(r).toMatchObject({ deleted: 2 + 4 + 2, series: 6 });
    expect(r.statements).toBe(2);
    // latest values stay
    expect((await storage.timeseries.findLatest(db_)).map((p) => p.ts)).toEqual([now - 12 * 3_600_000, now - 12 * 3_600_000]);
  });

  it('deletes alarms cleared before the cutoff; active and recently cleared ones stay', async () => {
    const now = Date.UTC(2026, 5, 1);
    const tenantId = (await storage.tenants.create({ title: 'Alarms' })).id;
    const originatorId = (await storage.devices.create({ tenantId, name: 'alarming', type: 'sensor' })).device.id;
    const raise = async (type: string, ts: number) => (await storage.alarms.createOrUpdate({ tenantId, type, originatorType: 'DEVICE', originatorId, severity: 'MAJOR', ts })).alarm.id;
    const oldCleared = await raise('old-cleared', now - 40 * DAY);
    await storage.alarms.clear(tenantId, oldCleared, now - 31 * DAY);
    const recentCleared = await raise('recent-cleared', now - 40 * DAY);
    await storage.alarms.clear(tenantId, recentCleared, now - 2 * DAY);
    const oldActive = await raise('old-active', now - 40 * DAY);
    expect(await storage.alarms.deleteClearedBefore(now - 30 * DAY)).toBe(1);
    expect(await storage.alarms.get(tenantId, oldCleared)).toBeNull();
    expect(await storage.alarms.get(tenantId, recentCleared)).not.toBeNull();
    expect(await storage.alarms.get(tenantId, oldActive)).not.toBeNull();
  });

  it('keeps the table’s size on disk flat across repeated write/expire cycles', async () => {
    const tenantId = (await storage.tenants.create({ title: 'Cycles' })).id;
    const devices: string[] = [];
    for (let d = 0; d < 20; d++) devices.push((await storage.devices.create({ tenantId, name: `cyc-${d}`, type: 'sensor' })).device.id);
    const keys = ['a', 'b', 'c', 'd', 'e'];
    const base = Date.UTC(2026, 0, 1);
    const perSeriesPerDay = 200;
    const sizes: number[] = [];
    const rowsLeft: number[] = [];
    const ttlMsFor = (t: string | null) => (t === tenantId ? 2 * DAY : 0);
    for (let day = 0; day < 12; day++) {
      for (const entityId of devices) {
        await storage.timeseries.save(
          keys.flatMap((key) => Array.from({ length: perSeriesPerDay }, (_, i) => ({ entityId, key, ts: base + day * DAY + i * (DAY / perSeriesPerDay), value: i * 1.5 }))),
        );
      }
      await storage.timeseries.deleteExpired({ ttlMsFor, now: base + (day + 1) * DAY });
      const { rows } = await sql.query<{ size: string; n: string }>(
        `SELECT pg_total_relation_size('ts_kv')::text AS size, (SELECT count(*) FROM ts_kv t JOIN device d ON d.id = t.entity_id WHERE d.tenant_id = $1)::text AS n`,
        [tenantId],
      );
      sizes.push(Number(rows[0]!.size));
      rowsLeft.push(Number(rows[0]!.n));
    }
    const perDay = devices.length * keys.length * perSeriesPerDay;
    // two days kept (the day before and this one) from the second cycle on
    expect(rowsLeft.slice(1)).toEqual(Array(11).fill(2 * perDay));
    const mb = sizes.map((s) => +(s / 2 ** 20).toFixed(2));
    console.log(`retention: ts_kv size per cycle (MB, table + indexes): ${mb.join(' ')}; ${12 * perDay} points written, ${2 * perDay} kept`);
    // it holds three days at most (two kept plus the one written before the cycle's delete); from the
    // fourth cycle on its size repeats: the last four cycles may not outgrow cycles 4-8 (2 % for page rounding)
    const steady = Math.max(...sizes.slice(3, 8));
    expect(Math.max(...sizes.slice(8)), `sizes ${mb.join(' ')}`).toBeLessThanOrEqual(steady * 1.02);
  }, 180_000);
});
