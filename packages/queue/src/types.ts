/**
 * The queue seam between ingestion (transports) and processing (the rule engine).
 *
 * Semantics every implementation must meet (the contract suite in ./contract checks them):
 * - produce(topic, records) resolves once every record is accepted (in memory: appended; Kafka:
 *   acknowledged by the broker). A full queue makes produce wait (backpressure), it never drops.
 * - Records with the same key go to the same partition and are delivered in order.
 * - Consumers subscribe as a group; each partition is handled by one consumer of the group at a time,
 *   one batch at a time. The offset is committed only after the handler resolves (at-least-once).
 * - A handler that rejects gets the same records again (redelivery), after a backoff.
 * - Different groups each receive every record.
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
   * Stops every subscription (as stop() without drain). Produce calls still waiting for room, and
   * any produce or subscribe afterwards, reject with QueueClosedError.
   */
  close(): Promise<void>;
}

/** Topic names are constants (STYLE.md convention 1). */
export const Topics = {
  /** Messages from transports to the rule engine, keyed by originator id. */
  RULE_ENGINE: 'rivulet.rule-engine',
} as const;

export const Groups = {
  RULE_ENGINE: 'rule-engine',
} as const;
