import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Rivulet } from './app';
import { api, login, startTestServer, tempDir } from './test-helpers';

/** Rule-engine limits of the tenant profile (issue #16), as a tenant administrator meets them over REST. */
describe('rule chain limits per tenant', () => {
  let app: Rivulet;
  let jwt: string;
  const dir = tempDir();

  beforeAll(async () => {
    app = await startTestServer({
      RIVULET_DATA_DIR: dir.dir,
      RIVULET_MAX_NODES_PER_RULE_CHAIN: '3',
      RIVULET_MIN_GENERATOR_PERIOD_MS: '1000',
      // The default root chain is one of them.
      RIVULET_MAX_RULE_CHAINS_PER_TENANT: '2',
    });
    jwt = await login(app.url);
  });
  afterAll(async () => {
    await app?.stop();
    dir.remove();
  });

  const log = (name: string) => ({ type: 'rivulet.action.log', name, configuration: {} });
  const generator = (periodInSeconds: number) => ({ type: 'rivulet.action.generator', name: 'Fast', configuration: { periodInSeconds, msgCount: 0 } });
  const chain = (name: string, nodes: unknown[]) => ({
    ruleChain: { name, type: 'CORE', root: false, debugMode: false, configuration: null },
    metadata: { firstNodeIndex: 0, nodes, connections: [], ruleChainConnections: null },
  });

  it('a chain with more nodes than maxRuleNodesPerChain is refused with 400 naming the limit', async () => {
    const r = await api<{ message: string }>(app.url, jwt, '/api/ruleChain/import', { method: 'POST', body: chain('Too big', [log('a'), log('b'), log('c'), log('d')]) });
    expect(r.status).toBe(400);
    expect(r.body.message).toBe('Rule chain "Too big" has 4 nodes: this tenant\'s limit is 3 nodes per rule chain (maxRuleNodesPerChain)');
  });

  it('a generator faster than minGeneratorPeriodMs is refused with 400, on import and on save', async () => {
    const r = await api<{ message: string }>(app.url, jwt, '/api/ruleChain/import', { method: 'POST', body: chain('Flood', [generator(0.0001)]) });
    expect(r.status).toBe(400);
    expect(r.body.message).toBe(
      'Invalid configuration of node 0 "Fast": periodInSeconds: 0.0001 s is shorter than this tenant\'s minimum generator period of 1 s (minGeneratorPeriodMs)',
    );
    const ok = await api<{ id: { id: string } }>(app.url, jwt, '/api/ruleChain/import', { method: 'POST', body: chain('Slow', [generator(1)]) });
    expect(ok.status, JSON.stringify(ok.body)).toBe(200);
    const save = await api<{ message: string }>(app.url, jwt, '/api/ruleChain/metadata', {
      method: 'POST',
      body: { ruleChainId: { entityType: 'RULE_CHAIN', id: ok.body.id.id }, firstNodeIndex: 0, nodes: [generator(0.5)], connections: [] },
    });
    expect(save.status).toBe(400);
    expect(save.body.message).toMatch(/periodInSeconds: 0.5 s is shorter than this tenant's minimum generator period of 1 s \(minGeneratorPeriodMs\)/);
  });

  it('one chain more than maxRuleChains is refused with 403; renaming an existing one still works', async () => {
    // The root chain and "Slow" (previous test) make 2.
    const list = await api<{ totalElements: number; data: Array<{ id: { id: string }; name: string }> }>(app.url, jwt, '/api/ruleChains?pageSize=10&page=0');
    expect(list.body.totalElements).toBe(2);
    const created = await api<{ message: string; errorCode: number }>(app.url, jwt, '/api/ruleChain', { method: 'POST', body: { name: 'Third' } });
    expect(created.status).toBe(403);
    expect(created.body.errorCode).toBe(41); // ThingsBoard's ENTITIES_LIMIT_EXCEEDED, as for maxDevices
    expect(created.body.message).toBe("Can't create more than 2 rule chains: this tenant's limit (maxRuleChains) is reached");
    const imported = await api<{ message: string }>(app.url, jwt, '/api/ruleChain/import', { method: 'POST', body: chain('Third', [log('a')]) });
    expect(imported.status).toBe(403);
    const slow = list.body.data.find((c) => c.name === 'Slow')!;
    const renamed = await api(app.url, jwt, '/api/ruleChain', { method: 'POST', body: { id: slow.id, name: 'Slow (renamed)' } });
    expect(renamed.status).toBe(200);
  });
});
