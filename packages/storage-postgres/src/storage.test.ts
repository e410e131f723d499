import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newId, type Logger } from '@rivulet/core';
import { storageContract } from '@rivulet/storage/contract';
import { createTestDatabase } from '@rivulet/testing';
import { createEmbeddedStorage, createPostgresStorage } from './index';
import { createPgliteClient } from './pglite-client';
import { createSqlStorage } from './storage';
import { migrations } from './migrations';
import { migrate } from './migrate';
import type { SqlClient } from './sql-client';

/** A logger that keeps what it is told, to see which migrations a start applied. */
function recordingLogger(): Logger & { entries: Array<{ msg: string; fields: Record<string, unknown> }> } {
  const entries: Array<{ msg: string; fields: Record<string, unknown> }> = [];
  const log = (fields: Record<string, unknown>, msg: string): void => void entries.push({ msg, fields });
  const logger = { entries, debug: log, info: log, warn: log, error: log, child: () => logger };
  return logger;
}

function appliedMigrations(logger: ReturnType<typeof recordingLogger>): unknown[] {
  return logger.entries.filter((e) => e.msg === 'migration applied').map((e) => e.fields.version);
}

async function tempDir(): Promise<string> {
  return mkdtemp(join(tmpdir(), 'rivulet-pglite-'));
}

storageContract('embedded PGlite, in memory', async () => {
  const storage = await createEmbeddedStorage();
  return { storage, cleanup: () => storage.close() };
});

