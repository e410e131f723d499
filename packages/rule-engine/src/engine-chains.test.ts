import { type Broadcast, createMemoryBroadcast, LiveChannel } from '@rivulet/broadcast';
import { createMsg, type Msg, type RuleChainEvent } from '@rivulet/core';
import { createMemoryQueue, Topics, type Queue } from '@rivulet/queue';
import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { InvalidRuleChainError, validateRuleChain, type NodeTrace } from './chain';
import { createRuleEngine, type RuleEngine } from './engine';
import { createNodeRegistry } from './registry';
import { createRecordingServices, type RecordingServices } from './testing';
import { defineNode, Relation } from './types';

// Saves data.n under the configured key; fails while `failures.left` > 0 for its key.
const failures: Record<string, number> = {};
const saveNode = defineNode({
  type: 'test.save',
  category: 'action',
  name: 'save',
  description: 'saves data.n as a point under config.key',
  configSchema: z.object({ key: z.string().default('n') }),
  configVersion: 0,
  relations: [Relation.SUCCESS],
  create: (cfg, services) => ({
    async process(msg: Msg) {
      if ((failures[cfg.key] ?? 0) > 0) {
        failures[cfg.key]!--;
        throw new Error(`${cfg.key} refused`);
      }
      const n = (msg.data as { n: number }).n;
      await services.timeseries.save([{ entityId: msg.originator.id, key: cfg.key, ts: n, value: n }]);
      return [{ relation: Relation.SUCCESS, msg }];
    },
  }),
});
const registry = createNodeRegistry([saveNode]);

function chainJson(key: string, configuration?: unknown, node: Record<string, unknown> = {}) {
  return {
    ruleChain: { name: `chain ${key}`, ...(configuration === undefined ? {} : { configuration }) },
    metadata: { firstNodeIndex: 0, nodes: [{ type: 'test.save', name: 'Save', configuration: { key }, ...node }], connections: [] },
  };
}

const msg = (tenantId: string, n: number, device = 'd1') =>
  createMsg({ type: 'POST_TELEMETRY_REQUEST', originator: { entityType: 'DEVICE', id: device }, tenantId, data: { n } });

async function until(cond: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 5));
  }
}

describe('processing strategy per chain', () => {
  it('validates the strategy, naming the field', () => {
    expect(() => validateRuleChain(chainJson('a', { processingStrategy: { retries: -1 } }), registry)).toThrow(InvalidRuleChainError);
    expect(() => validateRuleChain(chainJson('a', { processingStrategy: { retries: -1 } }), registry)).toThrow(/ruleChain\.configuration\.processingStrategy\.retries/);
    expect(() => validateRuleChain(chainJson('a', { processingStrategy: { type: 'RETRY_ALL' } }), registry)).toThrow(/processingStrategy\.type/);
    expect(validateRuleChain(chainJson('a', { processingStrategy: { retries: 2, pauseBetweenRetriesMs: 5 } }), registry).strategy).toEqual({ retries: 2, pauseMs: 5 });
    expect(validateRuleChain(chainJson('a', { processingStrategy: { type: 'SKIP_ALL_FAILURES', retries: 9 } }), registry).strategy).toEqual({ retries: 0 });
    expect(validateRuleChain(chainJson('a', null), registry).strategy).toBeUndefined();
  });

  it("retries each tenant's failures by its own chain's strategy, defaulting to the engine's", async () => {
    const chains: Record<string, unknown> = {
      skip: chainJson('skip', { processingStrategy: { type: 'SKIP_ALL_FAILURES' } }),
      two: chainJson('two', { processingStrategy: { retries: 2, pauseBetweenRetriesMs: 1 } }),
      dflt: chainJson('dflt'),
    };
    const services = createRecordingServices();
    const engine = createRuleEngine({
      queue: createMemoryQueue({ partitions: 1 }),
      registry,
      servicesFor: () => services,
      chains: { getRootChain: async (t) => ({ id: t, json: chains[t] }) },
      maxRetries: 4,
      retryBackoffMs: 1,
    });
    failures.skip = 1; // would pass on a retry, but the chain skips at once
    failures.two = 5; // more failures than its 2 retries
    failures.dflt = 3; // passes on the 4th attempt (engine default: 4 retries)
    await engine.processBatch([msg('skip', 1), msg('two', 2), msg('dflt', 3)]);
    const s = engine.stats();
    expect(s.skipped).toBe(2);
    expect(s.processed).toBe(1);
    expect(services.points.map((p) => p.key)).toEqual(['dflt']);
    // skip: 1 failed attempt; two: 3 attempts; dflt: 3 failed attempts then success
    expect(s.failedAttempts).toBe(1 + 3 + 3);
    expect(s.retried).toBe(2 + 3);
    expect(failures.two).toBe(2);
    await engine.stop();
  });
});

