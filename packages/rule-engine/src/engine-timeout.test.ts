import { createMsg, type Msg } from '@rivulet/core';
import { createMemoryQueue, Topics, type ConsumedRecord, type Queue } from '@rivulet/queue';
import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { isDeadLetter, type DeadLetter } from './dead-letter';
import { createRuleEngine, type RuleEngine } from './engine';
import { createNodeRegistry } from './registry';
import { createRecordingServices, type RecordingServices } from './testing';
import { defineNode, Relation } from './types';

// A node that hangs on the messages the test says, until the test lets them go.
const hanging = new Set<number>();
const waiting: Array<() => void> = [];
const slowNode = defineNode({
  type: 'test.slow',
  category: 'action',
  name: 'slow',
  description: 'hangs on the values in `hanging`, then saves data.n',
  configSchema: z.object({}),
  configVersion: 0,
  relations: [Relation.SUCCESS],
  create: (_cfg, services) => ({
    async process(msg: Msg) {
      const n = (msg.data as { n: number }).n;
      if (hanging.has(n)) await new Promise<void>((r) => waiting.push(r));
      await services.timeseries.save([{ entityId: msg.originator.id, key: 'n', ts: n, value: n }]);
      return [{ relation: Relation.SUCCESS, msg }];
    },
  }),
});
const registry = createNodeRegistry([slowNode]);
const chainJson = (configuration?: unknown) => ({
  ruleChain: { name: 'root', ...(configuration ? { configuration } : {}) },
  metadata: { firstNodeIndex: 0, nodes: [{ type: 'test.slow', name: 'Slow', configuration: {} }], connections: [] },
});
const msg = (device: string, n: number) => createMsg({ type: 'POST_TELEMETRY_REQUEST', originator: { entityType: 'DEVICE', id: device }, tenantId: 't1', data: { n } });

