import { BadRequestError, errorMessage } from '@rivulet/core';
import {
  QueueClosedError, deadLetterTopic, encodeValue, type ConsumedRecord, type DeadLetter, type Queue, type QueueRecord,
  type SubscribeOptions, type Subscription,
} from '@rivulet/queue';
import { Kafka, Partitioners, logLevel, type Admin, type Message, type Producer } from 'kafkajs';
import { readToEnd, replayable, throwawayGroup, type DeadLetterRecord, type ReplayResult } from './dead-letters';
import { checkName, settingsOf, type KafkaQueueOptions, type Settings } from './options';
import { LagGate, ProduceBatcher, cachingPartitioner } from './producer';
import { startSubscription } from './subscription';

/** The Queue on Kafka, plus dead-letter tools and the producer's backpressure state. */
export interface KafkaQueue extends Queue {
  readonly kind: 'kafka';
  /** Effective settings (defaults applied), for logs and readiness. */
  readonly settings: Omit<Settings, 'log'>;
  /** Reads `<topic>.dlq` from the beginning (newest last, at most `limit`, default 1000); commits nothing. */
  readDeadLetters(topic: string, options?: { limit?: number }): Promise<DeadLetterRecord[]>;
  /**
   * Puts the dead letters of `topic` not replayed before back on `topic` (same key, so per-key
   * order among the replayed holds), committing progress in group `<prefix>rivulet.dlq-replay`
   * so a second call replays only what was dead-lettered since. Undecodable records are skipped.
   */
  replayDeadLetters(topic: string): Promise<ReplayResult>;
  /** True while produce() to `topic` is held back because a consuming group lags more than maxLag. */
  isHeldBack(topic: string): boolean;
  /** Resolves once the broker answers (a metadata request): for readiness checks. */
  ping(): Promise<void>;
}

/**
 * Creates the Kafka queue. Connects lazily: the first produce/subscribe/lag call connects the
 * producer and admin client. Topics are created on first use with `partitions` partitions (the
 * broker's auto-creation is not relied on: kafkajs fails fatally subscribing to a missing topic).
 *
 * Producer: idempotent, acks -1 (every in-sync replica), key = record key (the originator id for
 * rule-engine messages), Kafka's default murmur2 partitioner (the same partition the Java client
 * picks, so other Kafka clients agree), concurrent produce() calls batched into one send.
 */
