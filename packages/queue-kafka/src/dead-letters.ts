import { randomUUID } from 'node:crypto';
import { errorMessage, isMsg } from '@rivulet/core';
import { decodeValue, type DeadLetter, type QueueRecord } from '@rivulet/queue';
import type { Admin, Kafka } from 'kafkajs';
import type { Settings } from './options';

/** One record of a dead-letter topic as read back. */
export interface DeadLetterRecord {
  /** Partition and offset in the dead-letter topic. */
  readonly partition: number;
  readonly offset: number;
  readonly key: string;
  /** The decoded value: a DeadLetter from this queue, or another writer's record (the rule engine's). */
  readonly value: unknown;
}

export interface ReplayResult {
  /** Records put back on the source topic. */
  replayed: number;
  /** Records that cannot be replayed (undecodable originals, unknown shapes), left in place. */
  skipped: number;
}

/**
 * What a dead-letter record puts back on the source topic, or undefined. Knows two shapes: this
 * queue's DeadLetter ({key, value}, not `raw`), and a dead letter carrying a rule-engine message
 * under `msg` (the rule engine's, keyed by originator) without importing the rule engine.
 */
export function replayable(value: unknown): QueueRecord<unknown> | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const v = value as Partial<DeadLetter> & { msg?: unknown };
  if (isMsg(v.msg)) return { key: v.msg.originator.id, value: v.msg };
  if (typeof v.key === 'string' && 'value' in v && v.raw === undefined) return { key: v.key, value: v.value };
  return undefined;
}

/**
 * Reads `physicalTopic` from the group's committed position (or the beginning) up to the end
 * offsets seen when it starts, calling `onBatch` per batch; commits after each batch when `commit`.
 */
export async function readToEnd(
  kafka: Kafka,
  admin: Admin,
  settings: Settings,
  physicalTopic: string,
  groupId: string,
  commit: boolean,
  onBatch: (records: DeadLetterRecord[]) => Promise<boolean | void>,
): Promise<void> {
  let ends: Map<number, bigint>;
  try {
    ends = new Map((await admin.fetchTopicOffsets(physicalTopic)).map((o) => [o.partition, BigInt(o.high)]));
  } catch (e) {
    if (/does not host this topic-partition|UNKNOWN_TOPIC/i.test(errorMessage(e))) return;
    throw e;
  }
  const committed = commit ? await admin.fetchOffsets({ groupId, topics: [physicalTopic] }) : [];
  const remaining = new Map<number, bigint>();
  for (const [p, high] of ends) {
    const c = committed[0]?.partitions.find((x) => x.partition === p);
    const from = c && BigInt(c.offset) >= 0n ? BigInt(c.offset) : 0n;
    if (high > from) remaining.set(p, high);
  }
  if (remaining.size === 0) return;
  const consumer = kafka.consumer({ groupId, sessionTimeout: settings.sessionTimeout, heartbeatInterval: settings.heartbeatInterval, maxWaitTimeInMs: 250 });
  let finish!: () => void;
  let fail!: (e: unknown) => void;
  const done = new Promise<void>((resolve, reject) => ((finish = resolve), (fail = reject)));
  try {
    await consumer.connect();
    await consumer.subscribe({ topics: [physicalTopic], fromBeginning: true });
    await consumer.run({
      autoCommit: false,
      eachBatchAutoResolve: false,
      eachBatch: async ({ batch, resolveOffset, commitOffsetsIfNecessary }) => {
        const end = remaining.get(batch.partition);
        if (end === undefined) return;
        const msgs = batch.messages.filter((m) => BigInt(m.offset) < end);
        if (msgs.length === 0) return;
        const records: DeadLetterRecord[] = msgs.map((m) => {
          let value: unknown;
          try {
            value = decodeValue(m.value);
          } catch (e) {
            value = { undecodable: errorMessage(e), raw: m.value?.toString('base64') ?? '' };
          }
          return { partition: batch.partition, offset: Number(m.offset), key: m.key?.toString('utf8') ?? '', value };
        });
        try {
          const more = await onBatch(records);
          const last = msgs[msgs.length - 1]!.offset;
          resolveOffset(last);
          const offset = (BigInt(last) + 1n).toString();
          if (commit) await commitOffsetsIfNecessary({ topics: [{ topic: physicalTopic, partitions: [{ partition: batch.partition, offset }] }] });
          if (BigInt(last) + 1n >= end) remaining.delete(batch.partition);
          if (remaining.size === 0 || more === false) finish();
        } catch (e) {
          fail(e);
        }
      },
    });
    await done;
  } finally {
    await consumer.disconnect().catch(() => {});
  }
}

/** A group id for reads that commit nothing (inspection). */
export function throwawayGroup(prefix: string): string {
  return `${prefix}rivulet.dlq-inspect.${randomUUID()}`;
}
