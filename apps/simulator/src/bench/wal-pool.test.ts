import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase } from '@rivulet/testing';
import { fillWalPool } from './wal-pool';

describe('fillWalPool', () => {
  let db: Awaited<ReturnType<typeof createTestDatabase>>;
  beforeAll(async () => {
    db = await createTestDatabase('walpool');
  });
  afterAll(async () => {
    await db?.drop();
  });

  it('writes the WAL asked for, keeps the segment files for reuse and leaves no table behind', async () => {
    const want = 40 * 2 ** 20;
    const r = await fillWalPool(db.url, want);
    expect(r.bytes).toBeGreaterThanOrEqual(want);
    // Below min_wal_size (80 MB as shipped) a checkpoint recycles old segments instead of removing them.
    expect(r.segments).toBeGreaterThanOrEqual(Math.floor(want / (16 * 2 ** 20)));
    const c = new pg.Client({ connectionString: db.url });
    await c.connect();
    try {
      const { rows } = await c.query<{ t: string | null }>("SELECT to_regclass('rivulet_bench_wal_fill')::text AS t");
      expect(rows[0]!.t).toBeNull();
    } finally {
      await c.end();
    }
  });
});
