import { BadRequestError, ConflictError, isUuid, maxDevicesMessage, newId, NotFoundError, TenantLimitError, type JsonObject } from '@rivulet/core';
import type { CredentialsType, Device, DeviceCredentials, DeviceFilter, DeviceInfo, DeviceRepository, PageQuery } from '@rivulet/storage';
import { generateAccessToken } from './access-token';
import { resolveDeviceProfile } from './device-profile.repository';
import { selectPage, selectTenantPage } from './paging';
import type { SqlClient } from './sql-client';
import { likeContains, mapDbError, num } from './sql-util';

interface DeviceRow {
  id: string;
  tenant_id: string;
  customer_id: string | null;
  name: string;
  type: string;
  device_profile_id: string;
  label: string | null;
  additional_info: JsonObject | null;
  created_time: unknown;
}

interface CredentialsRow {
  id: string;
  device_id: string;
  credentials_type: CredentialsType;
  credentials_id: string;
  credentials_value: string | null;
  created_time: unknown;
}

function toDevice(r: DeviceRow): Device {
  return {
    id: r.id,
    tenantId: r.tenant_id,
    customerId: r.customer_id ?? null,
    name: r.name,
    type: r.type,
    deviceProfileId: r.device_profile_id,
    label: r.label,
    additionalInfo: r.additional_info,
    createdTime: num(r.created_time),
  };
}

function toCredentials(r: CredentialsRow): DeviceCredentials {
  return {
    id: r.id,
    deviceId: r.device_id,
    credentialsType: r.credentials_type,
    credentialsId: r.credentials_id,
    credentialsValue: r.credentials_value,
    createdTime: num(r.created_time),
  };
}

function jsonParam(v: JsonObject | null | undefined): string | null {
  return v === null || v === undefined ? null : JSON.stringify(v);
}

function checkName(name: string): string {
  const n = name.trim();
  if (n.length === 0) throw new BadRequestError('Device name must not be empty');
  return n;
}

/** The message of a unique violation on the device tables, by constraint. */
function conflictMessage(name: string | undefined): (constraint: string | undefined) => string {
  return (constraint) => {
    switch (constraint) {
      case 'device_name_unq':
        return `A device named ${name ?? '(unknown)'} already exists`;
      case 'device_credentials_id_unq':
        return 'These credentials are already used by another device';
      default:
        return 'The device conflicts with an existing one';
    }
  };
}

/** The user name of MQTT basic credentials (ThingsBoard's JSON {clientId, userName, password}); null when it has none. */
function basicUserName(value: string | null | undefined): string | null {
  if (!value) return null;
  try {
    const v = JSON.parse(value) as { userName?: unknown } | null;
    return typeof v?.userName === 'string' && v.userName !== '' ? v.userName : null;
  } catch {
    return null;
  }
}

export const USER_NAME_OF_ANOTHER_TENANT = 'These credentials are already used by another device';

/**
 * MQTT authentication tries a CONNECT's client id with its user name before the user name alone
 * (basic credentials or an access token; ThingsBoard's order). So credentials {clientId, userName}
 * answer for every device connecting with that client id and user name: saved by one tenant over
 * a user name (or token) of another tenant's device, they would take that device's connections
 * (and its data) into the first tenant. A user name is therefore one tenant's: refused
 * (ConflictError) when a device of another tenant has it as its token, its basic user name, or in
 * its {clientId, userName}. Within one tenant it may be shared (ThingsBoard's devices sharing a
 * user name with distinct client ids). Serialised per user name until commit.
 */
async function checkUserNameFree(tx: SqlClient, tenantId: string, userName: string): Promise<void> {
  await tx.query("SELECT pg_advisory_xact_lock(hashtext('mqtt-user-name:' || $1::text))", [userName]);
  // both sides indexed: credentials_id (unique), mqtt_user_name (migration 9)
  const { rows } = await tx.query(
    `SELECT 1 FROM device_credentials c JOIN device d ON d.id = c.device_id
      WHERE d.tenant_id <> $1 AND (c.credentials_id = $2 OR c.mqtt_user_name = $2) LIMIT 1`,
    [tenantId, userName],
  );
  if (rows.length > 0) throw new ConflictError(USER_NAME_OF_ANOTHER_TENANT);
}

const SORT_COLUMNS = { name: 'name', type: 'type', label: 'label', createdTime: 'created_time' } as const;
const INFO_SORT_COLUMNS = { ...SORT_COLUMNS, customerTitle: 'customer_title', deviceProfileName: 'device_profile_name' } as const;

