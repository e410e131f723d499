import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { Storage } from '@rivulet/storage';
import { createEmbeddedStorage, createPostgresStorage } from '@rivulet/storage-postgres';
import { createTestDatabase } from '@rivulet/testing';
import { BackupError, backupEmbedded, backupPostgres, restoreEmbedded, restorePostgres } from './backup';

const dir = mkdtempSync(join(tmpdir(), 'rivulet-backup-'));
const cleanups: Array<() => Promise<unknown>> = [];
afterAll(async () => {
  for (const c of cleanups.reverse()) await c();
  rmSync(dir, { recursive: true, force: true });
});

/** Two tenants, devices and points: what a restore must bring back. */
async function fill(storage: Storage): Promise<void> {
  for (const title of ['Acme', 'Globex']) {
    const tenantId = (await storage.tenants.create({ title })).id;
    for (let d = 0; d < 5; d++) {
      const device = (await storage.devices.create({ tenantId, name: `${title}-${d}`, type: 'sensor' })).device;
      await storage.timeseries.save(Array.from({ length: 200 }, (_, i) => ({ entityId: device.id, key: i % 2 ? 'temperature' : 'humidity', ts: 1_700_000_000_000 + i * 1000, value: i })));
    }
  }
}

async function counts(storage: Storage): Promise<{ tenants: number; devices: number; points: number }> {
  const tenants = await storage.tenants.list();
  let devices = 0;
  for (const t of tenants) devices += await storage.devices.count(t.id);
  return { tenants: tenants.length, devices, points: await storage.timeseries.count() };
}

describe('npm run backup / restore', () => {
  it('PostgreSQL: back up, restore into an empty database, same counts', async () => {
    const source = await createTestDatabase('bk_src');
    const target = await createTestDatabase('bk_dst');
    cleanups.push(() => source.drop(), () => target.drop());
    const a = await createPostgresStorage({ url: source.url });
    await fill(a);
    const before = await counts(a);
    await a.close();
    expect(before.points).toBe(2000);

    const file = join(dir, 'pg.dump');
    await backupPostgres(source.url, file);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    await restorePostgres(target.url, file);
    const b = await createPostgresStorage({ url: target.url });
    try {
      expect(await counts(b)).toEqual(before);
    } finally {
      await b.close();
    }
    // a second restore into the now populated database is refused unless --clean
    await expect(restorePostgres(target.url, file)).rejects.toThrow(/already holds a Rivulet schema.*--clean/);
    await restorePostgres(target.url, file, { clean: true });
  }, 120_000);

  it('embedded (PGlite): back up the data directory, restore into an empty one, same counts', async () => {
    const a = await createEmbeddedStorage({ dataDir: join(dir, 'a', 'pglite') });
    await fill(a);
    const before = await counts(a);
    await a.close();

    const file = join(dir, 'embedded.tar.gz');
    await backupEmbedded(join(dir, 'a'), file);
    await restoreEmbedded(join(dir, 'b'), file);
    const b = await createEmbeddedStorage({ dataDir: join(dir, 'b', 'pglite') });
    try {
      expect(await counts(b)).toEqual(before);
    } finally {
      await b.close();
    }
    expect((spawnSync('stat', ['-c', '%a', join(dir, 'b', 'pglite', 'PG_VERSION')]).stdout.toString().trim())).toBe('600');
    await expect(restoreEmbedded(join(dir, 'b'), file)).rejects.toThrow(/is not empty: move it away/);
  }, 120_000);

  it('clear errors: missing file, unreachable database, wrong kind of backup, no embedded database', async () => {
    await expect(restorePostgres('postgres://x@127.0.0.1:1/db', join(dir, 'nope.dump'))).rejects.toThrow(new BackupError(`backup file not found: ${join(dir, 'nope.dump')}`));
    await expect(backupPostgres('postgres://rivulet@127.0.0.1:1/rivulet', join(dir, 'x.dump'))).rejects.toThrow(/cannot reach the database at 127\.0\.0\.1:1\/rivulet: .*ECONNREFUSED/);
    const junk = join(dir, 'junk.bin');
    writeFileSync(junk, 'hello');
    await expect(restoreEmbedded(join(dir, 'c'), junk)).rejects.toThrow(/neither a pg_dump custom-format backup nor/);
    await expect(restoreEmbedded(join(dir, 'c'), join(dir, 'pg.dump'))).rejects.toThrow(/is a PostgreSQL backup .*set DATABASE_URL/);
    await expect(backupEmbedded(join(dir, 'empty'), join(dir, 'y.tar.gz'))).rejects.toThrow(/no embedded database at/);
    // the CLI prints the message alone and exits 1 (2 for a usage error)
    const cli = (args: string[], env: Record<string, string>) =>
      spawnSync(process.execPath, ['--conditions=source', '--import', 'tsx', join(import.meta.dirname, 'cli.ts'), ...args], { env: { ...process.env, ...env }, encoding: 'utf8' });
    const r = cli(['restore', join(dir, 'nope.dump')], { DATABASE_URL: 'postgres://x@127.0.0.1:1/db' });
    expect({ status: r.status, stderr: r.stderr.trim() }).toEqual({ status: 1, stderr: `backup file not found: ${join(dir, 'nope.dump')}` });
    expect(cli(['backup'], {}).status).toBe(2);
  }, 60_000);
});
