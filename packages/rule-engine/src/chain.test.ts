import { createMsg, type Msg } from '@rivulet/core';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { compileRuleChain, validateRuleChain, InvalidRuleChainError } from './chain';
import { createNodeRegistry } from './registry';
import { createRecordingServices } from './testing';
import { defineNode, Relation } from './types';
import { silentLogger } from '@rivulet/core';

// Small nodes that exist only to exercise routing.
const seen: string[] = [];
const passNode = defineNode({
  type: 'test.pass',
  category: 'flow',
  name: 'pass',
  description: 'routes by config.relation and records its name',
  configSchema: z.object({ relation: z.string().default('Success'), tag: z.string().default('') }),
  configVersion: 1,
  upgrade: (c) => ({ ...(c as object), relation: (c as { rel?: string }).rel ?? 'Success' }),
  relations: ['Success', 'True', 'False'],
  create: (cfg) => ({
    process(msg: Msg) {
      seen.push(cfg.tag);
      return [{ relation: cfg.relation, msg }];
    },
  }),
});
const throwNode = defineNode({
  type: 'test.throw',
  category: 'flow',
  name: 'throw',
  description: 'always throws',
  configSchema: z.object({}),
  configVersion: 0,
  relations: ['Success'],
  create: () => ({
    async process(): Promise<never> {
      throw new Error('boom');
    },
  }),
});
const brokenNode = defineNode({
  type: 'test.broken',
  category: 'flow',
  name: 'broken',
  description: 'cannot be created (a script that does not compile)',
  configSchema: z.object({}),
  configVersion: 0,
  relations: ['Success'],
  create: () => {
    throw new Error('jsScript: SyntaxError: unexpected token');
  },
});
const registry = createNodeRegistry([passNode, throwNode, brokenNode]);

function chain(nodes: Array<{ type: string; configuration?: unknown; name?: string; configurationVersion?: number }>, connections: Array<[number, number, string]>) {
  return {
    ruleChain: { name: 'c' },
    metadata: {
      firstNodeIndex: 0,
      nodes: nodes.map((n) => ({ name: n.name ?? n.type, ...n })),
      connections: connections.map(([fromIndex, toIndex, type]) => ({ fromIndex, toIndex, type })),
    },
  };
}

function run(json: unknown, msg = createMsg({ type: 'X', originator: { entityType: 'DEVICE', id: 'd1' }, tenantId: 't', data: {} })) {
  seen.length = 0;
  const c = compileRuleChain({ id: 'c1', chain: validateRuleChain(json, registry), services: createRecordingServices(), logger: silentLogger });
  return c.run(msg).then((o) => ({ outcome: o, stats: c.stats() }));
}

