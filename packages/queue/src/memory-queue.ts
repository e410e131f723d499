import { BadRequestError, ErrorCode, RivuletError, errorMessage, silentLogger, type Logger } from '@rivulet/core';
import { QueueClosedError } from './errors';
import type { BatchHandler, ConsumedRecord, DeadLetter, Queue, QueueRecord, SubscribeOptions, Subscription } from './types';

/**
 * An in-process Queue with Kafka's semantics (partitioned logs, per-group committed offsets,
 * commit after the handler resolves, redelivery with backoff, bounded retention with backpressure),
 * so that code tested against it behaves the same on Kafka. Unlike ThingsBoard's in-memory queue,
 * a commit here is real: nothing is released before every group has processed it.
 *
 * Groups are remembered after their subscriptions stop (as Kafka keeps committed offsets), so a
 * restarted consumer resumes where it left off. The flip side: a group that never comes back holds
 * its unconsumed records, and producers to those partitions wait once `capacity` is reached.
 */
export interface MemoryQueueOptions {
  /** Partitions per topic (fixed when the topic is first used). Default 8. */
  partitions?: number;
  /** Most records held per partition; produce waits beyond it. Default 10 000. */
  capacity?: number;
  /** First redelivery delay after a handler fails; doubles per failure, capped at 2 000 ms. Default 50. */
  retryBackoffMs?: number;
  logger?: Logger;
}

/** Occupancy of one partition, for tests and metrics. */
export interface MemoryPartitionStats {
  readonly partition: number;
  /** Offset of the oldest retained record. */
  readonly startOffset: number;
  /** Offset the next record will get. */
  readonly endOffset: number;
  /** Records held (endOffset - startOffset); never above capacity. */
  readonly retained: number;
  /** Slots of the backing array, to check that memory stays bounded (at most about 2 × capacity). */
  readonly allocated: number;
  /** Produce calls waiting for room in this partition. */
  readonly waitingProducers: number;
}

export interface MemoryQueue extends Queue {
  /** Undefined for a topic never used. */
  stats(topic: string): ReadonlyArray<MemoryPartitionStats> | undefined;
  /**
   * Records set aside with deadLetter(), oldest first: the last MAX_MEMORY_DEAD_LETTERS of this
   * process (an in-memory queue has no durable place for them; each is also logged at error level).
   */
  deadLetters(topic?: string): ReadonlyArray<DeadLetter>;
}

/** Dead letters the memory queue keeps (older ones are dropped, counted in the log). */
export const MAX_MEMORY_DEAD_LETTERS = 1_000;

const DEFAULT_PARTITIONS = 8;
const DEFAULT_CAPACITY = 10_000;
const DEFAULT_RETRY_BACKOFF_MS = 50;
const MAX_RETRY_BACKOFF_MS = 2_000;
const DEFAULT_MAX_BATCH = 500;
/** Consecutive batches a partition runs as a chain of microtasks before yielding to I/O. */
const BATCHES_BEFORE_YIELD = 8;

const RESOLVED: Promise<void> = Promise.resolve();

/**
 * FNV-1a (32 bit) over the key's UTF-16 code units: cheap, stable across processes and versions,
 * so one key always lands in the same partition and its records stay in order.
 */
export function partitionOf(key: string, partitions: number): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) {
    h ^= key.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return (h >>> 0) % partitions;
}

type AnyRecord = QueueRecord<unknown>;

interface Settings {
  readonly kind: string;
  readonly capacity: number;
  readonly retryBackoffMs: number;
  readonly log: Logger;
  closed: boolean;
}

/** One produce() call that could not append everything at once. */
interface PendingProduce {
  /** Partitions still holding some of its records back. */
  pending: number;
  settled: boolean;
  resolve(): void;
  reject(e: unknown): void;
}

/** The part of a pending produce call destined for one partition. */
interface Writer {
  readonly records: AnyRecord[];
  pos: number;
  readonly call: PendingProduce;
}

/**
 * An append-only log. Records live in `log[head..]`; `log[head]` has offset `startOffset`.
 * Released records are cleared and the array is compacted once the dead prefix outgrows the live
 * part, so the array stays below about twice the capacity and compaction costs O(1) amortized.
 */
class PartitionLog {
  log: Array<AnyRecord | undefined> = [];
  head = 0;
  startOffset = 0;
  endOffset = 0;
  /** Produce calls waiting for room, oldest first (so records of one key keep their order). */
  writers: Array<Writer | undefined> = [];
  writersHead = 0;
  /** Queued for the topic's next consumer wake-up. */
  dirty = false;

