import { silentLogger, type Logger } from '@rivulet/core';
import type { Storage } from '@rivulet/storage';
import { createPgClient } from './pg-client';
import { createPgliteClient } from './pglite-client';
import { createSqlStorage } from './storage';

export interface PostgresStorageOptions {
  /** postgres://user:password@host:port/database */
  url: string;
  /** Connections in the pool (default 10). */
  poolSize?: number;
  logger?: Logger;
}

export interface EmbeddedStorageOptions {
  /** Directory of the database files; undefined keeps the database in memory (lost on close). */
  dataDir?: string;
  logger?: Logger;
}

/** Storage on a PostgreSQL server; the schema is migrated before this resolves. */
export async function createPostgresStorage(opts: PostgresStorageOptions): Promise<Storage> {
  const logger = (opts.logger ?? silentLogger).child({ component: 'storage', kind: 'postgres' });
  const client = createPgClient({ url: opts.url, poolSize: opts.poolSize, logger });
  return createSqlStorage({ client, kind: 'postgres', logger });
}

/**
 * Storage on PGlite, PostgreSQL in WASM inside this process: same schema, same SQL, no server.
 * One process at a time may open a data directory.
 */
export async function createEmbeddedStorage(opts: EmbeddedStorageOptions = {}): Promise<Storage> {
  const logger = (opts.logger ?? silentLogger).child({ component: 'storage', kind: 'embedded' });
  const client = await createPgliteClient({ dataDir: opts.dataDir });
  return createSqlStorage({ client, kind: 'embedded', logger });
}

export { migrations, type Migration } from './migrations';
export type { SqlClient, QueryResult } from './sql-client';
