import pg from 'pg';

/** One stored point of the run: its device, the seq it carried, the transaction that wrote it (PostgreSQL xmin). */
export interface StoredPoint {
  deviceId: string;
  seq: number;
  ts: number;
  xid: number;
}

export interface ScaleResult {
  acked: number;
  /** Distinct (device, seq) stored. */
  stored: number;
  /** Rows beyond one per (device, seq): the same point stored under a second ts. */
  duplicates: number;
  /** Acknowledged points not stored. */
  lost: number;
  /** Per device, consecutive seqs whose row was written by an earlier transaction than its predecessor's. */
  outOfOrder: number;
  /** Stored points that were never acknowledged (sent, stored, the PUBACK lost). */
  storedNotAcked: number;
}

/** Compares what was acknowledged with what is stored. Pure: the unit test feeds it by hand. */
export function compare(acked: ReadonlyMap<string, ReadonlySet<number>>, rows: ReadonlyArray<StoredPoint>): ScaleResult {
  const byDevice = new Map<string, StoredPoint[]>();
  for (const r of rows) {
    const list = byDevice.get(r.deviceId);
    if (list) list.push(r);
    else byDevice.set(r.deviceId, [r]);
  }
  let ackedCount = 0;
  let stored = 0;
  let duplicates = 0;
  let lost = 0;
  let outOfOrder = 0;
  let storedNotAcked = 0;
  for (const [deviceId, seqs] of acked) {
    ackedCount += seqs.size;
    const list = (byDevice.get(deviceId) ?? []).sort((a, b) => a.seq - b.seq || a.xid - b.xid);
    const seen = new Set<number>();
    let prev: StoredPoint | undefined;
    for (const p of list) {
      if (seen.has(p.seq)) {
        duplicates++;
        continue;
      }
      seen.add(p.seq);
      if (!seqs.has(p.seq)) storedNotAcked++;
      if (prev && p.xid < prev.xid) outOfOrder++;
      prev = p;
    }
    stored += seen.size;
    for (const s of seqs) if (!seen.has(s)) lost++;
  }
  return { acked: ackedCount, stored, duplicates, lost, outOfOrder, storedNotAcked };
}

export function formatResult(r: ScaleResult): string {
  return `acked=${r.acked} stored=${r.stored} duplicates=${r.duplicates} lost=${r.lost} out_of_order=${r.outOfOrder}`;
}

/** The run's points as PostgreSQL holds them (key `seq` of the run's devices). */
export async function readStored(url: string, deviceIds: ReadonlyArray<string>): Promise<StoredPoint[]> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    const r = await c.query<{ entity_id: string; seq: string; ts: string; xid: string }>(
      `SELECT entity_id::text AS entity_id, COALESCE(long_v, dbl_v::bigint) AS seq, ts, xmin::text AS xid
         FROM ts_kv WHERE key = 'seq' AND entity_id = ANY($1::uuid[])`,
      [deviceIds],
    );
    return r.rows.map((row) => ({ deviceId: row.entity_id, seq: Number(row.seq), ts: Number(row.ts), xid: Number(row.xid) }));
  } finally {
    await c.end();
  }
}

/** Waits until the stored count stops growing (the rule engines caught up), at most `timeoutMs`. */
export async function waitStored(url: string, deviceIds: ReadonlyArray<string>, expected: number, timeoutMs: number): Promise<StoredPoint[]> {
  const end = Date.now() + timeoutMs;
  let rows = await readStored(url, deviceIds);
  let stableSince = Date.now();
  let last = rows.length;
  while (Date.now() < end) {
    if (rows.length >= expected && Date.now() - stableSince > 2_000) return rows;
    if (rows.length < expected && Date.now() - stableSince > 20_000) return rows; // nothing new for 20 s: what is missing is lost
    await new Promise((r) => setTimeout(r, 500));
    rows = await readStored(url, deviceIds);
    if (rows.length !== last) {
      last = rows.length;
      stableSince = Date.now();
    }
  }
  return rows;
}
