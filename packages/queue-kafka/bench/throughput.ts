/**
 * Produce/consume throughput of the Kafka queue (and the memory queue for comparison), with
 * rule-engine-shaped records: `npm run bench:queue-kafka [-- --messages 200000]`.
 * Starts its own broker (packages/testing startKafka) unless KAFKA_BROKERS is set.
 * Producers: 50 concurrent loops of produce() calls of 20 records each (transports call produce
 * per device message or small batch; the Kafka queue batches concurrent calls into one send).
 * Consumer: one subscription, maxBatch 500, a handler that only counts (the queue's cost alone).
 */
import { parseArgs } from 'node:util';
import { createMsg } from '@rivulet/core';
import { createMemoryQueue, type Queue } from '@rivulet/queue';
import { startKafka } from '@rivulet/testing';
import { createKafkaQueue } from '../src/index';

const { values } = parseArgs({ options: { messages: { type: 'string', default: '200000' } } });
const TOTAL = Number(values.messages);
const DEVICES = 1_000;
const CALL = 20;
const CONCURRENCY = 50;

function record(i: number) {
  const id = `device-${i % DEVICES}`;
  return {
    key: id,
    value: createMsg({
      type: 'POST_TELEMETRY_REQUEST', originator: { entityType: 'DEVICE', id }, tenantId: 'tenant-1',
      metadata: { deviceName: id, deviceType: 'sensor', ts: String(Date.now()) }, data: { temperature: 20 + (i % 10), humidity: 55, seq: i },
    }),
  };
}

async function run(name: string, queue: Queue): Promise<string> {
  const topic = `bench.${name}.${Date.now()}`;
  const group = 'bench';
  await queue.produce(topic, [record(-1)]); // creates the topic; not timed
  let next = 0;
  const t0 = performance.now();
  await Promise.all(Array.from({ length: CONCURRENCY }, async () => {
    while (next < TOTAL) {
      const from = next;
      next += CALL;
      const n = Math.min(CALL, TOTAL - from);
      await queue.produce(topic, Array.from({ length: n }, (_, k) => record(from + k)));
    }
  }));
  const produceS = (performance.now() - t0) / 1000;
  let seen = 0;
  let done!: () => void;
  const all = new Promise<void>((r) => (done = r));
  const t1 = performance.now();
  const sub = await queue.subscribe({ topic, group, maxBatch: 500, handler: async (b) => { seen += b.length; if (seen >= TOTAL + 1) done(); } });
  await all;
  const consumeS = (performance.now() - t1) / 1000;
  await sub.stop();
  const line = `| ${name} | ${TOTAL} | ${Math.round(TOTAL / produceS)} | ${Math.round(TOTAL / consumeS)} |`;
  console.log(line);
  return line;
}

const given = process.env.KAFKA_BROKERS;
const broker = given ? undefined : await startKafka();
const brokers = (given ?? broker!.brokers).split(',');
try {
  console.log(`| queue | messages | produce msg/s | consume msg/s (subscribe -> last) |\n|---|---|---|---|`);
  const kafka = createKafkaQueue({ brokers, clientId: 'bench', backpressureGroups: {} });
  await run('kafka', kafka);
  await kafka.close();
  const memory = createMemoryQueue({ capacity: TOTAL + 10 });
  await run('memory', memory);
  await memory.close();
} finally {
  await broker?.stop();
}
