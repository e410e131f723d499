import { randomBytes } from 'node:crypto';
import { ConflictError, ErrorCode, RivuletError, silentLogger, type Logger } from '@rivulet/core';
import { NULL_ENTITY_ID, type Storage } from '@rivulet/storage';
import { hashPassword, verifyPassword } from './password';
import { DEFAULT_PASSWORD_POLICY, passwordProblem, type PasswordPolicy } from './password-policy';

export const DEFAULT_TENANT_TITLE = 'Default';
export const DEFAULT_ADMIN_EMAIL = 'tenant@rivulet.local';

export interface BootstrapTenantOptions {
  storage: Storage;
  adminEmail?: string | undefined;
  adminPassword?: string | undefined;
  logger?: Logger | undefined;
  /** A configured adminPassword must pass it (default: at least 8 characters); generated ones always do. */
  passwordPolicy?: PasswordPolicy | undefined;
}

export interface BootstrapTenantResult {
  tenantId: string;
  adminEmail: string;
  /** Set only when this call created the admin with a generated password (the server prints it once). */
  generatedPassword?: string;
}

/**
 * First start: creates the "Default" tenant and its TENANT_ADMIN. Later starts change nothing and
 * report the tenant of the admin (or the oldest tenant, when the admin was deleted or the e-mail
 * changed). A platform without any tenant (a first start, or the system administrator deleted every
 * tenant) gets the Default tenant again, so the configured admin always has somewhere to log in.
 * Never logs a password.
 */
export async function bootstrapTenant(options: BootstrapTenantOptions): Promise<BootstrapTenantResult> {
  const { storage } = options;
  const logger = options.logger ?? silentLogger;
  const adminEmail = (options.adminEmail ?? DEFAULT_ADMIN_EMAIL).trim();
  if (options.adminPassword !== undefined && options.adminPassword !== '') {
    const problem = passwordProblem(options.passwordPolicy ?? DEFAULT_PASSWORD_POLICY, options.adminPassword);
    if (problem !== undefined) throw new RivuletError(ErrorCode.INVALID_CONFIG, `The administrator password (RIVULET_ADMIN_PASSWORD) is refused: ${problem}`);
  }

  if ((await storage.users.findByEmail(adminEmail)) || (await storage.tenants.list()).length > 0) {
    return existing(storage, adminEmail, options.adminPassword, logger);
  }

  const generated = options.adminPassword === undefined || options.adminPassword === '';
  // 18 random bytes: 24 URL-safe characters, easy to copy from a terminal.
  const password = generated ? randomBytes(18).toString('base64url') : (options.adminPassword as string);
  const passwordHash = await hashPassword(password);
  const tenant = await storage.tenants.create({ title: DEFAULT_TENANT_TITLE });
  try {
    await storage.users.create({ tenantId: tenant.id, email: adminEmail, authority: 'TENANT_ADMIN', passwordHash });
  } catch (e) {
    // Another instance bootstrapped at the same moment and won the unique e-mail: use its tenant.
    // The tenant created above stays behind empty; a rare race on a first start only.
    if (e instanceof ConflictError) return existing(storage, adminEmail, undefined, logger);
    throw e;
  }
  logger.info({ tenantId: tenant.id, adminEmail, generatedPassword: generated }, 'Created the default tenant and its administrator');
  return generated ? { tenantId: tenant.id, adminEmail, generatedPassword: password } : { tenantId: tenant.id, adminEmail };
}

async function existing(storage: Storage, adminEmail: string, configuredPassword: string | undefined, logger: Logger): Promise<BootstrapTenantResult> {
  const admin = await storage.users.findByEmail(adminEmail);
  if (admin && admin.user.authority !== 'TENANT_ADMIN') {
    throw new RivuletError(ErrorCode.INVALID_CONFIG, `RIVULET_ADMIN_EMAIL ${adminEmail} belongs to a ${admin.user.authority} user, not to a tenant administrator`);
  }
  // The configured password only applies on the first start: say so when it differs from the stored
  // one, or whoever just set it gets nothing but 401s (and never the password).
  if (admin && configuredPassword && !(await verifyPassword(configuredPassword, admin.passwordHash))) {
    logger.warn(
      { adminEmail },
      'RIVULET_ADMIN_PASSWORD differs from the administrator\'s password, which was set when the data directory was first used: ' +
        'the variable is ignored. Log in with the first password, or start with an empty RIVULET_DATA_DIR (or database) to begin anew.',
    );
  }
  if (admin) return { tenantId: admin.user.tenantId, adminEmail: admin.user.email };
  const tenants = await storage.tenants.list();
  const oldest = [...tenants].sort((a, b) => a.createdTime - b.createdTime)[0];
  if (!oldest) throw new RivuletError(ErrorCode.INVALID_CONFIG, 'The administrator exists but no tenant does: bootstrapTenant cannot repair this database');
  return { tenantId: oldest.id, adminEmail };
}

export const DEFAULT_SYSADMIN_EMAIL = 'sysadmin@rivulet.local';

export interface BootstrapSysAdminOptions {
  storage: Storage;
  email?: string | undefined;
  password?: string | undefined;
  logger?: Logger | undefined;
}

export interface BootstrapSysAdminResult {
  email: string;
  /** Set only when this call created the system administrator with a generated password (printed once). */
  generatedPassword?: string;
}

/**
 * Creates the system administrator (ThingsBoard's SYS_ADMIN: manages tenants and their
 * administrators, reads no tenant's data) when there is none: on the first start, and on the first
 * start of a version that has one. Later starts change nothing. Never logs a password.
 */
export async function bootstrapSysAdmin(options: BootstrapSysAdminOptions): Promise<BootstrapSysAdminResult> {
  const { storage } = options;
  const logger = options.logger ?? silentLogger;
  const email = (options.email ?? DEFAULT_SYSADMIN_EMAIL).trim();
  if ((await storage.users.count('SYS_ADMIN')) > 0) {
    const found = await storage.users.findByEmail(email);
    if (found && found.user.authority === 'SYS_ADMIN' && options.password && !(await verifyPassword(options.password, found.passwordHash))) {
      logger.warn({ email }, 'RIVULET_SYSADMIN_PASSWORD differs from the system administrator\'s password, which was set on the first start: the variable is ignored.');
    }
    return { email };
  }
  const generated = options.password === undefined || options.password === '';
  const password = generated ? randomBytes(18).toString('base64url') : (options.password as string);
  try {
    await storage.users.create({ tenantId: NULL_ENTITY_ID, email, authority: 'SYS_ADMIN', passwordHash: await hashPassword(password) });
  } catch (e) {
    if (e instanceof ConflictError) {
      const other = await storage.users.findByEmail(email);
      // Another instance created it at the same moment: fine. Anyone else holding the e-mail: a configuration error.
      if (other?.user.authority === 'SYS_ADMIN') return { email };
      throw new RivuletError(ErrorCode.INVALID_CONFIG, `RIVULET_SYSADMIN_EMAIL ${email} is already the e-mail of a ${other?.user.authority ?? 'another'} user`, { cause: e });
    }
    throw e;
  }
  logger.info({ email, generatedPassword: generated }, 'Created the system administrator');
  return generated ? { email, generatedPassword: password } : { email };
}