interface DeviceInfoRow extends DeviceRow {
  customer_title: string | null;
  device_profile_name: string;
  active: boolean;
}

function toDeviceInfo(r: DeviceInfoRow): DeviceInfo {
  return { ...toDevice(r), customerTitle: r.customer_title ?? null, customerIsPublic: false, deviceProfileName: r.device_profile_name, active: r.active === true };
}

/** The device with its customer's title, its profile's name and its state's `active` attribute. */
const INFO_SELECT = `
  SELECT d.*, c.title AS customer_title, p.name AS device_profile_name, COALESCE(a.bool_v, false) AS active
    FROM device d
    JOIN device_profile p ON p.tenant_id = d.tenant_id AND p.id = d.device_profile_id
    LEFT JOIN customer c ON c.tenant_id = d.tenant_id AND c.id = d.customer_id
    LEFT JOIN attribute_kv a ON a.entity_id = d.id AND a.scope = 'SERVER_SCOPE' AND a.key = 'active'`;

const EMPTY_PAGE = { data: [], totalPages: 0, totalElements: 0, hasNext: false };

/**
 * The WHERE clause of a tenant's device list with ThingsBoard's filters, on `device d` (joined
 * with attribute_kv a for `active`); null when a filter can match nothing (an id that is no UUID).
 */
function deviceWhere(tenantId: string, page: PageQuery, filter: DeviceFilter): { where: string; params: unknown[] } | null {
  if (!isUuid(tenantId)) return null;
  const params: unknown[] = [tenantId];
  const conds = ['d.tenant_id = $1'];
  const add = (sql: (n: string) => string, value: unknown): void => {
    params.push(value);
    conds.push(sql(`$${params.length}`));
  };
  const search = page.textSearch?.trim();
  if (search) add((n) => `d.name ILIKE ${n}`, likeContains(search));
  if (filter.type !== undefined) add((n) => `d.type = ${n}`, filter.type);
  if (filter.deviceProfileId !== undefined) {
    if (!isUuid(filter.deviceProfileId)) return null;
    add((n) => `d.device_profile_id = ${n}`, filter.deviceProfileId);
  }
  if (filter.customerId !== undefined) {
    if (!isUuid(filter.customerId)) return null;
    add((n) => `d.customer_id = ${n}`, filter.customerId);
  }
  if (filter.active !== undefined) add((n) => `COALESCE(a.bool_v, false) = ${n}`, filter.active);
  return { where: conds.join(' AND '), params };
}

