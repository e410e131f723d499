import type { Msg } from '@rivulet/core';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { InvalidRuleChainError } from './chain';
import { createNodeRegistry } from './registry';
import { createRuleChainService, describeNodeTypes } from './rule-chain-service';
import { testRunChain } from './test-run';
import { createRecordingServices } from './testing';
import { defineNode, Relation } from './types';

const thresholdNode = defineNode({
  type: 'test.threshold',
  category: 'filter',
  name: 'threshold',
  description: 'True when data[key] > value',
  configSchema: z.object({ key: z.string().default('temperature'), value: z.number().default(30) }),
  configVersion: 0,
  relations: [Relation.TRUE, Relation.FALSE],
  create: (cfg) => ({
    process: (msg: Msg) => [{ relation: Number((msg.data as Record<string, unknown>)[cfg.key]) > cfg.value ? Relation.TRUE : Relation.FALSE, msg }],
  }),
});
const saveNode = defineNode({
  type: 'test.save',
  category: 'action',
  name: 'save',
  description: 'saves data as points and an attribute "last", reading back the latest first',
  configSchema: z.object({}),
  configVersion: 0,
  relations: [Relation.SUCCESS, Relation.FAILURE],
  create: (_cfg, services) => ({
    async process(msg: Msg) {
      const before = await services.timeseries.findLatest(msg.originator.id, ['temperature']);
      const data = msg.data as Record<string, number>;
      await services.timeseries.save(Object.entries(data).map(([key, value]) => ({ entityId: msg.originator.id, key, ts: 1000, value })));
      await services.attributes.save([{ entityId: msg.originator.id, scope: 'SERVER_SCOPE', key: 'last', value: 1, lastUpdateTs: 1000 }]);
      const after = await services.timeseries.findLatest(msg.originator.id, ['temperature']);
      services.logger.info({ before: before.length, after: after.length }, 'saved');
      return [{ relation: Relation.SUCCESS, msg: { ...msg, metadata: { ...msg.metadata, saved: 'true' } } }];
    },
  }),
});
const failNode = defineNode({
  type: 'test.fail',
  category: 'action',
  name: 'fail',
  description: 'throws',
  configSchema: z.object({}),
  configVersion: 0,
  relations: [Relation.SUCCESS, Relation.FAILURE],
  create: () => ({
    process(): never {
      throw new Error('external system down');
    },
  }),
});
const slowNode = defineNode({
  type: 'test.slow',
  category: 'flow',
  name: 'slow',
  description: 'never finishes',
  configSchema: z.object({}),
  configVersion: 0,
  relations: [Relation.SUCCESS],
  create: () => ({ process: () => new Promise<never>(() => {}) }),
});
const registry = createNodeRegistry([thresholdNode, saveNode, failNode, slowNode]);

const chain = {
  ruleChain: { name: 'Test run' },
  metadata: {
    firstNodeIndex: 0,
    nodes: [
      { type: 'test.threshold', name: 'Hot?', configuration: { value: 30 } },
      { type: 'test.save', name: 'Save' },
      { type: 'test.fail', name: 'Notify' },
    ],
    connections: [
      { fromIndex: 0, toIndex: 1, type: 'True' },
      { fromIndex: 0, toIndex: 2, type: 'True' },
      { fromIndex: 1, toIndex: 2, type: 'Failure' },
    ],
  },
};

const sample = { type: 'POST_TELEMETRY_REQUEST', data: { temperature: 35 }, metadata: { deviceName: 'd1' }, originator: { entityType: 'DEVICE' as const, id: 'dev-1' } };

