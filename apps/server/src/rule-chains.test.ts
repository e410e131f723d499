import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createTestDatabase } from '@rivulet/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Rivulet } from './app';
import { api, createDevice, eventually, login, startTestServer, tempDir } from './test-helpers';

const TB = 'org.thingsboard.rule.engine';

/** ThingsBoard's own default root chain (application/src/main/data/json/tenant/rule_chains/root_rule_chain.json). */
const TB_ROOT_CHAIN = JSON.parse(readFileSync(join(import.meta.dirname, 'fixtures', 'thingsboard-root-rule-chain.json'), 'utf8')) as {
  metadata: { nodes: Array<{ type: string; name: string }> };
};

interface NodeType {
  type: string;
  aliases: string[];
}

/** A chain as ThingsBoard exports it, using its class names; alarm nodes when the catalog has them. */
function tbChain(withAlarms: boolean) {
  const node = (type: string, name: string, configuration: unknown, x: number, y: number) => ({
    additionalInfo: { layoutX: x, layoutY: y },
    type: `${TB}.${type}`,
    name,
    debugMode: false,
    configuration,
  });
  const nodes = [
    node('filter.TbMsgTypeSwitchNode', 'Message Type Switch', { version: 0 }, 300, 150),
    node('telemetry.TbMsgTimeseriesNode', 'Save Timeseries', { defaultTTL: 0 }, 800, 50),
    node('telemetry.TbMsgAttributesNode', 'Save Client Attributes', { scope: 'CLIENT_SCOPE', notifyDevice: false }, 800, 150),
    node('action.TbLogNode', 'Log Other', { jsScript: "return 'Incoming message:\\n' + JSON.stringify(msg);" }, 800, 250),
  ];
  const connections = [
    { fromIndex: 0, toIndex: 1, type: 'Post telemetry' },
    { fromIndex: 0, toIndex: 2, type: 'Post attributes' },
    { fromIndex: 0, toIndex: 3, type: 'Other' },
  ];
  if (withAlarms) {
    nodes.push(
      node('filter.TbJsFilterNode', 'Too hot?', { scriptLang: 'JS', jsScript: 'return msg.temperature > 30;' }, 1100, 50),
      node(
        'action.TbCreateAlarmNode',
        'Create alarm',
        { alarmType: 'High Temperature', severity: 'CRITICAL', propagate: false, useMessageAlarmData: false, scriptLang: 'JS', alarmDetailsBuildJs: 'var details = {}; details.temperature = msg.temperature; return details;' },
        1400,
        0,
      ),
      node('action.TbClearAlarmNode', 'Clear alarm', { alarmType: 'High Temperature', scriptLang: 'JS', alarmDetailsBuildJs: 'return {};' }, 1400, 100),
    );
    connections.push({ fromIndex: 1, toIndex: 4, type: 'Success' }, { fromIndex: 4, toIndex: 5, type: 'True' }, { fromIndex: 4, toIndex: 6, type: 'False' });
  }
  return {
    ruleChain: { additionalInfo: null, name: 'Thermostat (from ThingsBoard)', type: 'CORE', firstRuleNodeId: null, root: false, debugMode: false, configuration: null },
    metadata: { firstNodeIndex: 0, nodes, connections, ruleChainConnections: null },
  };
}

