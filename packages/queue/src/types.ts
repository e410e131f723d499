/**
 * The queue seam between ingestion (transports) and processing (the rule engine).
 *
 * Semantics every implementation must meet (the contract suite in ./contract checks them):
 * - produce(topic, records) resolves once every record is accepted (in memory: appended; Kafka:
 *   acknowledged by every in-sync replica). A full queue makes produce wait (backpressure), it
 *   never drops. "Full" is per implementation: memory, a partition at its capacity; Kafka, the
 *   consuming group's lag above maxLag.
 * - Records with the same key go to the same partition and are delivered in order.
 * - Consumers subscribe as a group; each partition is handled by one consumer of the group at a time,
 *   one batch at a time. By default the offset is committed only after the handler resolves
 *   (at-least-once); Kafka can commit on receipt instead (at-most-once, its commitMode).
 * - A handler that rejects gets the same records again (redelivery), after a backoff.
 * - Different groups each receive every record.
 *
 * Revised for Kafka (issue #11), where the first version was shaped by the memory queue:
 * - Values cross processes: a record value must be plain JSON (the wire form, ./wire, is
 *   {"v":1,"value":...}). The memory queue still passes values by reference, so a value that is
 *   not JSON works there and fails on Kafka: produce() rejects it with WireEncodeError.
 * - Redelivery is bounded on Kafka: after maxDeliveries the records go to the dead-letter topic
 *   `<topic>.dlq` (deadLetterTopic) and the partition moves on; a record that cannot be decoded goes
 *   there at once. Callers may dead-letter records themselves with deadLetter() (e.g. a batch that
 *   timed out). The memory queue keeps redelivering without bound, and keeps its dead letters in a
 *   bounded in-process list (lost on restart).
 * - deliveryCount is exact within one consumer; after a rebalance or a crash the new owner starts
 *   again at 1 (Kafka keeps no delivery counter).
 * - A handler may run longer than the Kafka session timeout: the Kafka queue heartbeats while it runs.
 */
export interface QueueRecord<T> {
  readonly key: string;
  readonly value: T;
}

export interface ConsumedRecord<T> extends QueueRecord<T> {
  readonly topic: string;
  readonly partition: number;
  readonly offset: number;
  /** 1 on first delivery, then counts redeliveries of this record to the group (best effort on Kafka). */
  readonly deliveryCount: number;
}

export type BatchHandler<T> = (records: ReadonlyArray<ConsumedRecord<T>>) => Promise<void>;

export interface SubscribeOptions<T> {
  topic: string;
  group: string;
  handler: BatchHandler<T>;
  /** Most records per handler call. */
  maxBatch?: number;
}

export interface Subscription {
  /**
   * Stops consuming. With drain, keeps going until every partition it owns is empty and committed
   * first (graceful shutdown: nothing accepted is left unprocessed in a memory queue). Without
   * drain, lets the in-flight batches finish (committed if their handler resolves) and resolves;
   * the group's other subscriptions take over its partitions.
   */
  stop(options?: { drain?: boolean }): Promise<void>;
}

export interface Queue {
  readonly kind: string;
  produce<T>(topic: string, records: ReadonlyArray<QueueRecord<T>>): Promise<void>;
  subscribe<T>(options: SubscribeOptions<T>): Promise<Subscription>;
  /** Records produced but not yet committed by `group` (its lag). */
  lag(topic: string, group: string): Promise<number>;
  /**
   * Sets consumed records aside for a person to inspect and replay, with the reason (the Kafka
   * queue writes them to `<topic>.dlq`). Resolves once they are stored; the caller then treats
   * them as done (its handler resolves, so the partition moves on).
   */
  deadLetter<T>(records: ReadonlyArray<ConsumedRecord<T>>, reason: string): Promise<void>;
  /**
   * Stops every subscription (as stop() without drain). Produce calls still waiting for room, and
   * any produce or subscribe afterwards, reject with QueueClosedError.
   */
  close(): Promise<void>;
}

/**
 * A record set aside: where it came from, why, and its value. `value` is absent and `raw` (base64
 * of the bytes) present when the record could not be decoded.
 */
export interface DeadLetter<T = unknown> {
  readonly topic: string;
  readonly partition: number;
  readonly offset: number;
  readonly key: string;
  readonly reason: string;
  readonly deliveryCount: number;
  /** When it was dead-lettered, ms since epoch. */
  readonly deadAt: number;
  readonly value?: T;
  readonly raw?: string;
}

/** The dead-letter topic of `topic`. */
export function deadLetterTopic(topic: string): string {
  return `${topic}.dlq`;
}

/** Topic names are constants (STYLE.md convention 1). */
export const Topics = {
  /** Messages from transports to the rule engine, keyed by originator id. */
  RULE_ENGINE: 'rivulet.rule-engine',
} as const;

export const Groups = {
  RULE_ENGINE: 'rule-engine',
} as const;