describe('rule chain events on the broadcast', () => {
  let queue: Queue;
  let engine: RuleEngine;
  let broadcast: Broadcast;
  let services: RecordingServices;
  afterEach(async () => {
    await engine?.stop();
    await queue?.close();
  });

  const current: { json: unknown; id: string; loads: number } = { json: chainJson('v1'), id: 'c1', loads: 0 };
  const traces: NodeTrace[] = [];

  async function start() {
    queue = createMemoryQueue({ partitions: 4 });
    broadcast = createMemoryBroadcast();
    services = createRecordingServices();
    current.json = chainJson('v1');
    current.loads = 0;
    traces.length = 0;
    engine = createRuleEngine({
      queue,
      registry,
      servicesFor: () => services,
      broadcast,
      debugSink: { record: (t) => void traces.push(t) },
      chains: {
        getRootChain: async () => {
          current.loads++;
          return { id: current.id, json: current.json };
        },
      },
      retireAfterMs: 50,
    });
    await engine.start();
  }
  const publish = (e: RuleChainEvent) => broadcast.publish(LiveChannel.RULE_CHAINS, e);
  const produce = (msgs: Msg[]) => queue.produce(Topics.RULE_ENGINE, msgs.map((m) => ({ key: m.originator.id, value: m })));

  it('reloads the chain of the tenant a "saved" event names, leaving other tenants alone', async () => {
    await start();
    await produce([msg('t1', 1, 'a'), msg('t2', 1, 'b')]);
    await until(() => services.points.length === 2);
    expect(current.loads).toBe(2);
    current.json = chainJson('v2');
    publish({ tenantId: 't1', chainId: 'c1', kind: 'saved' });
    await produce([msg('t1', 2, 'a'), msg('t2', 2, 'b')]);
    await until(() => services.points.length === 4);
    expect(current.loads).toBe(3);
    const keysOf = (device: string) => services.points.filter((p) => p.entityId === device).map((p) => p.key);
    expect(keysOf('a')).toEqual(['v1', 'v2']);
    // t2 still runs the chain it loaded before the change (its tenant was not named)
    expect(keysOf('b')).toEqual(['v1', 'v1']);
    // saving or deleting another (non-root) chain of the tenant leaves the running root alone
    publish({ tenantId: 't1', chainId: 'some-other-chain', kind: 'saved' });
    publish({ tenantId: 't1', chainId: 'some-other-chain', kind: 'deleted' });
    await produce([msg('t1', 3, 'a')]);
    await until(() => services.points.length === 5);
    expect(current.loads).toBe(3);
    // a root switch reloads whatever the root is now
    publish({ tenantId: 't1', chainId: 'some-other-chain', kind: 'root' });
    await produce([msg('t1', 4, 'a')]);
    await until(() => services.points.length === 6);
    expect(current.loads).toBe(4);
  });

  it('applies a node debug change in place, without a reload', async () => {
    await start();
    await produce([msg('t1', 1)]);
    await until(() => services.points.length === 1);
    expect(traces).toEqual([]);
    publish({ tenantId: 't1', chainId: 'c1', kind: 'debug', nodeIndex: 0, debug: { failuresEnabled: true, allEnabled: false, allEnabledUntil: Date.now() + 60_000 } });
    publish({ tenantId: 't1', chainId: 'other-chain', kind: 'debug', nodeIndex: 0, debug: { failuresEnabled: true, allEnabled: false, allEnabledUntil: 0 } });
    await produce([msg('t1', 2)]);
    // processed counts a message once its chain finished (its trace recorded), not once it was saved
    await until(() => engine.stats().processed === 2);
    expect(services.points).toHaveLength(2);
    expect(traces.map((t) => t.nodeIndex)).toEqual([0]);
    expect(current.loads).toBe(1);
    expect(engine.stats().chains[0]?.nodes[0]?.in).toBe(2);
  });

  it('loses no message when the chain is swapped while messages flow', async () => {
    await start();
    const total = 2000;
    let sent = 0;
    const producer = (async () => {
      while (sent < total) {
        const batch: Msg[] = [];
        for (let i = 0; i < 50 && sent < total; i++) batch.push(msg('t1', sent++, `d${sent % 13}`));
        await produce(batch);
        await new Promise((r) => setImmediate(r));
      }
    })();
    for (let v = 2; v <= 6; v++) {
      await until(() => sent >= (total * (v - 1)) / 6);
      current.json = chainJson(`v${v}`);
      publish({ tenantId: 't1', chainId: 'c1', kind: 'saved' });
    }
    await producer;
    await until(() => engine.stats().processed === total);
    expect(services.points).toHaveLength(total);
    expect(new Set(services.points.map((p) => `${p.entityId}/${p.ts}`)).size).toBe(total);
    expect(new Set(services.points.map((p) => p.key)).size).toBeGreaterThan(1);
    expect(engine.stats().skipped).toBe(0);
    expect(await queue.lag(Topics.RULE_ENGINE, 'rule-engine')).toBe(0);
  });

  it('stops listening when stopped', async () => {
    await start();
    await engine.stop();
    publish({ tenantId: 't1', chainId: 'c1', kind: 'saved' });
    expect(current.loads).toBe(0);
  });
});

