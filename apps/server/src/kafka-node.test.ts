import { randomUUID } from 'node:crypto';
import { createTestDatabase, recordingLogger, type LogEntry } from '@rivulet/testing';
import { Kafka, logLevel } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { Rivulet } from './app';
import { api, createDevice, eventually, login, startTestServer, tempDir } from './test-helpers';

/**
 * A ThingsBoard chain (as ThingsBoard exports it): device telemetry only (the REST calls of the test
 * produce platform events such as ENTITY_CREATED too) into one Kafka node.
 */
function kafkaChain(bootstrapServers: string, topicPattern: string, configuration: unknown = null) {
  return {
    ruleChain: { additionalInfo: null, name: 'To Kafka', type: 'CORE', firstRuleNodeId: null, root: false, debugMode: false, configuration },
    metadata: {
      firstNodeIndex: 0,
      nodes: [
        { type: 'org.thingsboard.rule.engine.filter.TbMsgTypeFilterNode', name: 'Telemetry', debugMode: false, configuration: { messageTypes: ['POST_TELEMETRY_REQUEST'] } },
        {
          type: 'org.thingsboard.rule.engine.kafka.TbKafkaNode',
          name: 'Kafka',
          debugMode: false,
          configuration: { topicPattern, keyPattern: '${deviceName}', bootstrapServers, retries: 0, batchSize: 16384, linger: 0, bufferMemory: 33554432, acks: '-1', keySerializer: 'org.apache.kafka.common.serialization.StringSerializer', valueSerializer: 'org.apache.kafka.common.serialization.StringSerializer', otherProperties: {}, addMetadataKeyValuesAsKafkaHeaders: true, kafkaHeadersCharset: 'UTF-8' },
        },
      ],
      connections: [{ fromIndex: 0, toIndex: 1, type: 'True' }],
      ruleChainConnections: null,
    },
  };
}

describe('Kafka rule node against the real broker', () => {
  const brokers = inject('kafkaBrokers');
  let app: Rivulet;
  let db: { url: string; drop(): Promise<void> };
  let jwt: string;
  const dir = tempDir();
  beforeAll(async () => {
    db = await createTestDatabase('kafkanode');
    app = await startTestServer({ DATABASE_URL: db.url, RIVULET_DATA_DIR: dir.dir, RIVULET_OUTBOUND_ALLOW: '127.0.0.1/32' });
    jwt = await login(app.url);
  });
  afterAll(async () => {
    await app?.stop();
    await db?.drop();
    dir.remove();
  });

  it('a device message goes through the chain to the topic: key from the pattern, data as value, metadata as tb_msg_md_ headers', async () => {
    const suffix = randomUUID();
    const topic = `t.sensor.${suffix}`;
    const client = new Kafka({ clientId: 'kafka-node-test', brokers: brokers.split(','), logLevel: logLevel.NOTHING });
    const admin = client.admin();
    await admin.connect();
    await admin.createTopics({ topics: [{ topic, numPartitions: 2 }], waitForLeaders: true });
    const consumer = client.consumer({ groupId: `g.${randomUUID()}`, sessionTimeout: 6000, heartbeatInterval: 1000 });
    try {
      const imported = await api<{ id: { id: string } }>(app.url, jwt, '/api/ruleChain/import', { method: 'POST', body: kafkaChain(brokers, `t.\${deviceType}.${suffix}`) });
      expect(imported.status, JSON.stringify(imported.body)).toBe(200);
      expect((await api(app.url, jwt, `/api/ruleChain/${imported.body.id.id}/root`, { method: 'POST' })).status).toBe(200);
      const device = await createDevice(app.url, jwt, 'pump-7');
      const got: Array<{ key: string; value: string; headers: Record<string, string> }> = [];
      await consumer.connect();
      await consumer.subscribe({ topic, fromBeginning: true });
      void consumer.run({
        eachMessage: async ({ message }) => {
          const headers = Object.fromEntries(Object.entries(message.headers ?? {}).map(([k, v]) => [k, String(v)]));
          got.push({ key: String(message.key), value: String(message.value), headers });
        },
      });
      const r = await fetch(`${app.url}/api/v1/${device.token}/telemetry`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ temperature: 21.5 }) });
      expect(r.status).toBe(200);
      const record = await eventually(async () => got.find((g) => g.value.includes('temperature')), 20_000);
      expect(record.key).toBe('pump-7');
      expect(JSON.parse(record.value)).toEqual({ temperature: 21.5 });
      expect(record.headers).toMatchObject({ tb_msg_md_deviceName: 'pump-7', tb_msg_md_deviceType: 'sensor' });
      expect(Number(record.headers.tb_msg_md_ts)).toBeGreaterThan(0);
      expect(app.ruleEngine!.stats().deadLettered).toBe(0);
    } finally {
      await consumer.disconnect();
      await admin.deleteTopics({ topics: [topic] }).catch(() => {});
      await admin.disconnect();
    }
  });

  it('a chain writing to a platform topic (rivulet.*) is refused per message: Failure, then the dead-letter topic', async () => {
    const imported = await api<{ id: { id: string } }>(app.url, jwt, '/api/ruleChain/import', { method: 'POST', body: kafkaChain(brokers, 'rivulet.rule-engine', { processingStrategy: { type: 'SKIP_ALL_FAILURES' } }) });
    expect(imported.status, JSON.stringify(imported.body)).toBe(200);
    expect((await api(app.url, jwt, `/api/ruleChain/${imported.body.id.id}/root`, { method: 'POST' })).status).toBe(200);
    const device = await createDevice(app.url, jwt, 'sneaky');
    const before = app.ruleEngine!.stats().deadLettered;
    await fetch(`${app.url}/api/v1/${device.token}/telemetry`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ x: 1 }) });
    const entry = await eventually(async () => app.deadLetters!.list().find((e) => e.deadLetter?.msg.originator.id === device.id && e.deadLetter.msg.type === 'POST_TELEMETRY_REQUEST'), 60_000);
    expect(entry.deadLetter!.error).toMatch(/Kafka topic "rivulet.rule-engine" is reserved for the platform/);
    expect(app.ruleEngine!.stats().deadLettered).toBeGreaterThan(before);
  });
});

