import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LiveChannel } from '@rivulet/broadcast';
import {
  DebugEventPageSchema,
  NodeTypeSchema,
  RuleChainMetadataSchema,
  RuleChainPageSchema,
  RuleChainSchema,
  TestRunResultSchema,
} from '@rivulet/api-types';
import { newId, type RuleChainEvent } from '@rivulet/core';
import type { Storage } from '@rivulet/storage';
import { createTestRuleChains } from './test-rule-chains';
import { startTestApi, startTwoTenants, type TestApi, type TestUser } from './test-storage';

const TB = 'org.thingsboard.rule.engine';

/** A chain in ThingsBoard's export format, with ThingsBoard's class names. */
function tbExport(name = 'Imported') {
  return {
    ruleChain: { additionalInfo: { description: 'from ThingsBoard' }, name, type: 'CORE', firstRuleNodeId: null, root: false, debugMode: false, configuration: null },
    metadata: {
      firstNodeIndex: 0,
      nodes: [
        { additionalInfo: { layoutX: 300, layoutY: 150 }, type: `${TB}.filter.TbMsgTypeSwitchNode`, name: 'Switch', debugMode: false, configuration: { version: 0 } },
        { additionalInfo: { layoutX: 800, layoutY: 50 }, type: `${TB}.telemetry.TbMsgTimeseriesNode`, name: 'Save Timeseries', debugMode: false, configuration: { defaultTTL: 0 } },
        { additionalInfo: { layoutX: 800, layoutY: 250 }, type: `${TB}.action.TbLogNode`, name: 'Log Other', debugMode: false, configuration: { jsScript: 'return msg;' } },
      ],
      connections: [
        { fromIndex: 0, toIndex: 1, type: 'Post telemetry' },
        { fromIndex: 0, toIndex: 2, type: 'Other' },
      ],
      ruleChainConnections: null,
    },
  };
}

