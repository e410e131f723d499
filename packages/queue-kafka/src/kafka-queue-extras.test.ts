import { randomUUID } from 'node:crypto';
import { isRivuletError } from '@rivulet/core';
import type { ConsumedRecord, DeadLetter, Subscription } from '@rivulet/queue';
import { Kafka, Partitioners, logLevel } from 'kafkajs';
import { afterEach, describe, expect, inject, it } from 'vitest';
import { createKafkaQueue, type KafkaQueue } from './kafka-queue';
import type { KafkaQueueOptions } from './options';

/** What the contract does not cover: dead letters, replay, commit modes, backpressure, heartbeats, settings. */
const brokers = (): string[] => inject('kafkaBrokers').split(',');
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const name = (p: string): string => `rivulet-test.${p}.${randomUUID().slice(0, 8)}`;

const open: Array<KafkaQueue | Subscription> = [];
afterEach(async () => {
  for (const o of open.splice(0).reverse()) await ('close' in o ? o.close() : o.stop());
});

function queue(extra: Partial<KafkaQueueOptions> = {}): KafkaQueue {
  const q = createKafkaQueue({ brokers: brokers(), clientId: 'extras', sessionTimeout: 6_000, heartbeatInterval: 500, retryBackoffMs: 10, ...extra });
  open.push(q);
  return q;
}

async function until(what: string, cond: () => boolean | Promise<boolean>, ms = 30_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

describe('kafka queue: dead letters and replay', () => {
  it('dead-letters a poison record after maxDeliveries (neighbours pass on their own try) and undecodable records at once; replay puts them back once', async () => {
    const q = queue({ maxDeliveries: 3 });
    const topic = name('poison');
    const group = name('g');
    const records = Array.from({ length: 6 }, (_, i) => ({ key: 'dev-1', value: { id: i } }));
    await q.produce(topic, records);
    // Bytes no Rivulet writer produces: a future envelope version and plain text.
    const kafka = new Kafka({ clientId: 'raw', brokers: brokers(), logLevel: logLevel.NOTHING });
    const raw = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner });
    await raw.connect();
    await raw.send({ topic, messages: [{ key: 'dev-1', value: '{"v":2,"value":{"id":99}}' }, { key: 'dev-1', value: 'not json' }] });
    await raw.disconnect();
    await q.produce(topic, [{ key: 'dev-1', value: { id: 100 } }]);

    let poisonOn = true;
    const ok: number[] = [];
    const poisonCounts: number[] = [];
    open.push(await q.subscribe<{ id: number }>({
      topic, group, handler: async (batch) => {
        const poison = batch.find((r) => r.value.id === 3);
        if (poison && poisonOn) {
          poisonCounts.push(poison.deliveryCount);
          throw new Error('poison record (expected by the test)');
        }
        for (const r of batch) ok.push(r.value.id);
      },
    }));
    await until('lag 0', async () => (await q.lag(topic, group)) === 0);
    expect(ok.sort((a, b) => a - b)).toEqual([0, 1, 2, 4, 5, 100]);
    expect(poisonCounts).toEqual([1, 2, 3, 4]); // 3 batch deliveries, then one try alone

    const dead = (await q.readDeadLetters(topic)).map((r) => r.value as DeadLetter<{ id: number }>);
    expect(dead).toHaveLength(3);
    // Undecodable records are set aside when the slice is decoded, before the handler's retries.
    const [future, text, poison] = dead;
    expect(future).toMatchObject({ topic, key: 'dev-1', offset: 6, reason: 'undecodable: Unknown envelope version 2; this reader understands v1' });
    expect(Buffer.from(future!.raw!, 'base64').toString()).toBe('{"v":2,"value":{"id":99}}');
    expect(text!.reason).toMatch(/^undecodable: Record value is not JSON/);
    expect(text!.value).toBeUndefined();
    expect(poison).toMatchObject({ topic, key: 'dev-1', offset: 3, value: { id: 3 }, deliveryCount: 4, reason: 'failed 4 deliveries: poison record (expected by the test)' });

    poisonOn = false;
    expect(await q.replayDeadLetters(topic)).toEqual({ replayed: 1, skipped: 2 });
    await until('the replayed record', () => ok.includes(3));
    expect(await q.replayDeadLetters(topic)).toEqual({ replayed: 0, skipped: 0 });
    await until('lag 0 after replay', async () => (await q.lag(topic, group)) === 0);
    expect(ok.filter((id) => id === 3)).toHaveLength(1);
  }, 90_000);
});

describe('kafka queue: commit modes', () => {
  it("'on-receipt' commits before the handler runs (lag 0 while it is still busy); 'after-processing' only after", async () => {
    for (const commitMode of ['on-receipt', 'after-processing'] as const) {
      const q = queue({ commitMode });
      const topic = name(commitMode);
      const group = name('g');
      await q.produce(topic, Array.from({ length: 10 }, (_, i) => ({ key: `k${i}`, value: i })));
      let release!: () => void;
      const held = new Promise<void>((r) => (release = r));
      let seen = 0;
      const sub = await q.subscribe<number>({ topic, group, handler: async (b) => { seen += b.length; await held; } });
      await until('the handler to start', () => seen > 0);
      await sleep(500);
      const lag = await q.lag(topic, group);
      if (commitMode === 'on-receipt') expect(lag).toBe(10 - seen);
      else expect(lag).toBe(10);
      release();
      await until('lag 0', async () => (await q.lag(topic, group)) === 0);
      await sub.stop();
    }
  }, 60_000);
});

