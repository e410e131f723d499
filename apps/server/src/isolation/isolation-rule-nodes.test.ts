import { connectAsync } from 'mqtt';
import { newId } from '@rivulet/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { api } from '../test-helpers';
import { settle, startIsolationWorld, type IsolationWorld } from './isolation-fixture';

/**
 * Isolation matrix, rule nodes and test runs (issue #12): tenant B's chains name tenant A's
 * device, alarm and chain. The attack as reported: a generator with A's device as originator
 * feeding save time series, save attributes (shared, pushed to the device), RPC `factoryReset` and
 * create alarm. Every such chain is refused on save and on load, every node fails its message in a
 * test run, and A's data, alarms and live MQTT session see nothing.
 */
type NodeJson = { type: string; name: string; configuration?: Record<string, unknown> };
const chainJson = (nodes: NodeJson[], connections: Array<{ fromIndex: number; toIndex: number; type: string }> = []) => ({
  ruleChain: { name: 'attack' },
  metadata: { firstNodeIndex: 0, nodes, connections },
});
const FACTORY_RESET = `return { msg: { method: 'factoryReset', params: {}, temperature: 666, setpoint: 1 }, metadata: { oneway: 'true' }, msgType: 'POST_TELEMETRY_REQUEST' };`;
const generator = (originatorId: string): NodeJson => ({
  type: 'rivulet.action.generator',
  name: 'Gen',
  configuration: { originatorType: 'DEVICE', originatorId, periodInSeconds: 0.1, msgCount: 5, jsScript: FACTORY_RESET },
});
/** What the generator fed in the reported attack, one node per entity-taking action. */
const actions: NodeJson[] = [
  { type: 'rivulet.action.saveTimeseries', name: 'Save ts' },
  { type: 'rivulet.action.saveAttributes', name: 'Save shared', configuration: { scope: 'SHARED_SCOPE', notifyDevice: true } },
  { type: 'rivulet.action.rpcCallRequest', name: 'RPC', configuration: { timeoutInSeconds: 1 } },
  { type: 'rivulet.action.createAlarm', name: 'Alarm', configuration: { alarmType: 'Hacked', severity: 'CRITICAL' } },
];
/** Every node that takes an entity id from the message's originator, each run alone in a test run. */
const entityNodes: NodeJson[] = [
  ...actions,
  { type: 'rivulet.action.deleteAttributes', name: 'Delete attrs', configuration: { scope: 'SERVER_SCOPE', keys: ['location'] } },
  { type: 'rivulet.action.clearAlarm', name: 'Clear alarm', configuration: { alarmType: 'Overheat' } },
  { type: 'rivulet.enrichment.originatorTelemetry', name: 'Telemetry', configuration: { latestTsKeyNames: ['temperature'] } },
  { type: 'rivulet.enrichment.originatorTelemetry', name: 'Telemetry history', configuration: { latestTsKeyNames: ['temperature'], fetchMode: 'ALL', startInterval: 100000, startIntervalTimeUnit: 'DAYS', endInterval: 0 } },
  { type: 'rivulet.enrichment.originatorAttributes', name: 'Attributes', configuration: { serverAttributeNames: ['location'], sharedAttributeNames: ['setpoint'], clientAttributeNames: ['firmware'], tellFailureIfAbsent: false } },
  { type: 'rivulet.enrichment.originatorFields', name: 'Fields' },
];

