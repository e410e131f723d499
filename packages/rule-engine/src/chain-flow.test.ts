import { createMsg, silentLogger, type Msg } from '@rivulet/core';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { compileRuleChain, validateRuleChain } from './chain';
import { createRuleChainResolver } from './chain-resolver';
import { createNodeRegistry } from './registry';
import { createRecordingServices } from './testing';
import { defineNode, Relation, type NodeContext } from './types';

// Nodes for the runtime pieces the catalog relies on: ctx.emit, output routes, start().
const contexts: NodeContext[] = [];
const holdNode = defineNode({
  type: 'test.hold',
  category: 'flow',
  name: 'hold',
  description: 'keeps the message; the test emits it later',
  configSchema: z.object({}),
  configVersion: 0,
  relations: ['Later'],
  create: () => ({
    process(_msg: Msg, ctx: NodeContext) {
      contexts.push(ctx);
      return [];
    },
  }),
});
const saveNode = defineNode({
  type: 'test.save',
  category: 'action',
  name: 'save',
  description: 'saves data.n',
  configSchema: z.object({ fail: z.boolean().default(false) }),
  configVersion: 0,
  relations: [Relation.SUCCESS],
  create: (cfg, services) => ({
    async process(msg: Msg) {
      if (cfg.fail) throw new Error('refused');
      await services.timeseries.save([{ entityId: msg.originator.id, key: 'n', ts: 1, value: (msg.data as { n: number }).n }]);
      return [{ relation: Relation.SUCCESS, msg }];
    },
  }),
});
const outNode = defineNode({
  type: 'test.out',
  category: 'flow',
  name: 'out',
  description: 'leaves the chain by its name',
  configSchema: z.object({}),
  configVersion: 0,
  relations: [],
  create: () => ({ process: (msg: Msg, ctx: NodeContext) => [{ relation: ctx.nodeName, msg, chainOutput: true }] }),
});
const started: string[] = [];
const startNode = defineNode({
  type: 'test.start',
  category: 'action',
  name: 'starter',
  description: 'records start()',
  configSchema: z.object({}),
  configVersion: 0,
  relations: [Relation.SUCCESS],
  create: () => ({ start: (ctx: NodeContext) => void started.push(`${ctx.tenantId}:${ctx.nodeName}`), process: (msg: Msg) => [{ relation: Relation.SUCCESS, msg }] }),
});
const registry = createNodeRegistry([holdNode, saveNode, outNode, startNode]);
const msg = (n: number) => createMsg({ type: 'X', originator: { entityType: 'DEVICE', id: 'd1' }, tenantId: 't1', data: { n } });
const chainJson = (nodes: Array<{ type: string; name?: string; configuration?: unknown }>, connections: Array<[number, number, string]>) => ({
  ruleChain: { name: 'c' },
  metadata: { firstNodeIndex: 0, nodes: nodes.map((n) => ({ name: n.type, ...n })), connections: connections.map(([fromIndex, toIndex, type]) => ({ fromIndex, toIndex, type })) },
});

describe('ctx.emit', () => {
  it('routes messages a node sends later by its links, and reports their outcome', async () => {
    contexts.length = 0;
    const services = createRecordingServices();
    const chain = compileRuleChain({
      id: 'c',
      chain: validateRuleChain(chainJson([{ type: 'test.hold' }, { type: 'test.save' }, { type: 'test.save', configuration: { fail: true } }], [[0, 1, 'Later'], [0, 2, Relation.FAILURE]]), registry),
      services,
      logger: silentLogger,
    });
    expect(await chain.run(msg(1))).toEqual({ ok: true });
    expect(services.points).toEqual([]);
    const ctx = contexts[0]!;
    expect(await ctx.emit([{ relation: 'Later', msg: msg(7) }])).toEqual({ ok: true });
    expect(services.points.map((p) => p.value)).toEqual([7]);
    // A Failure emitted later follows the Failure link; there the save fails, so the outcome says so.
    const failed = await ctx.emit([{ relation: Relation.FAILURE, msg: msg(8) }]);
    expect(failed.ok).toBe(false);
    expect(failed.error).toMatch(/refused/);
    expect(chain.stats()[0]!.out).toEqual({ Later: 1, Failure: 1 });
    await chain.destroy();
    expect(await ctx.emit([{ relation: 'Later', msg: msg(9) }])).toEqual({ ok: false, error: 'Rule chain "c" was stopped' });
    expect(services.points).toHaveLength(1);
  });
});

describe('output routes and start()', () => {
  it('collects output-node routes in the outcome instead of following links', async () => {
    const chain = compileRuleChain({
      id: 'c',
      chain: validateRuleChain(chainJson([{ type: 'test.save' }, { type: 'test.out', name: 'Stored' }, { type: 'test.out', name: 'Copy' }], [[0, 1, 'Success'], [0, 2, 'Success']]), registry),
      services: createRecordingServices(),
      logger: silentLogger,
    });
    const outcome = await chain.run(msg(1));
    expect(outcome.ok).toBe(true);
    expect(outcome.outputs?.map((r) => r.relation).sort()).toEqual(['Copy', 'Stored']);
  });
  it('calls start() with the tenant once the chain is built, unless startNodes is false', () => {
    started.length = 0;
    const validated = validateRuleChain(chainJson([{ type: 'test.start', name: 'S' }], []), registry);
    compileRuleChain({ id: 'c', tenantId: 't9', chain: validated, services: createRecordingServices(), logger: silentLogger });
    compileRuleChain({ id: 'c', tenantId: 't9', chain: validated, services: createRecordingServices(), logger: silentLogger, startNodes: false });
    expect(started).toEqual(['t9:S']);
  });
});

describe('rule chain resolver', () => {
  it('compiles a chain once, reloads it after invalidate, and does not cache a missing one', async () => {
    let loads = 0;
    let version = 1;
    const services = createRecordingServices();
    const resolver = createRuleChainResolver({
      registry,
      servicesFor: () => services,
      async load(_tenantId, chainId) {
        loads++;
        if (chainId !== 'inner') return null;
        return { json: { ...chainJson([{ type: 'test.out', name: `v${version}` }], []), ruleChain: { name: `inner v${version}` } } };
      },
    });
    const a = await resolver.get('t1', 'inner');
    const b = await resolver.get('t1', 'inner');
    expect(a).toBe(b);
    expect((await a!.run(msg(1))).outputs?.[0]?.relation).toBe('v1');
    version = 2;
    resolver.invalidate('t1', 'inner');
    const c = await resolver.get('t1', 'inner');
    expect(c?.name).toBe('inner v2');
    expect(await resolver.get('t1', 'nope')).toBeNull();
    expect(await resolver.get('t1', 'nope')).toBeNull();
    expect(loads).toBe(4);
    await resolver.close();
    expect(await resolver.get('t1', 'inner')).toBeNull();
  });
});
