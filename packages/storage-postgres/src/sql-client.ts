/**
 * The seam between the repositories and a database driver. Repositories only ever see this, so the
 * same SQL and the same code run on a PostgreSQL server (pg) and on the embedded PGlite.
 */
export type Row = Record<string, unknown>;

export interface QueryResult<R extends object = Row> {
  rows: R[];
  /** Rows inserted, updated, deleted or returned by the statement. */
  rowCount: number;
}

export interface SqlClient {
  /** One statement with $1.. parameters. JS arrays are sent as PostgreSQL arrays. */
  query<R extends object = Row>(sql: string, params?: readonly unknown[]): Promise<QueryResult<R>>;
  /**
   * Several statements without parameters (migrations). Kept apart from `query` because both drivers
   * only accept one statement per parameterised query.
   */
  exec(sql: string): Promise<void>;
  /**
   * Runs `fn` inside BEGIN/COMMIT on one connection, ROLLBACK when it throws. Called on the client a
   * transaction already handed out, it joins that transaction (no nesting, no savepoints).
   */
  transaction<T>(fn: (tx: SqlClient) => Promise<T>): Promise<T>;
  close(): Promise<void>;
}