describe('isolation matrix: rule nodes and test runs', () => {
  let w: IsolationWorld;
  let before: unknown;
  beforeAll(async () => {
    w = await startIsolationWorld('nodes');
    before = await w.snapshotA();
    expect(before).toMatchObject({ latest: [{ key: 'temperature' }], alarms: [{ type: 'Overheat', cleared: false }] });
  }, 60_000);
  afterAll(async () => {
    await w?.close();
  });

  async function saveChain(jwt: string, nodes: NodeJson[]) {
    const created = await api<{ id: { id: string } }>(w.app.url, jwt, '/api/ruleChain', { method: 'POST', body: { name: `attack ${newId()}` } });
    expect(created.status).toBe(200);
    const body = { ruleChainId: { entityType: 'RULE_CHAIN', id: created.body.id.id }, firstNodeIndex: 0, nodes, connections: nodes.slice(1).map((_, i) => ({ fromIndex: 0, toIndex: i + 1, type: 'Success' })) };
    return api<{ message: string }>(w.app.url, jwt, '/api/ruleChain/metadata', { method: 'POST', body });
  }

  it('a generator with another tenant’s (or no) device as originator is refused on save, import and test run', async () => {
    for (const caller of w.callers) {
      for (const id of [w.a.deviceId, newId()]) {
        const saved = await saveChain(caller.jwt, [generator(id), ...actions]);
        expect(saved.status, JSON.stringify(saved.body)).toBe(400);
        expect(saved.body.message).toMatch(new RegExp(`node 0 "Gen": originatorId: DEVICE ${id} is not an entity of this tenant`));
        const imported = await api(w.app.url, caller.jwt, '/api/ruleChain/import', { method: 'POST', body: chainJson([generator(id)]) });
        expect(imported.status).toBe(400);
        const run = await api(w.app.url, caller.jwt, '/api/ruleChain/testRun', { method: 'POST', body: { chain: chainJson([generator(id)]), msg: { type: 'X', data: {} } } });
        expect(run.status).toBe(400);
      }
    }
    // its own device is fine
    expect((await saveChain(w.b.jwt, [generator(w.b.deviceId)])).status).toBe(200);
  });

  it('a planted chain (saved before the check existed) is refused when the engine loads it: the generator never fires at A', async () => {
    // Written straight into storage, past the API's validation, and made B's root chain.
    const id = newId();
    const nodes = [generator(w.a.deviceId), ...actions];
    const connections = actions.map((_, i) => ({ fromIndex: 0, toIndex: i + 1, type: 'Success' }));
    await w.app.storage.ruleChains.save({ id, tenantId: w.b.tenantId, name: 'planted', root: true, debugMode: false, metadata: { firstNodeIndex: 0, nodes, connections } as never });
    // B's own device sends telemetry: B's root chain is loaded for it (and refused).
    const bDevice = await connectAsync(`mqtt://127.0.0.1:${w.app.mqttPort}`, { username: w.b.token, reconnectPeriod: 0 });
    try {
      await bDevice.publishAsync('v1/devices/me/telemetry', JSON.stringify({ temperature: 1 }), { qos: 1 });
      await settle(2000); // the generator's period is 100 ms: five messages would have fired by now
    } finally {
      await bDevice.endAsync(true);
    }
    await w.app.storage.ruleChains.delete(w.b.tenantId, id);
    expect(w.received, 'A’s MQTT session').toEqual([]);
    expect(await w.snapshotA()).toEqual(before);
  });

  it('each entity-taking node, test-run by B on A’s device, fails its message and records nothing', async () => {
    const originators = [
      { entityType: 'DEVICE', id: w.a.deviceId },
      { entityType: 'TENANT', id: w.a.tenantId },
    ];
    for (const caller of w.callers) {
      for (const [node, originator] of entityNodes.flatMap((n) => originators.map((o) => [n, o] as const))) {
        const r = await api<{ ok: boolean; error: string | null; writes: unknown[]; steps: Array<{ error: string | null }> }>(w.app.url, caller.jwt, '/api/ruleChain/testRun', {
          method: 'POST',
          body: {
            chain: chainJson([node]),
            msg: { type: 'POST_TELEMETRY_REQUEST', data: { method: 'factoryReset', params: {}, temperature: 666, setpoint: 1 }, originator },
          },
        });
        const where = `${caller.name}: ${node.name} on A's ${originator.entityType} -> ${JSON.stringify(r.body).slice(0, 300)}`;
        expect(r.status, where).toBe(200);
        expect(r.body.ok, where).toBe(false);
        // refused for the entity, or (a TENANT originator) refused by a node that takes devices only
        expect(r.body.steps[0]?.error, where).toMatch(/does not belong to this tenant|Device .* not found|not a device|DEVICE originators/);
        expect(r.body.writes, where).toEqual([]);
        // nothing of A's comes back: not its telemetry, attributes or name
        // timings (durationMs, ts) are dropped first: a duration of 21.3 ms or 1.04 ms is not A's data
        const text = JSON.stringify(r.body, (k, v: unknown) => (typeof v === 'number' && /ms$|ts$|time$/i.test(k) ? undefined : v));
        for (const secret of ['"21"', ':21', 'lab', '"1.0"', 'a-thermostat']) expect(text, `${where} leaks ${secret}`).not.toContain(secret);
      }
    }
  });

  it('a rule chain node naming A’s chain fails the message, in a test run and in B’s running root chain', async () => {
    const chainNode: NodeJson = { type: 'rivulet.flow.ruleChain', name: 'Call A', configuration: { ruleChainId: w.a.chainId } };
    const r = await api<{ ok: boolean; steps: Array<{ error: string | null }> }>(w.app.url, w.b.jwt, '/api/ruleChain/testRun', {
      method: 'POST',
      body: { chain: chainJson([chainNode]), msg: { type: 'POST_TELEMETRY_REQUEST', data: { temperature: 1 }, originator: { entityType: 'DEVICE', id: w.b.deviceId } } },
    });
    expect(r.body.ok).toBe(false);
    expect(r.body.steps[0]?.error).toMatch(new RegExp(`Rule chain ${w.a.chainId} not found`));
    // B's root chain calls A's chain: A's chain (which would save to B's originator, not A) never runs for B.
    const saved = await api<{ id: { id: string } }>(w.app.url, w.b.jwt, '/api/ruleChain/import', { method: 'POST', body: chainJson([chainNode]) });
    expect(saved.status).toBe(200);
    expect((await api(w.app.url, w.b.jwt, `/api/ruleChain/${saved.body.id.id}/root`, { method: 'POST' })).status).toBe(200);
    await api(w.app.url, w.b.jwt, `/api/ruleChain/${saved.body.id.id}/node/0/debug`, { method: 'POST', body: { enabled: true } });
    const bDevice = await connectAsync(`mqtt://127.0.0.1:${w.app.mqttPort}`, { username: w.b.token, reconnectPeriod: 0 });
    try {
      await bDevice.publishAsync('v1/devices/me/telemetry', JSON.stringify({ temperature: 2 }), { qos: 1 });
    } finally {
      await bDevice.endAsync(true);
    }
    const failed = await waitFor(async () => {
      const ev = await api<{ data: Array<{ body: { error?: string | null } }> }>(w.app.url, w.b.jwt, `/api/ruleChain/${saved.body.id.id}/node/0/debug`);
      return ev.body.data.find((e) => e.body.error);
    });
    expect(failed.body.error).toMatch(/not found/);
  });

  it('customer users can neither save nor test-run a chain, with A’s device or their own tenant’s', async () => {
    for (const caller of w.customerCallers) {
      for (const node of [generator(w.a.deviceId), ...entityNodes]) {
        const run = await api(w.app.url, caller.jwt, '/api/ruleChain/testRun', {
          method: 'POST',
          body: { chain: chainJson([node]), msg: { type: 'POST_TELEMETRY_REQUEST', data: { temperature: 666 }, originator: { entityType: 'DEVICE', id: w.a.deviceId } } },
        });
        expect([403, 404], `${caller.name}: test run ${JSON.stringify(run.body)}`).toContain(run.status);
      }
      const created = await api(w.app.url, caller.jwt, '/api/ruleChain', { method: 'POST', body: { name: 'customer attack' } });
      expect([403, 404], `${caller.name}: ${JSON.stringify(created.body)}`).toContain(created.status);
      const imported = await api(w.app.url, caller.jwt, '/api/ruleChain/import', { method: 'POST', body: chainJson([generator(w.a.deviceId)]) });
      expect([403, 404], `${caller.name}: import`).toContain(imported.status);
    }
  });

  it('after all of it, A’s stored state is unchanged and A’s MQTT session received nothing', async () => {
    await settle(500);
    expect(await w.snapshotA()).toEqual(before);
    expect(w.received).toEqual([]);
  });
});

async function waitFor<T>(fn: () => Promise<T | undefined>, timeoutMs = 10_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`not within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
