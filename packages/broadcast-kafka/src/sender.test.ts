import { randomUUID } from 'node:crypto';
import { silentLogger } from '@rivulet/core';
import { Kafka, logLevel } from 'kafkajs';
import { describe, expect, inject, it } from 'vitest';
import { TopicSender } from './sender';

describe('TopicSender (real broker)', () => {
  it('splits what piled up into requests the broker accepts: 3 MB of events queued in one tick all arrive, in order', async () => {
    const kafka = new Kafka({ clientId: 'sender-test', brokers: inject('kafkaBrokers').split(','), logLevel: logLevel.NOTHING });
    const topic = `sender-${randomUUID()}`;
    const admin = kafka.admin();
    const producer = kafka.producer();
    const consumer = kafka.consumer({ groupId: `g-${topic}` });
    await Promise.all([admin.connect(), producer.connect(), consumer.connect()]);
    try {
      await admin.createTopics({ topics: [{ topic, numPartitions: 1 }], waitForLeaders: true });
      const sender = new TopicSender(producer, silentLogger);
      const body = 'x'.repeat(10_000);
      for (let i = 0; i < 300; i++) sender.enqueue(topic, { key: 'k', value: `${i}:${body}` });
      await sender.flush(30_000);
      // one 3 MB request would be refused whole by the broker's 1 MiB message.max.bytes
      expect(sender.failed).toBe(0);
      const got: number[] = [];
      await consumer.subscribe({ topic, fromBeginning: true });
      await consumer.run({ eachMessage: async ({ message }) => void got.push(Number(String(message.value).split(':')[0])) });
      await expect.poll(() => got.length, { timeout: 20_000 }).toBe(300);
      expect(got).toEqual(Array.from({ length: 300 }, (_, i) => i));
    } finally {
      await Promise.all([consumer.disconnect(), producer.disconnect()]);
      await admin.disconnect();
    }
  });
});