describe('a deployment without Kafka producers (RIVULET_RULE_KAFKA_MAX_PRODUCERS=0)', () => {
  let app: Rivulet;
  let jwt: string;
  const logs: LogEntry[] = [];
  const dir = tempDir();
  beforeAll(async () => {
    app = await startTestServer({ RIVULET_DATA_DIR: dir.dir, RIVULET_RULE_KAFKA_MAX_PRODUCERS: '0', RIVULET_RULE_ENGINE_RETRIES: '0' }, { logger: recordingLogger(logs) });
    jwt = await login(app.url);
  });
  afterAll(async () => {
    await app?.stop();
    dir.remove();
  });

  it('refuses a chain with the Kafka node on save (REST) with a 400 naming node and capability', async () => {
    const r = await api<{ message: string; errorCode: number }>(app.url, jwt, '/api/ruleChain/import', { method: 'POST', body: kafkaChain('127.0.0.1:9092', 'out') });
    expect(r.status).toBe(400);
    expect(r.body.message).toBe(`Node 1 "Kafka" (Kafka publish) needs Kafka producers, which this deployment does not provide ('kafka' capability)`);
  });

  it('refuses it on load (a chain stored before): logged once per load, the messages dead-lettered with that error', async () => {
    const chain = kafkaChain('127.0.0.1:9092', 'out');
    const id = randomUUID();
    await app.storage.ruleChains.save({ id, tenantId: app.tenantId, name: 'stored earlier', root: false, debugMode: false, metadata: chain.metadata as never });
    await app.storage.ruleChains.setRoot(app.tenantId, id);
    app.ruleEngine!.invalidate(app.tenantId);
    const device = await createDevice(app.url, jwt, 'meter');
    await fetch(`${app.url}/api/v1/${device.token}/telemetry`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ kwh: 3 }) });
    const entry = await eventually(async () => app.deadLetters!.list().find((e) => e.deadLetter?.msg.type === 'POST_TELEMETRY_REQUEST' && e.deadLetter.msg.originator.id === device.id), 20_000);
    expect(entry.deadLetter!.error).toContain(`needs Kafka producers, which this deployment does not provide ('kafka' capability)`);
    expect(logs.some((l) => l.msg === 'rule chain refused' && String(l.fields.err).includes("'kafka' capability"))).toBe(true);
  });
});
