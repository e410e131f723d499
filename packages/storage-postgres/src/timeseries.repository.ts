import { BadRequestError, isUuid, type KvValue, type TsKv, type TsPoint } from '@rivulet/core';
import type { Aggregation, HistoryQuery, TimeseriesRepository } from '@rivulet/storage';
import { arrayLiteral, isIntegralDouble, KV_COLUMNS, kvColumnLiterals, kvValueOf, quoteArrayElement, type KvColumnsRow } from './kv-columns';
import type { SqlClient } from './sql-client';
import { chunks, num, numOrNull } from './sql-util';
import { deleteExpiredTimeseries } from './timeseries-retention';

export interface TimeseriesRepositoryOptions {
  client: SqlClient;
  /** Points per statement. */
  chunkSize: number;
}

interface TsRow extends KvColumnsRow {
  key: string;
  ts: unknown;
}

interface AggRow {
  key: string;
  bucket: unknown;
  n_all: unknown;
  n_num: unknown;
  v_sum: unknown;
  v_min: unknown;
  v_max: unknown;
}

const DEFAULT_LIMIT = 100;
const AGGREGATIONS: ReadonlySet<Aggregation> = new Set(['NONE', 'AVG', 'MIN', 'MAX', 'SUM', 'COUNT']);

function toTsKv(r: TsRow): TsKv {
  return isIntegralDouble(r) ? { key: r.key, ts: num(r.ts), value: kvValueOf(r), double: true } : { key: r.key, ts: num(r.ts), value: kvValueOf(r) };
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function check(p: TsPoint): void {
  if (!isUuid(p.entityId)) throw new BadRequestError(`Invalid entity id "${p.entityId}"`);
  if (p.key.length === 0) throw new BadRequestError('Time series key must not be empty');
  if (!Number.isFinite(p.ts)) throw new BadRequestError(`Time series ${p.key}: ts must be a number`);
  if (typeof p.value === 'number' && !Number.isFinite(p.value)) throw new BadRequestError(`Time series ${p.key}: value must be a finite number`);
}

/**
 * Rows of one save: the last point per (entity, key, ts), because one INSERT .. ON CONFLICT DO
 * UPDATE may not touch a row twice; and the newest point per (entity, key) for the latest table
 * (the later one on equal ts). Both sorted by (entity, key, ts), so concurrent writers lock rows in
 * the same order.
 *
 * Grouped by entity and key first: a batch holds few distinct entities and keys, so sorting those
 * (and each group's ts, usually in order already) is far cheaper than keying and sorting every point
 * by a composite string, which made this function the largest own cost of a stored message.
 */
function prepare(points: ReadonlyArray<TsPoint>): { rows: TsPoint[]; latest: TsPoint[] } {
  const groups = new Map<string, Map<string, TsPoint[]>>();
  for (const raw of points) {
    const p: TsPoint = Number.isInteger(raw.ts) ? raw : { ...raw, ts: Math.trunc(raw.ts) };
    let byKey = groups.get(p.entityId);
    if (byKey === undefined) groups.set(p.entityId, (byKey = new Map()));
    const list = byKey.get(p.key);
    if (list === undefined) byKey.set(p.key, [p]);
    else list.push(p);
  }
  const rows: TsPoint[] = [];
  const latest: TsPoint[] = [];
  for (const entityId of [...groups.keys()].sort(cmp)) {
    const byKey = groups.get(entityId)!;
    for (const key of [...byKey.keys()].sort(cmp)) {
      const list = byKey.get(key)!;
      // Array.prototype.sort is stable: among equal ts the later point stays later.
      if (!sortedByTs(list)) list.sort(byTs);
      for (let i = 0; i < list.length; i++) {
        const p = list[i]!;
        // A later point with the same ts replaces this one.
        if (i + 1 < list.length && list[i + 1]!.ts === p.ts) continue;
        rows.push(p);
      }
      latest.push(list[list.length - 1]!);
    }
  }
  return { rows, latest };
}

function byTs(a: TsPoint, b: TsPoint): number {
  return a.ts - b.ts;
}

function sortedByTs(list: readonly TsPoint[]): boolean {
  for (let i = 1; i < list.length; i++) if (list[i]!.ts < list[i - 1]!.ts) return false;
  return true;
}

/**
 * The statement's parameters (see unnest below): array literals built here in one pass (see
 * kvColumnLiterals). Entity ids and keys go once each, in two small arrays, and every row refers to
 * them by position: a batch holds few entities and keys, and a 36-character UUID and a quoted key
 * repeated on every row were most of the bytes sent (and parsed by PostgreSQL) per point.
 * Entity ids go unquoted: check() let only UUIDs through.
 */
function params(part: readonly TsPoint[]): unknown[] {
  const n = part.length;
  const entityAt = new Map<string, number>();
  const keyAt = new Map<string, number>();
  const entities: string[] = [];
  const keys: string[] = [];
  const ei: number[] = new Array(n);
  const ki: number[] = new Array(n);
  const tss: number[] = new Array(n);
  const values: KvValue[] = new Array(n);
  let doubles: boolean[] | undefined; // only when a point is a DOUBLE of integral value
  for (let i = 0; i < n; i++) {
    const p = part[i]!;
    let e = entityAt.get(p.entityId);
    if (e === undefined) entityAt.set(p.entityId, (e = entities.push(p.entityId)));
    let k = keyAt.get(p.key);
    if (k === undefined) keyAt.set(p.key, (k = keys.push(quoteArrayElement(p.key))));
    ei[i] = e;
    ki[i] = k;
    tss[i] = p.ts;
    values[i] = p.value;
    if (p.double === true) (doubles ??= new Array<boolean>(n).fill(false))[i] = true;
  }
  return [`{${ei.join(',')}}`, `{${ki.join(',')}}`, `{${tss.join(',')}}`, ...kvColumnLiterals(values, doubles), arrayLiteral(entities), arrayLiteral(keys)];
}

// JSON is sent as text[] and cast per element (see KvColumnArrays). `at` numbers the parameters:
// eight per-row arrays, then the batch's entity ids and keys, which rows refer to by position.
const unnest = (at: number) => `
  SELECT ($${at + 8}::uuid[])[u.ei], ($${at + 9}::text[])[u.ki], u.ts, u.bool_v, u.long_v, u.dbl_v, u.str_v, u.json_v::jsonb
    FROM unnest($${at}::int[], $${at + 1}::int[], $${at + 2}::bigint[], $${at + 3}::boolean[], $${at + 4}::bigint[],
                $${at + 5}::double precision[], $${at + 6}::text[], $${at + 7}::text[])
      AS u(ei, ki, ts, bool_v, long_v, dbl_v, str_v, json_v)`;

const SET_VALUES = `
    bool_v = EXCLUDED.bool_v, long_v = EXCLUDED.long_v, dbl_v = EXCLUDED.dbl_v,
    str_v = EXCLUDED.str_v, json_v = EXCLUDED.json_v`;

const insertTs = (at: number) => `
  INSERT INTO ts_kv (entity_id, key, ts, bool_v, long_v, dbl_v, str_v, json_v) ${unnest(at)}
  ON CONFLICT (entity_id, key, ts) DO UPDATE SET ${SET_VALUES}`;

// The latest value never goes back in time: an older point arriving late leaves it alone.
const upsertLatest = (at: number) => `
  INSERT INTO ts_kv_latest (entity_id, key, ts, bool_v, long_v, dbl_v, str_v, json_v) ${unnest(at)}
  ON CONFLICT (entity_id, key) DO UPDATE SET ts = EXCLUDED.ts, ${SET_VALUES}
  WHERE ts_kv_latest.ts <= EXCLUDED.ts`;

const INSERT_TS = insertTs(1);
const UPSERT_LATEST = upsertLatest(1);
/**
 * Both in one statement (a data-modifying WITH): atomic on its own, so a save that fits one chunk
 * costs one round trip instead of four (BEGIN, two statements, COMMIT): less waiting per batch.
 */
const INSERT_TS_AND_LATEST = `WITH points AS (${insertTs(1)}) ${upsertLatest(11)}`;

export function createTimeseriesRepository(opts: TimeseriesRepositoryOptions): TimeseriesRepository {
  const { client, chunkSize } = opts;

  async function history(entityId: string, q: HistoryQuery): Promise<Record<string, TsKv[]>> {
    const limit = q.limit ?? DEFAULT_LIMIT;
    if (!Number.isInteger(limit) || limit < 1) throw new BadRequestError('limit must be a positive integer');
    const dir = (q.orderBy ?? 'DESC') === 'ASC' ? 'ASC' : 'DESC';
    // Per key, the first `limit` points in order: a lateral subquery per key keeps it one round trip
    // and lets each key use the primary key index.
    const { rows } = await client.query<TsRow>(
      `SELECT k.key, t.ts, t.bool_v, t.long_v, t.dbl_v, t.str_v, t.json_v
         FROM unnest($2::text[]) AS k(key)
         CROSS JOIN LATERAL (
           SELECT ts, ${KV_COLUMNS} FROM ts_kv
            WHERE entity_id = $1 AND key = k.key AND ts >= $3 AND ts < $4
            ORDER BY ts ${dir} LIMIT $5
         ) t
        ORDER BY k.key, t.ts ${dir}`,
      [entityId, [...new Set(q.keys)], q.startTs, q.endTs, limit],
    );
    const out: Record<string, TsKv[]> = {};
    for (const r of rows) (out[r.key] ??= []).push(toTsKv(r));
    return out;
  }

  async function aggregate(entityId: string, q: HistoryQuery, agg: Exclude<Aggregation, 'NONE'>): Promise<Record<string, TsKv[]>> {
    const interval = q.interval ?? q.endTs - q.startTs;
    if (!Number.isInteger(interval) || interval < 1) throw new BadRequestError('interval must be a positive integer of milliseconds');
    // Buckets are [startTs + i*interval, startTs + (i+1)*interval), cut off at endTs. Numeric
    // aggregates read long and double values alike; COUNT counts values of every type.
    const { rows } = await client.query<AggRow>(
      `SELECT key, (ts - $3::bigint) / $5::bigint AS bucket,
              count(*) AS n_all,
              count(long_v) + count(dbl_v) AS n_num,
              sum(coalesce(long_v::double precision, dbl_v)) AS v_sum,
              min(coalesce(long_v::double precision, dbl_v)) AS v_min,
              max(coalesce(long_v::double precision, dbl_v)) AS v_max
         FROM ts_kv
        WHERE entity_id = $1 AND key = ANY($2::text[]) AND ts >= $3 AND ts < $4
        GROUP BY key, bucket`,
      [entityId, [...new Set(q.keys)], q.startTs, q.endTs, interval],
    );
    // ThingsBoard returns aggregated buckets oldest first unless asked otherwise.
    const asc = (q.orderBy ?? 'ASC') === 'ASC';
    const out: Record<string, TsKv[]> = {};
    for (const r of rows) {
      const nNum = num(r.n_num);
      let value: number | null;
      switch (agg) {
        case 'COUNT':
          value = num(r.n_all);
          break;
        case 'SUM':
          value = nNum > 0 ? numOrNull(r.v_sum) : null;
          break;
        case 'AVG':
          value = nNum > 0 ? num(r.v_sum) / nNum : null;
          break;
        case 'MIN':
          value = numOrNull(r.v_min);
          break;
        case 'MAX':
          value = numOrNull(r.v_max);
          break;
      }
      // A bucket holding only strings, booleans or JSON has no numeric aggregate: left out.
      if (value === null) continue;
      // ThingsBoard's convention: a bucket is reported at its middle.
      const ts = q.startTs + num(r.bucket) * interval + Math.floor(interval / 2);
      (out[r.key] ??= []).push({ key: r.key, ts, value });
    }
    for (const list of Object.values(out)) list.sort((a, b) => (asc ? a.ts - b.ts : b.ts - a.ts));
    return out;
  }

  return {
    async save(points) {
      if (points.length === 0) return;
      for (const p of points) check(p);
      const { rows, latest } = prepare(points);
      if (rows.length <= chunkSize) {
        // The common case: one statement, one round trip (every save has at least as many rows as latest values).
        await client.query(INSERT_TS_AND_LATEST, [...params(rows), ...params(latest)]);
        return;
      }
      // One transaction per call: the points and the latest values move together.
      await client.transaction(async (tx) => {
        for (const part of chunks(rows, chunkSize)) await tx.query(INSERT_TS, params(part));
        for (const part of chunks(latest, chunkSize)) await tx.query(UPSERT_LATEST, params(part));
      });
    },

    async findLatest(entityId, keys) {
      if (!isUuid(entityId) || (keys !== undefined && keys.length === 0)) return [];
      const sql = `SELECT key, ts, ${KV_COLUMNS} FROM ts_kv_latest WHERE entity_id = $1`;
      const { rows } =
        keys === undefined
          ? await client.query<TsRow>(`${sql} ORDER BY key`, [entityId])
          : await client.query<TsRow>(`${sql} AND key = ANY($2::text[]) ORDER BY key`, [entityId, [...keys]]);
      return rows.map(toTsKv);
    },

    async findKeys(entityId) {
      if (!isUuid(entityId)) return [];
      // Every key with points has a latest row, and this table is small.
      const { rows } = await client.query<{ key: string }>('SELECT key FROM ts_kv_latest WHERE entity_id = $1 ORDER BY key', [entityId]);
      return rows.map((r) => r.key);
    },

    async findHistory(entityId, query) {
      const agg = query.agg ?? 'NONE';
      if (!AGGREGATIONS.has(agg)) throw new BadRequestError(`Unsupported aggregation "${String(agg)}"`);
      if (!Number.isFinite(query.startTs) || !Number.isFinite(query.endTs)) throw new BadRequestError('startTs and endTs must be numbers');
      if (!isUuid(entityId) || query.keys.length === 0 || query.endTs <= query.startTs) return {};
      const q = { ...query, startTs: Math.trunc(query.startTs), endTs: Math.trunc(query.endTs) };
      return agg === 'NONE' ? history(entityId, q) : aggregate(entityId, q, agg);
    },

    async delete(entityId, keys, startTs, endTs, options = {}) {
      const deleteLatest = options.deleteLatest ?? true;
      const rewriteLatest = options.rewriteLatest ?? true;
      if (!isUuid(entityId) || keys.length === 0 || endTs <= startTs) return 0;
      const keyList = [...new Set(keys)];
      return client.transaction(async (tx) => {
        const del = await tx.query('DELETE FROM ts_kv WHERE entity_id = $1 AND key = ANY($2::text[]) AND ts >= $3 AND ts < $4', [
          entityId,
          keyList,
          Math.trunc(startTs),
          Math.trunc(endTs),
        ]);
        if (!deleteLatest) return del.rowCount;
        // A latest value inside the deleted range goes, replaced (rewriteLatest) by the newest point left, if any.
        const gone = await tx.query<{ key: string }>(
          'DELETE FROM ts_kv_latest WHERE entity_id = $1 AND key = ANY($2::text[]) AND ts >= $3 AND ts < $4 RETURNING key',
          [entityId, keyList, Math.trunc(startTs), Math.trunc(endTs)],
        );
        if (rewriteLatest && gone.rows.length > 0) {
          await tx.query(
            `INSERT INTO ts_kv_latest (entity_id, key, ts, ${KV_COLUMNS})
             SELECT DISTINCT ON (key) entity_id, key, ts, ${KV_COLUMNS} FROM ts_kv
              WHERE entity_id = $1 AND key = ANY($2::text[])
              ORDER BY key, ts DESC`,
            [entityId, gone.rows.map((r) => r.key)],
          );
        }
        return del.rowCount;
      });
    },

    async count(entityId) {
      if (entityId !== undefined && !isUuid(entityId)) return 0;
      const { rows } =
        entityId === undefined
          ? await client.query<{ n: unknown }>('SELECT count(*) AS n FROM ts_kv')
          : await client.query<{ n: unknown }>('SELECT count(*) AS n FROM ts_kv WHERE entity_id = $1', [entityId]);
      return num(rows[0]?.n ?? 0);
    },

    deleteExpired: (opts) => deleteExpiredTimeseries(client, opts),
  };
}
