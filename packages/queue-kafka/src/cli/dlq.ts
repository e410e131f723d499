/**
 * `npm run kafka:dlq -- <list|replay> [--brokers host:port,...] [--topic rivulet.rule-engine]
 *  [--prefix p.] [--limit 50]`: inspect or replay a dead-letter topic (`<topic>.dlq`).
 * list prints one JSON line per dead letter (oldest first, the last `limit`); replay puts those not
 * replayed before back on the topic (progress kept in group `<prefix>rivulet.dlq-replay`) and
 * prints the counts. Brokers default to $KAFKA_BROKERS, the prefix to $RIVULET_QUEUE_PREFIX.
 */
import { parseArgs } from 'node:util';
import { Topics } from '@rivulet/queue';
import { createKafkaQueue } from '../kafka-queue';

const USAGE = 'usage: npm run kafka:dlq -- <list|replay> [--brokers host:port,...] [--topic rivulet.rule-engine] [--prefix p.] [--limit 50]';

async function main(): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      allowPositionals: true,
      options: {
        brokers: { type: 'string', default: process.env.KAFKA_BROKERS ?? '' },
        topic: { type: 'string', default: Topics.RULE_ENGINE },
        prefix: { type: 'string', default: process.env.RIVULET_QUEUE_PREFIX ?? '' },
        limit: { type: 'string', default: '50' },
      },
    });
  } catch (e) {
    console.error(`${(e as Error).message}\n${USAGE}`);
    return 2;
  }
  const { values, positionals } = parsed;
  const command = positionals[0];
  const limit = Number(values.limit);
  if ((command !== 'list' && command !== 'replay') || positionals.length !== 1 || !Number.isInteger(limit) || limit < 1) {
    console.error(USAGE);
    return 2;
  }
  const brokers = values.brokers.split(',').map((b) => b.trim()).filter(Boolean);
  if (brokers.length === 0) {
    console.error(`No brokers: pass --brokers or set KAFKA_BROKERS.\n${USAGE}`);
    return 2;
  }
  const queue = createKafkaQueue({ brokers, clientId: 'rivulet-dlq-cli', topicPrefix: values.prefix });
  try {
    if (command === 'list') {
      const records = await queue.readDeadLetters(values.topic, { limit });
      for (const r of records) console.log(JSON.stringify({ dlqPartition: r.partition, dlqOffset: r.offset, key: r.key, ...(r.value as object) }));
      console.error(`${records.length} dead letter(s) in ${values.prefix}${values.topic}.dlq`);
    } else {
      const result = await queue.replayDeadLetters(values.topic);
      console.log(JSON.stringify(result));
    }
    return 0;
  } catch (e) {
    console.error(`kafka:dlq ${command} failed: ${(e as Error).message}`);
    return 1;
  } finally {
    await queue.close();
  }
}

process.exitCode = await main();
