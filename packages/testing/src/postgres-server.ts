import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readdirSync, rmSync, mkdirSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * A throwaway PostgreSQL cluster on loopback, started from the machine's server binaries
 * (Debian's postgresql package). As root, initdb must run as the postgres user.
 */
export interface PostgresServer {
  url: string;
  port: number;
  stop(): void;
}

export function findPgBin(): string {
  if (process.env.PG_BIN && existsSync(join(process.env.PG_BIN, 'initdb'))) return process.env.PG_BIN;
  const base = '/usr/lib/postgresql';
  if (existsSync(base)) {
    const versions = readdirSync(base)
      .filter((v) => existsSync(join(base, v, 'bin', 'initdb')))
      .sort((a, b) => Number(b) - Number(a));
    if (versions[0]) return join(base, versions[0], 'bin');
  }
  throw new Error(
    'No PostgreSQL server binaries found (looked in $PG_BIN and /usr/lib/postgresql/*/bin). ' +
      'Install them (apt-get install -y postgresql) or set RIVULET_TEST_DATABASE_URL to a server you run.',
  );
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

export async function startPostgres(options: { durable?: boolean } = {}): Promise<PostgresServer> {
  const bin = findPgBin();
  const root = mkdtempSync(join(tmpdir(), 'rivulet-pg-'));
  chmodSync(root, 0o755);
  const data = join(root, 'data');
  mkdirSync(data);
  const isRoot = process.getuid?.() === 0;
  const asPg = (cmd: string, args: string[]): void => {
    const full = isRoot ? ['-u', 'postgres', '--', cmd, ...args] : args;
    const res = spawnSync(isRoot ? 'runuser' : cmd, full, { encoding: 'utf8' });
    if (res.status !== 0) throw new Error(`${cmd} failed: ${res.stderr || res.stdout}`);
  };
  if (isRoot) execFileSync('chown', ['-R', 'postgres:postgres', root]);
  asPg(join(bin, 'initdb'), ['-D', data, '-U', 'postgres', '--auth=trust', '-E', 'UTF8', '--locale=C.UTF-8']);
  const port = await freePort();
  const tuning = options.durable ? '' : ' -c fsync=off -c synchronous_commit=off -c full_page_writes=off';
  asPg(join(bin, 'pg_ctl'), [
    '-D', data, '-l', join(root, 'server.log'), '-w', '-t', '60',
    '-o', `-p ${port} -k ${root} -c listen_addresses=127.0.0.1 -c max_connections=200${tuning}`,
    'start',
  ]);
  let stopped = false;
  return {
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    port,
    stop() {
      if (stopped) return;
      stopped = true;
      try {
        asPg(join(bin, 'pg_ctl'), ['-D', data, '-m', 'immediate', '-w', 'stop']);
      } finally {
        rmSync(root, { recursive: true, force: true });
      }
    },
  };
}
