import type { Logger } from '@rivulet/core';
import type { Storage } from '@rivulet/storage';
import { createAlarmRepository } from './alarm.repository';
import { createAuthSessionRepository, createPasswordResetRepository } from './auth-session.repository';
import { createAttributeRepository } from './attribute.repository';
import { createCustomerRepository } from './customer.repository';
import { createDashboardRepository } from './dashboard.repository';
import { createDebugEventRepository } from './debug-event.repository';
import { createDeviceRepository } from './device.repository';
import { createDeviceProfileRepository } from './device-profile.repository';
import { migrate } from './migrate';
import { migrations } from './migrations';
import { createRuleChainRepository } from './rule-chain.repository';
import { createRuleNodeStateRepository } from './rule-node-state.repository';
import type { SqlClient } from './sql-client';
import { createTenantRepository } from './tenant.repository';
import { createTenantProfileRepository } from './tenant-profile.repository';
import { createTimeseriesRepository } from './timeseries.repository';
import { createUserRepository } from './user.repository';

/**
 * Rows per INSERT .. SELECT FROM unnest statement: large enough that a batch costs a handful of
 * round trips, small enough to keep one statement's parameters and memory modest.
 */
export const DEFAULT_CHUNK_SIZE = 5000;

export interface SqlStorageOptions {
  client: SqlClient;
  kind: 'postgres' | 'embedded';
  logger: Logger;
  chunkSize?: number;
}

/**
 * The Storage on any SqlClient: migrates the schema, then hands out the repositories. Closing the
 * storage closes the client. If migration fails the client is closed before the error is rethrown.
 */
export async function createSqlStorage(opts: SqlStorageOptions): Promise<Storage> {
  const { client, logger } = opts;
  const chunkSize = opts.chunkSize ?? DEFAULT_CHUNK_SIZE;
  try {
    const { applied } = await migrate(client, migrations, logger);
    logger.info({ kind: opts.kind, applied, schemaVersion: migrations.at(-1)?.version ?? 0 }, 'storage ready');
  } catch (e) {
    await client.close().catch(() => undefined);
    throw e;
  }
  let closed: Promise<void> | undefined;
  return {
    kind: opts.kind,
    tenants: createTenantRepository(client),
    tenantProfiles: createTenantProfileRepository(client),
    users: createUserRepository(client),
    customers: createCustomerRepository(client),
    devices: createDeviceRepository(client),
    deviceProfiles: createDeviceProfileRepository(client),
    attributes: createAttributeRepository({ client, chunkSize }),
    timeseries: createTimeseriesRepository({ client, chunkSize }),
    ruleChains: createRuleChainRepository(client),
    alarms: createAlarmRepository(client),
    // Debug events carry whole messages: smaller chunks than points keep one statement modest.
    debugEvents: createDebugEventRepository({ client, chunkSize: Math.min(chunkSize, 1000) }),
    ruleNodeStates: createRuleNodeStateRepository({ client, chunkSize: Math.min(chunkSize, 1000) }),
    dashboards: createDashboardRepository(client),
    authSessions: createAuthSessionRepository(client),
    passwordResets: createPasswordResetRepository(client),
    // Idempotent: a composition root may close on several shutdown paths.
    close() {
      closed ??= client.close();
      return closed;
    },
  };
}