describe('rule chains as data, end to end', () => {
  let app: Rivulet;
  let db: { url: string; drop(): Promise<void> };
  let jwt: string;
  let nodeTypes: NodeType[];
  const dir = tempDir();

  beforeAll(async () => {
    db = await createTestDatabase('chains');
    app = await startTestServer({ DATABASE_URL: db.url, RIVULET_DATA_DIR: dir.dir });
    jwt = await login(app.url);
    nodeTypes = (await api<NodeType[]>(app.url, jwt, '/api/ruleChain/nodeTypes')).body;
  });
  afterAll(async () => {
    await app?.stop();
    await db?.drop();
    dir.remove();
  });

  const implemented = (tbType: string) => nodeTypes.some((n) => n.type === tbType || n.aliases.includes(tbType));
  const hasAlarmNodes = () => [`${TB}.filter.TbJsFilterNode`, `${TB}.action.TbCreateAlarmNode`, `${TB}.action.TbClearAlarmNode`].every(implemented);
  const post = (token: string, body: unknown, path = 'telemetry') =>
    fetch(`${app.url}/api/v1/${token}/${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });

  async function importAndRoot(chain: unknown): Promise<string> {
    const imported = await api<{ id: { id: string } }>(app.url, jwt, '/api/ruleChain/import', { method: 'POST', body: chain });
    expect(imported.status, JSON.stringify(imported.body)).toBe(200);
    const id = imported.body.id.id;
    expect((await api(app.url, jwt, `/api/ruleChain/${id}/root`, { method: 'POST' })).status).toBe(200);
    return id;
  }

  it('a ThingsBoard export imported over REST and made root drives storage (and alarms)', async () => {
    const withAlarms = true;
    expect(hasAlarmNodes()).toBe(true);
    const chainId = await importAndRoot(tbChain(withAlarms));
    const dev = await createDevice(app.url, jwt, 'thermostat-1');
    expect((await post(dev.token, { ts: 1_000, values: { temperature: 21.5 } })).status).toBe(200);
    expect((await post(dev.token, { firmware: '1.2.3' }, 'attributes')).status).toBe(200);
    await eventually(async () => (await app.storage.timeseries.count(dev.id)) === 1);
    await eventually(async () => (await app.storage.attributes.find(dev.id, 'CLIENT_SCOPE', ['firmware']))[0]?.value === '1.2.3');

    const stats = await api<{ loaded: boolean; nodes: Array<{ nodeIndex: number; in: number; out: Record<string, number> }> }>(app.url, jwt, `/api/ruleChain/${chainId}/stats`);
    expect(stats.body.loaded).toBe(true);
    // The switch also sees the device's ACTIVITY_EVENTs (HTTP requests count as activity): count by relation.
    expect(stats.body.nodes[0]).toMatchObject({ out: { 'Post telemetry': 1, 'Post attributes': 1 } });
    expect(stats.body.nodes[0]!.in).toBeGreaterThanOrEqual(2);
    expect(stats.body.nodes[1]).toMatchObject({ in: 1, out: { Success: 1 } });

    if (withAlarms) {
      expect((await post(dev.token, { ts: 2_000, values: { temperature: 35 } })).status).toBe(200);
      const active = await eventually(async () => {
        const r = await api<{ data: Array<{ type: string; status: string; severity: string; details: unknown }> }>(app.url, jwt, `/api/alarm/DEVICE/${dev.id}?pageSize=10&page=0`);
        return r.body.data.find((a) => a.type === 'High Temperature' && a.status === 'ACTIVE_UNACK');
      });
      expect(active).toMatchObject({ severity: 'CRITICAL', details: { temperature: 35 } });
      expect((await post(dev.token, { ts: 3_000, values: { temperature: 20 } })).status).toBe(200);
      await eventually(async () => {
        const r = await api<{ data: Array<{ status: string }> }>(app.url, jwt, `/api/alarm/DEVICE/${dev.id}?pageSize=10&page=0&searchStatus=CLEARED`);
        return r.body.data.length === 1;
      });
    } else {
      console.warn('rule-chains.test: the catalog has no TbJsFilterNode/TbCreateAlarmNode/TbClearAlarmNode yet; alarm part skipped');
    }
  });

  it("ThingsBoard's default root chain imports and runs, or the 400 names each node type missing", async () => {
    const missing = [...new Set(TB_ROOT_CHAIN.metadata.nodes.map((n) => n.type).filter((t) => !implemented(t)))];
    expect(missing).toEqual([]);
    const r = await api<{ message: string; id?: { id: string } }>(app.url, jwt, '/api/ruleChain/import', { method: 'POST', body: TB_ROOT_CHAIN });
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    expect((await api(app.url, jwt, `/api/ruleChain/${r.body.id!.id}/root`, { method: 'POST' })).status).toBe(200);
    const dev = await createDevice(app.url, jwt, 'tb-root-device');
    expect((await post(dev.token, { ts: 5_000, values: { humidity: 40 } })).status).toBe(200);
    expect((await post(dev.token, { mode: 'eco' }, 'attributes')).status).toBe(200);
    await eventually(async () => (await app.storage.timeseries.count(dev.id)) === 1);
    await eventually(async () => (await app.storage.attributes.find(dev.id, 'CLIENT_SCOPE', ['mode'])).length === 1);
  });

  it('an invalid chain is refused on save with a 400 naming the node and the field', async () => {
    const chain = tbChain(false);
    chain.metadata.nodes[1]!.configuration = { defaultTTL: -5 };
    const r = await api<{ message: string }>(app.url, jwt, '/api/ruleChain/import', { method: 'POST', body: chain });
    expect(r.status).toBe(400);
    expect(r.body.message).toMatch(/node 1 "Save Timeseries".*defaultTTL/);
  });

  it('records failures as debug events always, all traffic while a node is in debug, and skips per the chain strategy', async () => {
    // "Post attributes" wired to the time-series node: it fails every attributes message.
    const chain = tbChain(false);
    chain.metadata.connections[1] = { fromIndex: 0, toIndex: 1, type: 'Post attributes' };
    (chain.ruleChain as { configuration: unknown }).configuration = { processingStrategy: { type: 'SKIP_ALL_FAILURES' } };
    const chainId = await importAndRoot(chain);
    const dev = await createDevice(app.url, jwt, 'debug-device');
    const before = app.ruleEngine!.stats();
    expect((await post(dev.token, { colour: 'red' }, 'attributes')).status).toBe(200);
    type Events = { totalElements: number; data: Array<{ body: { type: string; relationType: string | null; error: string | null; data: string } }> };
    const failure = await eventually(async () => {
      const r = await api<Events>(app.url, jwt, `/api/ruleChain/${chainId}/node/1/debug?pageSize=10`);
      return r.body.data.find((e) => e.body.type === 'OUT' && e.body.relationType === 'Failure');
    });
    expect(failure.body.error).toMatch(/Unsupported message type POST_ATTRIBUTES_REQUEST/);
    const after = app.ruleEngine!.stats();
    expect(after.skipped).toBe(before.skipped + 1);
    expect(after.retried).toBe(before.retried);

    // Nothing else is recorded for node 0 until its debug is switched on.
    expect((await post(dev.token, { ts: 7_000, values: { t: 1 } })).status).toBe(200);
    await eventually(async () => (await app.storage.timeseries.count(dev.id)) === 1);
    expect((await api<Events>(app.url, jwt, `/api/ruleChain/${chainId}/node/0/debug`)).body.totalElements).toBe(0);
    const on = await api<{ allEnabledUntil: number }>(app.url, jwt, `/api/ruleChain/${chainId}/node/0/debug`, { method: 'POST', body: { enabled: true, minutes: 1 } });
    expect(on.status).toBe(200);
    expect((await post(dev.token, { ts: 8_000, values: { t: 2 } })).status).toBe(200);
    const events = await eventually(async () => {
      const r = await api<Events>(app.url, jwt, `/api/ruleChain/${chainId}/node/0/debug?pageSize=10`);
      return r.body.totalElements >= 2 ? r.body.data : null;
    });
    expect(events.map((e) => e.body.type).sort()).toEqual(['IN', 'OUT']);
    expect(events.find((e) => e.body.type === 'OUT')?.body.relationType).toBe('Post telemetry');
    expect(JSON.parse(events[0]!.body.data)).toEqual({ t: 2 });
  });

  it('a chain saved while messages flow loses none of them', async () => {
    const chainId = await importAndRoot(tbChain(false));
    const devices = await Promise.all([0, 1, 2, 3].map((i) => createDevice(app.url, jwt, `swap-${i}`)));
    const perDevice = 100;
    let posted = 0;
    const senders = devices.map(async (d) => {
      for (let i = 0; i < perDevice; i++) {
        const r = await post(d.token, { ts: 10_000 + i, values: { n: i } });
        expect(r.status).toBe(200);
        posted++;
      }
    });
    // Save the chain five times while the devices post: a log node is added or its level changed.
    const swaps = (async () => {
      for (let s = 0; s < 5; s++) {
        await eventually(async () => posted >= ((s + 1) * devices.length * perDevice) / 7, 20_000);
        const meta = (await api<{ nodes: Array<Record<string, unknown>>; connections: unknown[] }>(app.url, jwt, `/api/ruleChain/${chainId}/metadata`)).body;
        meta.nodes[3] = { ...meta.nodes[3], configuration: { level: s % 2 === 0 ? 'debug' : 'info' } };
        const saved = await api(app.url, jwt, '/api/ruleChain/metadata', { method: 'POST', body: meta });
        expect(saved.status).toBe(200);
      }
    })();
    await Promise.all([...senders, swaps]);
    for (const d of devices) await eventually(async () => (await app.storage.timeseries.count(d.id)) === perDevice, 20_000);
    await new Promise((r) => setTimeout(r, 200));
    for (const d of devices) expect(await app.storage.timeseries.count(d.id)).toBe(perDevice);
    // The swaps did take effect: the running chain is a reload that saw only the later messages.
    const stats = await api<{ nodes: Array<{ in: number }> }>(app.url, jwt, `/api/ruleChain/${chainId}/stats`);
    expect(stats.body.nodes[0]?.in).toBeLessThan(devices.length * perDevice);
  });
});