export function createKafkaQueue(options: KafkaQueueOptions): KafkaQueue {
  const settings = settingsOf(options);
  const log = settings.log;
  const kafka = new Kafka({
    clientId: settings.clientId,
    brokers: settings.brokers,
    logLevel: logLevel.NOTHING,
    retry: { retries: 8, initialRetryTime: 100, maxRetryTime: 5_000 },
  });
  const producer: Producer = kafka.producer({
    idempotent: true,
    maxInFlightRequests: 1,
    createPartitioner: cachingPartitioner(Partitioners.DefaultPartitioner),
    allowAutoTopicCreation: false,
  });
  const admin: Admin = kafka.admin();
  const batcher = new ProduceBatcher(producer);
  const topics = new Map<string, Promise<void>>();
  const subs = new Set<Subscription>();
  let connected: Promise<void> | undefined;
  let closed = false;
  let closing: Promise<void> | undefined;

  const physical = (topic: string): string => settings.prefix + checkName('topic', topic);
  const groupName = (group: string): string => settings.prefix + checkName('group', group);

  function connect(): Promise<void> {
    connected ??= Promise.all([producer.connect(), admin.connect()]).then(
      () => undefined,
      (e: unknown) => {
        connected = undefined;
        throw e;
      },
    );
    return connected;
  }

  function ensureTopic(name: string): Promise<void> {
    let p = topics.get(name);
    if (p === undefined) {
      p = connect()
        .then(() => admin.createTopics({ waitForLeaders: true, topics: [{ topic: name, numPartitions: settings.partitions }] }))
        .then(() => undefined, (e: unknown) => {
          topics.delete(name);
          throw e;
        });
      topics.set(name, p);
    }
    return p;
  }

  async function lagOf(topic: string, group: string, partitions?: number[]): Promise<number> {
    await connect();
    let ends;
    try {
      ends = await admin.fetchTopicOffsets(topic);
    } catch (e) {
      if (/does not host this topic-partition|UNKNOWN_TOPIC/i.test(errorMessage(e))) return 0;
      throw e;
    }
    const [committed] = await admin.fetchOffsets({ groupId: group, topics: [topic] });
    let sum = 0;
    for (const o of ends) {
      if (partitions !== undefined && !partitions.includes(o.partition)) continue;
      const c = Number(committed?.partitions.find((x) => x.partition === o.partition)?.offset ?? -1);
      sum += Number(o.high) - (c >= 0 ? c : Number(o.low));
    }
    return sum;
  }

  const gate = new LagGate(settings, async (topic) => {
    let most = 0;
    for (const g of settings.backpressureGroups[topic] ?? []) most = Math.max(most, await lagOf(physical(topic), groupName(g)));
    return most;
  });

  function toMessages<T>(records: ReadonlyArray<QueueRecord<T>>): Message[] {
    return records.map((r, i) => {
      if (typeof r.key !== 'string') throw new BadRequestError('record key must be a string', { details: { index: i } });
      return { key: r.key, value: encodeValue(r.value) };
    });
  }

  async function deadLetterRaw(topic: string, letters: DeadLetter[]): Promise<void> {
    if (letters.length === 0) return;
    const dlq = physical(deadLetterTopic(topic));
    await ensureTopic(dlq);
    await batcher.send(dlq, letters.map((d) => ({ key: d.key, value: encodeValue(d) })));
  }

  const queue: KafkaQueue = {
    kind: 'kafka',
    settings: (({ log: _log, ...rest }) => rest)(settings),

    async produce<T>(topic: string, records: ReadonlyArray<QueueRecord<T>>): Promise<void> {
      if (closed) throw new QueueClosedError('kafka');
      const name = physical(topic);
      if (records.length === 0) return;
      const messages = toMessages(records); // validates before anything is sent
      await gate.wait(topic);
      await ensureTopic(name);
      if (closed) throw new QueueClosedError('kafka');
      await batcher.send(name, messages);
    },

    async subscribe<T>(opts: SubscribeOptions<T>): Promise<Subscription> {
      if (closed) throw new QueueClosedError('kafka');
      if (typeof opts.handler !== 'function') throw new BadRequestError('handler must be a function');
      const maxBatch = opts.maxBatch ?? 500;
      if (!Number.isInteger(maxBatch) || maxBatch < 1) throw new BadRequestError('maxBatch must be a positive integer');
      const name = physical(opts.topic);
      const group = groupName(opts.group);
      await ensureTopic(name);
      const sub: Subscription = await startSubscription({
        settings, kafka, topic: opts.topic, physicalTopic: name, group, maxBatch,
        handler: opts.handler as (records: ReadonlyArray<ConsumedRecord<unknown>>) => Promise<void>,
        deadLetter: (letters) => deadLetterRaw(opts.topic, letters),
        lagOf: (partitions) => lagOf(name, group, partitions),
        onStopped: () => subs.delete(sub),
      });
      subs.add(sub);
      return sub;
    },

    lag: (topic, group) => lagOf(physical(topic), groupName(group)),

    async deadLetter<T>(records: ReadonlyArray<ConsumedRecord<T>>, reason: string): Promise<void> {
      if (closed) throw new QueueClosedError('kafka');
      const deadAt = Date.now();
      const byTopic = new Map<string, DeadLetter[]>();
      for (const r of records) {
        const list = byTopic.get(r.topic) ?? [];
        list.push({ topic: r.topic, partition: r.partition, offset: r.offset, key: r.key, value: r.value, reason, deliveryCount: r.deliveryCount, deadAt });
        byTopic.set(r.topic, list);
      }
      for (const [topic, letters] of byTopic) await deadLetterRaw(topic, letters);
    },

    async readDeadLetters(topic, opts = {}) {
      await connect();
      const limit = opts.limit ?? 1000;
      const out: DeadLetterRecord[] = [];
      await readToEnd(kafka, admin, settings, physical(deadLetterTopic(topic)), throwawayGroup(settings.prefix), false, async (records) => {
        out.push(...records);
      });
      out.sort((a, b) => a.partition - b.partition || a.offset - b.offset);
      return out.slice(-limit);
    },

    async replayDeadLetters(topic) {
      await connect();
      const result: ReplayResult = { replayed: 0, skipped: 0 };
      const group = `${settings.prefix}rivulet.dlq-replay`;
      await readToEnd(kafka, admin, settings, physical(deadLetterTopic(topic)), group, true, async (records) => {
        const back: QueueRecord<unknown>[] = [];
        for (const r of records) {
          const rec = replayable(r.value);
          if (rec) back.push(rec);
          else result.skipped++;
        }
        await queue.produce(topic, back);
        result.replayed += back.length;
      });
      log.info({ topic, ...result }, 'dead letters replayed');
      return result;
    },

    isHeldBack: (topic) => gate.isHeld(topic),

    async ping() {
      await connect();
      await admin.fetchTopicMetadata({ topics: [] });
    },

    close(): Promise<void> {
      closing ??= (async () => {
        closed = true;
        gate.close();
        await Promise.allSettled([...subs].map((s) => s.stop()));
        await Promise.allSettled([producer.disconnect(), admin.disconnect()]);
      })();
      return closing;
    },
  };
  return queue;
}