  constructor(
    readonly topic: TopicState,
    readonly index: number,
  ) {}

  get retained(): number {
    return this.endOffset - this.startOffset;
  }

  hasWriters(): boolean {
    return this.writersHead < this.writers.length;
  }

  /** Drops records below `offset` (every group has committed them). */
  releaseTo(offset: number): void {
    const n = offset - this.startOffset;
    if (n <= 0) return;
    const log = this.log;
    const end = this.head + n;
    // Clear slots now so values can be collected before the next compaction.
    for (let i = this.head; i < end; i++) log[i] = undefined;
    this.head = end;
    this.startOffset = offset;
    if (end === log.length) {
      log.length = 0;
      this.head = 0;
    } else if (end >= log.length - end) {
      log.copyWithin(0, end);
      log.length -= end;
      this.head = 0;
    }
  }

  /** Appends as much of the waiting produce calls as now fits, oldest first. */
  admitWriters(capacity: number): void {
    let appended = false;
    while (this.writersHead < this.writers.length && this.retained < capacity) {
      const w = this.writers[this.writersHead]!;
      const take = Math.min(capacity - this.retained, w.records.length - w.pos);
      for (let k = 0; k < take; k++) this.log.push(w.records[w.pos++]);
      this.endOffset += take;
      appended = true;
      if (w.pos === w.records.length) {
        this.writers[this.writersHead++] = undefined;
        if (--w.call.pending === 0 && !w.call.settled) {
          w.call.settled = true;
          w.call.resolve();
        }
      }
    }
    if (this.writersHead === this.writers.length) {
      this.writers.length = 0;
      this.writersHead = 0;
    }
    if (appended) this.topic.markDirty(this);
  }

  /** Rejects every waiting produce call (on close). */
  failWriters(e: unknown): void {
    for (let i = this.writersHead; i < this.writers.length; i++) {
      const call = this.writers[i]!.call;
      if (!call.settled) {
        call.settled = true;
        call.reject(e);
      }
    }
    this.writers.length = 0;
    this.writersHead = 0;
  }
}

class TopicState {
  readonly partitions: PartitionLog[] = [];
  readonly groups = new Map<string, GroupState>();
  /** Same groups as an array: iterated on every commit. */
  readonly groupList: GroupState[] = [];
  private dirty: PartitionLog[] = [];
  private spare: PartitionLog[] = [];
  private wakeScheduled = false;

  constructor(
    readonly name: string,
    partitions: number,
    readonly settings: Settings,
  ) {
    for (let p = 0; p < partitions; p++) this.partitions.push(new PartitionLog(this, p));
  }

  /** Records arrived in `part`: wake its consumers in one microtask per burst of produce calls. */
  markDirty(part: PartitionLog): void {
    if (!part.dirty) {
      part.dirty = true;
      this.dirty.push(part);
    }
    if (!this.wakeScheduled) {
      this.wakeScheduled = true;
      queueMicrotask(this.wake);
    }
  }

  private readonly wake = (): void => {
    this.wakeScheduled = false;
    // Swap buffers: a handler started below may produce and mark partitions dirty again.
    const parts = this.dirty;
    this.dirty = this.spare;
    for (const part of parts) {
      part.dirty = false;
      for (const g of this.groupList) g.cursors[part.index]!.pump();
    }
    parts.length = 0;
    this.spare = parts;
  };

  /** After a commit: drop what every group has committed and let waiting producers in. */
  release(part: PartitionLog): void {
    let low = Infinity;
    for (const g of this.groupList) {
      const c = g.cursors[part.index]!.committed;
      if (c < low) low = c;
    }
    if (low === Infinity || low <= part.startOffset) return;
    part.releaseTo(low);
    if (part.hasWriters()) part.admitWriters(this.settings.capacity);
  }

  group(name: string): GroupState {
    let g = this.groups.get(name);
    if (g === undefined) {
      g = new GroupState(this, name);
      this.groups.set(name, g);
      this.groupList.push(g);
    }
    return g;
  }
}

/**
 * A group's position in one partition, and the partition's delivery state. The state lives here,
 * not in a subscription, so a failed batch keeps its delivery count when a rebalance moves it.
 */
class Cursor {
  committed: number;
  owner: Sub | null = null;
  /** The subscription whose handler holds the in-flight batch; non-null means busy. */
  running: Sub | null = null;
  private inFlightEnd = 0;
  /** Failed deliveries of the records from `committed` to `retryEnd`. */
  private attempt = 0;
  private retryEnd = 0;
  retryTimer: ReturnType<typeof setTimeout> | null = null;
  private streak = 0;

