import type { ExpireOptions, ExpireResult } from '@rivulet/storage';
import type { SqlClient } from './sql-client';
import { chunks, num } from './sql-util';

interface SeriesRow {
  entity_id: string;
  key: string;
  tenant_id: string | null;
}

/**
 * Time series retention by batched deletes (ThingsBoard's SQL TTL without partitions): every series
 * (entity, key) is known from ts_kv_latest; its tenant from the device, customer or tenant it belongs
 * to. Each DELETE covers a few hundred series and uses the primary key (entity_id, key, ts) as a range
 * scan per series, so it touches only expired rows and holds their row locks briefly, in its own
 * transaction; writers of other rows are not blocked. Then VACUUM (not FULL: it takes no lock that
 * blocks reads or writes) marks the freed space reusable at once instead of at autovacuum's next
 * turn, so new points fill it and the table's size stays flat across cycles.
 */
export async function deleteExpiredTimeseries(client: SqlClient, opts: ExpireOptions): Promise<ExpireResult> {
  const now = opts.now ?? Date.now();
  const per = Math.max(1, opts.seriesPerStatement ?? 200);
  const { rows } = await client.query<SeriesRow>(
    `SELECT l.entity_id, l.key, COALESCE(d.tenant_id, c.tenant_id, t.id) AS tenant_id
       FROM ts_kv_latest l
       LEFT JOIN device d ON d.id = l.entity_id
       LEFT JOIN customer c ON c.id = l.entity_id
       LEFT JOIN tenant t ON t.id = l.entity_id`,
  );
  const cutoffs = new Map<string | null, number>();
  const due: Array<{ entityId: string; key: string; cutoff: number }> = [];
  for (const r of rows) {
    let cutoff = cutoffs.get(r.tenant_id);
    if (cutoff === undefined) {
      const ttl = opts.ttlMsFor(r.tenant_id);
      cutoff = ttl > 0 && Number.isFinite(ttl) ? Math.trunc(now - ttl) : Number.NaN;
      cutoffs.set(r.tenant_id, cutoff);
    }
    if (!Number.isNaN(cutoff)) due.push({ entityId: r.entity_id, key: r.key, cutoff });
  }
  let deleted = 0;
  let statements = 0;
  for (const part of chunks(due, per)) {
    const res = await client.query(
      `DELETE FROM ts_kv t
        USING unnest($1::uuid[], $2::text[], $3::bigint[]) AS s(entity_id, key, cutoff)
        WHERE t.entity_id = s.entity_id AND t.key = s.key AND t.ts < s.cutoff`,
      [part.map((s) => s.entityId), part.map((s) => s.key), part.map((s) => s.cutoff)],
    );
    deleted += num(res.rowCount);
    statements++;
  }
  if (deleted > 0) await client.query('VACUUM ts_kv');
  return { deleted, series: due.length, statements };
}
