import { randomUUID } from 'node:crypto';
import { Kafka, logLevel, Partitioners } from 'kafkajs';
import { describe, expect, inject, it } from 'vitest';

/** The run's broker (global setup) answers a real produce/consume round trip. */
describe('test Kafka broker', () => {
  it('creates a topic and round-trips a keyed record through a consumer group', async () => {
    const kafka = new Kafka({ clientId: 'broker-test', brokers: inject('kafkaBrokers').split(','), logLevel: logLevel.NOTHING });
    const topic = `t.broker-test.${randomUUID()}`;
    const admin = kafka.admin();
    await admin.connect();
    const producer = kafka.producer({ idempotent: true, createPartitioner: Partitioners.DefaultPartitioner });
    const consumer = kafka.consumer({ groupId: `g.${randomUUID()}`, sessionTimeout: 6000, heartbeatInterval: 1000 });
    try {
      expect(await admin.createTopics({ topics: [{ topic, numPartitions: 2 }], waitForLeaders: true })).toBe(true);
      await producer.connect();
      const value = JSON.stringify({ n: 1, id: randomUUID() });
      await producer.send({ topic, acks: -1, messages: [{ key: 'device-1', value }] });
      await consumer.connect();
      await consumer.subscribe({ topic, fromBeginning: true });
      const got = await new Promise<{ key: string; value: string }>((resolve) => {
        void consumer.run({
          eachMessage: async ({ message }) => resolve({ key: String(message.key), value: String(message.value) }),
        });
      });
      expect(got).toEqual({ key: 'device-1', value });
    } finally {
      await consumer.disconnect();
      await producer.disconnect();
      await admin.disconnect();
    }
  });
});
