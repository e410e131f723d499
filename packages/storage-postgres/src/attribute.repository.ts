import { BadRequestError, isAttributeScope, isUuid, type AttributeKv, type AttributeWrite } from '@rivulet/core';
import type { AttributeRepository } from '@rivulet/storage';
import { KV_COLUMNS, emptyKvColumns, isIntegralDouble, kvValueOf, pushKvValue, type KvColumnsRow } from './kv-columns';
import type { SqlClient } from './sql-client';
import { chunks, mapDbError, num } from './sql-util';

export interface AttributeRepositoryOptions {
  client: SqlClient;
  /** Rows per statement. */
  chunkSize: number;
}

interface AttributeRow extends KvColumnsRow {
  key: string;
  last_update_ts: unknown;
}

function toAttribute(r: AttributeRow): AttributeKv {
  const a = { key: r.key, value: kvValueOf(r), lastUpdateTs: num(r.last_update_ts) };
  return isIntegralDouble(r) ? { ...a, double: true } : a;
}

/**
 * The newest write per (entity, scope, key), the later item winning a tie. Needed because one
 * INSERT .. ON CONFLICT DO UPDATE may not touch the same row twice. Sorted so concurrent writers
 * lock rows in the same order and cannot deadlock each other.
 */
function newestPerKey(items: ReadonlyArray<AttributeWrite>): AttributeWrite[] {
  const byKey = new Map<string, AttributeWrite>();
  for (const it of items) {
    const k = `${it.entityId}\u0000${it.scope}\u0000${it.key}`;
    const prev = byKey.get(k);
    if (prev === undefined || it.lastUpdateTs >= prev.lastUpdateTs) byKey.set(k, it);
  }
  return [...byKey.values()].sort((a, b) => cmp(a.entityId, b.entityId) || cmp(a.scope, b.scope) || cmp(a.key, b.key));
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function check(it: AttributeWrite): void {
  if (!isUuid(it.entityId)) throw new BadRequestError(`Invalid entity id "${it.entityId}"`);
  if (!isAttributeScope(it.scope)) throw new BadRequestError(`Invalid attribute scope "${String(it.scope)}"`);
  if (it.key.length === 0) throw new BadRequestError('Attribute key must not be empty');
  if (!Number.isFinite(it.lastUpdateTs)) throw new BadRequestError('Attribute lastUpdateTs must be a number');
  if (typeof it.value === 'number' && !Number.isFinite(it.value)) throw new BadRequestError(`Attribute ${it.key}: value must be a finite number`);
}

// One statement per chunk: the rows arrive as column arrays and unnest turns them into a set.
// A stored value newer than the write is kept (WHERE on the conflict update).
const UPSERT = `
  INSERT INTO attribute_kv (entity_id, scope, key, bool_v, long_v, dbl_v, str_v, json_v, last_update_ts)
  SELECT u.entity_id, u.scope, u.key, u.bool_v, u.long_v, u.dbl_v, u.str_v, u.json_v::jsonb, u.last_update_ts
    FROM unnest($1::uuid[], $2::text[], $3::text[], $4::boolean[], $5::bigint[], $6::double precision[], $7::text[], $8::text[], $9::bigint[])
      AS u(entity_id, scope, key, bool_v, long_v, dbl_v, str_v, json_v, last_update_ts)
  ON CONFLICT (entity_id, scope, key) DO UPDATE SET
    bool_v = EXCLUDED.bool_v, long_v = EXCLUDED.long_v, dbl_v = EXCLUDED.dbl_v,
    str_v = EXCLUDED.str_v, json_v = EXCLUDED.json_v, last_update_ts = EXCLUDED.last_update_ts
  WHERE attribute_kv.last_update_ts <= EXCLUDED.last_update_ts`;

const INSERT_IF_ABSENT = `
  INSERT INTO attribute_kv (entity_id, scope, key, bool_v, long_v, dbl_v, str_v, json_v, last_update_ts)
  VALUES ($1, $2, $3, $4, $5, $6, $7, $8::jsonb, $9)
  ON CONFLICT (entity_id, scope, key) DO NOTHING
  RETURNING 1 AS inserted`;

export function createAttributeRepository(opts: AttributeRepositoryOptions): AttributeRepository {
  const { client, chunkSize } = opts;
  return {
    async save(items) {
      if (items.length === 0) return;
      for (const it of items) check(it);
      const rows = newestPerKey(items);
      const write = async (c: SqlClient): Promise<void> => {
        for (const part of chunks(rows, chunkSize)) {
          const cols = emptyKvColumns();
          for (const r of part) pushKvValue(cols, r.value, r.double);
          await c.query(UPSERT, [
            part.map((r) => r.entityId),
            part.map((r) => r.scope),
            part.map((r) => r.key),
            cols.bool,
            cols.long,
            cols.dbl,
            cols.str,
            cols.json,
            part.map((r) => Math.trunc(r.lastUpdateTs)),
          ]);
        }
      };
      try {
        // A single chunk is already atomic; more are wrapped so a call is all or nothing.
        if (rows.length <= chunkSize) await write(client);
        else await client.transaction(write);
      } catch (e) {
        mapDbError(e, () => 'Attribute write conflict');
      }
    },

    async saveIfAbsent(item) {
      check(item);
      const cols = emptyKvColumns();
      pushKvValue(cols, item.value, item.double);
      try {
        const res = await client.query(INSERT_IF_ABSENT, [item.entityId, item.scope, item.key, cols.bool[0], cols.long[0], cols.dbl[0], cols.str[0], cols.json[0], Math.trunc(item.lastUpdateTs)]);
        return res.rowCount === 1;
      } catch (e) {
        return mapDbError(e, () => 'Attribute write conflict');
      }
    },

    async find(entityId, scope, keys) {
      if (!isUuid(entityId) || (keys !== undefined && keys.length === 0)) return [];
      const sql = `SELECT key, ${KV_COLUMNS}, last_update_ts FROM attribute_kv WHERE entity_id = $1 AND scope = $2`;
      const { rows } =
        keys === undefined
          ? await client.query<AttributeRow>(`${sql} ORDER BY key`, [entityId, scope])
          : await client.query<AttributeRow>(`${sql} AND key = ANY($3::text[]) ORDER BY key`, [entityId, scope, [...keys]]);
      return rows.map(toAttribute);
    },

    async findKeys(entityId, scope) {
      if (!isUuid(entityId)) return [];
      const { rows } =
        scope === undefined
          ? await client.query<{ key: string }>('SELECT DISTINCT key FROM attribute_kv WHERE entity_id = $1 ORDER BY key', [entityId])
          : await client.query<{ key: string }>('SELECT key FROM attribute_kv WHERE entity_id = $1 AND scope = $2 ORDER BY key', [entityId, scope]);
      return rows.map((r) => r.key);
    },

    async delete(entityId, scope, keys) {
      if (!isUuid(entityId) || keys.length === 0) return 0;
      const res = await client.query('DELETE FROM attribute_kv WHERE entity_id = $1 AND scope = $2 AND key = ANY($3::text[])', [entityId, scope, [...keys]]);
      return res.rowCount;
    },
  };
}
