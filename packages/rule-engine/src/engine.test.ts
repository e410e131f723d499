import { createMsg, type Msg } from '@rivulet/core';
import { createMemoryQueue, Topics, type Queue } from '@rivulet/queue';
import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { createRuleEngine, type RuleEngine } from './engine';
import { createNodeRegistry } from './registry';
import { createRecordingServices, type RecordingServices } from './testing';
import { defineNode, Relation } from './types';

// A save node on the recording services, enough to see what the engine delivered and in what order.
const saveNode = defineNode({
  type: 'test.save',
  category: 'action',
  name: 'save',
  description: 'saves data.n as a point',
  configSchema: z.object({ key: z.string().default('n') }),
  configVersion: 0,
  relations: [Relation.SUCCESS],
  create: (cfg, services) => ({
    async process(msg: Msg) {
      const n = (msg.data as { n: number }).n;
      await services.timeseries.save([{ entityId: msg.originator.id, key: cfg.key, ts: n, value: n }]);
      return [{ relation: Relation.SUCCESS, msg }];
    },
  }),
});
const registry = createNodeRegistry([saveNode]);
const chainJson = (key = 'n') => ({
  ruleChain: { name: 'root' },
  metadata: { firstNodeIndex: 0, nodes: [{ type: 'test.save', name: 'Save', configuration: { key } }], connections: [] },
});

const msg = (device: string, n: number) =>
  createMsg({ type: 'POST_TELEMETRY_REQUEST', originator: { entityType: 'DEVICE', id: device }, tenantId: 't1', data: { n } });

async function until(cond: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('rule engine on the memory queue', () => {
  let queue: Queue;
  let engine: RuleEngine;
  let services: RecordingServices;
  let chainKey = 'n';
  afterEach(async () => {
    await engine?.stop();
    await queue?.close();
  });

  async function start(opts: { maxRetries?: number; submitStrategy?: 'BURST' | 'SEQUENTIAL_BY_ORIGINATOR' } = {}) {
    queue = createMemoryQueue({ partitions: 4 });
    services = createRecordingServices();
    engine = createRuleEngine({
      queue,
      registry,
      servicesFor: () => services,
      chains: { getRootChain: async () => ({ id: 'root', json: chainJson(chainKey) }) },
      retryBackoffMs: 5,
      ...(opts.maxRetries === undefined ? {} : { maxRetries: opts.maxRetries }),
      ...(opts.submitStrategy === undefined ? {} : { submitStrategy: opts.submitStrategy }),
    });
    await engine.start();
  }
  const produce = (msgs: Msg[]) => queue.produce(Topics.RULE_ENGINE, msgs.map((m) => ({ key: m.originator.id, value: m })));

  it('runs every message through the root chain, each device in order, and commits', async () => {
    await start();
    const msgs: Msg[] = [];
    for (let i = 0; i < 300; i++) msgs.push(msg(`d${i % 7}`, i));
    await produce(msgs);
    await until(() => services.points.length === 300);
    for (let d = 0; d < 7; d++) {
      const seq = services.points.filter((p) => p.entityId === `d${d}`).map((p) => p.ts);
      expect(seq).toEqual([...seq].sort((a, b) => a - b));
    }
    await until(() => engine.stats().processed === 300);
    expect(await queue.lag(Topics.RULE_ENGINE, 'rule-engine')).toBe(0);
  });

  it('SEQUENTIAL_BY_ORIGINATOR: one device\'s message starts only after the previous finished', async () => {
    await start({ submitStrategy: 'SEQUENTIAL_BY_ORIGINATOR' });
    const original = services.timeseries.save;
    let inFlight = 0;
    let maxInFlightForD1 = 0;
    services.timeseries.save = async (p) => {
      const d1 = p[0]?.entityId === 'd1';
      if (d1) maxInFlightForD1 = Math.max(maxInFlightForD1, ++inFlight);
      await new Promise((r) => setTimeout(r, 1));
      if (d1) inFlight--;
      return original(p);
    };
    await produce(Array.from({ length: 20 }, (_, i) => msg('d1', i)));
    await until(() => services.points.length === 20);
    expect(maxInFlightForD1).toBe(1);
    expect(services.points.map((p) => p.ts)).toEqual(Array.from({ length: 20 }, (_, i) => i));
  });

  it('BURST (default): a batch of one device\'s messages is in flight together, started in order', async () => {
    await start();
    const original = services.timeseries.save;
    let inFlight = 0;
    let maxInFlight = 0;
    services.timeseries.save = async (p) => {
      maxInFlight = Math.max(maxInFlight, ++inFlight);
      await new Promise((r) => setTimeout(r, 1));
      inFlight--;
      return original(p);
    };
    await produce(Array.from({ length: 20 }, (_, i) => msg('d1', i)));
    await until(() => services.points.length === 20);
    expect(maxInFlight).toBeGreaterThan(1);
    expect(services.points.map((p) => p.ts)).toEqual(Array.from({ length: 20 }, (_, i) => i));
  });

  it('retries a message whose save failed once; it is saved once', async () => {
    await start();
    services.failNext('timeseries', new Error('db hiccup'));
    await produce([msg('d1', 1)]);
    await until(() => services.points.length === 1);
    await new Promise((r) => setTimeout(r, 50));
    expect(services.points).toHaveLength(1);
    expect(engine.stats().retried).toBe(1);
    expect(engine.stats().skipped).toBe(0);
  });

  it('skips a message that keeps failing, counted, and the partition moves on', async () => {
    await start({ maxRetries: 2 });
    const original = services.timeseries.save;
    let failures = 0;
    services.timeseries.save = async (p) => {
      if (p[0]?.ts === 666) {
        failures++;
        throw new Error('poison');
      }
      return original(p);
    };
    await produce([msg('d1', 666), msg('d1', 667)]);
    await until(() => engine.stats().skipped === 1);
    expect(services.points.map((p) => p.ts)).toEqual([667]);
    expect(failures).toBe(3);
    expect(engine.stats().skipped).toBe(1);
    await until(() => engine.stats().processed === 1);
  });

  it('skips records that are not messages without stopping', async () => {
    await start();
    await queue.produce(Topics.RULE_ENGINE, [{ key: 'x', value: { nope: true } }]);
    await produce([msg('d1', 5)]);
    await until(() => services.points.length === 1);
  });

  it('picks up a replaced root chain after invalidate', async () => {
    await start();
    await produce([msg('d1', 1)]);
    await until(() => services.points.length === 1);
    chainKey = 'm';
    engine.invalidate('t1');
    await produce([msg('d1', 2)]);
    await until(() => services.points.length === 2);
    expect(services.points[1]?.key).toBe('m');
    chainKey = 'n';
  });

  it('stop with drain processes everything queued first', async () => {
    await start();
    const msgs = Array.from({ length: 1000 }, (_, i) => msg(`d${i % 3}`, i));
    await produce(msgs);
    await engine.stop({ drain: true });
    expect(services.points).toHaveLength(1000);
  });
});
