import { randomUUID } from 'node:crypto';
import { silentLogger } from '@rivulet/core';
import { Kafka, logLevel } from 'kafkajs';
import { describe, expect, inject, it } from 'vitest';
import { createKafkaService } from './kafka-service';
import { createOutboundPolicy } from './policy';

const loopback = createOutboundPolicy({ allow: ['127.0.0.1/32'] });
const opts = (bootstrapServers: string, tenantId = 't1') => ({ bootstrapServers, acks: -1 as const, retries: 0, tenantId });

describe('Kafka service for rule nodes', () => {
  it('refuses the platform\'s topics (rivulet.*), Kafka\'s internal ones (__*) and invalid names before connecting', async () => {
    // Nothing listens on port 1: a refusal that connected first would say "not reachable" instead.
    const kafka = createKafkaService({ policy: loopback, logger: silentLogger });
    const p = kafka.producer(opts('127.0.0.1:1'));
    await expect(p.send({ topic: 'rivulet.rule-engine', key: 'd', value: '{}' })).rejects.toThrow(/Kafka topic "rivulet.rule-engine" is reserved for the platform \(topics starting with rivulet\. or __ are refused\)/);
    await expect(p.send({ topic: '__consumer_offsets', key: 'd', value: '{}' })).rejects.toThrow(/reserved for the platform/);
    // another deployment's queue on the same cluster (its RIVULET_QUEUE_PREFIX before rivulet.)
    await expect(p.send({ topic: 'staging.rivulet.rule-engine', key: 'd', value: '{}' })).rejects.toThrow(/Kafka topic "staging.rivulet.rule-engine" is reserved for the platform \(topics containing "rivulet\."/);
    await expect(p.send({ topic: 'prodrivulet.node.vm-1', key: 'd', value: '{}' })).rejects.toThrow(/reserved for the platform/);
    await expect(p.send({ topic: 'bad topic/name', key: 'd', value: '{}' })).rejects.toThrow(/is not a valid topic name/);
    await expect(p.send({ topic: 'fine', key: 'd', value: '{}' })).rejects.toThrow(/Kafka brokers 127\.0\.0\.1:1 not reachable/);
    await kafka.close();
  });

  it('bounds producers in all and per tenant; a tenant\'s nodes naming the same brokers share one; the last release closes it', async () => {
    const kafka = createKafkaService({ policy: loopback, logger: silentLogger, maxProducers: 2, maxProducersPerTenant: 1 });
    const a1 = kafka.producer(opts('127.0.0.1:9092', 'a'));
    const a2 = kafka.producer(opts('127.0.0.1:9092', 'a'));
    expect(kafka.stats().producers).toBe(1);
    expect(() => kafka.producer(opts('127.0.0.1:9093', 'a'))).toThrow(/This tenant's limit of 1 Kafka producers is reached/);
    const b = kafka.producer(opts('127.0.0.1:9092', 'b'));
    expect(kafka.stats().producers).toBe(2);
    expect(() => kafka.producer(opts('127.0.0.1:9092', 'c'))).toThrow(/This deployment's limit of 2 Kafka producers is reached/);
    await a1.release!();
    expect(kafka.stats().producers).toBe(2);
    await a2.release!();
    expect(kafka.stats().producers).toBe(1);
    kafka.producer(opts('127.0.0.1:9092', 'c'));
    await b.release!();
    await kafka.close();
  });

  it('a denied broker fails verify and send with the policy\'s error', async () => {
    const kafka = createKafkaService({ policy: createOutboundPolicy(), logger: silentLogger });
    const p = kafka.producer(opts('127.0.0.1:9092'));
    await expect(p.verify!()).rejects.toThrow(/^outbound call to 127\.0\.0\.1 denied by RIVULET_OUTBOUND_\* policy/);
    await expect(p.send({ topic: 'out', key: null, value: 'v' })).rejects.toThrow(/denied by RIVULET_OUTBOUND_\* policy/);
    await kafka.close();
  });

  it('publishes to the real broker: key, value, headers; partition and offset come back', async () => {
    const brokers = inject('kafkaBrokers');
    const topic = `t.kafka-service.${randomUUID()}`;
    const client = new Kafka({ clientId: 'kafka-service-test', brokers: brokers.split(','), logLevel: logLevel.NOTHING });
    const admin = client.admin();
    await admin.connect();
    await admin.createTopics({ topics: [{ topic, numPartitions: 3 }], waitForLeaders: true });
    const kafka = createKafkaService({ policy: loopback, logger: silentLogger });
    const p = kafka.producer(opts(brokers));
    const consumer = client.consumer({ groupId: `g.${randomUUID()}`, sessionTimeout: 6000, heartbeatInterval: 1000 });
    try {
      const first = await p.send({ topic, key: 'dev-1', value: '{"t":1}', headers: { h: new Uint8Array([1, 2]), s: 'text' } });
      const second = await p.send({ topic, key: 'dev-1', value: '{"t":2}' });
      expect(first).toMatchObject({ partition: expect.any(Number), offset: '0' });
      expect(second).toMatchObject({ partition: first!.partition, offset: '1' });
      await consumer.connect();
      await consumer.subscribe({ topic, fromBeginning: true });
      const got: Array<{ key: string; value: string; headers: Record<string, string> }> = [];
      await new Promise<void>((resolve) => {
        void consumer.run({
          eachMessage: async ({ message }) => {
            const headers = Object.fromEntries(Object.entries(message.headers ?? {}).map(([k, v]) => [k, Buffer.from(v as Buffer).toString('hex')]));
            got.push({ key: String(message.key), value: String(message.value), headers });
            if (got.length === 2) resolve();
          },
        });
      });
      expect(got).toEqual([
        { key: 'dev-1', value: '{"t":1}', headers: { h: '0102', s: Buffer.from('text').toString('hex') } },
        { key: 'dev-1', value: '{"t":2}', headers: {} },
      ]);
    } finally {
      await consumer.disconnect();
      await p.release!();
      await kafka.close();
      await admin.deleteTopics({ topics: [topic] }).catch(() => {});
      await admin.disconnect();
    }
  });
});