describe('testRunChain', () => {
  it('reports the path, each node’s input, outputs and error, and records writes without storing them', async () => {
    const real = createRecordingServices();
    await real.timeseries.save([{ entityId: 'dev-1', key: 'humidity', ts: 1, value: 50 }]);
    const r = await testRunChain({ chain, msg: sample, tenantId: 't1', registry, services: real });
    expect(r.ok).toBe(false);
    expect(r.error).toMatch(/Notify.*external system down/);
    expect(r.timedOut).toBe(false);
    expect(r.path).toEqual([0, 1, 2]);
    const [hot, save, notify] = r.steps;
    expect(hot).toMatchObject({ nodeIndex: 0, nodeName: 'Hot?', nodeType: 'test.threshold', error: null, in: { type: 'POST_TELEMETRY_REQUEST', data: { temperature: 35 }, originator: { entityType: 'DEVICE', id: 'dev-1' } } });
    expect(hot?.outputs).toEqual([{ relation: 'True', msg: expect.objectContaining({ data: { temperature: 35 } }), targets: [1, 2] }]);
    expect(save?.outputs).toEqual([{ relation: 'Success', msg: expect.objectContaining({ metadata: { deviceName: 'd1', saved: 'true' } }), targets: [] }]);
    expect(notify).toMatchObject({ nodeIndex: 2, error: 'external system down', outputs: [{ relation: 'Failure', targets: [] }] });
    expect(typeof notify?.durationMs).toBe('number');

    expect(r.writes).toEqual([
      { kind: 'timeseries', points: [{ entityId: 'dev-1', key: 'temperature', ts: 1000, value: 35 }] },
      { kind: 'attributes', items: [{ entityId: 'dev-1', scope: 'SERVER_SCOPE', key: 'last', value: 1, lastUpdateTs: 1000 }] },
    ]);
    // nothing reached the real services, but the run saw its own write when it read back
    expect(real.points).toHaveLength(1);
    expect(real.attributeWrites).toEqual([]);
    expect(r.logs).toEqual([expect.objectContaining({ level: 'info', msg: 'saved', fields: expect.objectContaining({ before: 0, after: 1 }) })]);
  });

  it('follows the False branch to its end', async () => {
    const r = await testRunChain({ chain, msg: { ...sample, data: { temperature: 20 } }, tenantId: 't1', registry, services: createRecordingServices() });
    expect(r).toMatchObject({ ok: true, error: null, path: [0], writes: [] });
    expect(r.steps[0]?.outputs.map((o) => o.relation)).toEqual(['False']);
  });

  it('runs one node alone, reporting where its routes would lead', async () => {
    const r = await testRunChain({ chain, nodeIndex: 0, msg: sample, tenantId: 't1', registry, services: createRecordingServices() });
    expect(r.path).toEqual([0]);
    expect(r.ok).toBe(true);
    expect(r.steps[0]?.outputs).toEqual([{ relation: 'True', msg: expect.anything(), targets: [1, 2] }]);
    const one = await testRunChain({ chain, nodeIndex: 1, msg: sample, tenantId: 't1', registry, services: createRecordingServices() });
    expect(one.path).toEqual([1]);
    expect(one.writes).toHaveLength(2);
    await expect(testRunChain({ chain, nodeIndex: 9, msg: sample, tenantId: 't1', registry, services: createRecordingServices() })).rejects.toMatchObject({ code: 'BAD_REQUEST' });
  });

  it('refuses an invalid chain as a save would, naming the node and field', async () => {
    const bad = { ...chain, metadata: { ...chain.metadata, nodes: [{ type: 'test.threshold', name: 'Hot?', configuration: { value: 'hot' } }] , connections: [] } };
    await expect(testRunChain({ chain: bad, msg: sample, tenantId: 't1', registry, services: createRecordingServices() })).rejects.toThrow(InvalidRuleChainError);
    await expect(testRunChain({ chain: bad, msg: sample, tenantId: 't1', registry, services: createRecordingServices() })).rejects.toThrow(/node 0 "Hot\?".*value/);
  });

  it('gives up after the time limit and says so', async () => {
    const slow = { ruleChain: { name: 's' }, metadata: { nodes: [{ type: 'test.slow', name: 'Slow' }], connections: [] } };
    const r = await testRunChain({ chain: slow, msg: sample, tenantId: 't1', registry, services: createRecordingServices(), timeoutMs: 30 });
    expect(r).toMatchObject({ ok: false, timedOut: true, error: 'The run did not finish within 30 ms', path: [] });
  });
});

describe('node types for the editor', () => {
  it('describes each node with its relations, JSON Schema and defaults', () => {
    const types = describeNodeTypes(registry);
    expect(types.map((t) => t.category)).toEqual(['action', 'action', 'filter', 'flow']);
    const threshold = types.find((t) => t.type === 'test.threshold');
    expect(threshold).toMatchObject({
      name: 'threshold',
      category: 'filter',
      relations: ['True', 'False'],
      relationsDynamic: false,
      aliases: [],
      defaultConfiguration: { key: 'temperature', value: 30 },
      configSchema: { type: 'object', properties: { key: { type: 'string', default: 'temperature' }, value: { type: 'number', default: 30 } } },
    });
  });

  it('the service validates, lists node types, test-runs and reports stats', async () => {
    const service = createRuleChainService({ registry, servicesFor: () => createRecordingServices(), stats: (t, c) => (t === 't1' && c === 'c1' ? [] : null) });
    await expect(service.validate(chain, 't1')).resolves.toBeUndefined();
    await expect(service.validate({ ruleChain: { name: 'x' }, metadata: { nodes: [{ type: 'org.thingsboard.rule.engine.Nope', name: 'N' }] } }, 't1')).rejects.toThrow(/org\.thingsboard\.rule\.engine\.Nope/);
    expect(service.nodeTypes()).toHaveLength(4);
    expect((await service.testRun({ chain, msg: sample, tenantId: 't1' })).path).toEqual([0, 1, 2]);
    expect(service.stats('t1', 'c1')).toEqual([]);
    expect(service.stats('t1', 'c2')).toBeNull();
  });
});

