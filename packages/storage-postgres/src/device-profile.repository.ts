import { BadRequestError, isUuid, newId, NotFoundError, type JsonObject } from '@rivulet/core';
import type { DeviceProfile, DeviceProfileInput, DeviceProfileProvisionType, DeviceProfileRepository, DeviceTransportType } from '@rivulet/storage';
import { selectPage } from './paging';
import type { SqlClient } from './sql-client';
import { likeContains, mapDbError, num } from './sql-util';

interface DeviceProfileRow {
  id: string;
  tenant_id: string;
  name: string;
  description: string | null;
  image: string | null;
  type: string;
  transport_type: string;
  provision_type: string;
  default_rule_chain_id: string | null;
  default_dashboard_id: string | null;
  default_queue_name: string | null;
  provision_device_key: string | null;
  is_default: boolean;
  profile_data: JsonObject | null;
  created_time: unknown;
}

/** The name of the profile every tenant gets (ThingsBoard's). */
export const DEFAULT_DEVICE_PROFILE_NAME = 'default';

/** ThingsBoard's profileData of a new DEFAULT profile. */
export function defaultProfileData(): JsonObject {
  return {
    configuration: { type: 'DEFAULT' },
    transportConfiguration: { type: 'DEFAULT' },
    provisionConfiguration: { type: 'DISABLED', provisionDeviceSecret: null },
    alarms: null,
  };
}

const TRANSPORT_TYPES: readonly DeviceTransportType[] = ['DEFAULT', 'MQTT', 'COAP', 'LWM2M', 'SNMP'];
const PROVISION_TYPES: readonly DeviceProfileProvisionType[] = ['DISABLED', 'ALLOW_CREATE_NEW_DEVICES', 'CHECK_PRE_PROVISIONED_DEVICES'];

function toProfile(r: DeviceProfileRow): DeviceProfile {
  return {
    id: r.id,
    tenantId: r.tenant_id,
    name: r.name,
    description: r.description,
    image: r.image,
    type: 'DEFAULT',
    transportType: (TRANSPORT_TYPES as readonly string[]).includes(r.transport_type) ? (r.transport_type as DeviceTransportType) : 'DEFAULT',
    provisionType: (PROVISION_TYPES as readonly string[]).includes(r.provision_type) ? (r.provision_type as DeviceProfileProvisionType) : 'DISABLED',
    defaultRuleChainId: r.default_rule_chain_id,
    defaultDashboardId: r.default_dashboard_id,
    defaultQueueName: r.default_queue_name,
    provisionDeviceKey: r.provision_device_key,
    isDefault: r.is_default,
    profileData: r.profile_data ?? defaultProfileData(),
    createdTime: num(r.created_time),
  };
}

function checkName(name: string): string {
  const n = name.trim();
  if (n.length === 0) throw new BadRequestError('Device profile name should be specified!');
  return n;
}

/** An optional id column: null, or a UUID (BadRequestError otherwise). */
function idParam(v: string | null | undefined, what: string): string | null {
  if (v === null || v === undefined) return null;
  if (!isUuid(v)) throw new BadRequestError(`Invalid ${what} "${v}"`);
  return v.toLowerCase();
}

function checkEnum<T extends string>(v: T | undefined, allowed: readonly T[], fallback: T, what: string): T {
  if (v === undefined) return fallback;
  if (!allowed.includes(v)) throw new BadRequestError(`Invalid ${what} "${String(v)}"`);
  return v;
}

/** ThingsBoard's messages for the unique constraints. */
function conflict(constraint: string | undefined): string {
  switch (constraint) {
    case 'device_profile_provision_key_unq':
      return 'Device profile with such provision device key already exists!';
    case 'device_profile_name_unq':
      return 'Device profile with such name already exists!';
    default:
      return 'The device profile conflicts with an existing one';
  }
}

const RULE_CHAIN_NOT_FOUND = 'Default rule chain not found (it must be a rule chain of the same tenant)';

/** The row parameters of an input, in column order from name to profile_data. */
function inputParams(input: DeviceProfileInput): unknown[] {
  const key = input.provisionDeviceKey?.trim();
  return [
    checkName(input.name),
    input.description ?? null,
    input.image ?? null,
    checkEnum(input.transportType, TRANSPORT_TYPES, 'DEFAULT', 'transportType'),
    checkEnum(input.provisionType, PROVISION_TYPES, 'DISABLED', 'provisionType'),
    idParam(input.defaultRuleChainId, 'defaultRuleChainId'),
    idParam(input.defaultDashboardId, 'defaultDashboardId'),
    input.defaultQueueName ?? null,
    key === undefined || key.length === 0 ? null : key,
    JSON.stringify(input.profileData ?? defaultProfileData()),
  ];
}