describe('rule chain REST API', () => {
  let storage: Storage;
  let t: TestApi;
  let admin: TestUser;
  let other: TestUser;
  let token: string;
  let otherToken: string;
  const events: RuleChainEvent[] = [];
  const stats = new Map<string, unknown[]>();

  beforeAll(async () => {
    ({ storage, t, admin, other, token, otherToken } = await startTwoTenants('rc', async (s) => ({
      ruleChains: await createTestRuleChains(s, (tenantId, chainId) => (stats.get(`${tenantId}/${chainId}`) as never) ?? null),
    })));
    t.broadcast.subscribe(LiveChannel.RULE_CHAINS, (e) => events.push(e as RuleChainEvent));
  });
  afterAll(async () => {
    await t.close();
    await storage.close();
  });

  const req = (method: string, path: string, body?: unknown, as = token) => t.request(method, path, { token: as, ...(body === undefined ? {} : { body }) });

  async function importChain(body: unknown = tbExport()): Promise<string> {
    const r = await req('POST', '/api/ruleChain/import', body);
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    return r.body.id.id as string;
  }

  it('creates an empty chain, renames it, reads it back in ThingsBoard shape', async () => {
    const r = await req('POST', '/api/ruleChain', { name: 'Thermostat', additionalInfo: { description: 'd' } });
    expect(r.status).toBe(200);
    const rc = RuleChainSchema.parse(r.body);
    expect(rc).toMatchObject({ name: 'Thermostat', type: 'CORE', root: false, debugMode: false, firstRuleNodeId: null, tenantId: { id: admin.tenantId }, additionalInfo: { description: 'd' } });
    const renamed = await req('POST', '/api/ruleChain', { ...r.body, name: 'Thermostat v2' });
    expect(renamed.body).toMatchObject({ id: rc.id, name: 'Thermostat v2', createdTime: rc.createdTime, additionalInfo: { description: 'd' } });
    expect((await req('GET', `/api/ruleChain/${rc.id.id}`)).body).toEqual(renamed.body);
    const meta = await req('GET', `/api/ruleChain/${rc.id.id}/metadata`);
    expect(RuleChainMetadataSchema.parse(meta.body)).toEqual({ ruleChainId: rc.id, version: 2, firstNodeIndex: null, nodes: [], connections: [], ruleChainConnections: null });
    // another tenant sees nothing
    expect((await req('GET', `/api/ruleChain/${rc.id.id}`, undefined, otherToken)).status).toBe(404);
    expect((await req('POST', '/api/ruleChain', { ...r.body, name: 'stolen' }, otherToken)).status).toBe(404);
  });

  it('refuses a chain without a name, an edge chain, and a bad processing strategy, naming the field', async () => {
    expect((await req('POST', '/api/ruleChain', {})).body.message).toMatch(/^name: /);
    expect((await req('POST', '/api/ruleChain', { name: 'e', type: 'EDGE' })).status).toBe(400);
    const bad = await req('POST', '/api/ruleChain', { name: 's', configuration: { processingStrategy: { retries: 1000 } } });
    expect(bad.status).toBe(400);
    expect(bad.body.message).toMatch(/ruleChain\.configuration\.processingStrategy\.retries/);
    const good = await req('POST', '/api/ruleChain', { name: 's', configuration: { processingStrategy: { type: 'RETRY_FAILED', retries: 2, pauseBetweenRetriesMs: 100 } } });
    expect(good.body.configuration).toEqual({ processingStrategy: { type: 'RETRY_FAILED', retries: 2, pauseBetweenRetriesMs: 100 } });
  });

  it('imports a ThingsBoard export, serves its metadata with node ids, and exports it back', async () => {
    const id = await importChain();
    const rc = (await req('GET', `/api/ruleChain/${id}`)).body;
    expect(rc).toMatchObject({ name: 'Imported', root: false, additionalInfo: { description: 'from ThingsBoard' } });
    const meta = RuleChainMetadataSchema.parse((await req('GET', `/api/ruleChain/${id}/metadata`)).body);
    expect(meta.nodes.map((n) => n.type)).toEqual(tbExport().metadata.nodes.map((n) => n.type));
    expect(meta.nodes.every((n) => n.id?.entityType === 'RULE_NODE')).toBe(true);
    expect(rc.firstRuleNodeId).toEqual(meta.nodes[0]?.id);
    expect(meta.connections).toEqual(tbExport().metadata.connections);

    const exported = (await req('GET', `/api/ruleChain/${id}/export`)).body;
    expect(exported.ruleChain).toMatchObject({ name: 'Imported', type: 'CORE', root: false });
    expect(exported.metadata.nodes).toEqual(tbExport().metadata.nodes);
    expect(exported.metadata.connections).toEqual(tbExport().metadata.connections);
    // the export imports again as a new chain
    const again = await importChain(exported);
    expect(again).not.toBe(id);
  });

  it('reports every node type it does not implement by name on import, storing nothing', async () => {
    const body = tbExport('Needs more nodes');
    // ThingsBoard nodes Rivulet has no plans for (e-mail, AWS SQS), one with a configuration ours would refuse too.
    (body.metadata.nodes[1] as { configuration: unknown }).configuration = { defaultTTL: 'bad' };
    body.metadata.nodes.push(
      { additionalInfo: { layoutX: 1, layoutY: 1 }, type: `${TB}.mail.TbSendEmailNode`, name: 'Send Email', debugMode: false, configuration: { version: 0 } },
      { additionalInfo: { layoutX: 1, layoutY: 1 }, type: `${TB}.aws.sqs.TbSqsNode`, name: 'SQS', debugMode: false, configuration: { version: 0 } },
    );
    const before = (await req('GET', '/api/ruleChains?pageSize=100')).body.totalElements;
    const r = await req('POST', '/api/ruleChain/import', body);
    expect(r.status).toBe(400);
    expect(r.body.message).toContain(`node 3 "Send Email": unknown node type ${TB}.mail.TbSendEmailNode`);
    expect(r.body.message).toContain(`node 4 "SQS": unknown node type ${TB}.aws.sqs.TbSqsNode`);
    expect((await req('GET', '/api/ruleChains?pageSize=100')).body.totalElements).toBe(before);
    expect((await req('POST', '/api/ruleChain/import', { ...body, metadata: { ...tbExport().metadata, ruleChainConnections: [{ fromIndex: 0 }] } })).status).toBe(400);
  });

  it('validates metadata on save: 400 naming the node and the field; nothing changes', async () => {
    const id = await importChain();
    const meta = (await req('GET', `/api/ruleChain/${id}/metadata`)).body;
    const badConfig = structuredClone(meta);
    badConfig.nodes[1].configuration = { defaultTTL: 'forever' };
    const r1 = await req('POST', '/api/ruleChain/metadata', badConfig);
    expect(r1.status).toBe(400);
    expect(r1.body.message).toMatch(/node 1 "Save Timeseries".*defaultTTL/);

    const dangling = structuredClone(meta);
    dangling.connections.push({ fromIndex: 0, toIndex: 9, type: 'Other' });
    expect((await req('POST', '/api/ruleChain/metadata', dangling)).body.message).toMatch(/Connection 2 .*does not exist/);

    const badRelation = structuredClone(meta);
    badRelation.connections.push({ fromIndex: 1, toIndex: 2, type: 'Maybe' });
    expect((await req('POST', '/api/ruleChain/metadata', badRelation)).body.message).toMatch(/node 1 "Save Timeseries" by "Maybe"/);

    const unknown = structuredClone(meta);
    unknown.nodes.push({ type: `${TB}.filter.TbJsSwitchNodeX`, name: 'Mystery', configuration: {} });
    const r4 = await req('POST', '/api/ruleChain/metadata', unknown);
    expect(r4.status).toBe(400);
    expect(r4.body.message).toMatch(/node 3 "Mystery": unknown node type org\.thingsboard\.rule\.engine\.filter\.TbJsSwitchNodeX/);

    expect((await req('GET', `/api/ruleChain/${id}/metadata`)).body).toEqual(meta);
  });

  it('saves metadata: keeps node ids, gives new nodes ids, publishes the change', async () => {
    const id = await importChain();
    const meta = (await req('GET', `/api/ruleChain/${id}/metadata`)).body;
    events.length = 0;
    const next = structuredClone(meta);
    next.nodes.push({ type: 'rivulet.action.log', name: 'Log telemetry', configuration: { level: 'debug' }, additionalInfo: { layoutX: 1, layoutY: 2 } });
    next.connections.push({ fromIndex: 0, toIndex: 3, type: 'Post telemetry' });
    const r = await req('POST', '/api/ruleChain/metadata', next);
    expect(r.status).toBe(200);
    const saved = RuleChainMetadataSchema.parse(r.body);
    expect(saved.nodes.slice(0, 3).map((n) => n.id)).toEqual(meta.nodes.map((n: { id: unknown }) => n.id));
    expect(saved.nodes[3]?.id?.id).toMatch(/^[0-9a-f-]{36}$/);
    expect(saved.connections).toHaveLength(3);
    expect(events).toEqual([{ tenantId: admin.tenantId, chainId: id, kind: 'saved' }]);
    expect((await req('GET', `/api/ruleChain/${id}/metadata`)).body).toEqual(r.body);
    // metadata of an unknown chain
    expect((await req('POST', '/api/ruleChain/metadata', { ...next, ruleChainId: { entityType: 'RULE_CHAIN', id: newId() } })).status).toBe(404);
  });

  it('refuses a save with a stale version (409, ThingsBoard VERSION_CONFLICT) and keeps the other save; debug switches keep the version', async () => {
    const id = await importChain(tbExport('Two tabs'));
    const read = (await req('GET', `/api/ruleChain/${id}/metadata`)).body;
    expect(read.version).toBe(1);
    // tab A saves what it read: version 2
    const a = await req('POST', '/api/ruleChain/metadata', { ...read, nodes: read.nodes.map((n: { name: string }, i: number) => (i === 2 ? { ...n, name: 'Log (tab A)' } : n)) });
    expect(a.status, JSON.stringify(a.body)).toBe(200);
    expect(a.body.version).toBe(2);
    // tab B still holds version 1: told, not silently overwriting
    const b = await req('POST', '/api/ruleChain/metadata', { ...read, nodes: read.nodes.slice(0, 2), connections: [read.connections[0]] });
    expect(b.status).toBe(409);
    expect(b.body).toMatchObject({ status: 409, errorCode: 35, message: expect.stringMatching(/already changed by someone else \(version mismatch\)/) });
    const now = (await req('GET', `/api/ruleChain/${id}/metadata`)).body;
    expect(now.nodes.map((n: { name: string }) => n.name)).toEqual(['Switch', 'Save Timeseries', 'Log (tab A)']);
    // "overwrite": tab B saves again with the current version
    const over = await req('POST', '/api/ruleChain/metadata', { ...read, version: now.version, nodes: read.nodes.slice(0, 2), connections: [read.connections[0]] });
    expect(over.status).toBe(200);
    expect(over.body.version).toBe(3);
    // a debug switch is applied in place: the version an editor holds stays valid
    expect((await req('POST', `/api/ruleChain/${id}/node/0/debug`, { enabled: true })).status).toBe(200);
    expect((await req('GET', `/api/ruleChain/${id}`)).body.version).toBe(3);
    // a rename with a stale version is refused too; without a version it goes through (ThingsBoard clients that send none)
    expect((await req('POST', '/api/ruleChain', { id: { entityType: 'RULE_CHAIN', id }, name: 'Renamed', version: 1 })).status).toBe(409);
    const renamed = await req('POST', '/api/ruleChain', { id: { entityType: 'RULE_CHAIN', id }, name: 'Renamed', version: 3 });
    expect(renamed.body).toMatchObject({ name: 'Renamed', version: 4 });
    expect((await req('POST', '/api/ruleChain/metadata', { ...over.body, version: undefined })).status).toBe(200);
  });

  it('makes a chain root, refuses to delete the root, deletes others', async () => {
    const a = await importChain(tbExport('A'));
    const b = await importChain(tbExport('B'));
    events.length = 0;
    const r = await req('POST', `/api/ruleChain/${a}/root`);
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ id: { id: a }, root: true });
    expect(events).toEqual([{ tenantId: admin.tenantId, chainId: a, kind: 'root' }]);
    const del = await req('DELETE', `/api/ruleChain/${a}`);
    expect(del.status).toBe(400);
    expect(del.body.message).toBe('Deletion of Root Tenant Rule Chain is prohibited!');
    expect((await req('DELETE', `/api/ruleChain/${b}`)).status).toBe(200);
    expect((await req('GET', `/api/ruleChain/${b}`)).status).toBe(404);
    expect((await req('DELETE', `/api/ruleChain/${b}`)).status).toBe(404);
    expect(events.at(-1)).toEqual({ tenantId: admin.tenantId, chainId: b, kind: 'deleted' });
    await req('POST', `/api/ruleChain/${b}/root`).then((x) => expect(x.status).toBe(404));
  });

  it("drops the rule node state of a node the save replaced or removed, keeps a kept node's, and drops all of a deleted chain", async () => {
    const id = await importChain(tbExport('Stateful'));
    const device = newId();
    const state = (i: number) => storage.ruleNodeStates.get(admin.tenantId, `${id}:${i}`, device);
    await storage.ruleNodeStates.save([0, 1, 2].map((i) => ({ tenantId: admin.tenantId, ruleNodeId: `${id}:${i}`, entityId: device, state: { i } })));
    const meta = (await req('GET', `/api/ruleChain/${id}/metadata`)).body;
    // Saved as it is: every node keeps its id, and its state.
    const same = await req('POST', '/api/ruleChain/metadata', meta);
    expect(same.status).toBe(200);
    expect([await state(0), await state(1), await state(2)]).toEqual([{ i: 0 }, { i: 1 }, { i: 2 }]);
    // Node 1 replaced by a new node (no id), node 2 removed: their state goes, node 0's stays.
    const next = structuredClone(same.body);
    next.nodes = [next.nodes[0], { type: 'rivulet.action.log', name: 'Log', configuration: {} }];
    next.connections = [{ fromIndex: 0, toIndex: 1, type: 'Post telemetry' }];
    expect((await req('POST', '/api/ruleChain/metadata', next)).status).toBe(200);
    expect([await state(0), await state(1), await state(2)]).toEqual([{ i: 0 }, null, null]);
    expect((await req('DELETE', `/api/ruleChain/${id}`)).status).toBe(200);
    expect(await state(0)).toBeNull();
  });

  it('lists chains paged with text search', async () => {
    const token2 = otherToken;
    for (const n of ['Alpha', 'Beta', 'Alphabet']) expect((await req('POST', '/api/ruleChain', { name: n }, token2)).status).toBe(200);
    const p = RuleChainPageSchema.parse((await req('GET', '/api/ruleChains?pageSize=2&page=0&textSearch=alpha&sortProperty=name&sortOrder=ASC', undefined, token2)).body);
    expect(p).toMatchObject({ totalElements: 2, totalPages: 1, hasNext: false });
    expect(p.data.map((c) => c.name)).toEqual(['Alpha', 'Alphabet']);
    const all = (await req('GET', '/api/ruleChains?pageSize=2&page=1', undefined, token2)).body;
    expect(all).toMatchObject({ totalElements: 3, hasNext: false });
    expect((await req('GET', '/api/ruleChains?pageSize=10&type=EDGE', undefined, token2)).body.totalElements).toBe(0);
    expect((await req('GET', '/api/ruleChains?sortProperty=secret', undefined, token2)).status).toBe(400);
  });

  it('serves the node catalog for the editor', async () => {
    const r = await req('GET', '/api/ruleChain/nodeTypes');
    expect(r.status).toBe(200);
    const types = NodeTypeSchema.array().parse(r.body);
    const save = types.find((x) => x.aliases.includes(`${TB}.telemetry.TbMsgTimeseriesNode`));
    expect(save).toMatchObject({ category: 'action', relations: ['Success', 'Failure'], configSchema: { type: 'object' } });
    expect((save?.configSchema as { properties: Record<string, unknown> }).properties.defaultTTL).toMatchObject({ type: 'integer', default: 0 });
  });

  it('test-runs a sample message through a saved chain without storing anything', async () => {
    const id = await importChain();
    const deviceId = (await storage.devices.create({ tenantId: admin.tenantId, name: `probe-${newId()}`, type: 'default' })).device.id;
    const r = await req('POST', '/api/ruleChain/testRun', {
      chainId: id,
      msg: { type: 'POST_TELEMETRY_REQUEST', data: { temperature: 42 }, metadata: { deviceName: 'probe', ts: '1700000000000' }, originator: { entityType: 'DEVICE', id: deviceId } },
    });
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    const result = TestRunResultSchema.parse(r.body);
    expect(result).toMatchObject({ ok: true, error: null, timedOut: false, path: [0, 1] });
    expect(result.steps[0]?.outputs).toEqual([{ relation: 'Post telemetry', msg: expect.objectContaining({ data: { temperature: 42 } }), targets: [1] }]);
    expect(result.writes).toEqual([{ kind: 'timeseries', points: [{ entityId: deviceId, key: 'temperature', ts: 1_700_000_000_000, value: 42 }] }]);
    expect(await storage.timeseries.count(deviceId)).toBe(0);
    // another tenant's device as the originator: its save fails the message, nothing is recorded
    const foreign = (await storage.devices.create({ tenantId: other.tenantId, name: `probe-${newId()}`, type: 'default' })).device.id;
    const cross = await req('POST', '/api/ruleChain/testRun', { chainId: id, msg: { type: 'POST_TELEMETRY_REQUEST', data: { temperature: 1 }, originator: { entityType: 'DEVICE', id: foreign } } });
    expect(cross.body).toMatchObject({ ok: false, error: expect.stringMatching(/does not belong to this tenant/), writes: [] });

    // one node of an unsaved chain
    const one = await req('POST', '/api/ruleChain/testRun', { chain: tbExport(), nodeIndex: 0, msg: { type: 'CUSTOM', data: {} } });
    expect(one.body).toMatchObject({ ok: true, path: [0], steps: [{ outputs: [{ relation: 'Other', targets: [2] }] }] });
    // an invalid chain is the save's 400; neither chain nor chainId is a 400 too
    const bad = tbExport();
    bad.metadata.nodes[1]!.type = 'Nope';
    expect((await req('POST', '/api/ruleChain/testRun', { chain: bad, msg: { type: 'X', data: {} } })).body.message).toMatch(/node 1 "Save Timeseries": unknown node type Nope/);
    expect((await req('POST', '/api/ruleChain/testRun', { msg: { type: 'X', data: {} } })).status).toBe(400);
    expect((await req('POST', '/api/ruleChain/testRun', { chainId: newId(), msg: { type: 'X', data: {} } })).status).toBe(404);
  });

  it('switches a node’s debug on for some minutes and serves its debug events', async () => {
    const id = await importChain();
    events.length = 0;
    const before = Date.now();
    const r = await req('POST', `/api/ruleChain/${id}/node/1/debug`, { enabled: true, minutes: 5 });
    expect(r.status).toBe(200);
    expect(r.body.failuresEnabled).toBe(true);
    expect(r.body.allEnabledUntil).toBeGreaterThanOrEqual(before + 5 * 60_000);
    expect(events).toEqual([{ tenantId: admin.tenantId, chainId: id, kind: 'debug', nodeIndex: 1, debug: r.body }]);
    const meta = (await req('GET', `/api/ruleChain/${id}/metadata`)).body;
    expect(meta.nodes[1].debugSettings).toEqual(r.body);
    expect(meta.nodes[1].debugMode).toBeUndefined();
    const off = await req('POST', `/api/ruleChain/${id}/node/1/debug`, { enabled: false });
    expect(off.body).toEqual({ failuresEnabled: true, allEnabled: false, allEnabledUntil: 0 });
    expect((await req('POST', `/api/ruleChain/${id}/node/7/debug`, { enabled: true })).status).toBe(404);
    expect((await req('POST', `/api/ruleChain/${id}/node/x/debug`, { enabled: true })).status).toBe(400);
    expect((await req('POST', `/api/ruleChain/${id}/node/1/debug`, { enabled: true, minutes: 0 })).status).toBe(400);

    // events as the engine's sink stores them
    const T = 1_700_000_000_000;
    const ev = (ts: number, direction: 'IN' | 'OUT') => ({
      tenantId: admin.tenantId, chainId: id, nodeIndex: 1, nodeName: 'Save Timeseries', nodeType: 'rivulet.action.saveTimeseries', ts, direction,
      relation: direction === 'OUT' ? 'Success' : null, msgId: newId(), msgType: 'POST_TELEMETRY_REQUEST', originatorType: 'DEVICE', originatorId: newId(),
      data: { temperature: 21 }, metadata: { deviceName: 'd' }, error: null, durationMs: direction === 'OUT' ? 0.4 : null,
    });
    await storage.debugEvents.saveBatch([ev(T, 'IN'), ev(T + 1, 'OUT'), ev(T + 2, 'IN')]);
    const page = DebugEventPageSchema.parse((await req('GET', `/api/ruleChain/${id}/node/1/debug?pageSize=2&page=0`)).body);
    expect(page).toMatchObject({ totalElements: 3, hasNext: true });
    expect(page.data[0]).toMatchObject({ createdTime: T + 2, entityId: { entityType: 'RULE_NODE', id: meta.nodes[1].id.id }, body: { type: 'IN', data: '{"temperature":21}', metadata: '{"deviceName":"d"}' } });
    expect(page.data[1]?.body).toMatchObject({ type: 'OUT', relationType: 'Success', durationMs: 0.4 });
    expect((await req('GET', `/api/ruleChain/${id}/node/0/debug`)).body.totalElements).toBe(0);
    // deleting the chain deletes its events
    await req('DELETE', `/api/ruleChain/${id}`);
    expect(await storage.debugEvents.count(admin.tenantId, id)).toBe(0);
  });

  it('serves per-node counters of a chain the engine runs', async () => {
    const id = await importChain();
    const none = await req('GET', `/api/ruleChain/${id}/stats`);
    expect(none.body).toEqual({ ruleChainId: { entityType: 'RULE_CHAIN', id }, loaded: false, nodes: [] });
    stats.set(`${admin.tenantId}/${id}`, [{ nodeIndex: 0, name: 'Switch', type: 't', in: 5, out: { 'Post telemetry': 5 }, errors: 0, timeMs: 1.5, strikes: 0, disabledRefusals: 0, disabledUntil: 0 }]);
    const r = await req('GET', `/api/ruleChain/${id}/stats`);
    expect(r.body).toMatchObject({ loaded: true, nodes: [{ nodeIndex: 0, in: 5, out: { 'Post telemetry': 5 } }] });
  });

  it('without the rule engine service: 503 where validation is needed, storage-only routes still served', async () => {
    const bare = await startTestApi(storage);
    try {
      const bareToken = await bare.login(admin);
      expect((await bare.request('POST', '/api/ruleChain', { token: bareToken, body: { name: 'x' } })).status).toBe(503);
      expect((await bare.request('GET', '/api/ruleChain/nodeTypes', { token: bareToken })).status).toBe(503);
      expect((await bare.request('GET', '/api/ruleChains', { token: bareToken })).status).toBe(200);
    } finally {
      await bare.close();
    }
  });

  it('requires a tenant administrator', async () => {
    expect((await t.request('GET', '/api/ruleChains')).status).toBe(401);
    expect((await t.request('GET', '/api/ruleChain/nodeTypes')).status).toBe(401);
  });
});
