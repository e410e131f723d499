import { createMsg, silentLogger, type Msg } from '@rivulet/core';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { compileRuleChain, validateRuleChain, type NodeTrace } from './chain';
import { createBatchedDebugSink, traceToEvents, type DebugEvent } from './debug';
import { createNodeRegistry } from './registry';
import { createRecordingServices } from './testing';
import { defineNode, Relation } from './types';

const passNode = defineNode({
  type: 'test.pass',
  category: 'flow',
  name: 'pass',
  description: 'adds metadata.passed',
  configSchema: z.object({}),
  configVersion: 0,
  relations: [Relation.SUCCESS],
  create: () => ({ process: (msg: Msg) => [{ relation: Relation.SUCCESS, msg: { ...msg, metadata: { ...msg.metadata, passed: 'yes' } } }] }),
});
const failNode = defineNode({
  type: 'test.fail',
  category: 'flow',
  name: 'fail',
  description: 'throws when data.fail',
  configSchema: z.object({}),
  configVersion: 0,
  relations: [Relation.SUCCESS],
  create: () => ({
    process(msg: Msg) {
      if ((msg.data as { fail?: boolean }).fail) throw new Error('asked to fail');
      return [{ relation: Relation.SUCCESS, msg }];
    },
  }),
});
const registry = createNodeRegistry([passNode, failNode]);
const T = 1_700_000_000_000;

function chainJson(debug: Array<Record<string, unknown> | undefined>) {
  return {
    ruleChain: { name: 'debug' },
    metadata: {
      firstNodeIndex: 0,
      nodes: [
        { type: 'test.pass', name: 'Pass', ...(debug[0] ?? {}) },
        { type: 'test.fail', name: 'Fail', ...(debug[1] ?? {}) },
      ],
      connections: [{ fromIndex: 0, toIndex: 1, type: 'Success' }],
    },
  };
}

const msg = (data: Record<string, unknown> = {}) =>
  createMsg({ type: 'POST_TELEMETRY_REQUEST', originator: { entityType: 'DEVICE', id: 'd1' }, tenantId: 't1', data: data as never, ts: T });

function compile(debug: Array<Record<string, unknown> | undefined>, clock: { now: number }) {
  const traces: NodeTrace[] = [];
  const chain = compileRuleChain({
    id: 'c1',
    chain: validateRuleChain(chainJson(debug), registry),
    services: createRecordingServices(),
    logger: silentLogger,
    debugSink: { record: (t) => void traces.push(t) },
    now: () => clock.now,
    debugDurationMs: 1000,
  });
  return { chain, traces };
}

