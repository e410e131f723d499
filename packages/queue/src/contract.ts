import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { BatchHandler, ConsumedRecord, DeadLetter, Queue, QueueRecord, Subscription } from './types';

/**
 * The behaviour every Queue implementation must show (the semantics documented in ./types), as a
 * vitest suite: `queueContract('kafka', factory)` in the implementation's test file. Like aedes'
 * abstract persistence tests, it is the definition of "behaves like Kafka" for the memory queue.
 *
 * Each test gets a fresh queue from the factory and uses topic and group names with a random
 * suffix, so one broker can serve every run. Waits poll with generous deadlines (a broker is slower
 * than memory); nothing asserts on timing except where a record must NOT arrive, for `quietMs`.
 * Topics are created on first use and need several partitions (the split test spreads 40 keys and
 * expects both subscriptions of a group to get some): a broker's auto-created topics must have more
 * than one partition, or the implementation must create them.
 */
export interface QueueContractOptions {
  /** Longest wait for deliveries that must happen, ms. Default 20 000. */
  deliveryTimeoutMs?: number;
  /** Per-test timeout handed to vitest, ms. Default 60 000. */
  testTimeoutMs?: number;
  /** How long to watch for deliveries that must not happen, ms. Default 300. */
  quietMs?: number;
  /**
   * Pause after each subscribe, ms, for a broker where joining the group completes after
   * subscribe() resolves. Default 0: subscribe() should resolve once partitions are assigned.
   */
  settleMs?: number;
}

export interface QueueContractContext {
  queue: Queue;
  /** What deadLetter() stored for `topic` so far (Kafka: read from `<topic>.dlq`). */
  deadLetters(topic: string): Promise<ReadonlyArray<DeadLetter>>;
  cleanup(): Promise<void>;
}

/** A test record: `seq` counts per key from 0, `id` is unique within a test. */
interface Item {
  id: string;
  key: string;
  seq: number;
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Names valid for Kafka topics and groups ([a-zA-Z0-9._-]), unique per run. */
function uniqueName(prefix: string): string {
  return `rivulet-test.${prefix}.${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 10)}`;
}

/** `count` records spread round-robin over `keys` keys, with per-key sequence numbers. */
function makeItems(count: number, keys: number, tag = ''): QueueRecord<Item>[] {
  const out: QueueRecord<Item>[] = [];
  for (let i = 0; i < count; i++) {
    const key = `${tag}k${i % keys}`;
    const seq = Math.floor(i / keys);
    out.push({ key, value: { id: `${key}:${seq}`, key, seq } });
  }
  return out;
}

/** A promise the test resolves by hand, to hold a handler inside a batch. */
function gate(): { promise: Promise<void>; open(): void } {
  let open!: () => void;
  const promise = new Promise<void>((resolve) => {
    open = resolve;
  });
  return { promise, open };
}

/** Records every delivery; `ok` only those of batches whose handler resolved. */
class Recorder {
  readonly delivered: ConsumedRecord<Item>[] = [];
  readonly ok: ConsumedRecord<Item>[] = [];
  readonly batches: ConsumedRecord<Item>[][] = [];

  /** Wraps `inner` (which may throw to fail the batch) into a handler that records. */
  handler(inner?: (batch: ReadonlyArray<ConsumedRecord<Item>>) => Promise<void> | void): BatchHandler<Item> {
    return async (batch) => {
      this.batches.push([...batch]);
      for (const r of batch) this.delivered.push(r);
      if (inner) await inner(batch);
      for (const r of batch) this.ok.push(r);
    };
  }

  ids(which: 'delivered' | 'ok' = 'ok'): Set<string> {
    return new Set(this[which].map((r) => r.value.id));
  }