/** Makes `id` the tenant's only default, inside the caller's transaction (the partial unique index is checked per row). */
async function makeDefault(tx: SqlClient, tenantId: string, id: string): Promise<void> {
  await tx.query('UPDATE device_profile SET is_default = false WHERE tenant_id = $1 AND is_default AND id <> $2', [tenantId, id]);
  await tx.query('UPDATE device_profile SET is_default = true WHERE tenant_id = $1 AND id = $2', [tenantId, id]);
}

async function selectDefault(tx: SqlClient, tenantId: string): Promise<DeviceProfileRow | undefined> {
  const { rows } = await tx.query<DeviceProfileRow>('SELECT * FROM device_profile WHERE tenant_id = $1 AND is_default', [tenantId]);
  return rows[0];
}

/**
 * The tenant's default profile, created ("default") when there is none, on the caller's client or
 * transaction. Concurrent callers meet in the unique indexes (ON CONFLICT DO NOTHING) and read the
 * winner's row; a non-default profile already named "default" becomes the default.
 */
export async function ensureDefaultProfile(tx: SqlClient, tenantId: string): Promise<DeviceProfile> {
  const found = await selectDefault(tx, tenantId);
  if (found) return toProfile(found);
  await tx.query(
    `INSERT INTO device_profile (id, tenant_id, name, description, is_default, profile_data, created_time)
     VALUES ($1, $2, $3, 'Default device profile', true, $4::jsonb, $5) ON CONFLICT DO NOTHING`,
    [newId(), tenantId, DEFAULT_DEVICE_PROFILE_NAME, JSON.stringify(defaultProfileData()), Date.now()],
  );
  const created = await selectDefault(tx, tenantId);
  if (created) return toProfile(created);
  const { rows } = await tx.query<{ id: string }>('SELECT id FROM device_profile WHERE tenant_id = $1 AND name = $2', [tenantId, DEFAULT_DEVICE_PROFILE_NAME]);
  if (!rows[0]) throw new Error(`No default device profile could be made for tenant ${tenantId}`);
  await tx.transaction((t) => makeDefault(t, tenantId, rows[0]!.id));
  return toProfile((await selectDefault(tx, tenantId)) as DeviceProfileRow);
}

/**
 * The profile a device gets (ThingsBoard's DeviceServiceImpl): the given profile of its tenant
 * (NotFoundError for any other id), else the tenant's profile named after `type` (created when
 * there is none: findOrCreateDeviceProfile), else the tenant's default profile.
 */
export async function resolveDeviceProfile(tx: SqlClient, tenantId: string, ref: { deviceProfileId?: string | undefined; type?: string | undefined }): Promise<{ id: string; name: string }> {
  if (ref.deviceProfileId !== undefined) {
    const notFound = new NotFoundError(`Device profile ${ref.deviceProfileId} not found`);
    if (!isUuid(ref.deviceProfileId) || !isUuid(tenantId)) throw notFound;
    const { rows } = await tx.query<{ id: string; name: string }>('SELECT id, name FROM device_profile WHERE tenant_id = $1 AND id = $2', [tenantId, ref.deviceProfileId]);
    if (!rows[0]) throw notFound;
    return rows[0];
  }
  const type = ref.type?.trim();
  if (type === undefined || type.length === 0) {
    if (!isUuid(tenantId)) throw new BadRequestError(`Invalid tenant id "${tenantId}"`);
    const p = await ensureDefaultProfile(tx, tenantId);
    return { id: p.id, name: p.name };
  }
  await tx.query(
    `INSERT INTO device_profile (id, tenant_id, name, is_default, profile_data, created_time)
     VALUES ($1, $2, $3, false, $4::jsonb, $5) ON CONFLICT (tenant_id, name) DO NOTHING`,
    [newId(), tenantId, type, JSON.stringify(defaultProfileData()), Date.now()],
  );
  const { rows } = await tx.query<{ id: string; name: string }>('SELECT id, name FROM device_profile WHERE tenant_id = $1 AND name = $2', [tenantId, type]);
  if (!rows[0]) throw new Error(`Device profile ${type} vanished while being created`);
  return rows[0];
}

const SORT_COLUMNS = {
  name: 'name',
  type: 'type',
  transportType: 'transport_type',
  description: 'description',
  isDefault: 'is_default',
  createdTime: 'created_time',
} as const;

const EMPTY_PAGE = { data: [], totalPages: 0, totalElements: 0, hasNext: false };

