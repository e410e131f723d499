import { isUuid, newId } from '@rivulet/core';
import type { AuthSession, AuthSessionRepository, PasswordResetRepository } from '@rivulet/storage';
import type { SqlClient } from './sql-client';
import { num, numOrNull } from './sql-util';

interface SessionRow {
  id: string;
  user_id: string;
  refresh_jti: string;
  created_time: unknown;
  updated_time: unknown;
  expires_time: unknown;
  revoked_time: unknown;
  revoked_reason: string | null;
}

function toSession(r: SessionRow): AuthSession {
  return {
    id: r.id,
    userId: r.user_id,
    refreshJti: r.refresh_jti,
    createdTime: num(r.created_time),
    updatedTime: num(r.updated_time),
    expiresTime: num(r.expires_time),
    revokedTime: numOrNull(r.revoked_time),
    revokedReason: r.revoked_reason,
  };
}

export function createAuthSessionRepository(client: SqlClient): AuthSessionRepository {
  return {
    async create(input) {
      const now = Date.now();
      const { rows } = await client.query<SessionRow>(
        `INSERT INTO auth_session (id, user_id, refresh_jti, created_time, updated_time, expires_time)
         VALUES ($1, $2, $3, $4, $4, $5) RETURNING *`,
        [input.id ?? newId(), input.userId, input.refreshJti, now, input.expiresTime],
      );
      return toSession(rows[0] as SessionRow);
    },
    async get(id) {
      if (!isUuid(id)) return null;
      const { rows } = await client.query<SessionRow>('SELECT * FROM auth_session WHERE id = $1', [id]);
      return rows[0] ? toSession(rows[0]) : null;
    },
    async rotate({ id, currentJti, nextJti, expiresTime, now }) {
      if (!isUuid(id) || !isUuid(currentJti)) return null;
      // One statement: two concurrent refreshes with the same token cannot both win.
      const { rows } = await client.query<SessionRow>(
        `UPDATE auth_session SET refresh_jti = $3, updated_time = $5, expires_time = $4
         WHERE id = $1 AND refresh_jti = $2 AND revoked_time IS NULL AND expires_time > $5 RETURNING *`,
        [id, currentJti, nextJti, expiresTime, now],
      );
      return rows[0] ? toSession(rows[0]) : null;
    },
    async revoke(id, reason) {
      if (!isUuid(id)) return false;
      const r = await client.query('UPDATE auth_session SET revoked_time = $2, revoked_reason = $3 WHERE id = $1 AND revoked_time IS NULL', [id, Date.now(), reason]);
      return r.rowCount > 0;
    },
    async revokeByUser(userId, reason, exceptId) {
      if (!isUuid(userId)) return [];
      const { rows } = await client.query<{ id: string }>(
        `UPDATE auth_session SET revoked_time = $2, revoked_reason = $3
         WHERE user_id = $1 AND revoked_time IS NULL AND ($4::uuid IS NULL OR id <> $4::uuid) RETURNING id`,
        [userId, Date.now(), reason, exceptId !== undefined && isUuid(exceptId) ? exceptId : null],
      );
      return rows.map((r) => r.id);
    },
    async deleteExpired(before) {
      const r = await client.query('DELETE FROM auth_session WHERE expires_time < $1', [before]);
      return r.rowCount;
    },
  };
}

export function createPasswordResetRepository(client: SqlClient): PasswordResetRepository {
  return {
    async create({ userId, tokenHash, expiresTime }) {
      await client.transaction(async (tx) => {
        await tx.query('DELETE FROM password_reset_token WHERE user_id = $1 AND used_time IS NULL', [userId]);
        await tx.query('INSERT INTO password_reset_token (token_hash, user_id, created_time, expires_time) VALUES ($1, $2, $3, $4)', [tokenHash, userId, Date.now(), expiresTime]);
      });
    },
    async consume(tokenHash, now) {
      // One statement: a token raced by two requests is used by one of them only.
      const { rows } = await client.query<{ user_id: string }>(
        'UPDATE password_reset_token SET used_time = $2 WHERE token_hash = $1 AND used_time IS NULL AND expires_time > $2 RETURNING user_id',
        [tokenHash, now],
      );
      return rows[0]?.user_id ?? null;
    },
    async deleteExpired(before) {
      const r = await client.query('DELETE FROM password_reset_token WHERE expires_time < $1', [before]);
      return r.rowCount;
    },
  };
}
