import pg from 'pg';
import { randomBytes } from 'node:crypto';

/** The server of this test run (see global-setup.ts). */
export function testServerUrl(): string {
  const url = process.env.RIVULET_TEST_DATABASE_URL;
  if (!url) throw new Error('RIVULET_TEST_DATABASE_URL is not set: tests must run under vitest with the global setup');
  return url;
}

/** A fresh, empty database on the test server, so test files never see each other's rows. */
export async function createTestDatabase(prefix = 't'): Promise<{ url: string; drop(): Promise<void> }> {
  const admin = testServerUrl();
  const name = `${prefix}_${randomBytes(6).toString('hex')}`;
  const client = new pg.Client({ connectionString: admin });
  await client.connect();
  try {
    await client.query(`CREATE DATABASE ${name}`);
  } finally {
    await client.end();
  }
  const u = new URL(admin);
  u.pathname = `/${name}`;
  return {
    url: u.toString(),
    async drop() {
      const c = new pg.Client({ connectionString: admin });
      await c.connect();
      try {
        await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      } finally {
        await c.end();
      }
    },
  };
}
