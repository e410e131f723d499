import { BadRequestError, ConflictError, NotFoundError, isUuid, type JsonValue } from '@rivulet/core';
import type { RuleChainRecord, RuleChainRepository } from '@rivulet/storage';
import { selectTenantPage } from './paging';
import type { SqlClient } from './sql-client';
import { mapDbError, num, sqlState } from './sql-util';

interface RuleChainRow {
  id: string;
  tenant_id: string;
  name: string;
  root: boolean;
  debug_mode: boolean;
  metadata: JsonValue;
  configuration: JsonValue | null;
  additional_info: JsonValue | null;
  version: unknown;
  created_time: unknown;
  updated_time: unknown;
}

function toRecord(r: RuleChainRow): RuleChainRecord {
  return {
    id: r.id,
    tenantId: r.tenant_id,
    name: r.name,
    root: r.root,
    debugMode: r.debug_mode,
    metadata: r.metadata,
    configuration: r.configuration ?? null,
    additionalInfo: r.additional_info ?? null,
    version: num(r.version),
    createdTime: num(r.created_time),
    updatedTime: num(r.updated_time),
  };
}

/**
 * Locks the tenant's chains for the rest of the transaction. Two root switches of one tenant then
 * run one after the other; without it, each could demote the old root and both promote their own.
 */
async function lockTenantChains(tx: SqlClient, tenantId: string): Promise<string[]> {
  const { rows } = await tx.query<{ id: string }>('SELECT id FROM rule_chain WHERE tenant_id = $1 FOR UPDATE', [tenantId]);
  return rows.map((r) => r.id);
}

/** A JSON column's parameter: SQL NULL for null/undefined (not the JSON literal null). */
function jsonOrNull(v: JsonValue | null | undefined): string | null {
  return v === null || v === undefined ? null : JSON.stringify(v);
}

const SORT_COLUMNS = { name: 'name', root: 'root', createdTime: 'created_time', updatedTime: 'updated_time' } as const;

export function createRuleChainRepository(client: SqlClient): RuleChainRepository {
  return {
    async save(record) {
      if (!isUuid(record.id)) throw new BadRequestError(`Invalid rule chain id "${record.id}"`);
      if (!isUuid(record.tenantId)) throw new BadRequestError(`Invalid tenant id "${record.tenantId}"`);
      const now = Date.now();
      try {
        return await client.transaction(async (tx) => {
          // Saving a root chain demotes the tenant's previous root, so there is always at most one.
          if (record.root) {
            await lockTenantChains(tx, record.tenantId);
            await tx.query('UPDATE rule_chain SET root = false WHERE tenant_id = $1 AND root AND id <> $2', [record.tenantId, record.id]);
          }
          const { rows } = await tx.query<RuleChainRow>(
            `INSERT INTO rule_chain (id, tenant_id, name, root, debug_mode, metadata, created_time, updated_time, configuration, additional_info)
             VALUES ($1, $2, $3, $4, $5, $6::jsonb, $7, $8, $9::jsonb, $10::jsonb)
             ON CONFLICT (id) DO UPDATE SET
               name = EXCLUDED.name, root = EXCLUDED.root, debug_mode = EXCLUDED.debug_mode,
               metadata = EXCLUDED.metadata, updated_time = EXCLUDED.updated_time,
               configuration = EXCLUDED.configuration, additional_info = EXCLUDED.additional_info,
               version = rule_chain.version + (CASE WHEN $12::boolean THEN 0 ELSE 1 END)
             WHERE rule_chain.tenant_id = EXCLUDED.tenant_id AND ($11::bigint IS NULL OR rule_chain.version = $11::bigint)
             RETURNING *`,
            [
              record.id,
              record.tenantId,
              record.name,
              record.root,
              record.debugMode,
              JSON.stringify(record.metadata ?? null),
              record.createdTime ?? now,
              now,
              jsonOrNull(record.configuration),
              jsonOrNull(record.additionalInfo),
              record.expectedVersion ?? null,
              record.keepVersion === true,
            ],
          );
          const row = rows[0];
          if (!row) {
            // No row back: the id belongs to another tenant, or the stored version is not the expected one.
            const { rows: mine } = await tx.query<{ version: unknown }>('SELECT version FROM rule_chain WHERE tenant_id = $1 AND id = $2', [record.tenantId, record.id]);
            const current = mine[0];
            if (current) throw new ConflictError(`Rule chain version mismatch: it was changed by someone else (version ${num(current.version)}, this save expected ${record.expectedVersion})`);
            throw new ConflictError(`Rule chain ${record.id} belongs to another tenant`);
          }
          return toRecord(row);
        });
      } catch (e) {
        return mapDbError(e, () => 'The tenant already has a root rule chain');
      }
    },

    async get(tenantId, id) {
      if (!isUuid(tenantId) || !isUuid(id)) return null;
      const { rows } = await client.query<RuleChainRow>('SELECT * FROM rule_chain WHERE tenant_id = $1 AND id = $2', [tenantId, id]);
      return rows[0] ? toRecord(rows[0]) : null;
    },

    async getRoot(tenantId) {
      if (!isUuid(tenantId)) return null;
      const { rows } = await client.query<RuleChainRow>('SELECT * FROM rule_chain WHERE tenant_id = $1 AND root', [tenantId]);
      return rows[0] ? toRecord(rows[0]) : null;
    },

    list(tenantId, page) {
      return selectTenantPage<RuleChainRow, RuleChainRecord>(client, { table: 'rule_chain', tenantId, searchColumn: 'name', sortColumns: SORT_COLUMNS }, page, toRecord);
    },

    async setRoot(tenantId, id) {
      if (!isUuid(tenantId) || !isUuid(id)) throw new NotFoundError(`Rule chain ${id} not found`);
      await client.transaction(async (tx) => {
        const ids = await lockTenantChains(tx, tenantId);
        if (!ids.includes(id)) throw new NotFoundError(`Rule chain ${id} not found`);
        // Two statements: the unique index on the root flag is checked row by row, so the old root
        // is demoted before the new one is promoted.
        await tx.query('UPDATE rule_chain SET root = false, updated_time = $3 WHERE tenant_id = $1 AND root AND id <> $2', [tenantId, id, Date.now()]);
        await tx.query('UPDATE rule_chain SET root = true, updated_time = $3 WHERE tenant_id = $1 AND id = $2 AND NOT root', [tenantId, id, Date.now()]);
      });
    },

    async delete(tenantId, id) {
      if (!isUuid(tenantId) || !isUuid(id)) return false;
      try {
        const res = await client.query('DELETE FROM rule_chain WHERE tenant_id = $1 AND id = $2', [tenantId, id]);
        return res.rowCount > 0;
      } catch (e) {
        // A device profile names the chain as its default (the foreign key refuses): ThingsBoard's answer.
        if (sqlState(e) === '23503') throw new BadRequestError('The rule chain referenced by the device profiles cannot be deleted!', { cause: e });
        throw e;
      }
    },
  };
}