export function createDeviceProfileRepository(client: SqlClient): DeviceProfileRepository {
  async function getRow(tx: SqlClient, tenantId: string, id: string): Promise<DeviceProfileRow | undefined> {
    const { rows } = await tx.query<DeviceProfileRow>('SELECT * FROM device_profile WHERE tenant_id = $1 AND id = $2', [tenantId, id]);
    return rows[0];
  }

  return {
    async create(tenantId, input) {
      if (!isUuid(tenantId)) throw new BadRequestError(`Invalid tenant id "${tenantId}"`);
      const id = input.id ?? newId();
      const params = inputParams(input);
      try {
        return await client.transaction(async (tx) => {
          await tx.query(
            `INSERT INTO device_profile (id, tenant_id, name, description, image, transport_type, provision_type, default_rule_chain_id,
                                         default_dashboard_id, default_queue_name, provision_device_key, profile_data, is_default, created_time)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12::jsonb, false, $13)`,
            [id, tenantId, ...params, Date.now()],
          );
          if (input.isDefault === true) await makeDefault(tx, tenantId, id);
          return toProfile((await getRow(tx, tenantId, id)) as DeviceProfileRow);
        });
      } catch (e) {
        return mapDbError(e, conflict, RULE_CHAIN_NOT_FOUND);
      }
    },

    async update(tenantId, id, input) {
      if (!isUuid(tenantId) || !isUuid(id)) return null;
      const params = inputParams(input);
      try {
        return await client.transaction(async (tx) => {
          const { rows } = await tx.query<DeviceProfileRow>(
            `UPDATE device_profile SET name = $3, description = $4, image = $5, transport_type = $6, provision_type = $7,
                    default_rule_chain_id = $8, default_dashboard_id = $9, default_queue_name = $10, provision_device_key = $11,
                    profile_data = $12::jsonb
              WHERE tenant_id = $1 AND id = $2 RETURNING *`,
            [tenantId, id, ...params],
          );
          if (!rows[0]) return null;
          // A device's type is its profile's name (ThingsBoard): a rename renames the type of its devices.
          await tx.query('UPDATE device SET type = $3 WHERE tenant_id = $1 AND device_profile_id = $2 AND type <> $3', [tenantId, id, rows[0].name]);
          if (input.isDefault === true) await makeDefault(tx, tenantId, id);
          return toProfile((await getRow(tx, tenantId, id)) as DeviceProfileRow);
        });
      } catch (e) {
        return mapDbError(e, conflict, RULE_CHAIN_NOT_FOUND);
      }
    },

    async get(tenantId, id) {
      if (!isUuid(tenantId) || !isUuid(id)) return null;
      const row = await getRow(client, tenantId, id);
      return row ? toProfile(row) : null;
    },

    async findByName(tenantId, name) {
      if (!isUuid(tenantId)) return null;
      const { rows } = await client.query<DeviceProfileRow>('SELECT * FROM device_profile WHERE tenant_id = $1 AND name = $2', [tenantId, name]);
      return rows[0] ? toProfile(rows[0]) : null;
    },

    async ensureDefault(tenantId) {
      if (!isUuid(tenantId)) throw new BadRequestError(`Invalid tenant id "${tenantId}"`);
      return client.transaction((tx) => ensureDefaultProfile(tx, tenantId));
    },

    async findByProvisionKey(provisionDeviceKey) {
      const { rows } = await client.query<DeviceProfileRow>('SELECT * FROM device_profile WHERE provision_device_key = $1', [provisionDeviceKey]);
      return rows[0] ? toProfile(rows[0]) : null;
    },

    page(tenantId, page, filter = {}) {
      if (!isUuid(tenantId)) return Promise.resolve(EMPTY_PAGE);
      const params: unknown[] = [tenantId];
      let where = 'tenant_id = $1';
      const search = page.textSearch?.trim();
      if (search) {
        params.push(likeContains(search));
        where += ` AND name ILIKE $${params.length}`;
      }
      if (filter.transportType !== undefined) {
        params.push(filter.transportType);
        where += ` AND transport_type = $${params.length}`;
      }
      return selectPage<DeviceProfileRow, DeviceProfile>(
        client,
        { filtered: `SELECT * FROM device_profile WHERE ${where}`, params, sortColumns: SORT_COLUMNS, defaultSort: 'createdTime' },
        page,
        toProfile,
      );
    },

    async delete(tenantId, id) {
      if (!isUuid(tenantId) || !isUuid(id)) return 'not-found';
      return client.transaction(async (tx) => {
        // The row lock holds off devices being given this profile meanwhile (their foreign key check
        // waits for it), so the count below stays true until the delete commits.
        const { rows } = await tx.query<DeviceProfileRow>('SELECT * FROM device_profile WHERE tenant_id = $1 AND id = $2 FOR UPDATE', [tenantId, id]);
        const row = rows[0];
        if (!row) return 'not-found';
        if (row.is_default) return 'default';
        const used = await tx.query<{ n: unknown }>('SELECT count(*) AS n FROM device WHERE tenant_id = $1 AND device_profile_id = $2', [tenantId, id]);
        if (num(used.rows[0]?.n ?? 0) > 0) return 'in-use';
        await tx.query('DELETE FROM device_profile WHERE tenant_id = $1 AND id = $2', [tenantId, id]);
        return 'deleted';
      });
    },

    async setDefault(tenantId, id) {
      if (!isUuid(tenantId) || !isUuid(id)) return null;
      return client.transaction(async (tx) => {
        if (!(await getRow(tx, tenantId, id))) return null;
        await makeDefault(tx, tenantId, id);
        return toProfile((await getRow(tx, tenantId, id)) as DeviceProfileRow);
      });
    },
  };
}