export function createDeviceRepository(client: SqlClient): DeviceRepository {
  return {
    async create(input, accessToken, options = {}) {
      const name = checkName(input.name);
      if (accessToken !== undefined && accessToken.length === 0) throw new BadRequestError('Access token must not be empty');
      const now = Date.now();
      const maxDevices = options.maxDevices ?? 0;
      try {
        return await client.transaction(async (tx) => {
          if (maxDevices > 0) {
            // One creator per tenant at a time holds this lock until commit, so the count cannot go stale.
            await tx.query("SELECT pg_advisory_xact_lock(hashtext('device-limit:' || $1::text))", [input.tenantId]);
            const { rows } = await tx.query<{ n: unknown }>('SELECT count(*) AS n FROM device WHERE tenant_id = $1', [input.tenantId]);
            if (num(rows[0]?.n ?? 0) >= maxDevices) throw new TenantLimitError('maxDevices', maxDevices, maxDevicesMessage(maxDevices));
          }
          // a chosen token must not be another tenant's MQTT user name (a generated one cannot be)
          if (accessToken !== undefined) await checkUserNameFree(tx, input.tenantId, accessToken);
          const profile = await resolveDeviceProfile(tx, input.tenantId, input);
          const d = await tx.query<DeviceRow>(
            `INSERT INTO device (id, tenant_id, name, type, device_profile_id, label, additional_info, created_time)
             VALUES ($1, $2, $3, $4, $5, $6, $7::jsonb, $8) RETURNING *`,
            [newId(), input.tenantId, name, profile.name, profile.id, input.label ?? null, jsonParam(input.additionalInfo), now],
          );
          const device = toDevice(d.rows[0] as DeviceRow);
          const c = await tx.query<CredentialsRow>(
            `INSERT INTO device_credentials (id, device_id, credentials_type, credentials_id, credentials_value, created_time)
             VALUES ($1, $2, 'ACCESS_TOKEN', $3, NULL, $4) RETURNING *`,
            [newId(), device.id, accessToken ?? generateAccessToken(), now],
          );
          return { device, credentials: toCredentials(c.rows[0] as CredentialsRow) };
        });
      } catch (e) {
        return mapDbError(e, conflictMessage(name));
      }
    },

    async count(tenantId) {
      if (!isUuid(tenantId)) return 0;
      const { rows } = await client.query<{ n: unknown }>('SELECT count(*) AS n FROM device WHERE tenant_id = $1', [tenantId]);
      return num(rows[0]?.n ?? 0);
    },

    async update(tenantId, id, patch) {
      if (!isUuid(tenantId) || !isUuid(id)) return null;
      const sets: string[] = [];
      const params: unknown[] = [tenantId, id];
      const set = (column: string, value: unknown, cast = ''): void => {
        params.push(value);
        sets.push(`${column} = $${params.length}${cast}`);
      };
      const name = patch.name === undefined ? undefined : checkName(patch.name);
      if (name !== undefined) set('name', name);
      if (patch.label !== undefined) set('label', patch.label);
      if (patch.additionalInfo !== undefined) set('additional_info', jsonParam(patch.additionalInfo), '::jsonb');
      try {
        return await client.transaction(async (tx) => {
          const exists = await tx.query('SELECT 1 FROM device WHERE tenant_id = $1 AND id = $2', [tenantId, id]);
          if (exists.rowCount === 0) return null;
          if (patch.deviceProfileId !== undefined || patch.type !== undefined) {
            const profile = await resolveDeviceProfile(tx, tenantId, { deviceProfileId: patch.deviceProfileId, type: patch.type });
            set('device_profile_id', profile.id);
            set('type', profile.name);
          }
          const sql =
            sets.length === 0
              ? 'SELECT * FROM device WHERE tenant_id = $1 AND id = $2'
              : `UPDATE device SET ${sets.join(', ')} WHERE tenant_id = $1 AND id = $2 RETURNING *`;
          const { rows } = await tx.query<DeviceRow>(sql, params);
          return rows[0] ? toDevice(rows[0]) : null;
        });
      } catch (e) {
        return mapDbError(e, conflictMessage(name));
      }
    },

    async get(tenantId, id) {
      if (!isUuid(tenantId) || !isUuid(id)) return null;
      const { rows } = await client.query<DeviceRow>('SELECT * FROM device WHERE tenant_id = $1 AND id = $2', [tenantId, id]);
      return rows[0] ? toDevice(rows[0]) : null;
    },

    async findByName(tenantId, name) {
      if (!isUuid(tenantId)) return null;
      const { rows } = await client.query<DeviceRow>('SELECT * FROM device WHERE tenant_id = $1 AND name = $2', [tenantId, name]);
      return rows[0] ? toDevice(rows[0]) : null;
    },

    list(tenantId, page, filter = {}) {
      if (Object.keys(filter).every((k) => filter[k as keyof DeviceFilter] === undefined)) {
        return selectTenantPage<DeviceRow, Device>(client, { table: 'device', tenantId, searchColumn: 'name', sortColumns: SORT_COLUMNS }, page, toDevice);
      }
      const w = deviceWhere(tenantId, page, filter);
      if (!w) return Promise.resolve(EMPTY_PAGE);
      const join = filter.active === undefined ? '' : " LEFT JOIN attribute_kv a ON a.entity_id = d.id AND a.scope = 'SERVER_SCOPE' AND a.key = 'active'";
      return selectPage<DeviceRow, Device>(client, { filtered: `SELECT d.* FROM device d${join} WHERE ${w.where}`, params: w.params, sortColumns: SORT_COLUMNS, defaultSort: 'createdTime' }, page, toDevice);
    },

    listInfos(tenantId, page, filter = {}) {
      const w = deviceWhere(tenantId, page, filter);
      if (!w) return Promise.resolve(EMPTY_PAGE);
      return selectPage<DeviceInfoRow, DeviceInfo>(client, { filtered: `${INFO_SELECT} WHERE ${w.where}`, params: w.params, sortColumns: INFO_SORT_COLUMNS, defaultSort: 'createdTime' }, page, toDeviceInfo);
    },

    async getInfo(tenantId, id) {
      if (!isUuid(tenantId) || !isUuid(id)) return null;
      const { rows } = await client.query<DeviceInfoRow>(`${INFO_SELECT} WHERE d.tenant_id = $1 AND d.id = $2`, [tenantId, id]);
      return rows[0] ? toDeviceInfo(rows[0]) : null;
    },

    async delete(tenantId, id) {
      if (!isUuid(tenantId) || !isUuid(id)) return false;
      return client.transaction(async (tx) => {
        // The device row goes first and scopes the rest: data of an id that is not this tenant's
        // device is never touched.
        const d = await tx.query('DELETE FROM device WHERE tenant_id = $1 AND id = $2 RETURNING id', [tenantId, id]);
        if (d.rowCount === 0) return false;
        // Credentials also cascade; deleting them explicitly keeps this correct without the FK.
        await tx.query('DELETE FROM device_credentials WHERE device_id = $1', [id]);
        await tx.query('DELETE FROM attribute_kv WHERE entity_id = $1', [id]);
        await tx.query('DELETE FROM ts_kv WHERE entity_id = $1', [id]);
        await tx.query('DELETE FROM ts_kv_latest WHERE entity_id = $1', [id]);
        await tx.query('DELETE FROM rule_node_state WHERE tenant_id = $1 AND entity_id = $2', [tenantId, id]);
        return true;
      });
    },

    async assignToCustomer(tenantId, id, customerId) {
      if (!isUuid(tenantId) || !isUuid(id)) return null;
      if (customerId !== null && !isUuid(customerId)) throw new NotFoundError(`Customer ${customerId} not found`);
      try {
        // The (tenant_id, customer_id) foreign key refuses a customer of another tenant.
        const { rows } = await client.query<DeviceRow>('UPDATE device SET customer_id = $3 WHERE tenant_id = $1 AND id = $2 RETURNING *', [tenantId, id, customerId]);
        return rows[0] ? toDevice(rows[0]) : null;
      } catch (e) {
        return mapDbError(e, conflictMessage(undefined), `Customer ${customerId ?? ''} not found`);
      }
    },

    listByCustomer(tenantId, customerId, page) {
      if (!isUuid(tenantId) || !isUuid(customerId)) return Promise.resolve({ data: [], totalPages: 0, totalElements: 0, hasNext: false });
      const params: unknown[] = [tenantId, customerId];
      let where = 'tenant_id = $1 AND customer_id = $2';
      const search = page.textSearch?.trim();
      if (search) {
        params.push(likeContains(search));
        where += ' AND name ILIKE $3';
      }
      return selectPage<DeviceRow, Device>(client, { filtered: `SELECT * FROM device WHERE ${where}`, params, sortColumns: SORT_COLUMNS, defaultSort: 'createdTime' }, page, toDevice);
    },

    async getCredentials(deviceId) {
      if (!isUuid(deviceId)) return null;
      const { rows } = await client.query<CredentialsRow>('SELECT * FROM device_credentials WHERE device_id = $1', [deviceId]);
      return rows[0] ? toCredentials(rows[0]) : null;
    },

    async updateCredentials(deviceId, input) {
      if (input.credentialsId.length === 0) throw new BadRequestError('credentialsId must not be empty');
      try {
        return await client.transaction(async (tx) => {
          const { rows: owner } = await tx.query<{ tenant_id: string }>('SELECT tenant_id FROM device WHERE id = $1', [deviceId]);
          if (!owner[0]) throw new NotFoundError(`Device ${deviceId} not found`);
          const userName = input.credentialsType === 'MQTT_BASIC' ? basicUserName(input.credentialsValue) : input.credentialsId;
          if (userName !== null) await checkUserNameFree(tx, owner[0].tenant_id, userName);
          // Upsert on device_id: one credentials row per device, its id and createdTime kept.
          const { rows } = await tx.query<CredentialsRow>(
          `INSERT INTO device_credentials (id, device_id, credentials_type, credentials_id, credentials_value, created_time, mqtt_user_name)
           VALUES ($1, $2, $3, $4, $5, $6, $7)
           ON CONFLICT (device_id) DO UPDATE SET
             credentials_type = EXCLUDED.credentials_type,
             credentials_id = EXCLUDED.credentials_id,
             credentials_value = EXCLUDED.credentials_value,
             mqtt_user_name = EXCLUDED.mqtt_user_name
           RETURNING *`,
          [newId(), deviceId, input.credentialsType, input.credentialsId, input.credentialsValue ?? null, Date.now(), input.credentialsType === 'MQTT_BASIC' ? userName : null],
          );
          return toCredentials(rows[0] as CredentialsRow);
        });
      } catch (e) {
        return mapDbError(e, conflictMessage(undefined), `Device ${deviceId} not found`);
      }
    },

    async findByCredentials(credentialsType, credentialsId) {
      const { rows } = await client.query<DeviceRow>(
        `SELECT d.* FROM device_credentials c JOIN device d ON d.id = c.device_id
          WHERE c.credentials_id = $1 AND c.credentials_type = $2`,
        [credentialsId, credentialsType],
      );
      return rows[0] ? toDevice(rows[0]) : null;
    },
  };
}
