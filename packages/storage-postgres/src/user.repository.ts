import { BadRequestError, isUuid, newId } from '@rivulet/core';
import { NULL_ENTITY_ID, type Authority, type NewUser, type User, type UserRepository } from '@rivulet/storage';
import { selectPage } from './paging';
import type { SqlClient } from './sql-client';
import { likeContains, mapDbError, num } from './sql-util';

interface UserRow {
  id: string;
  tenant_id: string | null;
  customer_id: string | null;
  email: string;
  authority: Authority;
  password_hash: string;
  first_name: string | null;
  last_name: string | null;
  enabled: boolean;
  created_time: unknown;
}

function toUser(r: UserRow): User {
  return {
    id: r.id,
    // The system administrator's NULL, shown as ThingsBoard's null id.
    tenantId: r.tenant_id ?? NULL_ENTITY_ID,
    customerId: r.customer_id,
    email: r.email,
    authority: r.authority,
    firstName: r.first_name,
    lastName: r.last_name,
    enabled: r.enabled,
    createdTime: num(r.created_time),
  };
}

const SORT_COLUMNS = { email: 'email', firstName: 'first_name', lastName: 'last_name', createdTime: 'created_time' } as const;

/** The tenant column value for a user: NULL for the system administrator, and only for it. */
function tenantColumn(input: Pick<NewUser, 'tenantId' | 'authority'>): string | null {
  const isNull = input.tenantId.toLowerCase() === NULL_ENTITY_ID;
  if (input.authority === 'SYS_ADMIN') {
    if (!isNull) throw new BadRequestError('A system administrator belongs to no tenant');
    return null;
  }
  if (isNull || !isUuid(input.tenantId)) throw new BadRequestError(`A ${input.authority} needs a tenant`);
  return input.tenantId;
}

/** SQL matching a user's tenant: the system administrator's NULL for the null id, else the tenant. */
function tenantMatch(tenantId: string, param: string): string {
  return tenantId.toLowerCase() === NULL_ENTITY_ID ? 'tenant_id IS NULL' : `tenant_id = ${param}`;
}

export function createUserRepository(client: SqlClient): UserRepository {
  return {
    async create(input) {
      const email = input.email.trim();
      if (email.length === 0) throw new BadRequestError('User e-mail must not be empty');
      const tenantId = tenantColumn(input);
      const customerId = input.customerId ?? null;
      if ((input.authority === 'CUSTOMER_USER') !== (customerId !== null)) {
        throw new BadRequestError('A customer user needs a customer, and only a customer user has one');
      }
      try {
        const { rows } = await client.query<UserRow>(
          `INSERT INTO tb_user (id, tenant_id, customer_id, email, authority, password_hash, first_name, last_name, enabled, created_time)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING *`,
          [newId(), tenantId, customerId, email, input.authority, input.passwordHash, input.firstName ?? null, input.lastName ?? null, input.enabled ?? true, Date.now()],
        );
        return toUser(rows[0] as UserRow);
      } catch (e) {
        return mapDbError(e, () => `A user with email ${email} already exists`, `Customer ${customerId ?? ''} not found`);
      }
    },
    async get(id) {
      if (!isUuid(id)) return null;
      const { rows } = await client.query<UserRow>('SELECT * FROM tb_user WHERE id = $1', [id]);
      return rows[0] ? toUser(rows[0]) : null;
    },
    async getInTenant(tenantId, id) {
      if (!isUuid(tenantId) || !isUuid(id)) return null;
      const { rows } = await client.query<UserRow>(`SELECT * FROM tb_user WHERE ${tenantMatch(tenantId, '$2')} AND id = $1`, tenantId.toLowerCase() === NULL_ENTITY_ID ? [id] : [id, tenantId]);
      return rows[0] ? toUser(rows[0]) : null;
    },
    async findByEmail(email) {
      // lower(email) matches the unique index, so this is an index lookup.
      const { rows } = await client.query<UserRow>('SELECT * FROM tb_user WHERE lower(email) = lower($1)', [email.trim()]);
      const r = rows[0];
      return r ? { user: toUser(r), passwordHash: r.password_hash } : null;
    },
    async count(authority) {
      const { rows } =
        authority === undefined
          ? await client.query<{ n: unknown }>('SELECT count(*) AS n FROM tb_user')
          : await client.query<{ n: unknown }>('SELECT count(*) AS n FROM tb_user WHERE authority = $1', [authority]);
      return num(rows[0]?.n ?? 0);
    },
    list(filter, page) {
      // Tenant-scoped only: the system administrator (NULL tenant) is never listed here.
      if (!isUuid(filter.tenantId) || (filter.customerId !== undefined && !isUuid(filter.customerId))) {
        return Promise.resolve({ data: [], totalPages: 0, totalElements: 0, hasNext: false });
      }
      const params: unknown[] = [filter.tenantId];
      let where = 'tenant_id = $1';
      if (filter.authority !== undefined) {
        params.push(filter.authority);
        where += ` AND authority = $${params.length}`;
      }
      if (filter.customerId !== undefined) {
        params.push(filter.customerId);
        where += ` AND customer_id = $${params.length}`;
      }
      const search = page.textSearch?.trim();
      if (search) {
        params.push(likeContains(search));
        where += ` AND email ILIKE $${params.length}`;
      }
      return selectPage<UserRow, User>(
        client,
        { filtered: `SELECT * FROM tb_user WHERE ${where}`, params, sortColumns: SORT_COLUMNS, defaultSort: 'createdTime' },
        page,
        toUser,
      );
    },
    async delete(tenantId, id) {
      if (!isUuid(tenantId) || !isUuid(id) || tenantId.toLowerCase() === NULL_ENTITY_ID) return false;
      const r = await client.query('DELETE FROM tb_user WHERE tenant_id = $1 AND id = $2', [tenantId, id]);
      return r.rowCount > 0;
    },
    async updateNames(tenantId, id, names) {
      if (!isUuid(tenantId) || !isUuid(id)) return null;
      const sysAdmin = tenantId.toLowerCase() === NULL_ENTITY_ID;
      const { rows } = await client.query<UserRow>(
        `UPDATE tb_user SET first_name = $2, last_name = $3 WHERE id = $1 AND ${tenantMatch(tenantId, '$4')} RETURNING *`,
        sysAdmin ? [id, names.firstName, names.lastName] : [id, names.firstName, names.lastName, tenantId],
      );
      return rows[0] ? toUser(rows[0]) : null;
    },
    async setPassword(id, passwordHash) {
      if (!isUuid(id)) return false;
      const r = await client.query(
        'UPDATE tb_user SET password_hash = $2, enabled = true, activate_token_hash = NULL, activate_token_expiry = NULL WHERE id = $1',
        [id, passwordHash],
      );
      return r.rowCount > 0;
    },
    async setActivationToken(id, tokenHash, expiresAt) {
      if (!isUuid(id)) return false;
      const r = await client.query('UPDATE tb_user SET activate_token_hash = $2, activate_token_expiry = $3 WHERE id = $1', [id, tokenHash, expiresAt]);
      return r.rowCount > 0;
    },
    async activate(tokenHash, passwordHash, now) {
      // One statement: two concurrent activations with the same token cannot both succeed.
      const { rows } = await client.query<UserRow>(
        `UPDATE tb_user SET password_hash = $2, enabled = true, activate_token_hash = NULL, activate_token_expiry = NULL
          WHERE activate_token_hash = $1 AND activate_token_expiry > $3 RETURNING *`,
        [tokenHash, passwordHash, now],
      );
      return rows[0] ? toUser(rows[0]) : null;
    },
  };
}
