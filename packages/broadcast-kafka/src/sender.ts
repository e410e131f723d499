import type { Logger } from '@rivulet/core';
import type { Message, Producer } from 'kafkajs';

/**
 * Background sending for a Broadcast, whose publish calls are synchronous and must never block:
 * messages queue per topic and go out in one send per topic at a time (keeping each topic's
 * order), so a topic that cannot be written (a dead node's topic) does not hold up the others.
 * Past `maxPending` queued messages new ones are dropped and counted: the broadcast is
 * at-most-once, and memory must stay bounded when Kafka is unreachable.
 */
/** Bytes of keys and values per produce request; half the broker's default message.max.bytes. */
const MAX_SEND_BYTES = 512 * 1024;
const sizeOf = (m: Message): number => (m.value?.length ?? 0) + (m.key?.length ?? 0) + 64;

export class TopicSender {
  private readonly queues = new Map<string, Message[]>();
  private readonly busy = new Set<string>();
  private readonly idle = new Set<() => void>();
  private pending = 0;
  dropped = 0;
  failed = 0;

  constructor(
    private readonly producer: Producer,
    private readonly log: Logger,
    private readonly maxPending = 100_000,
  ) {}

  enqueue(topic: string, message: Message): void {
    if (this.pending >= this.maxPending) {
      if (this.dropped++ % 1000 === 0) this.log.warn({ topic, dropped: this.dropped, maxPending: this.maxPending }, 'kafka broadcast send queue full: events dropped');
      return;
    }
    let q = this.queues.get(topic);
    if (q === undefined) this.queues.set(topic, (q = []));
    q.push(message);
    this.pending++;
    if (!this.busy.has(topic)) {
      this.busy.add(topic);
      // next tick: the publish calls of this tick travel in one request
      setImmediate(() => void this.drain(topic));
    }
  }

  private async drain(topic: string): Promise<void> {
    for (;;) {
      const q = this.queues.get(topic);
      if (q === undefined || q.length === 0) break;
      // At most MAX_SEND_BYTES per request (at least one message): the broker refuses a record batch
      // over its message.max.bytes (1 MiB by default) whole, which dropped every event queued with it.
      let n = 0;
      let bytes = 0;
      while (n < q.length && (n === 0 || bytes + sizeOf(q[n]!) <= MAX_SEND_BYTES)) bytes += sizeOf(q[n++]!);
      const batch = n === q.length ? q : q.splice(0, n);
      if (batch === q) this.queues.delete(topic);
      this.pending -= batch.length;
      try {
        await this.producer.send({ topic, acks: 1, messages: batch });
      } catch (e) {
        this.failed += batch.length;
        this.log.warn({ topic, messages: batch.length, err: e instanceof Error ? e.message : String(e) }, 'kafka broadcast send failed: events dropped');
      }
    }
    this.busy.delete(topic);
    if (this.busy.size === 0) for (const f of [...this.idle]) f();
  }

  /** Resolves when everything queued so far was sent (or given up), or after timeoutMs. */
  flush(timeoutMs: number): Promise<void> {
    if (this.busy.size === 0) return Promise.resolve();
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        this.idle.delete(done);
        resolve();
      };
      const timer = setTimeout(done, timeoutMs);
      this.idle.add(done);
    });
  }
}
