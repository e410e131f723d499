import type { TestProject } from 'vitest/node';
import { startKafka, type KafkaBroker } from './kafka-broker';
import { startPostgres, type PostgresServer } from './postgres-server';

/**
 * Vitest global setup: every test run talks to a real PostgreSQL server and a real Kafka broker.
 * - PostgreSQL: RIVULET_TEST_DATABASE_URL when set (CI starts a cluster), else a throwaway one.
 * - Kafka: RIVULET_TEST_KAFKA_BROKERS when set (comma-separated bootstrap list, e.g. from
 *   `npm run kafka`), else one single-node broker for the whole run (ready in ~1-2 s once the jars
 *   are cached; the first run on a machine resolves them from Maven Central). Both start in parallel.
 * Tests read them with inject('pgUrl') / inject('kafkaBrokers') and use unique topic and group
 * names, since every test file shares the one broker.
 */
let server: PostgresServer | undefined;
let kafka: KafkaBroker | undefined;

async function kafkaBrokers(): Promise<string> {
  const given = process.env.RIVULET_TEST_KAFKA_BROKERS;
  if (given) return given;
  try {
    kafka = await startKafka();
  } catch (err) {
    throw new Error(
      'The test run could not start its Kafka broker (set RIVULET_TEST_KAFKA_BROKERS to use one you run, ' +
        `e.g. from \`npm run kafka\`): ${err instanceof Error ? err.message : String(err)}`,
      { cause: err },
    );
  }
  return kafka.brokers;
}

async function pgUrl(): Promise<string> {
  const given = process.env.RIVULET_TEST_DATABASE_URL;
  if (given) return given;
  server = await startPostgres();
  process.env.RIVULET_TEST_DATABASE_URL = server.url;
  return server.url;
}

export async function setup(project: TestProject): Promise<void> {
  const [url, brokers] = await Promise.allSettled([pgUrl(), kafkaBrokers()]);
  if (url.status === 'rejected' || brokers.status === 'rejected') {
    await teardown();
    throw url.status === 'rejected' ? url.reason : (brokers as PromiseRejectedResult).reason;
  }
  process.env.RIVULET_TEST_KAFKA_BROKERS = brokers.value;
  project.provide('pgUrl', url.value);
  project.provide('kafkaBrokers', brokers.value);
}

export async function teardown(): Promise<void> {
  server?.stop();
  server = undefined;
  await kafka?.stop();
  kafka = undefined;
}

declare module 'vitest' {
  export interface ProvidedContext {
    pgUrl: string;
    /** Bootstrap list, comma-separated (`127.0.0.1:PORT`). */
    kafkaBrokers: string;
  }
}
