import type { TestProject } from 'vitest/node';
import { startPostgres, type PostgresServer } from './postgres-server';

/**
 * Vitest global setup: every test run talks to a real PostgreSQL server. Uses
 * RIVULET_TEST_DATABASE_URL when set (CI starts a cluster), else starts a throwaway one.
 */
let server: PostgresServer | undefined;

export async function setup(project: TestProject): Promise<void> {
  let url = process.env.RIVULET_TEST_DATABASE_URL;
  if (!url) {
    server = await startPostgres();
    url = server.url;
    process.env.RIVULET_TEST_DATABASE_URL = url;
  }
  project.provide('pgUrl', url);
}

export async function teardown(): Promise<void> {
  server?.stop();
}

declare module 'vitest' {
  export interface ProvidedContext {
    pgUrl: string;
  }
}
