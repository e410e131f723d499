import { beforeAll, describe, expect, it } from 'vitest';
import { ADMIN, api, createTenantWithAdmin, eventually, login, startSuiteServer, SYSADMIN } from './test-helpers';

const TB = 'org.thingsboard.rule.engine';

/**
 * A chain written for ThingsBoard that switches on platform events: "Entity Created" saves who
 * created the entity as a server attribute of it, "Attributes Updated" records the updated keys and
 * their scope as time series (as POST_TELEMETRY_REQUEST: ThingsBoard's save timeseries node takes no
 * other type). Neither save produces another event (rule-node saves are not API
 * calls), so the chain cannot loop.
 */
function eventChain(name: string) {
  const node = (type: string, nodeName: string, configuration: unknown, x: number) => ({ additionalInfo: { layoutX: x, layoutY: 100 }, type: `${TB}.${type}`, name: nodeName, debugMode: false, configuration });
  const script = (body: string) => ({ scriptLang: 'JS', jsScript: body });
  return {
    ruleChain: { additionalInfo: null, name, type: 'CORE', firstRuleNodeId: null, root: false, debugMode: false, configuration: null },
    metadata: {
      firstNodeIndex: 0,
      nodes: [
        node('filter.TbMsgTypeSwitchNode', 'Message Type Switch', { version: 0 }, 100),
        node('transform.TbTransformMsgNode', 'Who created it', script("return {msg: {createdBy: metadata.userName, createdAs: metadata.entityType + ':' + metadata.entityName}, metadata: metadata, msgType: msgType};"), 400),
        node('telemetry.TbMsgAttributesNode', 'Save server attributes', { scope: 'SERVER_SCOPE', notifyDevice: false }, 700),
        node('transform.TbTransformMsgNode', 'Which keys', script("return {msg: {updatedKeys: Object.keys(msg).join(','), updatedScope: metadata.scope, updatedBy: metadata.userId}, metadata: metadata, msgType: 'POST_TELEMETRY_REQUEST'};"), 400),
        node('telemetry.TbMsgTimeseriesNode', 'Save timeseries', { defaultTTL: 0 }, 700),
      ],
      connections: [
        { fromIndex: 0, toIndex: 1, type: 'Entity Created' },
        { fromIndex: 1, toIndex: 2, type: 'Success' },
        { fromIndex: 0, toIndex: 3, type: 'Attributes Updated' },
        { fromIndex: 3, toIndex: 4, type: 'Success' },
      ],
      ruleChainConnections: null,
    },
  };
}