describe('rule chain version check (a missed change event)', () => {
  const stored = { json: chainJson('v1') as unknown, version: 1 };
  /** A broadcast that loses every rule-chain event, as a process that missed them would. */
  function droppingBroadcast(): Broadcast & { dropped: number } {
    const inner = createMemoryBroadcast();
    const b = {
      ...inner,
      dropped: 0,
      publish: ((channel, event) => {
        if (channel.name === LiveChannel.RULE_CHAINS.name) b.dropped++;
        else inner.publish(channel, event);
      }) as Broadcast['publish'],
    };
    return b;
  }

  async function run(chainCheckMs: number) {
    stored.json = chainJson('v1');
    stored.version = 1;
    const queue = createMemoryQueue({ partitions: 1 });
    const broadcast = droppingBroadcast();
    const services = createRecordingServices();
    let versionReads = 0;
    const engine = createRuleEngine({
      queue,
      registry,
      servicesFor: () => services,
      broadcast,
      chainCheckMs,
      retireAfterMs: 10,
      chains: {
        getRootChain: async () => ({ id: 'c1', json: stored.json, version: stored.version }),
        rootVersion: async () => {
          versionReads++;
          return { id: 'c1', version: stored.version };
        },
      },
    });
    await engine.start();
    const produce = (n: number) => queue.produce(Topics.RULE_ENGINE, [{ key: 'd1', value: msg('t1', n) }]);
    await produce(1);
    await until(() => services.points.length === 1);
    // the chain is saved (version 2) and the API announces it, but this engine never hears of it
    stored.json = chainJson('v2');
    stored.version = 2;
    broadcast.publish(LiveChannel.RULE_CHAINS, { tenantId: 't1', chainId: 'c1', kind: 'saved' });
    expect(broadcast.dropped).toBe(1);
    await new Promise((r) => setTimeout(r, 300));
    await produce(2);
    await until(() => services.points.length === 2);
    const keys = services.points.map((p) => p.key);
    const stats = engine.stats();
    await engine.stop();
    await queue.close();
    return { keys, stats, versionReads };
  }

  it('without the check, an engine that missed the event keeps running the old chain', async () => {
    const r = await run(0);
    expect(r.keys).toEqual(['v1', 'v1']);
    expect(r.versionReads).toBe(0);
    expect(r.stats.staleChainReloads).toBe(0);
  });

  it('with the check, it finds the newer version in storage and reloads within an interval', async () => {
    const r = await run(50);
    expect(r.keys).toEqual(['v1', 'v2']);
    expect(r.stats.staleChainReloads).toBe(1);
    expect(r.versionReads).toBeGreaterThanOrEqual(1);
  });
});

