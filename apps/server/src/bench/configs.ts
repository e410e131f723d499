import { cpus, totalmem } from 'node:os';
import { startPostgres, type PostgresServer } from '@rivulet/testing';

/** The machine line the device-API benchmarks print first. */
export function machineLine(load: string): string {
  return `# ${cpus().length} cores (${cpus()[0]?.model ?? '?'}), ${(totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}; ${load}`;
}

/**
 * The configurations the device-API benchmarks compare, in order: the bare server, Rivulet on its
 * embedded database, Rivulet on PostgreSQL (RIVULET_BENCH_DATABASE_URL, or a throwaway server with
 * durable settings: fsync and synchronous_commit as shipped). `only` picks one of them.
 */
export async function runConfigs<R>(
  only: string | undefined,
  run: { bare(): Promise<R>; rivulet(config: 'embedded' | 'postgres', env: Record<string, string>): Promise<R> },
): Promise<R[]> {
  const results: R[] = [];
  if (!only || only === 'bare') results.push(await run.bare());
  if (!only || only === 'embedded') results.push(await run.rivulet('embedded', {}));
  if (!only || only === 'postgres') {
    let pg: PostgresServer | undefined;
    let url = process.env.RIVULET_BENCH_DATABASE_URL;
    if (!url) {
      pg = await startPostgres({ durable: true });
      url = pg.url;
    }
    try {
      results.push(await run.rivulet('postgres', { DATABASE_URL: url }));
    } finally {
      pg?.stop();
    }
  }
  return results;
}