describe('kafka queue: backpressure and heartbeats', () => {
  it('holds produce() while the consuming group lags more than maxLag, and lets it go once the group catches up', async () => {
    const topic = name('lagged');
    const group = name('g');
    const q = queue({ maxLag: 10, lagCheckMs: 50, backpressureGroups: { [topic]: [group] } });
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    open.push(await q.subscribe<number>({ topic, group, handler: () => held }));
    await q.produce(topic, Array.from({ length: 20 }, (_, i) => ({ key: `k${i}`, value: i })));
    let pending: Promise<void> | undefined;
    let n = 0;
    await until('a produce call to be held back', async () => {
      const p = q.produce(topic, [{ key: 'late', value: n++ }]);
      const done = await Promise.race([p.then(() => true), sleep(300).then(() => false)]);
      if (!done) pending = p;
      return !done;
    }, 10_000);
    expect(q.isHeldBack(topic)).toBe(true);
    let resolved = false;
    void pending!.then(() => (resolved = true));
    await sleep(500);
    expect(resolved).toBe(false);
    release();
    await until('the held produce to resolve', () => resolved, 10_000);
    expect(q.isHeldBack(topic)).toBe(false);
  }, 60_000);

  it('heartbeats while a handler outlasts the session timeout: no rebalance, every record delivered once', async () => {
    const q = queue({ sessionTimeout: 2_000, heartbeatInterval: 300 });
    const topic = name('slow');
    const group = name('g');
    await q.produce(topic, Array.from({ length: 5 }, (_, i) => ({ key: 'k', value: i })));
    const delivered: Array<ConsumedRecord<number>> = [];
    open.push(await q.subscribe<number>({
      topic, group, handler: async (b) => {
        delivered.push(...b);
        if (delivered.length === b.length) await sleep(5_000); // first batch: 2.5 session timeouts
      },
    }));
    await until('lag 0', async () => (await q.lag(topic, group)) === 0, 30_000);
    await sleep(1_000);
    expect(delivered.map((r) => r.value)).toEqual([0, 1, 2, 3, 4]);
    expect(delivered.every((r) => r.deliveryCount === 1)).toBe(true);
  }, 60_000);
});

describe('kafka queue: settings and bad input', () => {
  it.each([
    [{ brokers: [] }, /brokers must be a non-empty list/],
    [{ brokers: ['nohost'] }, /host:port/],
    [{ clientId: ' ' }, /clientId/],
    [{ commitMode: 'sometimes' }, /commitMode must be 'after-processing' or 'on-receipt'/],
    [{ maxLag: 0 }, /maxLag must be an integer >= 1/],
    [{ sessionTimeout: 500 }, /sessionTimeout must be an integer >= 1000/],
    [{ topicPrefix: 'a b' }, /topicPrefix/],
  ])('refuses %j with a clear INVALID_CONFIG error', (bad, message) => {
    const make = () => createKafkaQueue({ brokers: ['127.0.0.1:9092'], clientId: 'x', ...(bad as object) } as KafkaQueueOptions);
    expect(make).toThrow(message);
    try {
      make();
    } catch (e) {
      expect(isRivuletError(e) && e.code).toBe('INVALID_CONFIG');
    }
  });

  it('rejects bad topic names and values that are not JSON, sending nothing', async () => {
    const q = queue();
    await expect(q.produce('bad topic!', [{ key: 'k', value: 1 }])).rejects.toThrow(/topic name must be/);
    await expect(q.produce(name('t'), [{ key: 'k', value: 1 }, { key: 'k', value: 1n as never }])).rejects.toThrow(/not JSON-serialisable/);
  });

  it('prefixes topics and groups with topicPrefix; records report the logical topic', async () => {
    const prefix = `${name('pfx')}.`;
    const q = queue({ topicPrefix: prefix });
    const topic = name('t');
    await q.produce(topic, [{ key: 'k', value: 'hello' }]);
    const got: ConsumedRecord<string>[] = [];
    open.push(await q.subscribe<string>({ topic, group: 'g', handler: async (b) => void got.push(...b) }));
    await until('the record', () => got.length === 1);
    expect(got[0]).toMatchObject({ topic, value: 'hello', key: 'k' });
    const admin = new Kafka({ clientId: 'check', brokers: brokers(), logLevel: logLevel.NOTHING }).admin();
    await admin.connect();
    try {
      expect(await admin.listTopics()).toContain(`${prefix}${topic}`);
      expect((await admin.listGroups()).groups.map((g) => g.groupId)).toContain(`${prefix}g`);
    } finally {
      await admin.disconnect();
    }
  }, 30_000);
});