  constructor(
    readonly group: GroupState,
    readonly partition: PartitionLog,
  ) {
    // A new group starts from the oldest retained record (Kafka's auto.offset.reset=earliest).
    this.committed = partition.startOffset;
  }

  pump(): void {
    const sub = this.owner;
    if (sub === null || this.running !== null || this.retryTimer !== null) return;
    const part = this.partition;
    const topic = part.topic;
    if (topic.settings.closed) return;
    const from = this.committed;
    let count = part.endOffset - from;
    if (count <= 0) {
      this.streak = 0;
      return;
    }
    // A redelivery carries exactly the failed records, not newer ones.
    if (this.attempt > 0 && this.retryEnd - from < count) count = this.retryEnd - from;
    if (count > sub.maxBatch) count = sub.maxBatch;
    const deliveryCount = this.attempt + 1;
    const batch: ConsumedRecord<unknown>[] = [];
    let i = part.head + (from - part.startOffset);
    for (let k = 0; k < count; k++) {
      const r = part.log[i++]!;
      batch.push({
        topic: topic.name,
        partition: part.index,
        offset: from + k,
        key: r.key,
        value: r.value,
        deliveryCount,
      });
    }
    this.running = sub;
    this.inFlightEnd = from + count;
    let result: Promise<void>;
    try {
      result = sub.handler(batch);
    } catch (e) {
      // A synchronous throw is a failed batch like any rejection.
      result = Promise.reject(e);
    }
    Promise.resolve(result).then(this.onSuccess, this.onFailure);
  }

  private readonly onSuccess = (): void => {
    const sub = this.running;
    this.running = null;
    this.committed = this.inFlightEnd;
    if (this.committed >= this.retryEnd) this.attempt = 0;
    const topic = this.partition.topic;
    topic.release(this.partition);
    this.group.afterBatch(sub);
    if (++this.streak >= BATCHES_BEFORE_YIELD) {
      // A backlog would otherwise be consumed as one unbroken microtask chain, starving I/O.
      this.streak = 0;
      setImmediate(this.resume);
    } else {
      this.pump();
    }
  };

  private readonly onFailure = (e: unknown): void => {
    const sub = this.running;
    this.running = null;
    this.streak = 0;
    this.attempt++;
    if (this.inFlightEnd > this.retryEnd) this.retryEnd = this.inFlightEnd;
    const settings = this.partition.topic.settings;
    const delay = Math.min(settings.retryBackoffMs * 2 ** (this.attempt - 1), MAX_RETRY_BACKOFF_MS);
    settings.log.warn(
      {
        topic: this.partition.topic.name,
        group: this.group.name,
        partition: this.partition.index,
        offset: this.committed,
        count: this.inFlightEnd - this.committed,
        deliveryCount: this.attempt,
        retryInMs: delay,
        err: errorMessage(e),
      },
      'queue handler failed, records will be redelivered',
    );
    if (!settings.closed) this.retryTimer = setTimeout(this.retry, delay);
    this.group.afterBatch(sub);
  };

  private readonly retry = (): void => {
    this.retryTimer = null;
    this.pump();
  };

  private readonly resume = (): void => {
    this.pump();
  };

  cancelRetry(): void {
    if (this.retryTimer !== null) {
      clearTimeout(this.retryTimer);
      this.retryTimer = null;
    }
  }
}

type SubState = 'active' | 'draining' | 'leaving' | 'stopped';

class GroupState {
  readonly cursors: Cursor[];
  /** Live subscriptions in join order; partition p belongs to subs[p % subs.length]. */
  readonly subs: Sub[] = [];
  /** Subscriptions whose stop() has not resolved yet. */
  readonly stopping: Sub[] = [];
  private pumpScheduled = false;

  constructor(
    readonly topic: TopicState,
    readonly name: string,
  ) {
    this.cursors = topic.partitions.map((p) => new Cursor(this, p));
  }

  join(sub: Sub): void {
    this.subs.push(sub);
    this.rebalance();
  }

  leave(sub: Sub): void {
    const i = this.subs.indexOf(sub);
    if (i >= 0) this.subs.splice(i, 1);
    this.rebalance();
  }

  /**
   * Round-robin assignment. A partition whose batch is in flight under its old owner gets the new
   * owner at once, but the new owner only starts after that batch settles (`running` guards it),
   * so a partition is never processed concurrently with itself.
   */
  private rebalance(): void {
    const n = this.subs.length;
    for (const c of this.cursors) c.owner = n === 0 ? null : this.subs[c.partition.index % n]!;
    // Start new owners from a microtask: rebalance runs inside subscribe()/stop(), and a handler
    // invoked synchronously there could re-enter them.
    if (!this.pumpScheduled) {
      this.pumpScheduled = true;
      queueMicrotask(this.pumpAll);
    }
  }

