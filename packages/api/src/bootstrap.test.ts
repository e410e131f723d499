import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Logger } from '@rivulet/core';
import { NULL_ENTITY_ID, type Storage } from '@rivulet/storage';
import { bootstrapSysAdmin, bootstrapTenant, DEFAULT_ADMIN_EMAIL, DEFAULT_SYSADMIN_EMAIL } from './bootstrap';
import { verifyPassword } from './password';
import { createTestStorage } from './test-storage';

function capturingLogger(lines: string[]): Logger {
  const log = (fields: Record<string, unknown>, msg: string): void => void lines.push(`${msg} ${JSON.stringify(fields)}`);
  const logger: Logger = { debug: log, info: log, warn: log, error: log, child: () => logger };
  return logger;
}

describe('bootstrapTenant', () => {
  let storage: Storage;
  beforeAll(async () => {
    storage = await createTestStorage();
  });
  afterAll(async () => {
    await storage.close();
  });

  it('creates the Default tenant and an admin with a generated password on first start, and changes nothing later', async () => {
    const lines: string[] = [];
    const first = await bootstrapTenant({ storage, logger: capturingLogger(lines) });
    expect(first.adminEmail).toBe(DEFAULT_ADMIN_EMAIL);
    expect(first.generatedPassword).toMatch(/^[A-Za-z0-9_-]{24}$/);
    const tenant = await storage.tenants.get(first.tenantId);
    expect(tenant?.title).toBe('Default');
    const admin = await storage.users.findByEmail(DEFAULT_ADMIN_EMAIL);
    expect(admin?.user).toMatchObject({ tenantId: first.tenantId, authority: 'TENANT_ADMIN' });
    expect(await verifyPassword(first.generatedPassword as string, admin?.passwordHash ?? '')).toBe(true);
    // The password never reaches the log.
    expect(lines.length).toBeGreaterThan(0);
    expect(lines.join('\n')).not.toContain(first.generatedPassword);

    const second = await bootstrapTenant({ storage, adminPassword: 'another-password', logger: capturingLogger(lines) });
    expect(second).toEqual({ tenantId: first.tenantId, adminEmail: DEFAULT_ADMIN_EMAIL });
    expect(await storage.users.count()).toBe(1);
    expect((await storage.tenants.list()).length).toBe(1);
    // The configured password does not overwrite the existing one, and the log says it was ignored.
    const again = await storage.users.findByEmail(DEFAULT_ADMIN_EMAIL);
    expect(await verifyPassword('another-password', again?.passwordHash ?? '')).toBe(false);
    expect(lines.at(-1)).toMatch(/RIVULET_ADMIN_PASSWORD differs .* ignored/);
    expect(lines.join('\n')).not.toContain('another-password');
    // The same password as stored: nothing to say.
    const count = lines.length;
    await bootstrapTenant({ storage, adminPassword: first.generatedPassword, logger: capturingLogger(lines) });
    expect(lines.slice(count).join('\n')).not.toMatch(/differs/);
  });
});

describe('bootstrapTenant with a configured admin', () => {
  let storage: Storage;
  beforeAll(async () => {
    storage = await createTestStorage();
  });
  afterAll(async () => {
    await storage.close();
  });

  it('uses the given e-mail and password and returns no generated password', async () => {
    const lines: string[] = [];
    const r = await bootstrapTenant({ storage, adminEmail: 'ops@example.com', adminPassword: 'given-password-1', logger: capturingLogger(lines) });
    expect(r.generatedPassword).toBeUndefined();
    expect(r.adminEmail).toBe('ops@example.com');
    const admin = await storage.users.findByEmail('ops@example.com');
    expect(await verifyPassword('given-password-1', admin?.passwordHash ?? '')).toBe(true);
    expect(lines.join('\n')).not.toContain('given-password-1');
    const again = await bootstrapTenant({ storage, adminEmail: 'ops@example.com' });
    expect(again).toEqual({ tenantId: r.tenantId, adminEmail: 'ops@example.com' });
  });

  it('refuses a configured administrator password that fails the policy, before creating anything', async () => {
    const fresh = await createTestStorage();
    try {
      await expect(bootstrapTenant({ storage: fresh, adminPassword: 'x' })).rejects.toThrow(/RIVULET_ADMIN_PASSWORD.*at least 8 characters/);
      await expect(bootstrapTenant({ storage: fresh, adminPassword: 'twelve-chars', passwordPolicy: { minLength: 16 } })).rejects.toThrow(/at least 16/);
      expect(await fresh.users.count()).toBe(0);
      expect(await fresh.tenants.list()).toEqual([]);
    } finally {
      await fresh.close();
    }
  });
});