describe('testRunChain with the optional capabilities', () => {
  const alarmNode = defineNode({
    type: 'test.alarm',
    category: 'action',
    name: 'alarm',
    description: 'creates an alarm, or clears it when data.clear',
    configSchema: z.object({ alarmType: z.string().default('Hot') }),
    configVersion: 0,
    relations: ['Created', 'Updated', 'Cleared', 'False', Relation.FAILURE],
    create: (cfg, services) => ({
      async process(msg: Msg, ctx) {
        const alarms = services.alarms!;
        if ((msg.data as { clear?: boolean }).clear) {
          const active = await alarms.findActive(ctx.tenantId!, msg.originator.id, cfg.alarmType);
          if (!active) return [{ relation: 'False', msg }];
          await alarms.clear(ctx.tenantId!, active.id, 5000);
          return [{ relation: 'Cleared', msg }];
        }
        const r = await alarms.createOrUpdate({ tenantId: ctx.tenantId!, type: cfg.alarmType, originatorType: 'DEVICE', originatorId: msg.originator.id, severity: 'MAJOR', ts: 1000 });
        return [{ relation: r.created ? 'Created' : 'Updated', msg }];
      },
    }),
  });
  const kafkaNode = defineNode({
    type: 'test.kafka',
    category: 'external',
    name: 'kafka',
    description: 'publishes data',
    configSchema: z.object({}),
    configVersion: 0,
    relations: [Relation.SUCCESS],
    create: (_cfg, services) => ({
      async process(msg: Msg) {
        await services.kafka!.producer({ bootstrapServers: 'k:9092', acks: -1, retries: 0 }).send({ topic: 'out', key: msg.originator.id, value: JSON.stringify(msg.data) });
        return [{ relation: Relation.SUCCESS, msg }];
      },
    }),
  });
  const callNode = defineNode({
    type: 'test.call',
    category: 'flow',
    name: 'rule chain',
    description: 'runs another chain',
    configSchema: z.object({ chainId: z.string() }),
    configVersion: 0,
    relations: [Relation.SUCCESS, Relation.FAILURE],
    create: (cfg, services) => ({
      async process(msg: Msg, ctx) {
        if (!services.ruleChains) throw new Error('no rule chains capability');
        const chain = await services.ruleChains.get(ctx.tenantId!, cfg.chainId);
        if (!chain) throw new Error(`no chain ${cfg.chainId}`);
        const outcome = await chain.run(msg);
        if (!outcome.ok) throw new Error(outcome.error ?? 'failed');
        return [{ relation: Relation.SUCCESS, msg }];
      },
    }),
  });
  const rpcNode = defineNode({
    type: 'test.rpc',
    category: 'action',
    name: 'rpc',
    description: 'sends data as an RPC command, then answers the device',
    configSchema: z.object({}),
    configVersion: 0,
    relations: [Relation.SUCCESS, Relation.FAILURE],
    create: (_cfg, services) => ({
      async process(msg: Msg, ctx) {
        const outcome = await services.rpc!.sendToDevice({ requestId: 'r1', tenantId: ctx.tenantId!, deviceId: msg.originator.id, method: 'setTemp', params: msg.data, oneway: false, expirationTime: 10_000 });
        services.rpc!.replyToDevice({ deviceId: msg.originator.id, requestId: '7', body: { ok: true } });
        return [{ relation: outcome.kind === 'delivered' ? Relation.SUCCESS : Relation.FAILURE, msg }];
      },
    }),
  });
  const reg = createNodeRegistry([alarmNode, kafkaNode, callNode, saveNode, rpcNode]);
  const chainOf = (nodes: unknown[], connections: unknown[] = []) => ({ ruleChain: { name: 'c' }, metadata: { nodes, connections } });
  const realAlarm = { id: 'real-alarm', tenantId: 't1', type: 'Hot', originatorType: 'DEVICE', originatorId: 'dev-1', severity: 'MINOR' as const, acknowledged: false, cleared: false, startTs: 1, endTs: 1, ackTs: 0, clearTs: 0, details: null, createdTime: 1 };

  function realServices() {
    const calls: string[] = [];
    const base = createRecordingServices();
    return {
      calls,
      services: {
        ...base,
        alarms: {
          async findActive(_t: string, originatorId: string, type: string) {
            return originatorId === 'dev-1' && type === 'Hot' ? realAlarm : null;
          },
          async createOrUpdate(): Promise<never> {
            calls.push('createOrUpdate');
            throw new Error('must not be called');
          },
          async clear(): Promise<never> {
            calls.push('clear');
            throw new Error('must not be called');
          },
        },
        kafka: {
          producer() {
            calls.push('producer');
            throw new Error('must not be called');
          },
        },
        rpc: {
          async sendToDevice(): Promise<never> {
            calls.push('sendToDevice');
            throw new Error('must not be called');
          },
          replyToDevice() {
            calls.push('replyToDevice');
          },
        },
      },
    };
  }

  it('records alarms against what is stored without changing it', async () => {
    const real = realServices();
    const chain = chainOf([{ type: 'test.alarm', name: 'Alarm' }, { type: 'test.alarm', name: 'Again' }, { type: 'test.alarm', name: 'Clear' }], [
      { fromIndex: 0, toIndex: 1, type: 'Created' },
      { fromIndex: 0, toIndex: 1, type: 'Updated' },
    ]);
    const updated = await testRunChain({ chain, msg: sample, tenantId: 't1', registry: reg, services: real.services });
    expect(updated.steps.map((s) => s.outputs[0]?.relation)).toEqual(['Updated', 'Updated']);
    expect(updated.writes).toEqual([
      { kind: 'alarm', action: 'createOrUpdate', created: false, alarm: expect.objectContaining({ id: 'real-alarm', severity: 'MAJOR', endTs: 1000 }) },
      { kind: 'alarm', action: 'createOrUpdate', created: false, alarm: expect.objectContaining({ id: 'real-alarm' }) },
    ]);
    const other = await testRunChain({ chain, msg: { ...sample, originator: { entityType: 'DEVICE', id: 'dev-2' } }, tenantId: 't1', registry: reg, services: real.services });
    expect(other.steps.map((s) => s.outputs[0]?.relation)).toEqual(['Created', 'Updated']);
    const cleared = await testRunChain({ chain, nodeIndex: 2, msg: { ...sample, data: { clear: true } }, tenantId: 't1', registry: reg, services: real.services });
    expect(cleared.steps[0]?.outputs[0]?.relation).toBe('Cleared');
    expect(cleared.writes).toEqual([{ kind: 'alarm', action: 'clear', alarm: expect.objectContaining({ id: 'real-alarm', cleared: true, clearTs: 5000 }) }]);
    expect(real.calls).toEqual([]);
  });

  it('keeps Kafka records and RPC calls instead of sending them', async () => {
    const real = realServices();
    const r = await testRunChain({ chain: chainOf([{ type: 'test.kafka', name: 'Kafka' }, { type: 'test.rpc', name: 'RPC' }], [{ fromIndex: 0, toIndex: 1, type: 'Success' }]), msg: sample, tenantId: 't1', registry: reg, services: real.services });
    expect(r.ok).toBe(true);
    expect(r.path).toEqual([0, 1]);
    expect(r.writes).toEqual([
      { kind: 'kafka', record: { topic: 'out', key: 'dev-1', value: '{"temperature":35}' } },
      { kind: 'rpcToDevice', request: expect.objectContaining({ deviceId: 'dev-1', method: 'setTemp', params: { temperature: 35 } }) },
      { kind: 'rpcReply', reply: { deviceId: 'dev-1', requestId: '7', body: { ok: true } } },
    ]);
    expect(r.steps[1]?.outputs[0]?.relation).toBe('Success');
    expect(real.calls).toEqual([]);
  });

  it('runs a called chain on the same dry-run services and shows its steps', async () => {
    const inner = chainOf([{ type: 'test.save', name: 'Inner save' }]);
    const outer = chainOf([{ type: 'test.call', name: 'Call inner', configuration: { chainId: 'inner-id' } }]);
    const real = createRecordingServices();
    const r = await testRunChain({
      chain: outer,
      chainId: 'outer-id',
      msg: sample,
      tenantId: 't1',
      registry: reg,
      services: real,
      loadChain: async (_t, id) => (id === 'inner-id' ? inner : null),
    });
    expect(r.ok).toBe(true);
    expect(r.steps.map((s) => [s.chainId, s.nodeName])).toEqual([
      ['outer-id', 'Call inner'],
      ['inner-id', 'Inner save'],
    ]);
    expect(r.writes.map((w) => w.kind)).toEqual(['timeseries', 'attributes']);
    expect(real.points).toEqual([]);
    // Without a chain source the called chain is unavailable: the node fails, nothing runs for real.
    const none = await testRunChain({ chain: outer, msg: sample, tenantId: 't1', registry: reg, services: real });
    expect(none).toMatchObject({ ok: false, error: expect.stringMatching(/no rule chains capability/) });
  });
});
