import { randomBytes } from 'node:crypto';
import { ConflictError, ErrorCode, RivuletError, silentLogger, type Logger } from '@rivulet/core';
import type { Storage } from '@rivulet/storage';
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
 * First start (no user at all): creates the "Default" tenant and its TENANT_ADMIN. Later starts change
 * nothing and report the tenant of the admin (or the oldest tenant). Never logs a password.
 */
export async function bootstrapTenant(options: BootstrapTenantOptions): Promise<BootstrapTenantResult> {
  const { storage } = options;
  const logger = options.logger ?? silentLogger;
  const adminEmail = (options.adminEmail ?? DEFAULT_ADMIN_EMAIL).trim();
  if (options.adminPassword !== undefined && options.adminPassword !== '') {
    const problem = passwordProblem(options.passwordPolicy ?? DEFAULT_PASSWORD_POLICY, options.adminPassword);
    if (problem !== undefined) throw new RivuletError(ErrorCode.INVALID_CONFIG, `The administrator password (RIVULET_ADMIN_PASSWORD) is refused: ${problem}`);
  }

  if ((await storage.users.count()) > 0) return existing(storage, adminEmail, options.adminPassword, logger);

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
  if (!oldest) throw new RivuletError(ErrorCode.INVALID_CONFIG, 'Users exist but no tenant does: bootstrapTenant cannot repair this database');
  return { tenantId: oldest.id, adminEmail };
}