describe('bootstrapSysAdmin', () => {
  let storage: Storage;
  beforeAll(async () => {
    storage = await createTestStorage();
  });
  afterAll(async () => {
    await storage.close();
  });

  it('creates the system administrator once, with a generated password it never logs, outside every tenant', async () => {
    const lines: string[] = [];
    const tenant = await bootstrapTenant({ storage, adminPassword: 'tenant-admin-pw-1' });
    const first = await bootstrapSysAdmin({ storage, logger: capturingLogger(lines) });
    expect(first.email).toBe(DEFAULT_SYSADMIN_EMAIL);
    expect(first.generatedPassword).toMatch(/^[A-Za-z0-9_-]{24}$/);
    const sys = await storage.users.findByEmail(DEFAULT_SYSADMIN_EMAIL);
    expect(sys?.user).toMatchObject({ authority: 'SYS_ADMIN', tenantId: NULL_ENTITY_ID, customerId: null });
    expect(await verifyPassword(first.generatedPassword as string, sys?.passwordHash ?? '')).toBe(true);
    expect(lines.join('\n')).not.toContain(first.generatedPassword);

    // Later starts: nothing new, no password, and a differing configured password is reported as ignored.
    const second = await bootstrapSysAdmin({ storage, password: 'other-sys-password', logger: capturingLogger(lines) });
    expect(second).toEqual({ email: DEFAULT_SYSADMIN_EMAIL });
    expect(await storage.users.count('SYS_ADMIN')).toBe(1);
    expect(lines.at(-1)).toMatch(/RIVULET_SYSADMIN_PASSWORD differs/);
    // The tenant bootstrap still finds its tenant with a system administrator around.
    expect(await bootstrapTenant({ storage })).toEqual({ tenantId: tenant.tenantId, adminEmail: DEFAULT_ADMIN_EMAIL });
  });

  it('refuses an e-mail that belongs to a tenant user', async () => {
    const s = await freshStorage();
    await bootstrapTenant({ storage: s, adminPassword: 'tenant-admin-pw-1' });
    await expect(bootstrapSysAdmin({ storage: s, email: DEFAULT_ADMIN_EMAIL })).rejects.toMatchObject({ code: 'INVALID_CONFIG' });
    expect(await s.users.count('SYS_ADMIN')).toBe(0);
  });

  it('gives a platform whose every tenant was deleted its Default tenant again', async () => {
    const s = await freshStorage();
    const first = await bootstrapTenant({ storage: s, adminPassword: 'tenant-admin-pw-1' });
    await bootstrapSysAdmin({ storage: s, password: 'sys-admin-pw-1' });
    await s.tenants.delete(first.tenantId);
    const again = await bootstrapTenant({ storage: s, adminPassword: 'tenant-admin-pw-2' });
    expect(again.tenantId).not.toBe(first.tenantId);
    expect((await s.tenants.get(again.tenantId))?.title).toBe('Default');
    expect(await s.users.count('SYS_ADMIN')).toBe(1);
  });

  const opened: Storage[] = [];
  async function freshStorage(): Promise<Storage> {
    const s = await createTestStorage();
    opened.push(s);
    return s;
  }
  afterAll(async () => {
    for (const s of opened) await s.close();
  });
});