  count(id: string): number {
    return this.delivered.filter((r) => r.value.id === id).length;
  }
}

export function queueContract(
  name: string,
  factory: () => Promise<QueueContractContext>,
  options: QueueContractOptions = {},
): void {
  const deliveryTimeoutMs = options.deliveryTimeoutMs ?? 20_000;
  const testTimeoutMs = options.testTimeoutMs ?? 60_000;
  const quietMs = options.quietMs ?? 300;
  const settleMs = options.settleMs ?? 0;

  describe(`queue contract: ${name}`, () => {
    let ctx: QueueContractContext;
    let subs: Subscription[];
    let queue: Queue;

    beforeEach(async () => {
      ctx = await factory();
      queue = ctx.queue;
      subs = [];
    });

    afterEach(async () => {
      // Stop what a failed test left running before the implementation cleans up.
      await Promise.allSettled(subs.map((s) => s.stop()));
      await ctx.cleanup();
    });

    async function subscribe(topic: string, group: string, handler: BatchHandler<Item>, maxBatch?: number) {
      const sub = await queue.subscribe<Item>({ topic, group, handler, ...(maxBatch === undefined ? {} : { maxBatch }) });
      subs.push(sub);
      if (settleMs > 0) await sleep(settleMs);
      return sub;
    }

    async function waitFor(what: string, cond: () => boolean | Promise<boolean>): Promise<void> {
      const deadline = Date.now() + deliveryTimeoutMs;
      while (!(await cond())) {
        if (Date.now() > deadline) throw new Error(`timed out after ${deliveryTimeoutMs} ms waiting for ${what}`);
        await sleep(10);
      }
    }

    function allIn(ids: Set<string>, items: ReadonlyArray<QueueRecord<Item>>): boolean {
      return items.every((r) => ids.has(r.value.id));
    }

    /** Per key, the seqs in the order they were seen. */
    function seqsByKey(records: ReadonlyArray<ConsumedRecord<Item>>): Map<string, number[]> {
      const out = new Map<string, number[]>();
      for (const r of records) {
        let list = out.get(r.value.key);
        if (list === undefined) out.set(r.value.key, (list = []));
        list.push(r.value.seq);
      }
      return out;
    }

    function range(n: number): number[] {
      return Array.from({ length: n }, (_, i) => i);
    }

    it(
      'delivers every record to a new group, including those produced before it subscribed',
      async () => {
        const topic = uniqueName('all');
        const before = makeItems(100, 10, 'a');
        const after = makeItems(100, 10, 'b');
        await queue.produce(topic, before);
        const rec = new Recorder();
        await subscribe(topic, uniqueName('g'), rec.handler());
        await queue.produce(topic, after);
        await waitFor('all 200 records', () => allIn(rec.ids(), [...before, ...after]));
        for (const r of rec.delivered) {
          expect(r.topic).toBe(topic);
          expect(r.deliveryCount).toBe(1);
        }
      },
      testTimeoutMs,
    );

    it(
      'keeps the records of one key in order, in batches of one partition no larger than maxBatch',
      async () => {
        const topic = uniqueName('order');
        const items = makeItems(500, 20);
        const rec = new Recorder();
        await subscribe(topic, uniqueName('g'), rec.handler(), 7);
        // Several calls, each awaited: order across calls is the caller's order.
        for (let i = 0; i < items.length; i += 50) await queue.produce(topic, items.slice(i, i + 50));
        await waitFor('all records', () => allIn(rec.ids(), items));
        for (const [key, seqs] of seqsByKey(rec.delivered)) {
          expect(seqs, `order of key ${key}`).toEqual(range(25));
        }
        for (const batch of rec.batches) {
          expect(batch.length).toBeGreaterThan(0);
          expect(batch.length).toBeLessThanOrEqual(7);
          const first = batch[0]!;
          for (let i = 1; i < batch.length; i++) {
            expect(batch[i]!.partition).toBe(first.partition);
            expect(batch[i]!.offset).toBeGreaterThan(batch[i - 1]!.offset);
          }
        }
      },
      testTimeoutMs,
    );

    it(
      'redelivers a failing batch until the handler resolves, then commits it for good',
      async () => {
        const topic = uniqueName('retry');
        const group = uniqueName('g');
        const failures = 3;
        const items = makeItems(5, 1);
        await queue.produce(topic, items);
        let failed = 0;
        const rec = new Recorder();
        const sub = await subscribe(
          topic,
          group,
          rec.handler((batch) => {
            if (batch.some((r) => r.value.id === 'k0:0') && failed < failures) {
              failed++;
              throw new Error('handler failure (expected by the test)');
            }
          }),
        );
        await waitFor('the records to be processed', () => allIn(rec.ids(), items));
        expect(rec.count('k0:0')).toBe(failures + 1);
        const counts = rec.delivered.filter((r) => r.value.id === 'k0:0').map((r) => r.deliveryCount);
        expect(counts[0]).toBe(1);
        for (let i = 1; i < counts.length; i++) expect(counts[i]!).toBeGreaterThan(counts[i - 1]!);

        // Committed: no further deliveries, now or to the same group after a restart.
        const seen = rec.delivered.length;
        await sleep(quietMs);
        expect(rec.delivered.length).toBe(seen);
        await sub.stop();
        const again = new Recorder();
        await subscribe(topic, group, again.handler());
        const marker = makeItems(1, 1, 'marker');
        await queue.produce(topic, marker);
        await waitFor('the marker', () => allIn(again.ids(), marker));
        expect([...again.ids('delivered')]).toEqual(['markerk0:0']);
      },
      testTimeoutMs,
    );

    it(
      'treats a handler that throws synchronously like one that rejects',
      async () => {
        const topic = uniqueName('sync-throw');
        const items = makeItems(3, 1);
        await queue.produce(topic, items);
        let calls = 0;
        const delivered: ConsumedRecord<Item>[] = [];
        await subscribe(topic, uniqueName('g'), (batch) => {
          calls++;
          delivered.push(...batch);
          if (calls === 1) throw new Error('synchronous failure (expected by the test)');
          return Promise.resolve();
        });
        await waitFor('a redelivery', () => calls >= 2);
        const first = delivered.filter((r) => r.value.id === 'k0:0');
        expect(first.map((r) => r.deliveryCount).slice(0, 2)).toEqual([1, 2]);
      },
      testTimeoutMs,
    );

    it(
      'keeps per-key order and loses nothing while some batches fail',
      async () => {
        const topic = uniqueName('flaky');
        const items = makeItems(300, 12);
        let calls = 0;
        const rec = new Recorder();
        await subscribe(
          topic,
          uniqueName('g'),
          rec.handler(() => {
            if (++calls % 3 === 0) throw new Error('flaky handler (expected by the test)');
          }),
          10,
        );
        for (let i = 0; i < items.length; i += 30) await queue.produce(topic, items.slice(i, i + 30));
        await waitFor('all records processed', () => allIn(rec.ids(), items));
        // Successful batches advance the committed offset, so each record succeeds once, in order.
        for (const [key, seqs] of seqsByKey(rec.ok)) expect(seqs, `key ${key}`).toEqual(range(25));
      },
      testTimeoutMs,
    );

    it(
      'loses nothing across stop and re-subscribe of a group, and resumes after the committed offset',
      async () => {
        const topic = uniqueName('resume');
        const group = uniqueName('g');
        const items = makeItems(200, 8);
        await queue.produce(topic, items);
        const first = new Recorder();
        const sub = await subscribe(topic, group, first.handler(() => sleep(2)), 10);
        await waitFor('some records', () => first.ok.length >= 50);
        await sub.stop();
        const done = first.ids();
        const second = new Recorder();
        await subscribe(topic, group, second.handler(), 10);
        const more = makeItems(50, 8, 'more');
        await queue.produce(topic, more);
        await waitFor('the rest', () => {
          const ids = second.ids();
          return items.every((r) => done.has(r.value.id) || ids.has(r.value.id)) && allIn(ids, more);
        });
        // Every batch whose handler resolved before stop() resolved is committed.
        for (const r of second.delivered) expect(done.has(r.value.id), r.value.id).toBe(false);
      },
      testTimeoutMs,
    );

    it(
      'gives every group every record',
      async () => {
        const topic = uniqueName('groups');
        const items = makeItems(100, 10);
        const a = new Recorder();
        const b = new Recorder();
        await subscribe(topic, uniqueName('ga'), a.handler());
        await subscribe(topic, uniqueName('gb'), b.handler());
        await queue.produce(topic, items);
        await waitFor('group a', () => allIn(a.ids(), items));
        await waitFor('group b', () => allIn(b.ids(), items));
      },
      testTimeoutMs,
    );

    it(
      'splits the partitions between the subscriptions of one group without duplicates',
      async () => {
        const topic = uniqueName('split');
        const group = uniqueName('g');
        const items = makeItems(400, 40);
        const a = new Recorder();
        const b = new Recorder();
        await subscribe(topic, group, a.handler());
        await subscribe(topic, group, b.handler());
        await queue.produce(topic, items);
        await waitFor('all records', () => {
          const ids = new Set([...a.ids(), ...b.ids()]);
          return allIn(ids, items);
        });
        await sleep(quietMs);
        expect(a.delivered.length).toBeGreaterThan(0);
        expect(b.delivered.length).toBeGreaterThan(0);
        expect(a.delivered.length + b.delivered.length).toBe(items.length);
        const pa = new Set(a.delivered.map((r) => r.partition));
        for (const r of b.delivered) expect(pa.has(r.partition), `partition ${r.partition} in both`).toBe(false);
      },
      testTimeoutMs,
    );

    it(
      'hands the partitions of a stopped subscription to the rest of its group',
      async () => {
        const topic = uniqueName('handover');
        const group = uniqueName('g');
        const a = new Recorder();
        const b = new Recorder();
        await subscribe(topic, group, a.handler());
        const subB = await subscribe(topic, group, b.handler());
        const first = makeItems(100, 20, 'one');
        await queue.produce(topic, first);
        await waitFor('the first records', () => allIn(new Set([...a.ids(), ...b.ids()]), first));
        await subB.stop();
        const second = makeItems(100, 20, 'two');
        await queue.produce(topic, second);
        await waitFor('the second records on the remaining subscription', () => allIn(a.ids(), second));
      },
      testTimeoutMs,
    );

    it(
      'drains: stop({ drain: true }) resolves after everything the subscription owns is processed',
      async () => {
        const topic = uniqueName('drain');
        const group = uniqueName('g');
        const items = makeItems(300, 16);
        await queue.produce(topic, items);
        const rec = new Recorder();
        const sub = await subscribe(topic, group, rec.handler(() => sleep(1)), 25);
        await sub.stop({ drain: true });
        expect(allIn(rec.ids(), items)).toBe(true);
        await waitFor('lag 0 after drain', async () => (await queue.lag(topic, group)) === 0);
      },
      testTimeoutMs,
    );

    it(
      'stop() without drain lets the in-flight batch finish and commits it',
      async () => {
        const topic = uniqueName('stop');
        const group = uniqueName('g');
        const items = makeItems(5, 1);
        await queue.produce(topic, items);
        const hold = gate();
        let entered = false;
        const rec = new Recorder();
        const sub = await subscribe(
          topic,
          group,
          rec.handler(async () => {
            entered = true;
            await hold.promise;
          }),
        );
        await waitFor('the handler to start', () => entered);
        let stopped = false;
        const stopping = sub.stop().then(() => {
          stopped = true;
        });
        await sleep(50);
        expect(stopped).toBe(false);
        hold.open();
        await stopping;
        expect(rec.ok.length).toBeGreaterThan(0);
        const expectedLag = items.length - rec.ok.length;
        await waitFor('the batch to be committed', async () => (await queue.lag(topic, group)) === expectedLag);
      },
      testTimeoutMs,
    );

    it(
      'reports lag: produced but not yet committed by the group',
      async () => {
        const topic = uniqueName('lag');
        const group = uniqueName('g');
        await queue.produce(topic, makeItems(10, 2));
        const hold = gate();
        let entered = false;
        const sub = await subscribe(topic, group, async () => {
          entered = true;
          await hold.promise;
        });
        await waitFor('the handler to start', () => entered);
        expect(await queue.lag(topic, group)).toBe(10);
        hold.open();
        await waitFor('lag 0', async () => (await queue.lag(topic, group)) === 0);
        await sub.stop();
        // A group without live consumers still has a position, so lag keeps counting.
        await queue.produce(topic, makeItems(7, 2, 'later'));
        await waitFor('lag 7', async () => (await queue.lag(topic, group)) === 7);
      },
      testTimeoutMs,
    );

    it(
      'dead-letters records on request, with origin and reason, and the partition moves on',
      async () => {
        const topic = uniqueName('dead');
        const group = uniqueName('g');
        const items = makeItems(20, 4);
        await queue.produce(topic, items);
        const rec = new Recorder();
        await subscribe(
          topic,
          group,
          rec.handler(async (batch) => {
            const bad = batch.filter((r) => r.value.seq === 2);
            if (bad.length > 0) await queue.deadLetter(bad, 'seq 2 is poison (expected by the test)');
          }),
        );
        await waitFor('all records handled', () => allIn(rec.ids(), items));
        await waitFor('lag 0', async () => (await queue.lag(topic, group)) === 0);
        let dead: ReadonlyArray<DeadLetter> = [];
        await waitFor('4 dead letters', async () => (dead = await ctx.deadLetters(topic)).length >= 4);
        expect(dead.map((d) => (d.value as Item).id).sort()).toEqual(['k0:2', 'k1:2', 'k2:2', 'k3:2']);
        for (const d of dead) {
          const original = rec.delivered.find((r) => r.value.id === (d.value as Item).id)!;
          expect(d).toMatchObject({
            topic,
            partition: original.partition,
            offset: original.offset,
            key: original.key,
            reason: 'seq 2 is poison (expected by the test)',
            deliveryCount: 1,
          });
          expect(d.deadAt).toBeGreaterThan(0);
        }
      },
      testTimeoutMs,
    );
  });
}