describe('platform events drive chains written for ThingsBoard, each tenant its own', () => {
  const server = startSuiteServer({ database: 'platform_events' });
  let jwtA: string;
  let jwtB: string;
  let tenantB: string;

  beforeAll(async () => {
    jwtA = server.jwt;
    const b = await createTenantWithAdmin(server.app.url, await login(server.app.url, SYSADMIN), { title: 'Events B', email: 'admin@events-b.test', password: 'events-b-pw-1' });
    jwtB = b.jwt;
    tenantB = b.tenantId;
  });

  async function importAndRoot(jwt: string, chain: unknown): Promise<string> {
    const imported = await api<{ id: { id: string } }>(server.app.url, jwt, '/api/ruleChain/import', { method: 'POST', body: chain });
    expect(imported.status, JSON.stringify(imported.body)).toBe(200);
    expect((await api(server.app.url, jwt, `/api/ruleChain/${imported.body.id.id}/root`, { method: 'POST' })).status).toBe(200);
    return imported.body.id.id;
  }
  const switchIn = async (jwt: string, chainId: string) =>
    (await api<{ nodes: Array<{ nodeIndex: number; in: number }> }>(server.app.url, jwt, `/api/ruleChain/${chainId}/stats`)).body.nodes.find((n) => n.nodeIndex === 0)?.in ?? 0;

  it('"Entity Created" fires on a device created over REST, "Attributes Updated" on an attribute posted; the other tenant\'s chain sees neither', async () => {
    const chainA = await importAndRoot(jwtA, eventChain('Events A'));
    const chainB = await importAndRoot(jwtB, eventChain('Events B'));

    const created = await api<{ id: { id: string } }>(server.app.url, jwtA, '/api/device', { method: 'POST', body: { name: 'Event Sensor', type: 'thermo' } });
    expect(created.status).toBe(200);
    const deviceA = created.body.id.id;
    const attrs = await eventually(async () => {
      const a = await server.app.storage.attributes.find(deviceA, 'SERVER_SCOPE', ['createdBy', 'createdAs']);
      return a.length === 2 ? a : undefined;
    });
    expect(Object.fromEntries(attrs.map((a) => [a.key, a.value]))).toEqual({ createdBy: ADMIN.username, createdAs: 'DEVICE:Event Sensor' });

    expect((await api(server.app.url, jwtA, `/api/plugins/telemetry/DEVICE/${deviceA}/attributes/SHARED_SCOPE`, { method: 'POST', body: { targetTemp: 21, mode: 'eco' } })).status).toBe(200);
    const ts = await eventually(async () => {
      const t = await server.app.storage.timeseries.findLatest(deviceA, ['updatedKeys', 'updatedScope', 'updatedBy']);
      return t.length === 3 ? t : undefined;
    });
    const latest = Object.fromEntries(ts.map((p) => [p.key, p.value]));
    expect(latest.updatedKeys).toBe('targetTemp,mode');
    expect(latest.updatedScope).toBe('SHARED_SCOPE');
    expect(typeof latest.updatedBy).toBe('string');

    // Tenant B's own device fires its own chain, once; A's two events never reached it.
    const deviceB = (await api<{ id: { id: string } }>(server.app.url, jwtB, '/api/device', { method: 'POST', body: { name: 'Event Sensor' } })).body.id.id;
    await eventually(async () => (await server.app.storage.attributes.find(deviceB, 'SERVER_SCOPE', ['createdBy'])).find((a) => a.value === 'admin@events-b.test'));
    expect(await switchIn(jwtB, chainB)).toBe(1);
    expect(await switchIn(jwtA, chainA)).toBe(2);
    // nothing of B's landed on A's device, nothing of A's on B's
    expect((await server.app.storage.attributes.find(deviceB, 'SERVER_SCOPE', ['createdBy'])).map((a) => a.value)).toEqual(['admin@events-b.test']);
    expect(await server.app.storage.timeseries.findLatest(deviceB, ['updatedKeys'])).toEqual([]);
    expect((await server.app.storage.devices.get(tenantB, deviceA))).toBeNull();
  });

  it('the save attributes node with sendAttributesUpdatedNotification sends ATTRIBUTES_UPDATED back through the queue', async () => {
    const chain = eventChain('Notify A');
    const nodes = chain.metadata.nodes as Array<{ type: string; name: string; configuration: unknown; additionalInfo: unknown; debugMode: boolean }>;
    nodes.push({ ...nodes[2]!, name: 'Save shared, notify', configuration: { scope: 'SHARED_SCOPE', notifyDevice: false, sendAttributesUpdatedNotification: true } });
    chain.metadata.connections.push({ fromIndex: 0, toIndex: 5, type: 'Post attributes' });
    await importAndRoot(jwtA, chain);
    const dev = await api<{ id: { id: string } }>(server.app.url, jwtA, '/api/device?accessToken=notify-token-a', { method: 'POST', body: { name: 'Notifier' } });
    expect(dev.status).toBe(200);
    const post = await fetch(`${server.app.url}/api/v1/notify-token-a/attributes`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"volume":7}' });
    expect(post.status).toBe(200);
    const ts = await eventually(async () => {
      const t = await server.app.storage.timeseries.findLatest(dev.body.id.id, ['updatedKeys', 'updatedScope']);
      return t.length === 2 ? t : undefined;
    });
    expect(Object.fromEntries(ts.map((p) => [p.key, p.value]))).toEqual({ updatedKeys: 'volume', updatedScope: 'SHARED_SCOPE' });
  });

  it('"Attributes Updated" fires on server attributes of the tenant and of a customer saved over REST, with the TENANT or CUSTOMER as originator', async () => {
    const chainA = await importAndRoot(jwtA, eventChain('Entity attributes A'));
    const customer = await api<{ id: { id: string } }>(server.app.url, jwtA, '/api/customer', { method: 'POST', body: { title: 'Events Customer' } });
    expect(customer.status).toBe(200);
    const customerId = customer.body.id.id;
    const tenantA = server.app.tenantId;
    for (const [type, id, body] of [['TENANT', tenantA, { maxTemp: 30 }], ['CUSTOMER', customerId, { minTemp: 5, region: 'EU' }]] as const) {
      const r = await fetch(`${server.app.url}/api/plugins/telemetry/${type}/${id}/attributes/SERVER_SCOPE`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-authorization': `Bearer ${jwtA}` }, body: JSON.stringify(body) });
      expect(r.status).toBe(200);
      // the chain's save timeseries node wrote what it saw onto the originator: the tenant or the customer itself
      const ts = await eventually(async () => {
        const t = await server.app.storage.timeseries.findLatest(id, ['updatedKeys', 'updatedScope']);
        return t.length === 2 ? t : undefined;
      });
      expect(Object.fromEntries(ts.map((p) => [p.key, p.value]))).toEqual({ updatedKeys: Object.keys(body).join(','), updatedScope: 'SERVER_SCOPE' });
    }
    expect(await switchIn(jwtA, chainA)).toBe(3); // the customer's ENTITY_CREATED and the two attribute events
    // a rule node may write the tenant's customer's attributes: "Entity Created" saved who created it
    const createdBy = await eventually(async () => (await server.app.storage.attributes.find(customerId, 'SERVER_SCOPE', ['createdBy']))[0]);
    expect(createdBy.value).toBe(ADMIN.username);
    // tenant B cannot write A's, and A's events never reached B's chain
    const stolen = await api(server.app.url, jwtB, `/api/plugins/telemetry/TENANT/${tenantA}/attributes/SERVER_SCOPE`, { method: 'POST', body: { maxTemp: 99 } });
    expect(stolen.status).toBe(404);
    expect((await server.app.storage.attributes.find(tenantA, 'SERVER_SCOPE', ['maxTemp'])).map((a) => a.value)).toEqual([30]);
    expect(await server.app.storage.timeseries.findLatest(tenantB, ['updatedKeys'])).toEqual([]);
  });
});
