import { BadRequestError, isUuid, newId, NotFoundError, type JsonObject } from '@rivulet/core';
import { NULL_ENTITY_ID, type Tenant, type TenantDeletion, type TenantRepository } from '@rivulet/storage';
import { checkTitle, CONTACT_COLUMNS, contactParams, jsonParam, toContact, type ContactRow } from './contact';
import { ensureDefaultProfile } from './device-profile.repository';
import { selectSearchPage } from './paging';
import type { SqlClient } from './sql-client';
import { mapDbError, num } from './sql-util';

interface TenantRow extends ContactRow {
  id: string;
  title: string;
  additional_info: JsonObject | null;
  tenant_profile_id: string;
  created_time: unknown;
}

function toTenant(r: TenantRow): Tenant {
  return { id: r.id, title: r.title, ...toContact(r), additionalInfo: r.additional_info ?? null, tenantProfileId: r.tenant_profile_id, createdTime: num(r.created_time) };
}

/** A tenant profile id given by the caller: NotFoundError unless it is one (the foreign key says so too). */
function profileParam(id: string | undefined): string | null {
  if (id === undefined) return null;
  if (!isUuid(id)) throw new NotFoundError(`Tenant profile ${id} not found`);
  return id.toLowerCase();
}
const PROFILE_NOT_FOUND = 'Tenant profile not found';

const SORT_COLUMNS = { title: 'title', email: 'email', country: 'country', createdTime: 'created_time' } as const;
const CONTACT_LIST = CONTACT_COLUMNS.map(([, c]) => c).join(', ');
const CONTACT_SETS = CONTACT_COLUMNS.map(([, c], i) => `${c} = $${i + 3}`).join(', ');

/**
 * Deleting a tenant: every statement is scoped by the tenant id (directly, or through the tenant's
 * devices and other entities), children before the rows they hang off. The entity ids whose
 * attributes and time series go are those of the tenant itself and of everything it owns.
 */
const TENANT_ENTITIES = `
  SELECT $1::uuid AS id
  UNION ALL SELECT id FROM device WHERE tenant_id = $1
  UNION ALL SELECT id FROM customer WHERE tenant_id = $1
  UNION ALL SELECT id FROM tb_user WHERE tenant_id = $1
  UNION ALL SELECT id FROM rule_chain WHERE tenant_id = $1
  UNION ALL SELECT id FROM dashboard WHERE tenant_id = $1
  UNION ALL SELECT id FROM alarm WHERE tenant_id = $1`;

const DELETE_STEPS: ReadonlyArray<readonly [string, string]> = [
  ['ts_kv', `DELETE FROM ts_kv WHERE entity_id IN (${TENANT_ENTITIES})`],
  ['ts_kv_latest', `DELETE FROM ts_kv_latest WHERE entity_id IN (${TENANT_ENTITIES})`],
  ['attribute_kv', `DELETE FROM attribute_kv WHERE entity_id IN (${TENANT_ENTITIES})`],
  ['device_credentials', 'DELETE FROM device_credentials WHERE device_id IN (SELECT id FROM device WHERE tenant_id = $1)'],
  ['rule_node_debug_event', 'DELETE FROM rule_node_debug_event WHERE tenant_id = $1'],
  ['rule_node_state', 'DELETE FROM rule_node_state WHERE tenant_id = $1'],
  ['alarm', 'DELETE FROM alarm WHERE tenant_id = $1'],
  ['dashboard', 'DELETE FROM dashboard WHERE tenant_id = $1'],
  ['auth_session', 'DELETE FROM auth_session WHERE user_id IN (SELECT id FROM tb_user WHERE tenant_id = $1)'],
  ['password_reset_token', 'DELETE FROM password_reset_token WHERE user_id IN (SELECT id FROM tb_user WHERE tenant_id = $1)'],
  ['tb_user', 'DELETE FROM tb_user WHERE tenant_id = $1'],
  ['device', 'DELETE FROM device WHERE tenant_id = $1'],
  // Profiles after their devices, rule chains after the profiles that name them.
  ['device_profile', 'DELETE FROM device_profile WHERE tenant_id = $1'],
  ['rule_chain', 'DELETE FROM rule_chain WHERE tenant_id = $1'],
  ['customer', 'DELETE FROM customer WHERE tenant_id = $1'],
];

export function createTenantRepository(client: SqlClient): TenantRepository {
  return {
    async create(input) {
      const id = input.id ?? newId();
      if (id.toLowerCase() === NULL_ENTITY_ID) throw new BadRequestError('The null entity id cannot be a tenant id');
      const title = checkTitle(input.title, 'Tenant');
      try {
        return await client.transaction(async (tx) => {
          const { rows } = await tx.query<TenantRow>(
            `INSERT INTO tenant (id, title, ${CONTACT_LIST}, additional_info, created_time, tenant_profile_id)
             VALUES ($1, $2, ${CONTACT_COLUMNS.map((_, i) => `$${i + 3}`).join(', ')}, $11::jsonb, $12,
                     COALESCE($13::uuid, (SELECT id FROM tenant_profile WHERE is_default))) RETURNING *`,
            [id, title, ...contactParams(input), jsonParam(input.additionalInfo), Date.now(), profileParam(input.tenantProfileId)],
          );
          const tenant = toTenant(rows[0] as TenantRow);
          // Every tenant has its default device profile from the start (ThingsBoard creates it with the tenant).
          await ensureDefaultProfile(tx, tenant.id);
          return tenant;
        });
      } catch (e) {
        return mapDbError(e, () => `A tenant with id ${id} already exists`, PROFILE_NOT_FOUND);
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
    async profileAssignments() {
      const { rows } = await client.query<{ id: string; tenant_profile_id: string }>('SELECT id, tenant_profile_id FROM tenant');
      return rows.map((r) => ({ tenantId: r.id, tenantProfileId: r.tenant_profile_id }));
    },
    page(page) {
      return selectSearchPage<TenantRow, Tenant>(client, { table: 'tenant', searchColumn: 'title', sortColumns: SORT_COLUMNS }, page, toTenant);
    },
    async update(id, input) {
      if (!isUuid(id)) return null;
      const title = checkTitle(input.title, 'Tenant');
      try {
        const { rows } = await client.query<TenantRow>(
          `UPDATE tenant SET title = $2, ${CONTACT_SETS}, additional_info = $11::jsonb, tenant_profile_id = COALESCE($12::uuid, tenant_profile_id) WHERE id = $1 RETURNING *`,
          [id, title, ...contactParams(input), jsonParam(input.additionalInfo), profileParam(input.tenantProfileId)],
        );
        return rows[0] ? toTenant(rows[0]) : null;
      } catch (e) {
        return mapDbError(e, () => 'The tenant conflicts with an existing one', PROFILE_NOT_FOUND);
      }
    },
    async delete(id) {
      if (!isUuid(id)) return null;
      return client.transaction(async (tx): Promise<TenantDeletion | null> => {
        // The tenant row is locked first, so a concurrent delete of the same tenant waits and then finds nothing.
        const t = await tx.query('SELECT id FROM tenant WHERE id = $1 FOR UPDATE', [id]);
        if (t.rowCount === 0) return null;
        const devices = await tx.query<{ id: string }>('SELECT id FROM device WHERE tenant_id = $1', [id]);
        const rows: Record<string, number> = {};
        for (const [table, sql] of DELETE_STEPS) rows[table] = (await tx.query(sql, [id])).rowCount;
        rows.tenant = (await tx.query('DELETE FROM tenant WHERE id = $1', [id])).rowCount;
        return { deviceIds: devices.rows.map((r) => r.id), rows };
      });
    },
  };
}
