import { Registry } from 'prom-client';
import type { RuleEngineStats } from '@rivulet/rule-engine';
import { describe, expect, it } from 'vitest';
import { registerCollectors, type MetricsSources } from './collectors';

const node = (nodeIndex: number, type: string, n: number) => ({ nodeIndex, name: `n${nodeIndex}`, type, in: n, out: {}, errors: n % 3, timeMs: n * 2, strikes: 0, disabledRefusals: 0, disabledUntil: 0 });

function sources(engine: () => RuleEngineStats | undefined): MetricsSources {
  return {
    transports: () => undefined,
    rateLimits: () => ({ transports: {}, devicesTracked: 0, tenantsTracked: 0 }),
    queueTopics: [],
    queueLag: async () => 0,
    queueDepth: () => undefined,
    queueHeldBack: () => undefined,
    ruleEngine: engine,
    websocket: () => undefined,
    httpConnections: () => undefined,
  };
}

const value = async (reg: Registry, name: string, type: string) => (await reg.getSingleMetric(name)!.get()).values.find((v) => v.labels.type === type)?.value;

describe('rule-node counters per node type', () => {
  it('add up over tenants and never go down when a chain is reloaded (its own counters start again at 0)', async () => {
    let chains: RuleEngineStats['chains'] = [
      { tenantId: 't1', chainId: 'c1', name: 'Root', nodes: [node(0, 'switch', 10), node(1, 'save', 8)] },
      { tenantId: 't2', chainId: 'c2', name: 'Root', nodes: [node(0, 'switch', 5)] },
    ];
    const engine = () => ({ processed: 0, failedAttempts: 0, retried: 0, skipped: 0, timedOut: 0, abandoned: 0, deadLettered: 0, deadLetterErrors: 0, staleChainReloads: 0, chains });
    const reg = new Registry();
    registerCollectors(reg, sources(engine));
    await reg.metrics();
    expect(await value(reg, 'rivulet_rule_node_messages_total', 'switch')).toBe(15);
    expect(await value(reg, 'rivulet_rule_node_seconds_total', 'switch')).toBeCloseTo(0.03);
    // tenant 1's chain reloaded (counters from 0: now 4), tenant 2 went on to 7
    chains = [
      { tenantId: 't1', chainId: 'c1', name: 'Root', nodes: [node(0, 'switch', 4), node(1, 'save', 3)] },
      { tenantId: 't2', chainId: 'c2', name: 'Root', nodes: [node(0, 'switch', 7)] },
    ];
    await new Promise((r) => setTimeout(r, 60));
    await reg.metrics();
    expect(await value(reg, 'rivulet_rule_node_messages_total', 'switch')).toBe(15 + 4 + 2);
    expect(await value(reg, 'rivulet_rule_node_messages_total', 'save')).toBe(8 + 3);
    // no tenant or chain id among the labels
    expect(await reg.metrics()).not.toMatch(/t1|t2|c1|c2/);
  });
});
