import pg from 'pg';

export interface WalPoolResult {
  /** WAL written to fill the pool. */
  bytes: number;
  seconds: number;
  /** WAL segment files in pg_wal afterwards (kept for recycling). */
  segments: number;
}

/**
 * Brings a freshly initialized PostgreSQL cluster's WAL to its steady state before anything is
 * measured on it.
 *
 * A new cluster has one WAL segment file. Until its first checkpoint completes, every further
 * 16 MB segment is a new file that PostgreSQL fills with zeroes and fsyncs (wal_init_zero, as
 * shipped) while the commits waiting for that WAL stall: at ~17 MB of WAL per second (60k points/s)
 * that was a 40-80 ms stall every 0.7-0.9 s, seen as periodic slow windows in the first rounds'
 * latency traces and gone once checkpoints recycled old segments. A server that has been running
 * recycles its segments, so the benchmark pays this once, up front: it writes `bytes` of WAL
 * (default: max_wal_size) into a scratch table, drops it and checkpoints; the checkpoint keeps
 * the files for reuse. Settings stay as shipped.
 */
export async function fillWalPool(url: string, bytes?: number): Promise<WalPoolResult> {
  const db = new pg.Client({ connectionString: url });
  await db.connect();
  try {
    const t0 = performance.now();
    const target =
      bytes ?? Number((await db.query<{ b: string }>("SELECT setting::bigint * 1024 * 1024 AS b FROM pg_settings WHERE name = 'max_wal_size'")).rows[0]!.b);
    const start = (await db.query<{ l: string }>('SELECT pg_current_wal_lsn() AS l')).rows[0]!.l;
    await db.query('CREATE TABLE rivulet_bench_wal_fill (b text)');
    let written = 0;
    // Rows of 1,900 bytes stay below the TOAST threshold, so they are written uncompressed.
    for (let i = 0; written < target && i < 10_000; i++) {
      await db.query("INSERT INTO rivulet_bench_wal_fill SELECT lpad('', 1900, md5(g::text)) FROM generate_series(1, 20000) g");
      written = Number((await db.query<{ d: string }>('SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), $1) AS d', [start])).rows[0]!.d);
    }
    await db.query('DROP TABLE rivulet_bench_wal_fill');
    await db.query('CHECKPOINT');
    const segments = Number((await db.query<{ n: string }>('SELECT count(*) AS n FROM pg_ls_waldir()')).rows[0]!.n);
    return { bytes: written, seconds: (performance.now() - t0) / 1000, segments };
  } finally {
    await db.end();
  }
}
