import { BadRequestError, ConflictError, isUuid, newId, type JsonObject } from '@rivulet/core';
import type { Dashboard, DashboardInfo, DashboardRepository } from '@rivulet/storage';
import { selectPage } from './paging';
import type { SqlClient } from './sql-client';
import { likeContains, mapDbError, num } from './sql-util';

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

    async list(tenantId, page) {
      if (!isUuid(tenantId)) return { data: [], totalPages: 0, totalElements: 0, hasNext: false };
      const search = page.textSearch?.trim();
      const params: unknown[] = [tenantId];
      let where = 'tenant_id = $1';
      if (search) {
        params.push(likeContains(search));
        where += ' AND title ILIKE $2';
      }
      return selectPage<DashboardInfoRow, DashboardInfo>(
        client,
        { filtered: `SELECT ${INFO_COLUMNS} FROM dashboard WHERE ${where}`, params, sortColumns: SORT_COLUMNS, defaultSort: 'createdTime' },
        page,
        toInfo,
      );
    },

    async delete(tenantId, id) {
      if (!isUuid(tenantId) || !isUuid(id)) return false;
      const res = await client.query('DELETE FROM dashboard WHERE tenant_id = $1 AND id = $2', [tenantId, id]);
      return res.rowCount > 0;
    },
  };
}
