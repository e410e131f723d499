/**
 * `npm run kafka`: resolves Apache Kafka from Maven Central (cached outside the repository) and runs
 * a single-node KRaft broker on loopback until SIGINT/SIGTERM. Prints `Kafka ready: 127.0.0.1:PORT`.
 * `npm run kafka -- --resolve-only` only fetches the jars and the data-dir template (CI does this
 * before `npm test`).
 */
import { startKafka } from './kafka-broker';
import { kafkaCacheRoot, resolveKafka } from './kafka-jars';

const args = process.argv.slice(2);
const unknown = args.filter((a) => a !== '--resolve-only');
if (unknown.length > 0) {
  console.error(`Unknown argument(s): ${unknown.join(' ')}. Usage: npm run kafka [-- --resolve-only]`);
  process.exit(2);
}

try {
  if (args.includes('--resolve-only')) {
    await resolveKafka();
    console.log(`Kafka resolved: ${kafkaCacheRoot()}`);
  } else {
    const broker = await startKafka();
    console.log(`Kafka ready: ${broker.brokers}`);
    let stopping = false;
    const shutdown = (signal: string): void => {
      if (stopping) return;
      stopping = true;
      console.log(`Kafka stopping (${signal})`);
      broker.stop().then(() => process.exit(0), (err: unknown) => {
        console.error(err);
        process.exit(1);
      });
    };
    process.on('SIGINT', () => shutdown('SIGINT'));
    process.on('SIGTERM', () => shutdown('SIGTERM'));
    // Keep the event loop alive until a signal arrives.
    setInterval(() => {}, 1 << 30);
  }
} catch (err) {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
}
