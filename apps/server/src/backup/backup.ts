import { spawn } from 'node:child_process';
import { chmodSync, existsSync, lstatSync, readdirSync, readFileSync, statSync, writeFileSync, mkdirSync, openSync, readSync, closeSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { PGlite } from '@electric-sql/pglite';
import { NodeFS } from '@electric-sql/pglite/nodefs';

/**
 * `npm run backup` / `npm run restore`: a PostgreSQL database (DATABASE_URL) through pg_dump /
 * pg_restore in their custom format, or the embedded database (RIVULET_DATA_DIR/pglite) through
 * PGlite's data directory dump (a tar.gz of the cluster). Errors are BackupError with a message
 * meant for the operator.
 */
export class BackupError extends Error {}

export type BackupKind = 'postgres' | 'embedded';

/** What a backup file holds, by its first bytes: pg_dump's custom format starts with "PGDMP", PGlite's dump is gzip. */
export function backupKindOf(file: string): BackupKind {
  if (!existsSync(file)) throw new BackupError(`backup file not found: ${file}`);
  if (!statSync(file).isFile()) throw new BackupError(`not a file: ${file}`);
  const head = Buffer.alloc(5);
  const fd = openSync(file, 'r');
  try {
    readSync(fd, head, 0, 5, 0);
  } finally {
    closeSync(fd);
  }
  if (head.toString('latin1') === 'PGDMP') return 'postgres';
  if (head[0] === 0x1f && head[1] === 0x8b) return 'embedded';
  throw new BackupError(`${file} is neither a pg_dump custom-format backup nor an embedded database backup (tar.gz)`);
}

/** The URL without its password (for messages and the command line) and the password apart (for PGPASSWORD). */
function splitUrl(url: string): { safe: string; password: string | undefined; where: string } {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new BackupError('DATABASE_URL is not a URL (postgres://user:password@host:port/database)');
  }
  const password = u.password ? decodeURIComponent(u.password) : undefined;
  u.password = '';
  return { safe: u.toString(), password, where: `${u.hostname}:${u.port || 5432}${u.pathname}` };
}

/** Connects once (5 s at most) so an unreachable database is one clear line, not a tool's stack of errors. */
async function checkReachable(url: string): Promise<pg.Client> {
  const { where } = splitUrl(url);
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 5000 });
  try {
    await client.connect();
  } catch (e) {
    await client.end().catch(() => {});
    throw new BackupError(`cannot reach the database at ${where}: ${e instanceof Error ? e.message : String(e)}`);
  }
  return client;
}

function run(tool: string, args: string[], password: string | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(tool, args, { env: { ...process.env, ...(password === undefined ? {} : { PGPASSWORD: password }) }, stdio: ['ignore', 'inherit', 'pipe'] });
    let err = '';
    child.stderr.on('data', (d) => (err += d));
    child.on('error', (e: NodeJS.ErrnoException) =>
      reject(new BackupError(e.code === 'ENOENT' ? `${tool} not found on PATH: install PostgreSQL's client tools (Debian: postgresql-client), of the server's major version or newer` : `${tool}: ${e.message}`)),
    );
    child.on('exit', (code) => (code === 0 ? resolve() : reject(new BackupError(`${tool} failed (exit ${code}): ${err.trim().split('\n').slice(-5).join('\n')}`))));
  });
}

export async function backupPostgres(url: string, file: string): Promise<void> {
  const client = await checkReachable(url);
  await client.end();
  const { safe, password } = splitUrl(url);
  // Owner-only from the start (password hashes and secrets are in it): pg_dump keeps the mode of the
  // file it truncates, so it never exists readable by others, whatever the umask.
  closeSync(openSync(file, 'w', 0o600));
  chmodSync(file, 0o600);
  await run('pg_dump', ['--format=custom', '--no-owner', '--no-privileges', `--file=${file}`, `--dbname=${safe}`], password);
}

/** Restores into an empty database; `clean` drops Rivulet's objects first (pg_restore --clean --if-exists). */
export async function restorePostgres(url: string, file: string, opts: { clean?: boolean } = {}): Promise<void> {
  if (backupKindOf(file) !== 'postgres') throw new BackupError(`${file} is an embedded database backup: restore it with DATABASE_URL unset (into RIVULET_DATA_DIR)`);
  const client = await checkReachable(url);
  try {
    const { rows } = await client.query<{ t: string | null }>("SELECT to_regclass('public.schema_migrations')::text AS t");
    if (rows[0]?.t && !opts.clean) {
      throw new BackupError(`the database at ${splitUrl(url).where} already holds a Rivulet schema: restore into an empty database (createdb), or pass --clean to replace it`);
    }
  } finally {
    await client.end();
  }
  const { safe, password } = splitUrl(url);
  await run('pg_restore', ['--no-owner', '--no-privileges', '--exit-on-error', '--single-transaction', ...(opts.clean ? ['--clean', '--if-exists'] : []), `--dbname=${safe}`, file], password);
}

const pgliteDir = (dataDir: string) => join(dataDir, 'pglite');

/** The embedded database must not be open elsewhere: stop the server first (PGlite is one process). */
export async function backupEmbedded(dataDir: string, file: string): Promise<void> {
  const dir = pgliteDir(dataDir);
  if (!existsSync(join(dir, 'PG_VERSION'))) throw new BackupError(`no embedded database at ${dir} (RIVULET_DATA_DIR=${dataDir}); for PostgreSQL set DATABASE_URL`);
  const db = await PGlite.create({ fs: new NodeFS(dir) });
  try {
    const dump = await db.dumpDataDir('gzip');
    writeFileSync(file, Buffer.from(await dump.arrayBuffer()), { mode: 0o600 });
  } finally {
    await db.close();
  }
}

export async function restoreEmbedded(dataDir: string, file: string): Promise<void> {
  if (backupKindOf(file) !== 'embedded') throw new BackupError(`${file} is a PostgreSQL backup (pg_dump custom format): set DATABASE_URL to restore it`);
  const dir = pgliteDir(dataDir);
  if (existsSync(dir) && readdirSync(dir).length > 0) throw new BackupError(`${dir} is not empty: move it away (or point RIVULET_DATA_DIR at an empty directory) before restoring`);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const blob = new Blob([readFileSync(file)]);
  const db = await PGlite.create({ fs: new NodeFS(dir), loadDataDir: blob });
  await db.close();
  ownerOnly(dataDir);
}

/** PGlite sets its files' modes itself (0666 for most): make the restored directory owner-only, as the server keeps it. */
function ownerOnly(path: string): void {
  const s = lstatSync(path);
  if (s.isSymbolicLink()) return;
  if (s.isDirectory()) {
    chmodSync(path, 0o700);
    for (const e of readdirSync(path)) ownerOnly(join(path, e));
  } else chmodSync(path, 0o600);
}