  private readonly pumpAll = (): void => {
    this.pumpScheduled = false;
    for (const c of this.cursors) c.pump();
  };

  afterBatch(sub: Sub | null): void {
    if (sub !== null && this.stopping.length > 0) this.settleStops();
  }

  /** Advances stopping subscriptions: draining → leaving once drained, leaving → stopped once idle. */
  settleStops(): void {
    let i = 0;
    while (i < this.stopping.length) {
      const s = this.stopping[i]!;
      if (s.state === 'draining' && this.isDrained(s)) {
        s.state = 'leaving';
        this.leave(s);
      }
      if (s.state === 'leaving' && !this.isRunning(s)) {
        s.state = 'stopped';
        this.stopping.splice(i, 1);
        s.resolveStop();
        continue;
      }
      i++;
    }
  }

  private isDrained(s: Sub): boolean {
    for (const c of this.cursors) {
      if (c.running === s) return false;
      if (c.owner === s && c.committed < c.partition.endOffset) return false;
    }
    return true;
  }

  private isRunning(s: Sub): boolean {
    for (const c of this.cursors) if (c.running === s) return true;
    return false;
  }
}

class Sub implements Subscription {
  state: SubState = 'active';
  private stopPromise: Promise<void> | null = null;
  resolveStop: () => void = () => {};

  constructor(
    readonly group: GroupState,
    readonly handler: BatchHandler<unknown>,
    readonly maxBatch: number,
  ) {}

  stop(options?: { drain?: boolean }): Promise<void> {
    // Draining needs consumers running; after close() a drain becomes a plain stop.
    const drain = options?.drain === true && !this.group.topic.settings.closed;
    if (this.stopPromise === null) {
      this.stopPromise = new Promise<void>((resolve) => {
        this.resolveStop = resolve;
      });
      this.group.stopping.push(this);
      if (drain) {
        this.state = 'draining';
      } else {
        this.state = 'leaving';
        this.group.leave(this);
      }
    } else if (this.state === 'draining' && !drain) {
      // A plain stop overrides a drain in progress (e.g. a shutdown deadline passed).
      this.state = 'leaving';
      this.group.leave(this);
    }
    this.group.settleStops();
    return this.stopPromise;
  }
}

function positiveInt(name: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (!Number.isInteger(value) || value < 1) {
    throw new RivuletError(ErrorCode.INVALID_CONFIG, `${name} must be a positive integer`, { details: { [name]: value } });
  }
  return value;
}

function nonEmpty(name: string, value: unknown): string {
  if (typeof value !== 'string' || value.length === 0) throw new BadRequestError(`${name} must be a non-empty string`);
  return value;
}

