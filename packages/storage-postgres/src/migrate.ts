import type { Logger } from '@rivulet/core';
import type { Migration } from './migrations';
import type { SqlClient } from './sql-client';

/** Key of the advisory lock that serialises servers migrating the same database at once. */
const MIGRATION_LOCK_KEY = 7_251_346_001;

export interface MigrateResult {
  /** Versions applied by this call (empty when the schema was already current). */
  applied: number[];
}

/**
 * Applies the migrations not yet recorded in schema_migrations, in version order, all in one
 * transaction: a failure leaves the schema as it was. Several servers starting together take turns
 * on a transaction-scoped advisory lock, so each migration runs once. (PGlite accepts the lock too;
 * with its single connection it never waits.)
 */
export async function migrate(client: SqlClient, list: readonly Migration[], logger: Logger): Promise<MigrateResult> {
  const sorted = [...list].sort((a, b) => a.version - b.version);
  for (let i = 1; i < sorted.length; i++) {
    if (sorted[i]?.version === sorted[i - 1]?.version) throw new Error(`Duplicate migration version ${sorted[i]?.version}`);
  }
  return client.transaction(async (tx) => {
    await tx.query('SELECT pg_advisory_xact_lock($1::bigint)', [MIGRATION_LOCK_KEY]);
    await tx.query(
      `CREATE TABLE IF NOT EXISTS schema_migrations (
         version integer PRIMARY KEY,
         name text NOT NULL,
         applied_at bigint NOT NULL
       )`,
    );
    const { rows } = await tx.query<{ version: number }>('SELECT version FROM schema_migrations');
    const done = new Set(rows.map((r) => Number(r.version)));
    const known = new Set(sorted.map((m) => m.version));
    const unknown = [...done].filter((v) => !known.has(v));
    // A newer release migrated this database; this code may not understand its schema.
    if (unknown.length > 0) logger.warn({ versions: unknown }, 'database has migrations this version does not know');
    const applied: number[] = [];
    for (const m of sorted) {
      if (done.has(m.version)) continue;
      await tx.exec(m.sql);
      await tx.query('INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)', [m.version, m.name, Date.now()]);
      logger.info({ version: m.version, name: m.name }, 'migration applied');
      applied.push(m.version);
    }
    return { applied };
  });
}
