import { errorMessage } from '@rivulet/core';
import { decodeValue, type BatchHandler, type ConsumedRecord, type DeadLetter, type Subscription } from '@rivulet/queue';
import type { Consumer, EachBatchPayload, Kafka, KafkaMessage } from 'kafkajs';
import { MAX_RETRY_BACKOFF_MS, type Settings } from './options';

/**
 * One subscription: a kafkajs consumer in the group, committing explicit offsets.
 *
 * Per partition batch from kafkajs: slices of at most maxBatch records; undecodable records go to
 * the dead-letter topic at once; the handler runs with a heartbeat timer (a handler may outlast the
 * session timeout); on failure the same slice is retried with backoff (deliveryCount 2, 3, ...)
 * until maxDeliveries, then each record gets one last try alone and those still failing are
 * dead-lettered. The offset after the slice is committed after the handler resolves
 * ('after-processing') or before it runs ('on-receipt'). After each slice it heartbeats: a
 * rebalance in progress ends the batch there (what was processed is committed), so partitions are
 * released promptly and cleanly.
 */
export interface SubscriptionDeps {
  readonly settings: Settings;
  readonly kafka: Kafka;
  /** Logical topic, physical topic, physical group. */
  readonly topic: string;
  readonly physicalTopic: string;
  readonly group: string;
  readonly handler: BatchHandler<unknown>;
  readonly maxBatch: number;
  /** Writes dead letters for the logical topic; resolves once the broker has them. */
  deadLetter(letters: DeadLetter[]): Promise<void>;
  /** Lag of this group on the given partitions of the topic. */
  lagOf(partitions: number[]): Promise<number>;
  onStopped(): void;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
/** Longest a stop({ drain: true }) waits for the lag to reach zero (a broker that stopped answering never reports it). */
const DRAIN_MAX_MS = 30_000;

export async function startSubscription(d: SubscriptionDeps): Promise<Subscription> {
  const { settings } = d;
  const log = settings.log.child({ topic: d.topic, group: d.group });
  const consumer: Consumer = d.kafka.consumer({
    groupId: d.group,
    sessionTimeout: settings.sessionTimeout,
    heartbeatInterval: settings.heartbeatInterval,
    rebalanceTimeout: Math.max(settings.sessionTimeout, 30_000),
    allowAutoTopicCreation: false,
    maxWaitTimeInMs: 250,
    retry: { retries: 10, initialRetryTime: 100, maxRetryTime: 5_000 },
  });
  let stopping = false;
  let assigned: number[] = [];
  let joined!: () => void;
  const firstJoin = new Promise<void>((resolve) => (joined = resolve));
  consumer.on(consumer.events.GROUP_JOIN, (e) => {
    assigned = [...(e.payload.memberAssignment[d.physicalTopic] ?? [])];
    log.debug({ partitions: assigned }, 'group joined');
    joined();
  });
  consumer.on(consumer.events.CRASH, (e) => {
    log.error({ err: errorMessage(e.payload.error), restart: e.payload.restart }, 'kafka consumer crashed');
  });

  const backoff = (attempt: number): number => Math.min(settings.retryBackoffMs * 2 ** (attempt - 1), MAX_RETRY_BACKOFF_MS);

  function records(p: EachBatchPayload, slice: KafkaMessage[], bad: DeadLetter[]): ConsumedRecord<unknown>[] {
    const out: ConsumedRecord<unknown>[] = [];
    const partition = p.batch.partition;
    for (const m of slice) {
      const key = m.key === null ? '' : m.key.toString('utf8');
      const offset = Number(m.offset);
      try {
        out.push({ topic: d.topic, partition, offset, key, value: decodeValue(m.value), deliveryCount: 1 });
      } catch (e) {
        log.error({ partition, offset, err: errorMessage(e) }, 'undecodable record dead-lettered');
        bad.push({
          topic: d.topic, partition, offset, key, reason: `undecodable: ${errorMessage(e)}`, deliveryCount: 1,
          deadAt: Date.now(), raw: m.value === null ? '' : m.value.toString('base64'),
        });
      }
    }
    return out;
  }

  /** Runs the handler with heartbeats meanwhile; false if a heartbeat saw a rebalance. */
  async function run(p: EachBatchPayload, batch: ConsumedRecord<unknown>[]): Promise<{ ok: boolean; err?: unknown }> {
    const timer = setInterval(() => {
      p.heartbeat().catch((e: unknown) => log.debug({ err: errorMessage(e) }, 'heartbeat during batch failed'));
    }, settings.heartbeatInterval);
    try {
      await d.handler(batch);
      return { ok: true };
    } catch (err) {
      return { ok: false, err };
    } finally {
      clearInterval(timer);
    }
  }

  const gone = (p: EachBatchPayload): boolean => !p.isRunning() || p.isStale();

  /** Processes one slice to the end (handled or dead-lettered); false if it had to give up (stop). */
  async function handleSlice(p: EachBatchPayload, recs: ConsumedRecord<unknown>[]): Promise<boolean> {
    if (recs.length === 0) return true;
    for (let attempt = 1; ; attempt++) {
      const batch = attempt === 1 ? recs : recs.map((r) => ({ ...r, deliveryCount: attempt }));
      const res = await run(p, batch);
      if (res.ok) return true;
      log.warn({ partition: p.batch.partition, attempt, count: recs.length, err: errorMessage(res.err) }, 'batch failed; redelivering');
      if (attempt >= settings.maxDeliveries) {
        // One poison record should not take its neighbours along: a last try each, alone.
        const dead: DeadLetter[] = [];
        for (const r of recs) {
          const alone = recs.length === 1 ? { ...r, deliveryCount: attempt } : { ...r, deliveryCount: attempt + 1 };
          const last = recs.length === 1 ? res : await run(p, [alone]);
          if (last.ok) continue;
          dead.push({ topic: r.topic, partition: r.partition, offset: r.offset, key: r.key, value: r.value, deadAt: Date.now(),
            deliveryCount: alone.deliveryCount, reason: `failed ${alone.deliveryCount} deliveries: ${errorMessage(last.err)}` });
        }
        return writeDead(p, dead);
      }
      await sleep(backoff(attempt));
      if (stopping || gone(p)) return false;
    }
  }

  /** Dead letters must be stored before the offset moves past them: retried until stopped. */
  async function writeDead(p: EachBatchPayload, dead: DeadLetter[]): Promise<boolean> {
    for (let attempt = 1; dead.length > 0; attempt++) {
      try {
        await d.deadLetter(dead);
        return true;
      } catch (e) {
        log.error({ count: dead.length, err: errorMessage(e) }, 'dead letters not written; retrying');
        await sleep(backoff(attempt));
        if (stopping || gone(p)) return false;
      }
    }
    return true;
  }

  async function commit(p: EachBatchPayload, last: KafkaMessage): Promise<void> {
    p.resolveOffset(last.offset);
    const offset = (BigInt(last.offset) + 1n).toString();
    try {
      // The payload's commit, not consumer.commitOffsets(): that one is a silent no-op once stop()
      // has begun, which would drop the commit of the batch that stop() waits for.
      await p.commitOffsetsIfNecessary({ topics: [{ topic: d.physicalTopic, partitions: [{ partition: p.batch.partition, offset }] }] });
    } catch (e) {
      log.warn({ partition: p.batch.partition, offset, err: errorMessage(e) }, 'offset commit failed');
      throw e;
    }
  }

  async function eachBatch(p: EachBatchPayload): Promise<void> {
    const msgs = p.batch.messages;
    // After-processing commits are pipelined: slice k's commit is in flight while slice k+1 is
    // handled (a commit round trip per slice would otherwise bound throughput). Commits stay in
    // order, and every way out of the batch waits for the last one.
    let pending: Promise<void> | undefined;
    let commitError: unknown;
    const settle = async (): Promise<void> => {
      await pending;
      pending = undefined;
      if (commitError !== undefined) throw commitError;
    };
    try {
      for (let i = 0; i < msgs.length && !stopping && !gone(p); ) {
        const slice = msgs.slice(i, i + d.maxBatch);
        const last = slice[slice.length - 1]!;
        const bad: DeadLetter[] = [];
        const recs = records(p, slice, bad);
        if (!(await writeDead(p, bad))) return;
        if (settings.commitMode === 'on-receipt') {
          await commit(p, last);
          if (!(await handleSlice(p, recs))) return;
        } else {
          if (!(await handleSlice(p, recs))) return;
          await settle();
          pending = commit(p, last).catch((e: unknown) => void (commitError = e));
        }
        i += slice.length;
        try {
          await p.heartbeat();
        } catch (e) {
          // A rebalance is under way: what this member processed is committed; release the rest.
          log.debug({ err: errorMessage(e) }, 'rebalance: ending batch early');
          return;
        }
      }
    } finally {
      await settle();
    }
  }

  try {
    await consumer.connect();
    await consumer.subscribe({ topics: [d.physicalTopic], fromBeginning: true });
    await consumer.run({
      autoCommit: false,
      eachBatchAutoResolve: false,
      partitionsConsumedConcurrently: settings.concurrency,
      eachBatch,
    });
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`Kafka group ${d.group} not joined within 60 s`)), 60_000);
    });
    await Promise.race([firstJoin, timeout]).finally(() => clearTimeout(timer));
  } catch (e) {
    await consumer.disconnect().catch(() => {});
    d.onStopped();
    throw e;
  }

  let stopped: Promise<void> | undefined;
  return {
    stop(options) {
      stopped ??= (async () => {
        if (options?.drain === true) {
          // Keep consuming until the partitions this member owns are all committed.
          // Bounded: a broker that stopped answering must not hold the shutdown forever.
          const until = Date.now() + DRAIN_MAX_MS;
          while ((await d.lagOf(assigned).catch(() => 1)) > 0) {
            if (Date.now() > until) {
              log.warn({ drainMaxMs: DRAIN_MAX_MS }, 'drain gave up: lag not zero (or not measurable); stopping with what is committed');
              break;
            }
            await sleep(100);
          }
        }
        stopping = true;
        // disconnect waits for the in-flight batches (each commits what its handler finished) and leaves the group.
        await consumer.disconnect();
        d.onStopped();
      })();
      return stopped;
    },
  };
}
