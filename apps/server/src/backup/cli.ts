import { resolve } from 'node:path';
import { BackupError, backupEmbedded, backupPostgres, restoreEmbedded, restorePostgres } from './backup';

const USAGE = `usage: npm run backup -- FILE        back up DATABASE_URL (pg_dump custom format) or, unset, RIVULET_DATA_DIR's embedded database
       npm run restore -- FILE [--clean]  restore into an empty database (--clean: replace an existing Rivulet schema; PostgreSQL only)
Stop Rivulet first when it uses the embedded database (one process may open it).`;

async function main(): Promise<number> {
  const [command, ...rest] = process.argv.slice(2);
  const clean = rest.includes('--clean');
  const files = rest.filter((a) => a !== '--clean');
  if ((command !== 'backup' && command !== 'restore') || files.length !== 1) {
    process.stderr.write(`${USAGE}\n`);
    return 2;
  }
  const file = resolve(files[0]!);
  const url = process.env.DATABASE_URL?.trim() || undefined;
  const dataDir = resolve(process.env.RIVULET_DATA_DIR?.trim() || './data');
  const target = url ? 'PostgreSQL (DATABASE_URL)' : `the embedded database in ${dataDir}`;
  const t0 = Date.now();
  if (command === 'backup') {
    if (clean) throw new BackupError('--clean is for restore');
    await (url ? backupPostgres(url, file) : backupEmbedded(dataDir, file));
    process.stderr.write(`backed up ${target} to ${file} in ${Date.now() - t0} ms\n`);
  } else {
    if (clean && !url) throw new BackupError('--clean applies to PostgreSQL only; for the embedded database restore into an empty RIVULET_DATA_DIR');
    await (url ? restorePostgres(url, file, { clean }) : restoreEmbedded(dataDir, file));
    process.stderr.write(`restored ${file} into ${target} in ${Date.now() - t0} ms\n`);
  }
  return 0;
}

main().then(
  (code) => process.exit(code),
  (e: unknown) => {
    process.stderr.write(`${e instanceof BackupError ? e.message : e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    process.exit(1);
  },
);
