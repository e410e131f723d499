import { mkdir } from 'node:fs/promises';
import { PGlite, type Transaction } from '@electric-sql/pglite';
import type { QueryResult, SqlClient } from './sql-client';

export interface PgliteClientOptions {
  /** Directory of the database files; undefined keeps everything in memory. */
  dataDir?: string | undefined;
}

type Queryable = PGlite | Transaction;

async function run<R extends object>(q: Queryable, sql: string, params?: readonly unknown[]): Promise<QueryResult<R>> {
  const res = await q.query<R>(sql, params as unknown[] | undefined);
  return { rows: res.rows, rowCount: res.rowCount ?? res.affectedRows ?? 0 };
}

function txClient(tx: Transaction): SqlClient {
  const self: SqlClient = {
    query: (sql, params) => run(tx, sql, params),
    async exec(sql) {
      await tx.exec(sql);
    },
    transaction: (fn) => fn(self),
    close: () => Promise.reject(new Error('close() called on a transaction')),
  };
  return self;
}

/**
 * PGlite (PostgreSQL compiled to WASM, one connection) behind the SqlClient seam. PGlite queues
 * queries itself, and holds other queries back while a transaction is open, so no pool is needed.
 */
export async function createPgliteClient(opts: PgliteClientOptions): Promise<SqlClient> {
  if (opts.dataDir !== undefined) {
    // PGlite creates only the last directory of the path (ENOENT when a parent is missing).
    await mkdir(opts.dataDir, { recursive: true });
  }
  const db = opts.dataDir === undefined ? await PGlite.create() : await PGlite.create({ dataDir: opts.dataDir });
  return {
    query: (sql, params) => run(db, sql, params),
    async exec(sql) {
      await db.exec(sql);
    },
    transaction: (fn) => db.transaction((tx) => fn(txClient(tx))),
    close: () => db.close(),
  };
}
