import pg from 'pg';
import type { Logger } from '@rivulet/core';
import type { QueryResult, SqlClient } from './sql-client';

export interface PgClientOptions {
  url: string;
  poolSize?: number;
  logger: Logger;
}

type Queryable = Pick<pg.Pool, 'query'> | pg.PoolClient;

async function run<R extends object>(q: Queryable, sql: string, params?: readonly unknown[]): Promise<QueryResult<R>> {
  // pg's typings want a mutable array; it only reads it.
  const res = await q.query(sql, params as unknown[] | undefined);
  return { rows: res.rows as R[], rowCount: res.rowCount ?? 0 };
}

function txClient(conn: pg.PoolClient): SqlClient {
  const self: SqlClient = {
    query: (sql, params) => run(conn, sql, params),
    async exec(sql) {
      await conn.query(sql);
    },
    transaction: (fn) => fn(self),
    close: () => Promise.reject(new Error('close() called on a transaction')),
  };
  return self;
}

/** A pg Pool behind the SqlClient seam. */
export function createPgClient(opts: PgClientOptions): SqlClient {
  // Idle connections stay open for 10 minutes (HikariCP's default), not pg's 10 s: a burst after a quiet
  // spell would otherwise wait for new backends to start (tens of ms each) right when it needs them.
  const pool = new pg.Pool({ connectionString: opts.url, max: opts.poolSize ?? 10, idleTimeoutMillis: 600_000 });
  // An idle connection that dies (server restart) emits 'error' on the pool; unhandled, it would
  // crash the process. The next query simply opens a new connection.
  pool.on('error', (err) => opts.logger.warn({ err: err.message }, 'idle database connection failed'));
  return {
    query: (sql, params) => run(pool, sql, params),
    async exec(sql) {
      await pool.query(sql);
    },
    async transaction(fn) {
      const conn = await pool.connect();
      let broken = false;
      try {
        await conn.query('BEGIN');
        const out = await fn(txClient(conn));
        await conn.query('COMMIT');
        return out;
      } catch (e) {
        try {
          await conn.query('ROLLBACK');
        } catch {
          // The connection is unusable; release(true) below destroys it instead of pooling it.
          broken = true;
        }
        throw e;
      } finally {
        conn.release(broken);
      }
    },
    close: () => pool.end(),
  };
}
