import { errorMessage, isMsg, silentLogger, type Logger, type Msg } from '@rivulet/core';
import type { ConsumedRecord, Queue, Subscription } from '@rivulet/queue';
import { isDeadLetter, type DeadLetterEntry } from './dead-letter';

export interface DeadLetterStoreOptions {
  queue: Queue;
  /** The dead-letter topic (`<rule-engine topic>.dlq`). */
  topic: string;
  /** Where replayed messages go (the rule-engine topic). */
  replayTopic: string;
  /** Consumer group of this view; per process with Kafka (each API process sees every dead letter). */
  group: string;
  /** Newest entries kept (default 1000); older ones stay only in the topic (Kafka's retention). */
  maxEntries?: number;
  logger?: Logger;
}

export interface DeadLetterStore {
  start(): Promise<void>;
  stop(): Promise<void>;
  /** Newest first; `tenantId` keeps one tenant's. */
  list(filter?: { tenantId?: string; limit?: number }): DeadLetterEntry[];
  /**
   * Puts the messages of these entries (all dead letters when `ids` is absent) back on the
   * rule-engine topic and drops them from the view; ids unknown here, and records that are not
   * dead letters, come back as `notFound`.
   */
  replay(ids?: readonly string[]): Promise<{ replayed: number; notFound: string[] }>;
  size(): number;
}

/**
 * A consumer of the dead-letter topic that keeps its newest records in memory for the admin API
 * (list, replay). It also keeps the memory queue's dead-letter topic drained (a topic nobody
 * consumes would fill and stall the engine's writes to it). The topic is the durable record on
 * Kafka; this view starts empty with each process (on Kafka it re-reads what the topic retains).
 */
export function createDeadLetterStore(options: DeadLetterStoreOptions): DeadLetterStore {
  const logger = (options.logger ?? silentLogger).child({ component: 'dead-letters' });
  const maxEntries = options.maxEntries ?? 1000;
  const entries = new Map<string, DeadLetterEntry>();
  let sub: Subscription | undefined;

  function add(r: ConsumedRecord<unknown>): void {
    const id = `${r.partition}:${r.offset}`;
    const entry: DeadLetterEntry = isDeadLetter(r.value) ? { id, partition: r.partition, offset: r.offset, deadLetter: r.value } : { id, partition: r.partition, offset: r.offset, raw: r.value };
    entries.delete(id);
    entries.set(id, entry);
    if (entries.size > maxEntries) {
      const oldest = entries.keys().next();
      if (!oldest.done) entries.delete(oldest.value);
    }
  }

  return {
    async start() {
      sub ??= await options.queue.subscribe<unknown>({
        topic: options.topic,
        group: options.group,
        handler: async (records) => {
          for (const r of records) add(r);
        },
      });
    },
    async stop() {
      const s = sub;
      sub = undefined;
      await s?.stop();
    },
    list(filter = {}) {
      const out: DeadLetterEntry[] = [];
      const limit = filter.limit ?? maxEntries;
      const all = [...entries.values()];
      for (let i = all.length - 1; i >= 0 && out.length < limit; i--) {
        const e = all[i]!;
        if (filter.tenantId !== undefined && e.deadLetter?.msg.tenantId !== filter.tenantId) continue;
        out.push(e);
      }
      return out;
    },
    async replay(ids) {
      const wanted = ids ?? [...entries.keys()];
      const notFound: string[] = [];
      const found: DeadLetterEntry[] = [];
      const msgs: Msg[] = [];
      for (const id of wanted) {
        const e = entries.get(id);
        const msg = e && messageOf(e);
        if (e && msg) {
          found.push(e);
          msgs.push(msg);
        } else notFound.push(id);
      }
      if (found.length > 0) {
        try {
          await options.queue.produce(
            options.replayTopic,
            msgs.map((m) => ({ key: m.originator.id, value: m })),
          );
        } catch (e) {
          logger.error({ count: found.length, err: errorMessage(e) }, 'dead letters not replayed');
          throw e;
        }
        for (const e of found) entries.delete(e.id);
        logger.info({ count: found.length }, 'dead letters replayed');
      }
      return { replayed: found.length, notFound };
    },
    size: () => entries.size,
  };
}

/**
 * The message a dead-letter record carries: the engine's dead letter, or a record the queue set
 * aside whose value is a message (the Kafka queue's `{topic, key, reason, value, ...}`); undefined
 * for anything else (an undecodable record).
 */
export function messageOf(e: DeadLetterEntry): Msg | undefined {
  if (e.deadLetter) return e.deadLetter.msg;
  const raw = e.raw as { value?: unknown } | null | undefined;
  return typeof raw === 'object' && raw !== null && isMsg(raw.value) ? raw.value : undefined;
}