describe('routing to a chain other than the root (device profiles)', () => {
  /** Root chain saves under "root"; chain p1 (version `p1Version`) under `p1Key`. The router sends device "routed" to p1. */
  async function world(o: { chainCheckMs?: number; dropChainEvents?: boolean; asyncRoute?: boolean; maxRetries?: number } = {}) {
    const stored = { p1Key: 'p1-v1', p1Version: 1 };
    const queue = createMemoryQueue({ partitions: 1 });
    const inner = createMemoryBroadcast();
    const broadcast: Broadcast = o.dropChainEvents
      ? { ...inner, publish: ((channel, event) => (channel.name === LiveChannel.RULE_CHAINS.name ? undefined : inner.publish(channel, event))) as Broadcast['publish'] }
      : inner;
    const services = createRecordingServices();
    const routed = new Set(['routed']);
    /** Devices routed to a chain id storage does not have. */
    const missing = new Set<string>();
    let routeCalls = 0;
    const engine = createRuleEngine({
      queue,
      registry,
      servicesFor: () => services,
      broadcast,
      retireAfterMs: 10,
      retryBackoffMs: 5,
      ...(o.maxRetries !== undefined ? { maxRetries: o.maxRetries } : {}),
      ...(o.chainCheckMs ? { chainCheckMs: o.chainCheckMs } : {}),
      router: {
        chainIdFor(m) {
          routeCalls++;
          const id = missing.has(m.originator.id) ? 'gone' : routed.has(m.originator.id) ? 'p1' : null;
          return o.asyncRoute ? Promise.resolve(id) : id;
        },
      },
      chains: {
        getRootChain: async () => ({ id: 'root', json: chainJson('root'), version: 1 }),
        rootVersion: async () => ({ id: 'root', version: 1 }),
        getChain: async (_t, chainId) => (chainId === 'p1' ? { id: 'p1', json: chainJson(stored.p1Key), version: stored.p1Version } : null),
        chainVersion: async (_t, chainId) => (chainId === 'p1' ? { id: 'p1', version: stored.p1Version } : null),
      },
    });
    await engine.start();
    const produce = (n: number, device: string) => queue.produce(Topics.RULE_ENGINE, [{ key: device, value: msg('t1', n, device) }]);
    return {
      stored, services, engine, routed, missing, broadcast, produce,
      routeCalls: () => routeCalls,
      async close() {
        await engine.stop();
        await queue.close();
      },
    };
  }

  for (const asyncRoute of [false, true]) {
    it(`runs a routed device's messages in its chain and the others in the root (${asyncRoute ? 'route read' : 'route cached'})`, async () => {
      const w = await world({ asyncRoute });
      try {
        await w.produce(1, 'routed');
        await w.produce(2, 'plain');
        await until(() => w.services.points.length === 2);
        expect(w.services.points.map((p) => `${p.entityId}:${p.key}`).sort()).toEqual(['plain:root', 'routed:p1-v1']);
        expect(w.engine.stats().chains.map((c) => c.chainId).sort()).toEqual(['p1', 'root']);
        // A saved profile chain is reloaded on its next message; the root is left alone.
        w.stored.p1Key = 'p1-v2';
        w.stored.p1Version = 2;
        w.broadcast.publish(LiveChannel.RULE_CHAINS, { tenantId: 't1', chainId: 'p1', kind: 'saved' } satisfies RuleChainEvent);
        await new Promise((r) => setTimeout(r, 20));
        await w.produce(3, 'routed');
        await until(() => w.services.points.length === 3);
        expect(w.services.points.at(-1)?.key).toBe('p1-v2');
        expect(w.routeCalls()).toBe(3);
      } finally {
        await w.close();
      }
    });
  }

  it('a profile chain changed without its event reaching the engine is reloaded by the version check', async () => {
    const w = await world({ chainCheckMs: 50, dropChainEvents: true });
    try {
      await w.produce(1, 'routed');
      await until(() => w.services.points.length === 1);
      w.stored.p1Key = 'p1-v2';
      w.stored.p1Version = 2;
      w.broadcast.publish(LiveChannel.RULE_CHAINS, { tenantId: 't1', chainId: 'p1', kind: 'saved' } satisfies RuleChainEvent);
      await new Promise((r) => setTimeout(r, 300));
      await w.produce(2, 'routed');
      await until(() => w.services.points.length === 2);
      expect(w.services.points.map((p) => p.key)).toEqual(['p1-v1', 'p1-v2']);
      expect(w.engine.stats().staleChainReloads).toBe(1);
    } finally {
      await w.close();
    }
  });

  it('a route to a chain that does not exist fails the message (dead-lettered after its retries), never falls back to the root', async () => {
    const w = await world({ maxRetries: 1 });
    try {
      w.routed.add('lost');
      w.missing.add('lost');
      await w.produce(1, 'lost');
      await w.produce(2, 'plain');
      await until(() => w.engine.stats().skipped === 1 && w.services.points.length === 1);
      expect(w.services.points.map((p) => `${p.entityId}:${p.key}`)).toEqual(['plain:root']);
      expect(w.engine.stats()).toMatchObject({ deadLettered: 1, failedAttempts: 2 });
    } finally {
      await w.close();
    }
  });
});