describe('chain runtime', () => {
  it('a node that cannot be created fails the chain naming that node (index and name, as validation does)', () => {
    const json = chain([{ type: 'test.pass' }, { type: 'test.broken', name: 'Broken filter' }], [[0, 1, 'Success']]);
    const compile = () => compileRuleChain({ id: 'c1', chain: validateRuleChain(json, registry), services: createRecordingServices(), logger: silentLogger });
    expect(compile).toThrow(InvalidRuleChainError);
    expect(compile).toThrow('Rule chain "c" failed to start: node 1 "Broken filter": jsScript: SyntaxError: unexpected token');
  });

  it('routes by relation and stops where no link matches', async () => {
    const { outcome } = await run(
      chain(
        [
          { type: 'test.pass', configuration: { relation: 'True', tag: 'a' } },
          { type: 'test.pass', configuration: { tag: 'yes' } },
          { type: 'test.pass', configuration: { tag: 'no' } },
        ],
        [[0, 1, 'True'], [0, 2, 'False']],
      ),
    );
    expect(outcome).toEqual({ ok: true });
    expect(seen).toEqual(['a', 'yes']);
  });

  it('fans out: every branch runs', async () => {
    const { outcome } = await run(
      chain(
        [{ type: 'test.pass', configuration: { tag: 'a' } }, { type: 'test.pass', configuration: { tag: 'b' } }, { type: 'test.pass', configuration: { tag: 'c' } }],
        [[0, 1, 'Success'], [0, 2, 'Success']],
      ),
    );
    expect(outcome.ok).toBe(true);
    expect(seen.sort()).toEqual(['a', 'b', 'c']);
  });

  it('fails a message whose Failure has no link, and names the node', async () => {
    const { outcome, stats } = await run(chain([{ type: 'test.throw', name: 'Thrower' }], []));
    expect(outcome.ok).toBe(false);
    expect(outcome.error).toContain('Thrower');
    expect(outcome.error).toContain('boom');
    expect(stats[0]?.errors).toBe(1);
  });

  it('a linked Failure is handled, not failed', async () => {
    const { outcome } = await run(chain([{ type: 'test.throw' }, { type: 'test.pass', configuration: { tag: 'handler' } }], [[0, 1, 'Failure']]));
    expect(outcome.ok).toBe(true);
    expect(seen).toEqual(['handler']);
  });

  it('one failed branch of a fan-out fails the message', async () => {
    const { outcome } = await run(chain([{ type: 'test.pass' }, { type: 'test.pass' }, { type: 'test.throw' }], [[0, 1, 'Success'], [0, 2, 'Success']]));
    expect(outcome.ok).toBe(false);
  });

  it('a loop is cut after MAX_HOPS and fails the message', async () => {
    const { outcome } = await run(chain([{ type: 'test.pass' }], [[0, 0, 'Success']]));
    expect(outcome.ok).toBe(false);
    expect(outcome.error).toMatch(/loops/);
  });

  it('upgrades an older configuration version', async () => {
    await run(chain([{ type: 'test.pass', configurationVersion: 0, configuration: { rel: 'True', tag: 'x' } }, { type: 'test.pass', configuration: { tag: 'after' } }], [[0, 1, 'True']]));
    expect(seen).toEqual(['x', 'after']);
  });

  it('counts in/out per node', async () => {
    const { stats } = await run(chain([{ type: 'test.pass' }, { type: 'test.pass' }], [[0, 1, 'Success']]));
    expect(stats.map((s) => [s.in, s.out.Success])).toEqual([[1, 1], [1, 1]]);
  });
});

describe('chain validation', () => {
  const bad = (json: unknown) => {
    try {
      validateRuleChain(json, registry);
    } catch (e) {
      expect(e).toBeInstanceOf(InvalidRuleChainError);
      return (e as Error).message;
    }
    throw new Error('expected a validation error');
  };
  it('names unknown node types', () => {
    expect(bad(chain([{ type: 'org.thingsboard.rule.engine.Nope', name: 'Mystery' }], []))).toMatch(/Mystery.*unknown node type org\.thingsboard\.rule\.engine\.Nope/);
  });
  it('names the node and field of a bad configuration', () => {
    expect(bad(chain([{ type: 'test.pass', name: 'P', configuration: { relation: 42 } }], []))).toMatch(/node 0 "P".*relation/);
  });
  it('rejects dangling links', () => {
    expect(bad(chain([{ type: 'test.pass' }], [[0, 3, 'Success']]))).toMatch(/does not exist/);
  });
  it('rejects relations a node never emits', () => {
    expect(bad(chain([{ type: 'test.pass' }, { type: 'test.pass' }], [[0, 1, 'Sucess']]))).toMatch(/never emits/);
  });
  it('rejects a bad shape and a bad firstNodeIndex', () => {
    expect(bad({ metadata: {} })).toMatch(/Invalid rule chain/);
    expect(bad({ ruleChain: { name: 'x' }, metadata: { firstNodeIndex: 5, nodes: [{ type: 'test.pass' }] } })).toMatch(/firstNodeIndex/);
  });
});

describe('chain start', () => {
  it('names the node whose creation fails (a script with a syntax error), so the editor can mark it', () => {
    const refusing = defineNode({
      type: 'test.refuse',
      category: 'flow',
      name: 'refuse',
      description: 'refuses to start, as a script node with a syntax error does',
      configSchema: z.object({}),
      configVersion: 0,
      relations: [Relation.SUCCESS],
      create() {
        throw new Error('jsScript: SyntaxError: unexpected token');
      },
    });
    const reg = createNodeRegistry([passNode, refusing]);
    const json = chain([{ type: 'test.pass', name: 'first' }, { type: 'test.refuse', name: 'Bad script' }], [[0, 1, 'Success']]);
    expect(() => compileRuleChain({ id: 'c2', chain: validateRuleChain(json, reg), services: createRecordingServices(), logger: silentLogger })).toThrow(
      'Rule chain "c" failed to start: node 1 "Bad script": jsScript: SyntaxError: unexpected token',
    );
  });
});
