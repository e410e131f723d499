import { BadRequestError, isUuid, newId, type JsonValue } from '@rivulet/core';
import type { Alarm, AlarmQuery, AlarmRepository, AlarmSeverity, Page } from '@rivulet/storage';
import { selectPage } from './paging';
import type { SqlClient } from './sql-client';
import { likeContains, mapDbError, num } from './sql-util';

interface AlarmRow {
  id: string;
  tenant_id: string;
  type: string;
  originator_type: string;
  originator_id: string;
  severity: AlarmSeverity;
  acknowledged: boolean;
  cleared: boolean;
  start_ts: unknown;
  end_ts: unknown;
  ack_ts: unknown;
  clear_ts: unknown;
  details: JsonValue | null;
  created_time: unknown;
}

export const ALARM_SEVERITIES: readonly AlarmSeverity[] = ['CRITICAL', 'MAJOR', 'MINOR', 'WARNING', 'INDETERMINATE'];

function toAlarm(r: AlarmRow): Alarm {
  return {
    id: r.id,
    tenantId: r.tenant_id,
    type: r.type,
    originatorType: r.originator_type,
    originatorId: r.originator_id,
    severity: r.severity,
    acknowledged: r.acknowledged,
    cleared: r.cleared,
    startTs: num(r.start_ts),
    endTs: num(r.end_ts),
    ackTs: num(r.ack_ts),
    clearTs: num(r.clear_ts),
    details: r.details ?? null,
    createdTime: num(r.created_time),
  };
}

/** A JSON column's parameter: SQL NULL for undefined (the column keeps its value where COALESCEd). */
function jsonParam(v: JsonValue | undefined): string | null {
  return v === undefined ? null : JSON.stringify(v);
}

const SORT_COLUMNS = {
  createdTime: 'created_time',
  startTs: 'start_ts',
  endTs: 'end_ts',
  ackTs: 'ack_ts',
  clearTs: 'clear_ts',
  type: 'type',
  severity: 'severity',
} as const;

const EMPTY: Page<Alarm> = { data: [], totalPages: 0, totalElements: 0, hasNext: false };

