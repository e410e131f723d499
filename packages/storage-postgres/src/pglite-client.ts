import { mkdir } from 'node:fs/promises';
import { PGlite, type Transaction } from '@electric-sql/pglite';
import { NodeFS } from '@electric-sql/pglite/nodefs';
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
    await mkdir(opts.dataDir, { recursive: true, mode: 0o700 });
  }
  const db = opts.dataDir === undefined ? await PGlite.create() : await PGlite.create({ fs: new OwnerOnlyNodeFS(opts.dataDir) });
  return {
    query: (sql, params) => run(db, sql, params),
    async exec(sql) {
      await db.exec(sql);
    },
    transaction: (fn) => db.transaction((tx) => fn(txClient(tx))),
    close: () => db.close(),
  };
}

/** Group and other bits PGlite's files never get (its WAL holds device tokens). */
const NOT_OWNER_BITS = 0o077;

interface EmscriptenNodefs {
  createNode(parent: unknown, name: string, mode: number, dev?: number): unknown;
  doSetAttr(arg: unknown, node: unknown, attr: { mode?: number }, chmod: (p: unknown, mode: number) => void, ...rest: unknown[]): void;
}

/**
 * PGlite's Node filesystem with owner-only files: PostgreSQL inside the WASM module creates its
 * files through Emscripten's NODEFS, which sets each new file's mode with an explicit chmod (0666 for
 * most of the cluster), so a process umask alone does not protect them. Here every mode NODEFS
 * creates a node with or chmods to loses its group and other bits (0600 files, 0700 directories).
 * Emscripten's own permission checks are off in PGlite (ignorePermissions), so nothing inside changes.
 * If a PGlite upgrade renames these internals, opening the database fails loudly rather than silently
 * writing world-readable files.
 */
class OwnerOnlyNodeFS extends NodeFS {
  override async init(pg: PGlite, opts: Parameters<NodeFS['init']>[1]): ReturnType<NodeFS['init']> {
    const r = await super.init(pg, opts);
    const preRun = r.emscriptenOpts.preRun ?? [];
    r.emscriptenOpts.preRun = [
      (mod: unknown) => {
        const nodefs = (mod as { NODEFS?: Partial<EmscriptenNodefs> }).NODEFS;
        if (typeof nodefs?.createNode !== 'function' || typeof nodefs.doSetAttr !== 'function') {
          throw new Error('PGlite internals changed (NODEFS.createNode / doSetAttr not found): cannot keep its files owner-only');
        }
        const createNode = nodefs.createNode.bind(nodefs);
        const doSetAttr = nodefs.doSetAttr.bind(nodefs);
        nodefs.createNode = (parent, name, mode, dev) => createNode(parent, name, mode & ~NOT_OWNER_BITS, dev);
        nodefs.doSetAttr = (arg, node, attr, chmod, ...rest) => doSetAttr(arg, node, attr, (p, mode) => chmod(p, mode & ~NOT_OWNER_BITS), ...rest);
      },
      ...(Array.isArray(preRun) ? preRun : [preRun]),
    ];
    return r;
  }
}
