import { isUuid, newId, type JsonObject } from '@rivulet/core';
import type { Customer, CustomerRepository } from '@rivulet/storage';
import { checkTitle, CONTACT_COLUMNS, contactParams, jsonParam, toContact, type ContactRow } from './contact';
import { selectTenantPage } from './paging';
import type { SqlClient } from './sql-client';
import { mapDbError, num } from './sql-util';

interface CustomerRow extends ContactRow {
  id: string;
  tenant_id: string;
  title: string;
  additional_info: JsonObject | null;
  created_time: unknown;
}

function toCustomer(r: CustomerRow): Customer {
  return { id: r.id, tenantId: r.tenant_id, title: r.title, ...toContact(r), additionalInfo: r.additional_info ?? null, createdTime: num(r.created_time) };
}

const SORT_COLUMNS = { title: 'title', email: 'email', country: 'country', city: 'city', createdTime: 'created_time' } as const;
const CONTACT_LIST = CONTACT_COLUMNS.map(([, c]) => c).join(', ');
// $1 tenant, $2 id, $3 title, $4..$11 contact, $12 additional info
const CONTACT_SETS = CONTACT_COLUMNS.map(([, c], i) => `${c} = $${i + 4}`).join(', ');

const duplicateTitle = (title: string) => () => `A customer titled ${title} already exists`;

export function createCustomerRepository(client: SqlClient): CustomerRepository {
  return {
    async create(tenantId, input) {
      const title = checkTitle(input.title, 'Customer');
      try {
        const { rows } = await client.query<CustomerRow>(
          `INSERT INTO customer (tenant_id, id, title, ${CONTACT_LIST}, additional_info, created_time)
           VALUES ($1, $2, $3, ${CONTACT_COLUMNS.map((_, i) => `$${i + 4}`).join(', ')}, $12::jsonb, $13) RETURNING *`,
          [tenantId, newId(), title, ...contactParams(input), jsonParam(input.additionalInfo), Date.now()],
        );
        return toCustomer(rows[0] as CustomerRow);
      } catch (e) {
        return mapDbError(e, duplicateTitle(title));
      }
    },
    async update(tenantId, id, input) {
      if (!isUuid(tenantId) || !isUuid(id)) return null;
      const title = checkTitle(input.title, 'Customer');
      try {
        const { rows } = await client.query<CustomerRow>(
          `UPDATE customer SET title = $3, ${CONTACT_SETS}, additional_info = $12::jsonb WHERE tenant_id = $1 AND id = $2 RETURNING *`,
          [tenantId, id, title, ...contactParams(input), jsonParam(input.additionalInfo)],
        );
        return rows[0] ? toCustomer(rows[0]) : null;
      } catch (e) {
        return mapDbError(e, duplicateTitle(title));
      }
    },
    async get(tenantId, id) {
      if (!isUuid(tenantId) || !isUuid(id)) return null;
      const { rows } = await client.query<CustomerRow>('SELECT * FROM customer WHERE tenant_id = $1 AND id = $2', [tenantId, id]);
      return rows[0] ? toCustomer(rows[0]) : null;
    },
    list(tenantId, page) {
      return selectTenantPage<CustomerRow, Customer>(client, { table: 'customer', tenantId, searchColumn: 'title', sortColumns: SORT_COLUMNS }, page, toCustomer);
    },
    async delete(tenantId, id) {
      if (!isUuid(tenantId) || !isUuid(id)) return false;
      return client.transaction(async (tx) => {
        const c = await tx.query('SELECT id FROM customer WHERE tenant_id = $1 AND id = $2 FOR UPDATE', [tenantId, id]);
        if (c.rowCount === 0) return false;
        // As ThingsBoard: the customer's users go, its devices stay with the tenant, unassigned.
        await tx.query('UPDATE device SET customer_id = NULL WHERE tenant_id = $1 AND customer_id = $2', [tenantId, id]);
        await tx.query('DELETE FROM tb_user WHERE tenant_id = $1 AND customer_id = $2', [tenantId, id]);
        await tx.query('DELETE FROM customer WHERE tenant_id = $1 AND id = $2', [tenantId, id]);
        // its own data (server attributes over REST; whatever rule nodes saved for it) goes with it
        await tx.query('DELETE FROM attribute_kv WHERE entity_id = $1', [id]);
        await tx.query('DELETE FROM ts_kv WHERE entity_id = $1', [id]);
        await tx.query('DELETE FROM ts_kv_latest WHERE entity_id = $1', [id]);
        return true;
      });
    },
  };
}
