import pg from 'pg';

/**
 * The ceiling of the storage layer: the same rows (3 points per message: two doubles and a long,
 * device ids of the load's devices, increasing ts) inserted straight into the same ts_kv table with
 * Rivulet's statement shape (INSERT ... SELECT FROM unnest(typed arrays) ON CONFLICT DO UPDATE),
 * `rowsPerStatement` rows each, on `connections` connections at once, for `durationS` seconds.
 * Nothing else: no broker, no parsing, no latest-value table.
 */
export async function pgCeiling(opts: { url: string; entityIds: readonly string[]; durationS: number; rowsPerStatement?: number; connections?: number; tsStart: number }): Promise<{ rowsPerS: number; rows: number; statementP99Ms: number }> {
  const per = opts.rowsPerStatement ?? 1000;
  const pool = new pg.Pool({ connectionString: opts.url, max: opts.connections ?? 4 });
  const keys = ['temperature', 'humidity', 'seq'];
  let ts = opts.tsStart;
  const lat: number[] = [];
  let rows = 0;
  const sql = `INSERT INTO ts_kv (entity_id, key, ts, bool_v, long_v, dbl_v, str_v, json_v)
    SELECT u.entity_id, u.key, u.ts, u.bool_v, u.long_v, u.dbl_v, u.str_v, u.json_v::jsonb
      FROM unnest($1::uuid[], $2::text[], $3::bigint[], $4::boolean[], $5::bigint[], $6::double precision[], $7::text[], $8::text[])
        AS u(entity_id, key, ts, bool_v, long_v, dbl_v, str_v, json_v)
    ON CONFLICT (entity_id, key, ts) DO UPDATE SET bool_v = EXCLUDED.bool_v, long_v = EXCLUDED.long_v,
      dbl_v = EXCLUDED.dbl_v, str_v = EXCLUDED.str_v, json_v = EXCLUDED.json_v`;
  const batch = (): unknown[] => {
    const e: string[] = [];
    const k: string[] = [];
    const t: number[] = [];
    const nulls: null[] = [];
    const lng: Array<number | null> = [];
    const dbl: Array<number | null> = [];
    let msg = 0;
    while (e.length < per) {
      const id = opts.entityIds[msg % opts.entityIds.length]!;
      if (msg % opts.entityIds.length === 0) ts++;
      for (const key of keys) {
        e.push(id);
        k.push(key);
        t.push(ts);
        nulls.push(null);
        lng.push(key === 'seq' ? msg : null);
        dbl.push(key === 'seq' ? null : 20 + (msg % 100) / 10);
      }
      msg++;
    }
    return [e, k, t, nulls, lng, dbl, nulls, nulls];
  };
  try {
    await pool.query('SELECT 1');
    const end = performance.now() + opts.durationS * 1000;
    const t0 = performance.now();
    const worker = async () => {
      while (performance.now() < end) {
        const params = batch();
        const s = performance.now();
        const r = await pool.query(sql, params);
        lat.push(performance.now() - s);
        rows += r.rowCount ?? 0;
      }
    };
    await Promise.all(Array.from({ length: opts.connections ?? 4 }, worker));
    const elapsed = (performance.now() - t0) / 1000;
    lat.sort((a, b) => a - b);
    return { rowsPerS: rows / elapsed, rows, statementP99Ms: lat[Math.floor(lat.length * 0.99)] ?? NaN };
  } finally {
    await pool.end();
  }
}