storageContract('embedded PGlite, data directory', async () => {
  const dir = await tempDir();
  const storage = await createEmbeddedStorage({ dataDir: dir });
  return {
    storage,
    async cleanup() {
      await storage.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
});

storageContract('PostgreSQL server', async () => {
  const db = await createTestDatabase('storage');
  const storage = await createPostgresStorage({ url: db.url, poolSize: 4 });
  return {
    storage,
    async cleanup() {
      await storage.close();
      await db.drop();
    },
  };
});

describe('embedded storage on a data directory', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await tempDir();
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('keeps its data across close and reopen, without re-applying migrations', async () => {
    const firstLog = recordingLogger();
    const first = await createEmbeddedStorage({ dataDir: dir, logger: firstLog });
    expect(first.kind).toBe('embedded');
    expect(appliedMigrations(firstLog)).toEqual(migrations.map((m) => m.version));
    const tenant = await first.tenants.create({ title: 'Persistent' });
    const { device, credentials } = await first.devices.create({ tenantId: tenant.id, name: 'Kept' });
    await first.timeseries.save([{ entityId: device.id, key: 'temp', ts: 1000, value: 21.5 }]);
    await first.attributes.save([{ entityId: device.id, scope: 'SHARED_SCOPE', key: 'cfg', value: { a: 1 }, lastUpdateTs: 5 }]);
    await first.close();

    const secondLog = recordingLogger();
    const second = await createEmbeddedStorage({ dataDir: dir, logger: secondLog });
    try {
      expect(appliedMigrations(secondLog)).toEqual([]);
      expect(await second.tenants.get(tenant.id)).toEqual(tenant);
      expect((await second.devices.findByCredentials('ACCESS_TOKEN', credentials.credentialsId))?.id).toBe(device.id);
      expect(await second.timeseries.findLatest(device.id)).toEqual([{ key: 'temp', ts: 1000, value: 21.5 }]);
      expect(await second.attributes.find(device.id, 'SHARED_SCOPE')).toEqual([{ key: 'cfg', value: { a: 1 }, lastUpdateTs: 5 }]);
    } finally {
      await second.close();
    }
  });

  it('creates a data directory whose parents do not exist yet', async () => {
    const nested = join(dir, 'a', 'b', 'data');
    const storage = await createEmbeddedStorage({ dataDir: nested });
    try {
      expect(await storage.tenants.list()).toEqual([]);
    } finally {
      await storage.close();
    }
  });

  it('is in memory without a directory: a new instance starts empty', async () => {
    const a = await createEmbeddedStorage();
    await a.tenants.create({ title: 'Fleeting' });
    await a.close();
    const b = await createEmbeddedStorage();
    try {
      expect(await b.tenants.list()).toEqual([]);
    } finally {
      await b.close();
    }
  });
});

describe('PostgreSQL storage start-up', () => {
  it('starts again on a database that is already migrated, and sees its data', async () => {
    const db = await createTestDatabase('restart');
    try {
      const firstLog = recordingLogger();
      const first = await createPostgresStorage({ url: db.url, logger: firstLog });
      expect(first.kind).toBe('postgres');
      expect(appliedMigrations(firstLog)).toEqual(migrations.map((m) => m.version));
      const tenant = await first.tenants.create({ title: 'Shared' });

      const secondLog = recordingLogger();
      const second = await createPostgresStorage({ url: db.url, logger: secondLog });
      expect(appliedMigrations(secondLog)).toEqual([]);
      expect(await second.tenants.get(tenant.id)).toEqual(tenant);
      await Promise.all([first.close(), second.close()]);
    } finally {
      await db.drop();
    }
  });

  it('migrates once when several servers start on a fresh database together', async () => {
    const db = await createTestDatabase('race');
    try {
      const logs = [recordingLogger(), recordingLogger(), recordingLogger()];
      const storages = await Promise.all(logs.map((logger) => createPostgresStorage({ url: db.url, logger, poolSize: 2 })));
      expect(logs.flatMap(appliedMigrations)).toEqual(migrations.map((m) => m.version));
      await Promise.all(storages.map((s) => s.close()));
    } finally {
      await db.drop();
    }
  });

  it('rejects when the server cannot be reached', async () => {
    await expect(createPostgresStorage({ url: 'postgres://postgres@127.0.0.1:1/none' })).rejects.toThrow();
  });
});

describe('batch shape', () => {
  /** Wraps a client to record every statement, including those inside transactions. */
  function recording(inner: SqlClient, log: string[]): SqlClient {
    return {
      query(sql, params) {
        log.push(sql.replace(/\s+/g, ' ').trim());
        return inner.query(sql, params);
      },
      exec: (sql) => inner.exec(sql),
      transaction: (fn) => inner.transaction((tx) => fn(recording(tx, log))),
      close: () => inner.close(),
    };
  }

  it('writes time series as one statement per chunk plus the latest values', async () => {
    const log: string[] = [];
    const storage = await createSqlStorage({
      client: recording(await createPgliteClient({}), log),
      kind: 'embedded',
      logger: recordingLogger(),
      chunkSize: 5000,
    });
    try {
      const entityId = newId();
      log.length = 0;
      await storage.timeseries.save(Array.from({ length: 12_000 }, (_, i) => ({ entityId, key: `k${i % 3}`, ts: i, value: i })));
      expect(log.filter((s) => s.startsWith('INSERT INTO ts_kv '))).toHaveLength(3);
      expect(log.filter((s) => s.startsWith('INSERT INTO ts_kv_latest '))).toHaveLength(1);
      expect(log).toHaveLength(4);
      expect(await storage.timeseries.count(entityId)).toBe(12_000);

      log.length = 0;
      await storage.attributes.save(Array.from({ length: 7000 }, (_, i) => ({ entityId, scope: 'SERVER_SCOPE' as const, key: `a${i}`, value: i, lastUpdateTs: 1 })));
      expect(log.filter((s) => s.startsWith('INSERT INTO attribute_kv '))).toHaveLength(2);

      // Debug events: one statement per 1000 events, plus one that trims every touched node to its cap.
      const tenantId = newId();
      const chainId = newId();
      log.length = 0;
      await storage.debugEvents.saveBatch(
        Array.from({ length: 2500 }, (_, i) => ({
          tenantId, chainId, nodeIndex: i % 3, nodeName: 'n', nodeType: 't', ts: i, direction: 'IN' as const, relation: null,
          msgId: String(i), msgType: 'X', originatorType: 'DEVICE', originatorId: entityId, data: { i }, metadata: {}, error: null, durationMs: null,
        })),
        { maxPerNode: 100 },
      );
      expect(log.filter((s) => s.startsWith('INSERT INTO rule_node_debug_event '))).toHaveLength(3);
      expect(log.filter((s) => s.startsWith('DELETE FROM rule_node_debug_event '))).toHaveLength(1);
      expect(log).toHaveLength(4);
      expect(await storage.debugEvents.count(tenantId, chainId)).toBe(300);
    } finally {
      await storage.close();
    }
  });
});

describe('migration to device profiles (version 8) on a database with devices', () => {
  it('gives every tenant its default profile, makes each other device type a profile, and sets every device\'s profile', async () => {
    const client = await createPgliteClient({});
    const logger = recordingLogger();
    await migrate(client, migrations.filter((m) => m.version < 8), logger);
    const tenantA = newId();
    const tenantB = newId();
    const orphanTenant = newId(); // devices of a tenant id without a tenant row (tenant ids are not foreign keys)
    await client.query("INSERT INTO tenant (id, title, created_time, tenant_profile_id) VALUES ($1, 'A', 1, (SELECT id FROM tenant_profile WHERE is_default)), ($2, 'B', 1, (SELECT id FROM tenant_profile WHERE is_default))", [tenantA, tenantB]);
    const devices: Array<[string, string, string]> = [
      [newId(), tenantA, 'default'],
      [newId(), tenantA, 'thermostat'],
      [newId(), tenantA, 'thermostat'],
      [newId(), orphanTenant, 'meter'],
    ];
    for (const [id, tenantId, type] of devices) {
      await client.query('INSERT INTO device (id, tenant_id, name, type, created_time) VALUES ($1, $2, $3, $4, 1)', [id, tenantId, `d-${id}`, type]);
    }
    const storage = await createSqlStorage({ client, kind: 'embedded', logger });
    try {
      expect(appliedMigrations(logger)).toContain(8);
      for (const t of [tenantA, tenantB, orphanTenant]) {
        const def = (await storage.deviceProfiles.page(t, { pageSize: 10, page: 0 })).data.filter((p) => p.isDefault);
        expect(def.map((p) => p.name)).toEqual(['default']);
      }
      expect((await storage.deviceProfiles.page(tenantB, { pageSize: 10, page: 0 })).totalElements).toBe(1);
      const thermo = await storage.deviceProfiles.findByName(tenantA, 'thermostat');
      const meter = await storage.deviceProfiles.findByName(orphanTenant, 'meter');
      expect(thermo?.isDefault).toBe(false);
      for (const [id, tenantId, type] of devices) {
        const d = await storage.devices.get(tenantId, id);
        const profile = await storage.deviceProfiles.get(tenantId, d!.deviceProfileId);
        expect(profile?.name).toBe(type);
        expect(d?.type).toBe(type);
      }
      expect((await storage.devices.get(orphanTenant, devices[3]![0]))?.deviceProfileId).toBe(meter?.id);
      // The column is NOT NULL now.
      await expect(client.query('INSERT INTO device (id, tenant_id, name, type, created_time) VALUES ($1, $2, $3, $4, 1)', [newId(), tenantA, 'no profile', 'x'])).rejects.toThrow();
    } finally {
      await storage.close();
    }
  });
});

describe('migration of MQTT basic user names (version 9) on a database with credentials', () => {
  it("backfills the user names of existing MQTT basic credentials (a value that is not JSON stays unnamed), so other tenants' checks see them", async () => {
    const client = await createPgliteClient({});
    const logger = recordingLogger();
    await migrate(client, migrations.filter((m) => m.version < 9), logger);
    const [t1, t2] = [newId(), newId()];
    for (const t of [t1, t2]) await client.query("INSERT INTO tenant (id, title, created_time, tenant_profile_id) VALUES ($1, 'T', 1, (SELECT id FROM tenant_profile WHERE is_default))", [t]);
    const profile = newId();
    await client.query("INSERT INTO device_profile (id, tenant_id, name, is_default, profile_data, created_time) VALUES ($1, $2, 'default', true, '{}', 1)", [profile, t1]);
    const [named, broken] = [{ id: newId() }, { id: newId() }];
    // written as the version-8 schema had them: no user name column yet
    const rows8: Array<[string, string, string]> = [
      [named.id, 'old-user', JSON.stringify({ clientId: null, userName: 'old-user', password: 'p' })],
      [broken.id, 'x-broken', '{not json'],
    ];
    for (const [id, credentialsId, value] of rows8) {
      await client.query("INSERT INTO device (id, tenant_id, name, type, device_profile_id, created_time) VALUES ($1, $2, $4, 'default', $3, 1)", [id, t1, profile, `d-${id}`]);
      await client.query("INSERT INTO device_credentials (id, device_id, credentials_type, credentials_id, credentials_value, created_time) VALUES ($1, $2, 'MQTT_BASIC', $3, $4, 1)", [newId(), id, credentialsId, value]);
    }
    const storage = await createSqlStorage({ client, kind: 'embedded', logger });
    try {
      expect(appliedMigrations(logger)).toContain(9);
      const { rows } = await client.query<{ device_id: string; mqtt_user_name: string | null }>('SELECT device_id, mqtt_user_name FROM device_credentials WHERE device_id IN ($1, $2)', [named.id, broken.id]);
      expect(Object.fromEntries(rows.map((r) => [r.device_id, r.mqtt_user_name]))).toEqual({ [named.id]: 'old-user', [broken.id]: null });
      const attacker = (await storage.devices.create({ tenantId: t2, name: 'attacker' })).device;
      await expect(
        storage.devices.updateCredentials(attacker.id, { credentialsType: 'MQTT_BASIC', credentialsId: 'h', credentialsValue: JSON.stringify({ clientId: 'c', userName: 'old-user', password: null }) }),
      ).rejects.toMatchObject({ code: 'CONFLICT' });
    } finally {
      await storage.close();
    }
  });
});