export function createAlarmRepository(client: SqlClient): AlarmRepository {
  async function one(sql: string, params: unknown[]): Promise<Alarm | null> {
    const { rows } = await client.query<AlarmRow>(sql, params);
    return rows[0] ? toAlarm(rows[0]) : null;
  }

  async function get(tenantId: string, id: string): Promise<Alarm | null> {
    if (!isUuid(tenantId) || !isUuid(id)) return null;
    return one('SELECT * FROM alarm WHERE tenant_id = $1 AND id = $2', [tenantId, id]);
  }

  return {
    async createOrUpdate(input) {
      if (!isUuid(input.tenantId)) throw new BadRequestError(`Invalid tenant id "${input.tenantId}"`);
      if (!isUuid(input.originatorId)) throw new BadRequestError(`Invalid originator id "${input.originatorId}"`);
      if (input.type.trim() === '') throw new BadRequestError('Alarm type must not be empty');
      if (!ALARM_SEVERITIES.includes(input.severity)) throw new BadRequestError(`Unknown alarm severity "${String(input.severity)}"`);
      if (!Number.isFinite(input.ts)) throw new BadRequestError('Alarm ts must be a number');
      const id = newId();
      const ts = Math.trunc(input.ts);
      try {
        // The partial unique index decides between insert and update atomically: two concurrent
        // creates of the same (originator, type) end as one alarm, the second an update of it.
        const { rows } = await client.query<AlarmRow>(
          `INSERT INTO alarm (id, tenant_id, type, originator_type, originator_id, severity, start_ts, end_ts, details, created_time)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $7, $8::jsonb, $9)
           ON CONFLICT (tenant_id, originator_id, type) WHERE NOT cleared DO UPDATE SET
             severity = EXCLUDED.severity,
             end_ts = GREATEST(alarm.end_ts, EXCLUDED.end_ts),
             details = COALESCE(EXCLUDED.details, alarm.details)
           RETURNING *`,
          [id, input.tenantId, input.type, input.originatorType, input.originatorId, input.severity, ts, jsonParam(input.details), Date.now()],
        );
        const row = rows[0] as AlarmRow;
        return { alarm: toAlarm(row), created: row.id === id };
      } catch (e) {
        return mapDbError(e, () => `An active alarm of type ${input.type} already exists`);
      }
    },

    get,

    async findActive(tenantId, originatorId, type) {
      if (!isUuid(tenantId) || !isUuid(originatorId)) return null;
      return one('SELECT * FROM alarm WHERE tenant_id = $1 AND originator_id = $2 AND type = $3 AND NOT cleared', [tenantId, originatorId, type]);
    },

    async acknowledge(tenantId, id, ts) {
      if (!isUuid(tenantId) || !isUuid(id)) return null;
      // Acknowledging twice keeps the first ackTs (ThingsBoard answers the alarm unchanged).
      const updated = await one('UPDATE alarm SET acknowledged = true, ack_ts = $3 WHERE tenant_id = $1 AND id = $2 AND NOT acknowledged RETURNING *', [
        tenantId,
        id,
        Math.trunc(ts),
      ]);
      return updated ?? get(tenantId, id);
    },

    async clear(tenantId, id, ts, details) {
      if (!isUuid(tenantId) || !isUuid(id)) return null;
      // Clearing frees the (originator, type) slot: the next create starts a new alarm.
      const updated = await one(
        `UPDATE alarm SET cleared = true, clear_ts = $3, details = COALESCE($4::jsonb, details)
          WHERE tenant_id = $1 AND id = $2 AND NOT cleared RETURNING *`,
        [tenantId, id, Math.trunc(ts), jsonParam(details)],
      );
      return updated ?? get(tenantId, id);
    },

    async list(tenantId, query: AlarmQuery) {
      if (!isUuid(tenantId)) return EMPTY;
      if (query.originatorId !== undefined && !isUuid(query.originatorId)) return EMPTY;
      const params: unknown[] = [tenantId];
      const where = ['tenant_id = $1'];
      const add = (cond: (n: string) => string, value: unknown) => {
        params.push(value);
        where.push(cond(`$${params.length}`));
      };
      if (query.originatorId !== undefined) add((p) => `originator_id = ${p}`, query.originatorId);
      if (query.type !== undefined) add((p) => `type = ${p}`, query.type);
      if (query.severity !== undefined) add((p) => `severity = ${p}`, query.severity);
      if (query.startTime !== undefined) add((p) => `created_time >= ${p}`, Math.trunc(query.startTime));
      if (query.endTime !== undefined) add((p) => `created_time <= ${p}`, Math.trunc(query.endTime));
      const search = query.textSearch?.trim();
      if (search) add((p) => `(type ILIKE ${p} OR severity ILIKE ${p})`, likeContains(search));
      switch (query.searchStatus ?? 'ANY') {
        case 'ACTIVE':
          where.push('NOT cleared');
          break;
        case 'CLEARED':
          where.push('cleared');
          break;
        case 'ACK':
          where.push('acknowledged');
          break;
        case 'UNACK':
          where.push('NOT acknowledged');
          break;
        default:
          break;
      }
      if (query.status !== undefined) {
        const [state, ack] = query.status.split('_');
        where.push(state === 'CLEARED' ? 'cleared' : 'NOT cleared');
        where.push(ack === 'ACK' ? 'acknowledged' : 'NOT acknowledged');
      }
      return selectPage<AlarmRow, Alarm>(
        client,
        { filtered: `SELECT * FROM alarm WHERE ${where.join(' AND ')}`, params, sortColumns: SORT_COLUMNS, defaultSort: 'createdTime' },
        query,
        toAlarm,
      );
    },

    async delete(tenantId, id) {
      if (!isUuid(tenantId) || !isUuid(id)) return false;
      const res = await client.query('DELETE FROM alarm WHERE tenant_id = $1 AND id = $2', [tenantId, id]);
      return res.rowCount > 0;
    },

    async deleteClearedBefore(ts) {
      let total = 0;
      for (;;) {
        // short statements: a large backlog never holds many row locks at once
        const r = await client.query('DELETE FROM alarm WHERE id IN (SELECT id FROM alarm WHERE cleared AND clear_ts < $1 LIMIT 1000)', [Math.trunc(ts)]);
        total += r.rowCount;
        if (r.rowCount < 1000) return total;
      }
    },
  };
}