describe('per-node debug', () => {
  it('records failures always, and nothing else while debug is off', async () => {
    const clock = { now: T };
    const { chain, traces } = compile([undefined, undefined], clock);
    await chain.run(msg());
    expect(traces).toEqual([]);
    const outcome = await chain.run(msg({ fail: true }));
    expect(outcome.ok).toBe(false);
    expect(traces).toHaveLength(1);
    expect(traces[0]).toMatchObject({ chainId: 'c1', nodeIndex: 1, nodeName: 'Fail', nodeType: 'test.fail', error: 'asked to fail', startTs: T });
    expect(traces[0]?.routes.map((r) => r.relation)).toEqual(['Failure']);
    expect(traces[0]?.msgIn.metadata.passed).toBe('yes');
  });

  it('does not record failures when failuresEnabled is false', async () => {
    const { chain, traces } = compile([undefined, { debugSettings: { failuresEnabled: false } }], { now: T });
    await chain.run(msg({ fail: true }));
    expect(traces).toEqual([]);
  });

  it('records all traffic of a node until allEnabledUntil, then only failures', async () => {
    const clock = { now: T };
    const { chain, traces } = compile([{ debugSettings: { allEnabledUntil: T + 500 } }, undefined], clock);
    await chain.run(msg());
    expect(traces.map((t) => t.nodeIndex)).toEqual([0]);
    expect(traces[0]?.routes).toEqual([{ relation: 'Success', msg: expect.objectContaining({ metadata: expect.objectContaining({ passed: 'yes' }) }), targets: [1] }]);
    clock.now = T + 500;
    await chain.run(msg());
    expect(traces).toHaveLength(1);
  });

  it('treats allEnabled and the older debugMode flag as "for the debug duration from load"', async () => {
    const clock = { now: T };
    const { chain, traces } = compile([{ debugMode: true }, { debugSettings: { allEnabled: true } }], clock);
    await chain.run(msg());
    expect(traces.map((t) => t.nodeIndex)).toEqual([0, 1]);
    clock.now = T + 1000;
    await chain.run(msg());
    expect(traces).toHaveLength(2);
  });

  it('switches debug on and off in place, keeping counters', async () => {
    const clock = { now: T };
    const { chain, traces } = compile([undefined, undefined], clock);
    await chain.run(msg());
    expect(chain.setNodeDebug(1, { allEnabledUntil: T + 100 })).toBe(true);
    await chain.run(msg());
    expect(traces.map((t) => t.nodeIndex)).toEqual([1]);
    chain.setNodeDebug(1, { allEnabled: false, allEnabledUntil: 0 });
    await chain.run(msg());
    expect(traces).toHaveLength(1);
    expect(chain.stats()[1]?.in).toBe(3);
    expect(chain.setNodeDebug(7, { allEnabled: true })).toBe(false);
  });

  it('turns a trace into ThingsBoard-style IN and OUT events', async () => {
    const { chain, traces } = compile([{ debugSettings: { allEnabledUntil: T + 10 } }, undefined], { now: T });
    await chain.run(msg({ temperature: 21 }));
    const events = traceToEvents(traces[0]!);
    expect(events).toHaveLength(2);
    expect(events[0]).toMatchObject({ tenantId: 't1', chainId: 'c1', nodeIndex: 0, direction: 'IN', relation: null, msgType: 'POST_TELEMETRY_REQUEST', data: { temperature: 21 }, error: null, durationMs: null });
    expect(events[1]).toMatchObject({ direction: 'OUT', relation: 'Success', metadata: { passed: 'yes' }, durationMs: expect.any(Number) });
  });

  it('a sink that throws does not change what happens to the message', async () => {
    const chain = compileRuleChain({
      id: 'c1',
      chain: validateRuleChain(chainJson([{ debugMode: true }, undefined]), registry),
      services: createRecordingServices(),
      logger: silentLogger,
      debugSink: {
        record() {
          throw new Error('sink broken');
        },
      },
    });
    expect(await chain.run(msg())).toEqual({ ok: true });
  });
});

describe('batched debug sink', () => {
  function trace(i: number): NodeTrace {
    const m = msg({ i });
    return { chainId: 'c1', nodeIndex: 0, nodeName: 'n', nodeType: 't', seq: i, startTs: T + i, msgIn: m, routes: [{ relation: 'Success', msg: m, targets: [] }], error: null, durationMs: 0.5 };
  }

  it('buffers without waiting and writes in batches', async () => {
    const writes: DebugEvent[][] = [];
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const sink = createBatchedDebugSink({
      maxBatch: 4,
      flushIntervalMs: 0,
      async write(events) {
        writes.push(events);
        await gate;
      },
    });
    for (let i = 0; i < 5; i++) sink.record(trace(i)); // 10 events; the write of the first 4 is stuck on the gate
    expect(writes.map((w) => w.length)).toEqual([4]);
    release();
    await sink.flush();
    expect(writes.map((w) => w.length)).toEqual([4, 4, 2]);
    expect(sink.stats()).toEqual({ recorded: 10, written: 10, dropped: 0, failed: 0 });
  });

  it('drops events beyond maxPending while storage lags, and counts failed writes', async () => {
    let fail = true;
    const sink = createBatchedDebugSink({
      maxBatch: 2,
      maxPending: 4,
      flushIntervalMs: 0,
      write: () => new Promise<void>((resolve, reject) => setTimeout(() => (fail ? reject(new Error('db down')) : resolve()), 5)),
    });
    for (let i = 0; i < 5; i++) sink.record(trace(i));
    await sink.flush();
    const s = sink.stats();
    expect(s.dropped).toBeGreaterThan(0);
    expect(s.recorded + s.dropped).toBe(10);
    expect(s.failed).toBe(s.recorded);
    fail = false;
    sink.record(trace(9));
    await sink.close();
    expect(sink.stats().written).toBe(2);
    sink.record(trace(10)); // after close: ignored
    expect(sink.stats().recorded).toBe(s.recorded + 2);
  });

  it('flushes a partial batch on its timer', async () => {
    const writes: DebugEvent[][] = [];
    const sink = createBatchedDebugSink({ maxBatch: 100, flushIntervalMs: 10, write: async (e) => void writes.push(e) });
    sink.record(trace(1));
    expect(writes).toEqual([]);
    await new Promise((r) => setTimeout(r, 50));
    expect(writes.map((w) => w.length)).toEqual([2]);
    await sink.close();
  });
});
