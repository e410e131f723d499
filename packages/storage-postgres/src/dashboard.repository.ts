import { BadRequestError, ConflictError, isUuid, newId, type JsonObject } from '@rivulet/core';
import type { Dashboard, DashboardInfo, DashboardRepository } from '@rivulet/storage';
import { selectTenantPage } from './paging';
import type { SqlClient } from './sql-client';
import { mapDbError, num } from './sql-util';

interface DashboardInfoRow {
  id: string;
  tenant_id: string;
  title: string;
  description: string | null;
  created_time: unknown;
}

interface DashboardRow extends DashboardInfoRow {
  configuration: JsonObject;
}

function toInfo(r: DashboardInfoRow): DashboardInfo {
  return { id: r.id, tenantId: r.tenant_id, title: r.title, description: r.description ?? null, createdTime: num(r.created_time) };
}

function toDashboard(r: DashboardRow): Dashboard {
  return { ...toInfo(r), configuration: r.configuration };
}

/** Lists never read the configuration: it is the bulk of a dashboard and pages only show titles. */
const INFO_COLUMNS = 'id, tenant_id, title, description, created_time';

const SORT_COLUMNS = { title: 'title', createdTime: 'created_time' } as const;

export function createDashboardRepository(client: SqlClient): DashboardRepository {
  return {
    async save(input) {
      const id = input.id ?? newId();
      if (!isUuid(id)) throw new BadRequestError(`Invalid dashboard id "${id}"`);
      if (!isUuid(input.tenantId)) throw new BadRequestError(`Invalid tenant id "${input.tenantId}"`);
      try {
        const { rows } = await client.query<DashboardRow>(
          `INSERT INTO dashboard (id, tenant_id, title, description, configuration, created_time)
           VALUES ($1, $2, $3, $4, $5::jsonb, $6)
           ON CONFLICT (id) DO UPDATE SET
             title = EXCLUDED.title, description = EXCLUDED.description, configuration = EXCLUDED.configuration
           WHERE dashboard.tenant_id = EXCLUDED.tenant_id
           RETURNING *`,
          [id, input.tenantId, input.title, input.description ?? null, JSON.stringify(input.configuration), Date.now()],
        );
        const row = rows[0];
        // No row back: the id exists but belongs to another tenant (the WHERE above refused it).
        if (!row) throw new ConflictError(`Dashboard ${id} belongs to another tenant`);
        return toDashboard(row);
      } catch (e) {
        return mapDbError(e, () => `A dashboard with id ${id} already exists`);
      }
    },

    async get(tenantId, id) {
      if (!isUuid(tenantId) || !isUuid(id)) return null;
      const { rows } = await client.query<DashboardRow>('SELECT * FROM dashboard WHERE tenant_id = $1 AND id = $2', [tenantId, id]);
      return rows[0] ? toDashboard(rows[0]) : null;
    },

    list(tenantId, page) {
      return selectTenantPage<DashboardInfoRow, DashboardInfo>(client, { table: 'dashboard', columns: INFO_COLUMNS, tenantId, searchColumn: 'title', sortColumns: SORT_COLUMNS }, page, toInfo);
    },

    async delete(tenantId, id) {
      if (!isUuid(tenantId) || !isUuid(id)) return false;
      const res = await client.query('DELETE FROM dashboard WHERE tenant_id = $1 AND id = $2', [tenantId, id]);
      return res.rowCount > 0;
    },
  };
}
