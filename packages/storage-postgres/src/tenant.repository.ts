import { isUuid, newId } from '@rivulet/core';
import type { Tenant, TenantRepository } from '@rivulet/storage';
import type { SqlClient } from './sql-client';
import { mapDbError, num } from './sql-util';

interface TenantRow {
  id: string;
  title: string;
  created_time: unknown;
}

function toTenant(r: TenantRow): Tenant {
  return { id: r.id, title: r.title, createdTime: num(r.created_time) };
}

export function createTenantRepository(client: SqlClient): TenantRepository {
  return {
    async create(input) {
      try {
        const { rows } = await client.query<TenantRow>(
          'INSERT INTO tenant (id, title, created_time) VALUES ($1, $2, $3) RETURNING *',
          [input.id ?? newId(), input.title, Date.now()],
        );
        return toTenant(rows[0] as TenantRow);
      } catch (e) {
        return mapDbError(e, () => `A tenant with id ${input.id} already exists`);
      }
    },
    async get(id) {
      if (!isUuid(id)) return null;
      const { rows } = await client.query<TenantRow>('SELECT * FROM tenant WHERE id = $1', [id]);
      return rows[0] ? toTenant(rows[0]) : null;
    },
    async list() {
      const { rows } = await client.query<TenantRow>('SELECT * FROM tenant ORDER BY created_time, id');
      return rows.map(toTenant);
    },
  };
}
