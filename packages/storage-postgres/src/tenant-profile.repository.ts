import { BadRequestError, isUuid, newId, TENANT_LIMIT_NAMES, type JsonObject } from '@rivulet/core';
import type { TenantLimitOverrides, TenantProfile, TenantProfileRepository } from '@rivulet/storage';
import { selectSearchPage } from './paging';
import type { SqlClient } from './sql-client';
import { mapDbError, num } from './sql-util';

interface TenantProfileRow {
  id: string;
  name: string;
  description: string | null;
  is_default: boolean;
  profile_data: JsonObject | null;
  created_time: unknown;
}

/** Only known limit names with non-negative finite numbers survive (a stored document is never trusted blindly). */
function overridesOf(configuration: unknown): TenantLimitOverrides {
  const out: TenantLimitOverrides = {};
  if (typeof configuration !== 'object' || configuration === null) return out;
  const c = configuration as Record<string, unknown>;
  for (const name of TENANT_LIMIT_NAMES) {
    const v = c[name];
    if (typeof v === 'number' && Number.isFinite(v) && v >= 0) out[name] = v;
  }
  return out;
}

function toProfile(r: TenantProfileRow): TenantProfile {
  return {
    id: r.id,
    name: r.name,
    description: r.description,
    isDefault: r.is_default,
    configuration: overridesOf(r.profile_data?.configuration),
    createdTime: num(r.created_time),
  };
}

function checkName(name: string): string {
  const n = name.trim();
  if (n.length === 0) throw new BadRequestError('Tenant profile name should be specified!');
  return n;
}

/** ThingsBoard's message for the unique name. */
const conflict = (): string => 'Tenant profile with such name already exists!';
const SORT_COLUMNS = { name: 'name', description: 'description', isDefault: 'is_default', createdTime: 'created_time' } as const;

export function createTenantProfileRepository(client: SqlClient): TenantProfileRepository {
  const profileData = (configuration: TenantLimitOverrides | undefined): string => JSON.stringify({ configuration: overridesOf(configuration) });

  /** Makes `id` the only default, inside the caller's transaction. */
  async function makeDefault(tx: SqlClient, id: string): Promise<void> {
    await tx.query('UPDATE tenant_profile SET is_default = false WHERE is_default AND id <> $1', [id]);
    await tx.query('UPDATE tenant_profile SET is_default = true WHERE id = $1', [id]);
  }

  const repo: TenantProfileRepository = {
    async create(input) {
      const id = input.id ?? newId();
      const name = checkName(input.name);
      try {
        return await client.transaction(async (tx) => {
          await tx.query(
            `INSERT INTO tenant_profile (id, name, description, is_default, profile_data, created_time) VALUES ($1, $2, $3, false, $4::jsonb, $5)`,
            [id, name, input.description ?? null, profileData(input.configuration), Date.now()],
          );
          if (input.isDefault === true) await makeDefault(tx, id);
          const { rows } = await tx.query<TenantProfileRow>('SELECT * FROM tenant_profile WHERE id = $1', [id]);
          return toProfile(rows[0] as TenantProfileRow);
        });
      } catch (e) {
        return mapDbError(e, conflict);
      }
    },
    async update(id, input) {
      if (!isUuid(id)) return null;
      const name = checkName(input.name);
      try {
        return await client.transaction(async (tx) => {
          const { rowCount } = await tx.query('UPDATE tenant_profile SET name = $2, description = $3, profile_data = $4::jsonb WHERE id = $1', [
            id,
            name,
            input.description ?? null,
            profileData(input.configuration),
          ]);
          if (rowCount === 0) return null;
          if (input.isDefault === true) await makeDefault(tx, id);
          const { rows } = await tx.query<TenantProfileRow>('SELECT * FROM tenant_profile WHERE id = $1', [id]);
          return toProfile(rows[0] as TenantProfileRow);
        });
      } catch (e) {
        return mapDbError(e, conflict);
      }
    },
    async get(id) {
      if (!isUuid(id)) return null;
      const { rows } = await client.query<TenantProfileRow>('SELECT * FROM tenant_profile WHERE id = $1', [id]);
      return rows[0] ? toProfile(rows[0]) : null;
    },
    async getDefault() {
      const { rows } = await client.query<TenantProfileRow>('SELECT * FROM tenant_profile WHERE is_default');
      return rows[0] ? toProfile(rows[0]) : null;
    },
    async ensureDefault() {
      const found = await repo.getDefault();
      if (found) return found;
      try {
        return await repo.create({ name: 'Default', description: 'Default tenant profile', isDefault: true });
      } catch (e) {
        // another process created it meanwhile, or a profile is named "Default" already: that one becomes the default
        const again = await repo.getDefault();
        if (again) return again;
        const { rows } = await client.query<TenantProfileRow>("SELECT * FROM tenant_profile WHERE name = 'Default'");
        if (!rows[0]) throw e;
        await client.transaction((tx) => makeDefault(tx, rows[0]!.id));
        return (await repo.getDefault()) as TenantProfile;
      }
    },
    async list() {
      const { rows } = await client.query<TenantProfileRow>('SELECT * FROM tenant_profile ORDER BY created_time, id');
      return rows.map(toProfile);
    },
    page(page) {
      return selectSearchPage<TenantProfileRow, TenantProfile>(client, { table: 'tenant_profile', searchColumn: 'name', sortColumns: SORT_COLUMNS }, page, toProfile);
    },
    async countTenants(id) {
      if (!isUuid(id)) return 0;
      const { rows } = await client.query<{ n: unknown }>('SELECT count(*) AS n FROM tenant WHERE tenant_profile_id = $1', [id]);
      return num(rows[0]?.n ?? 0);
    },
    async delete(id) {
      if (!isUuid(id)) return 'not-found';
      return client.transaction(async (tx) => {
        const { rows } = await tx.query<TenantProfileRow>('SELECT * FROM tenant_profile WHERE id = $1 FOR UPDATE', [id]);
        const row = rows[0];
        if (!row) return 'not-found';
        if (row.is_default) return 'default';
        // Tenants assigned meanwhile wait on the row lock (their foreign key), so this count holds.
        const used = await tx.query<{ n: unknown }>('SELECT count(*) AS n FROM tenant WHERE tenant_profile_id = $1', [id]);
        if (num(used.rows[0]?.n ?? 0) > 0) return 'in-use';
        await tx.query('DELETE FROM tenant_profile WHERE id = $1', [id]);
        return 'deleted';
      });
    },
  };
  return repo;
}