async function until(cond: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('rule engine pack timeout', () => {
  let queue: Queue;
  let engine: RuleEngine;
  let services: RecordingServices;
  const deadLetters: DeadLetter[] = [];
  afterEach(async () => {
    for (const w of waiting.splice(0)) w();
    hanging.clear();
    deadLetters.length = 0;
    await engine?.stop();
    await queue?.close();
  });

  async function start(opts: { configuration?: unknown; submitStrategy?: 'SEQUENTIAL_BY_ORIGINATOR'; packTimeoutMs?: number; maxAbandoned?: number } = {}) {
    queue = createMemoryQueue({ partitions: 1 });
    services = createRecordingServices();
    engine = createRuleEngine({
      queue,
      registry,
      servicesFor: () => services,
      chains: { getRootChain: async () => ({ id: 'root', json: chainJson(opts.configuration) }) },
      retryBackoffMs: 5,
      maxRetries: 2,
      packTimeoutMs: opts.packTimeoutMs ?? 200,
      ...(opts.maxAbandoned ? { maxAbandoned: opts.maxAbandoned } : {}),
      ...(opts.submitStrategy ? { submitStrategy: opts.submitStrategy } : {}),
    });
    await engine.start();
    await queue.subscribe<unknown>({
      topic: `${Topics.RULE_ENGINE}.dlq`,
      group: 'test-dlq',
      handler: async (records: ReadonlyArray<ConsumedRecord<unknown>>) => {
        for (const r of records) if (isDeadLetter(r.value)) deadLetters.push(r.value);
      },
    });
  }
  const produce = (msgs: Msg[]) => queue.produce(Topics.RULE_ENGINE, msgs.map((m) => ({ key: m.originator.id, value: m })));

  it('a hanging message is timed out and dead-lettered; the partition moves on and later batches run', async () => {
    await start();
    hanging.add(2);
    const t0 = Date.now();
    await produce([msg('d1', 1), msg('d1', 2), msg('d2', 3)]);
    await until(() => deadLetters.length === 1);
    // Given up at once (not retried by default): one pack timeout, not three.
    expect(Date.now() - t0).toBeLessThan(1500);
    expect(deadLetters[0]).toMatchObject({ reason: 'timed-out', attempts: 1, chainId: 'root', error: 'Not processed within the pack timeout (200 ms)' });
    expect((deadLetters[0]!.msg.data as { n: number }).n).toBe(2);
    expect(services.points.map((p) => p.ts).sort()).toEqual([1, 3]);
    // The partition (one for all devices here) is not stalled: the next batch runs and commits.
    await produce([msg('d1', 4)]);
    await until(() => services.points.length === 3);
    await until(() => engine.stats().processed === 3);
    expect(await queue.lag(Topics.RULE_ENGINE, 'rule-engine')).toBe(0);
    expect(engine.stats()).toMatchObject({ timedOut: 1, abandoned: 1, skipped: 1, deadLettered: 1, retried: 0 });
    // The abandoned run ends when the node does; it is not run twice.
    for (const w of waiting.splice(0)) w();
    await until(() => engine.stats().abandoned === 0);
    expect(services.points.filter((p) => p.ts === 2)).toHaveLength(1);
  });

  it('RETRY_FAILED_AND_TIMED_OUT retries a timed-out message, then dead-letters it after the retries', async () => {
    await start({ configuration: { processingStrategy: { type: 'RETRY_FAILED_AND_TIMED_OUT', retries: 2, pauseBetweenRetriesMs: 1 } } });
    hanging.add(7);
    await produce([msg('d1', 7)]);
    await until(() => deadLetters.length === 1);
    expect(deadLetters[0]).toMatchObject({ reason: 'timed-out', attempts: 3 });
    expect(engine.stats()).toMatchObject({ timedOut: 3, retried: 2, abandoned: 3 });
  });

  it('a message that keeps failing is dead-lettered after its retries, with the error', async () => {
    await start();
    const original = services.timeseries.save;
    services.timeseries.save = async (p) => {
      if (p[0]?.ts === 666) throw new Error('poison');
      return original(p);
    };
    await produce([msg('d1', 666), msg('d1', 667)]);
    await until(() => deadLetters.length === 1);
    expect(deadLetters[0]).toMatchObject({ reason: 'failed', attempts: 3, error: 'node 0 "Slow" failed: poison' });
    expect(services.points.map((p) => p.ts)).toEqual([667]);
  });

  it('SEQUENTIAL_BY_ORIGINATOR: the hanging message and those queued behind it on its device time out; other devices finish', async () => {
    await start({ submitStrategy: 'SEQUENTIAL_BY_ORIGINATOR' });
    hanging.add(1);
    await produce([msg('d1', 1), msg('d1', 2), msg('d2', 3), msg('d2', 4)]);
    await until(() => deadLetters.length === 2);
    expect(deadLetters.map((d) => (d.msg.data as { n: number }).n).sort()).toEqual([1, 2]);
    expect(services.points.map((p) => p.ts)).toEqual([3, 4]);
    // Only the running one is abandoned; message 2 never started.
    expect(engine.stats()).toMatchObject({ timedOut: 2, abandoned: 1 });
  });

  it('packTimeoutMs 0: no limit (a slow message is waited for)', async () => {
    await start({ packTimeoutMs: 0 });
    hanging.add(1);
    await produce([msg('d1', 1)]);
    await new Promise((r) => setTimeout(r, 300));
    expect(deadLetters).toHaveLength(0);
    for (const w of waiting.splice(0)) w();
    await until(() => services.points.length === 1);
  });

  it('too many timed-out runs still going pace the next batch (one pack timeout at most), and it goes on as soon as they end', async () => {
    await start({ packTimeoutMs: 1000, maxAbandoned: 1 });
    hanging.add(1);
    await produce([msg('d1', 1)]);
    await until(() => deadLetters.length === 1);
    // Still hanging: the next batch waits a pack timeout, then runs (never blocked for good).
    let t0 = Date.now();
    await produce([msg('d2', 2)]);
    await until(() => services.points.length === 1);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(900);
    // The hanging run ends while the next batch waits: it goes on at once.
    t0 = Date.now();
    await produce([msg('d2', 3)]);
    await new Promise((r) => setTimeout(r, 100));
    for (const w of waiting.splice(0)) w();
    await until(() => services.points.some((p) => p.ts === 3));
    expect(Date.now() - t0).toBeLessThan(800);
    expect(engine.stats().abandoned).toBe(0);
  });
});