export function createMemoryQueue(options: MemoryQueueOptions = {}): MemoryQueue {
  const partitions = positiveInt('partitions', options.partitions, DEFAULT_PARTITIONS);
  const capacity = positiveInt('capacity', options.capacity, DEFAULT_CAPACITY);
  const retryBackoffMs = options.retryBackoffMs ?? DEFAULT_RETRY_BACKOFF_MS;
  if (!Number.isFinite(retryBackoffMs) || retryBackoffMs < 0) {
    throw new RivuletError(ErrorCode.INVALID_CONFIG, 'retryBackoffMs must be a non-negative number', {
      details: { retryBackoffMs },
    });
  }
  const settings: Settings = {
    kind: 'memory',
    capacity,
    retryBackoffMs,
    log: (options.logger ?? silentLogger).child({ component: 'memory-queue' }),
    closed: false,
  };
  const topics = new Map<string, TopicState>();
  // Partition of each record of the current produce call; reused so produce allocates nothing per record.
  let scratch = new Uint32Array(1024);
  let closing: Promise<void> | null = null;
  const dead: DeadLetter[] = [];

  function topicOf(name: string): TopicState {
    let t = topics.get(name);
    if (t === undefined) {
      t = new TopicState(nonEmpty('topic', name), partitions, settings);
      topics.set(name, t);
    }
    return t;
  }

  return {
    kind: settings.kind,

    produce<T>(topic: string, records: ReadonlyArray<QueueRecord<T>>): Promise<void> {
      if (settings.closed) return Promise.reject(new QueueClosedError(settings.kind));
      const n = records.length;
      if (n === 0) return RESOLVED;
      let t: TopicState;
      try {
        t = topicOf(topic);
      } catch (e) {
        return Promise.reject(e);
      }
      const parts = t.partitions;
      // Pass 1: validate every key before appending anything, so a bad call changes nothing.
      if (scratch.length < n) scratch = new Uint32Array(Math.max(n, scratch.length * 2));
      for (let i = 0; i < n; i++) {
        const key = records[i]!.key;
        if (typeof key !== 'string') {
          return Promise.reject(new BadRequestError('record key must be a string', { details: { topic, index: i } }));
        }
        scratch[i] = partitionOf(key, parts.length);
      }
      // Pass 2: append what fits. Once a partition is full (or has older callers waiting) it stays
      // so for the rest of this synchronous loop, so the held-back records keep their order.
      let held: Array<AnyRecord[] | undefined> | undefined;
      for (let i = 0; i < n; i++) {
        const p = scratch[i]!;
        const part = parts[p]!;
        const r = records[i]!;
        if (part.writersHead === part.writers.length && part.endOffset - part.startOffset < capacity) {
          part.log.push(r);
          part.endOffset++;
          if (!part.dirty) t.markDirty(part);
        } else {
          held ??= [];
          (held[p] ??= []).push(r);
        }
      }
      if (held === undefined) return RESOLVED;
      const heldBack = held;
      return new Promise<void>((resolve, reject) => {
        const call: PendingProduce = { pending: 0, settled: false, resolve, reject };
        for (let p = 0; p < heldBack.length; p++) {
          const recs = heldBack[p];
          if (recs === undefined) continue;
          call.pending++;
          parts[p]!.writers.push({ records: recs, pos: 0, call });
        }
      });
    },

    async subscribe<T>(opts: SubscribeOptions<T>): Promise<Subscription> {
      if (settings.closed) throw new QueueClosedError(settings.kind);
      nonEmpty('group', opts.group);
      if (typeof opts.handler !== 'function') throw new BadRequestError('handler must be a function');
      const maxBatch = positiveInt('maxBatch', opts.maxBatch, DEFAULT_MAX_BATCH);
      const group = topicOf(opts.topic).group(opts.group);
      const sub = new Sub(group, opts.handler as BatchHandler<unknown>, maxBatch);
      group.join(sub);
      return { stop: (o) => sub.stop(o) };
    },

    async lag(topic: string, group: string): Promise<number> {
      const t = topics.get(topic);
      if (t === undefined) return 0;
      const g = t.groups.get(group);
      let sum = 0;
      // A group that never subscribed would start from the oldest retained record.
      for (const p of t.partitions) sum += p.endOffset - (g === undefined ? p.startOffset : g.cursors[p.index]!.committed);
      return sum;
    },

    async deadLetter<T>(records: ReadonlyArray<ConsumedRecord<T>>, reason: string): Promise<void> {
      if (settings.closed) throw new QueueClosedError(settings.kind);
      const deadAt = Date.now();
      for (const r of records) {
        dead.push({ topic: r.topic, partition: r.partition, offset: r.offset, key: r.key, reason, deliveryCount: r.deliveryCount, deadAt, value: r.value });
        settings.log.error({ topic: r.topic, partition: r.partition, offset: r.offset, key: r.key, reason }, 'record dead-lettered');
      }
      if (dead.length > MAX_MEMORY_DEAD_LETTERS) dead.splice(0, dead.length - MAX_MEMORY_DEAD_LETTERS);
    },

    deadLetters(topic?: string): ReadonlyArray<DeadLetter> {
      return topic === undefined ? [...dead] : dead.filter((d) => d.topic === topic);
    },

    close(): Promise<void> {
      if (closing !== null) return closing;
      settings.closed = true;
      const err = new QueueClosedError(settings.kind);
      const stops: Promise<void>[] = [];
      for (const t of topics.values()) {
        for (const p of t.partitions) p.failWriters(err);
        for (const g of t.groupList) {
          for (const c of g.cursors) c.cancelRetry();
          // Copy: stop() removes subscriptions from these lists.
          for (const s of [...g.subs, ...g.stopping]) stops.push(s.stop());
        }
      }
      // Waits for in-flight batches, so no handler runs after close() resolves.
      closing = Promise.all(stops).then(() => undefined);
      return closing;
    },

    stats(topic: string): ReadonlyArray<MemoryPartitionStats> | undefined {
      const t = topics.get(topic);
      if (t === undefined) return undefined;
      return t.partitions.map((p) => ({
        partition: p.index,
        startOffset: p.startOffset,
        endOffset: p.endOffset,
        retained: p.retained,
        allocated: p.log.length,
        waitingProducers: p.writers.length - p.writersHead,
      }));
    },
  };
}
