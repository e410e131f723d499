import { errorMessage } from '@rivulet/core';
import { QueueClosedError } from '@rivulet/queue';
import type { ICustomPartitioner, Message, Producer, TopicMessages } from 'kafkajs';
import type { Settings } from './options';

/**
 * Batches concurrent produce() calls into one idempotent `sendBatch` (acks from every in-sync
 * replica): calls arriving while a send is in flight go out together in the next one, so a burst of
 * small produce calls (one per MQTT publish) costs one broker round trip. Order: the records of
 * one call keep their order, and a call is sent no earlier than the calls before it.
 */
const MAX_MESSAGES_PER_SEND = 5_000;

interface Pending {
  readonly topic: string;
  readonly messages: Message[];
  resolve(): void;
  reject(e: unknown): void;
}

export class ProduceBatcher {
  private queue: Pending[] = [];
  private sending = false;

  constructor(private readonly producer: Producer) {}

  send(topic: string, messages: Message[]): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.queue.push({ topic, messages, resolve, reject });
      if (!this.sending) void this.loop();
    });
  }

  private async loop(): Promise<void> {
    this.sending = true;
    try {
      while (this.queue.length > 0) {
        // Take whole calls up to the size cap (at least one call, however big).
        let n = 0;
        let count = 0;
        while (n < this.queue.length && (n === 0 || count + this.queue[n]!.messages.length <= MAX_MESSAGES_PER_SEND)) {
          count += this.queue[n]!.messages.length;
          n++;
        }
        const calls = this.queue.splice(0, n);
        const byTopic = new Map<string, Message[]>();
        for (const c of calls) {
          const list = byTopic.get(c.topic);
          if (list === undefined) byTopic.set(c.topic, [...c.messages]);
          else for (const m of c.messages) list.push(m);
        }
        const topicMessages: TopicMessages[] = [...byTopic].map(([topic, messages]) => ({ topic, messages }));
        try {
          await this.producer.sendBatch({ acks: -1, topicMessages });
          for (const c of calls) c.resolve();
        } catch (e) {
          for (const c of calls) c.reject(e);
        }
      }
    } finally {
      this.sending = false;
    }
  }
}

/** Keys remembered per topic before the cache starts over (device ids: one entry each). */
const PARTITION_CACHE_KEYS = 100_000;

/**
 * Kafka's default partitioner (murmur2 of the key, as the Java client) with the answer remembered
 * per topic, key and partition count: a device's messages keep coming with the same key, and
 * hashing each one in JavaScript (plus the partitioner's per-message copy of the partition list)
 * showed up in the transport's profile. Same partitions as the partitioner it wraps, always.
 */
export function cachingPartitioner(base: ICustomPartitioner): ICustomPartitioner {
  return () => {
    const partition = base();
    const cache = new Map<string, { count: number; byKey: Map<string, number> }>();
    return (args) => {
      const key = args.message.key;
      if (typeof key !== 'string' || args.message.partition != null) return partition(args);
      const count = args.partitionMetadata.length;
      let t = cache.get(args.topic);
      if (t === undefined || t.count !== count || t.byKey.size >= PARTITION_CACHE_KEYS) cache.set(args.topic, (t = { count, byKey: new Map() }));
      let p = t.byKey.get(key);
      if (p === undefined) t.byKey.set(key, (p = partition(args)));
      return p;
    };
  };
}

/**
 * Lag-based backpressure: while the lag of a gating group on a topic exceeds maxLag, produce() to
 * that topic waits. The lag is measured every lagCheckMs while producers are active (the poller
 * stops after a quiet period, so an idle queue sends no admin requests).
 */
export class LagGate {
  private over = new Map<string, boolean>();
  private waiters = new Map<string, Array<{ resolve(): void; reject(e: unknown): void }>>();
  private lastUse = new Map<string, number>();
  private timers = new Map<string, ReturnType<typeof setTimeout>>();
  private checking = new Map<string, Promise<void>>();
  private closed = false;

  constructor(
    private readonly settings: Settings,
    /** Highest lag among the gating groups of a logical topic. */
    private readonly measure: (topic: string) => Promise<number>,
  ) {}

  gated(topic: string): boolean {
    return (this.settings.backpressureGroups[topic]?.length ?? 0) > 0;
  }

  /** Resolves when producing to `topic` may go ahead. */
  async wait(topic: string): Promise<void> {
    if (this.closed) throw new QueueClosedError('kafka');
    if (!this.gated(topic)) return;
    this.lastUse.set(topic, Date.now());
    if (!this.timers.has(topic)) {
      // The poller was idle: measure before letting this call through, so an idle spell cannot
      // let a burst past the bound.
      let first = this.checking.get(topic);
      if (first === undefined) {
        first = this.check(topic).finally(() => this.checking.delete(topic));
        this.checking.set(topic, first);
      }
      await first;
      if (this.closed) throw new QueueClosedError('kafka');
    }
    if (this.over.get(topic) !== true) return;
    await new Promise<void>((resolve, reject) => {
      let list = this.waiters.get(topic);
      if (list === undefined) this.waiters.set(topic, (list = []));
      list.push({ resolve, reject });
    });
  }

  /** True while `topic` is held back (for tests and readiness). */
  isHeld(topic: string): boolean {
    return this.over.get(topic) === true;
  }

  private schedule(topic: string, delay: number): void {
    const t = setTimeout(() => void this.check(topic), delay);
    t.unref();
    this.timers.set(topic, t);
  }

  private async check(topic: string): Promise<void> {
    if (this.closed) return;
    let lag: number;
    try {
      lag = await this.measure(topic);
    } catch (e) {
      // Cannot tell: keep the last verdict rather than release or block on a broker hiccup.
      this.settings.log.warn({ topic, err: errorMessage(e) }, 'lag check failed');
      this.schedule(topic, this.settings.lagCheckMs);
      return;
    }
    if (this.closed) return;
    const over = lag > this.settings.maxLag;
    if (over !== (this.over.get(topic) === true)) {
      this.settings.log.warn({ topic, lag, maxLag: this.settings.maxLag }, over ? 'producers held back: consumer lag above maxLag' : 'producers released');
    }
    this.over.set(topic, over);
    if (!over) {
      const list = this.waiters.get(topic) ?? [];
      this.waiters.delete(topic);
      for (const w of list) w.resolve();
    }
    const idle = Date.now() - (this.lastUse.get(topic) ?? 0) > 10 * this.settings.lagCheckMs;
    if (idle && !over) this.timers.delete(topic);
    else this.schedule(topic, this.settings.lagCheckMs);
  }

  close(): void {
    this.closed = true;
    for (const t of this.timers.values()) clearTimeout(t);
    this.timers.clear();
    const err = new QueueClosedError('kafka');
    for (const list of this.waiters.values()) for (const w of list) w.reject(err);
    this.waiters.clear();
  }
}
