import { BadRequestError, isUuid, newId } from '@rivulet/core';
import type { Authority, User, UserRepository } from '@rivulet/storage';
import type { SqlClient } from './sql-client';
import { mapDbError, num } from './sql-util';

interface UserRow {
  id: string;
  tenant_id: string;
  email: string;
  authority: Authority;
  password_hash: string;
  first_name: string | null;
  last_name: string | null;
  created_time: unknown;
}

function toUser(r: UserRow): User {
  return {
    id: r.id,
    tenantId: r.tenant_id,
    email: r.email,
    authority: r.authority,
    firstName: r.first_name,
    lastName: r.last_name,
    createdTime: num(r.created_time),
  };
}

export function createUserRepository(client: SqlClient): UserRepository {
  return {
    async create(input) {
      const email = input.email.trim();
      if (email.length === 0) throw new BadRequestError('User e-mail must not be empty');
      try {
        const { rows } = await client.query<UserRow>(
          `INSERT INTO tb_user (id, tenant_id, email, authority, password_hash, first_name, last_name, created_time)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING *`,
          [newId(), input.tenantId, email, input.authority, input.passwordHash, input.firstName ?? null, input.lastName ?? null, Date.now()],
        );
        return toUser(rows[0] as UserRow);
      } catch (e) {
        return mapDbError(e, () => `A user with email ${email} already exists`);
      }
    },
    async get(id) {
      if (!isUuid(id)) return null;
      const { rows } = await client.query<UserRow>('SELECT * FROM tb_user WHERE id = $1', [id]);
      return rows[0] ? toUser(rows[0]) : null;
    },
    async findByEmail(email) {
      // lower(email) matches the unique index, so this is an index lookup.
      const { rows } = await client.query<UserRow>('SELECT * FROM tb_user WHERE lower(email) = lower($1)', [email.trim()]);
      const r = rows[0];
      return r ? { user: toUser(r), passwordHash: r.password_hash } : null;
    },
    async count() {
      const { rows } = await client.query<{ n: unknown }>('SELECT count(*) AS n FROM tb_user');
      return num(rows[0]?.n ?? 0);
    },
    async setPassword(id, passwordHash) {
      if (!isUuid(id)) return false;
      const r = await client.query('UPDATE tb_user SET password_hash = $2 WHERE id = $1', [id, passwordHash]);
      return r.rowCount > 0;
    },
  };
}
