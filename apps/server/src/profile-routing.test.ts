import mqtt from 'mqtt';
import { describe, expect, it } from 'vitest';
import { renamingChain } from './fixtures/renaming-chain';
import { api, eventually, startSuiteServer } from './test-helpers';

/**
 * ThingsBoard's routing by device profile, end to end in one process: a device whose profile names a
 * rule chain has its telemetry (sent over MQTT) handled by that chain, another device by the root
 * chain; moving a device, editing the profile's chain and clearing the profile's chain take effect
 * on the next message.
 */
describe('device profile routing', () => {
  const server = startSuiteServer({ database: 'profile_routing' });

  async function device(name: string, profileId?: string): Promise<{ id: string; token: string }> {
    const d = await api<{ id: { id: string }; deviceProfileId: { id: string } }>(server.app.url, server.jwt, '/api/device', { method: 'POST', body: { name, ...(profileId ? { deviceProfileId: { entityType: 'DEVICE_PROFILE', id: profileId } } : {}) } });
    expect(d.status, JSON.stringify(d.body)).toBe(200);
    const c = await api<{ credentialsId: string }>(server.app.url, server.jwt, `/api/device/${d.body.id.id}/credentials`);
    return { id: d.body.id.id, token: c.body.credentialsId };
  }

  async function publish(token: string, ts: number, t: number): Promise<void> {
    const c = await mqtt.connectAsync(`mqtt://127.0.0.1:${server.app.mqttPort}`, { username: token, reconnectPeriod: 0 });
    try {
      await c.publishAsync('v1/devices/me/telemetry', JSON.stringify({ ts, values: { t } }), { qos: 1 });
    } finally {
      await c.endAsync();
    }
  }

  /** The key the point of `ts` was stored under. */
  async function storedKey(deviceId: string, ts: number): Promise<string> {
    return eventually(async () => {
      for (const key of await server.app.storage.timeseries.findKeys(deviceId)) {
        const h = await server.app.storage.timeseries.findHistory(deviceId, { keys: [key], startTs: ts, endTs: ts + 1 });
        if ((h[key]?.length ?? 0) > 0) return key;
      }
      return undefined;
    });
  }

  it("a device's telemetry goes to its profile's rule chain, another device's to the root chain", async () => {
    const imported = await api<{ id: { id: string } }>(server.app.url, server.jwt, '/api/ruleChain/import', { method: 'POST', body: renamingChain('Profile chain', 'viaProfile') });
    expect(imported.status, JSON.stringify(imported.body)).toBe(200);
    const chainId = imported.body.id.id;
    const profile = await api<{ id: { id: string } }>(server.app.url, server.jwt, '/api/deviceProfile', { method: 'POST', body: { name: 'Routed', defaultRuleChainId: { entityType: 'RULE_CHAIN', id: chainId } } });
    expect(profile.status, JSON.stringify(profile.body)).toBe(200);
    const profileId = profile.body.id.id;

    const routed = await device('routed-1', profileId);
    const plain = await device('plain-1');
    await publish(routed.token, 1_000, 1);
    await publish(plain.token, 1_000, 2);
    expect(await storedKey(routed.id, 1_000)).toBe('viaProfile');
    expect(await storedKey(plain.id, 1_000)).toBe('t');

    // The chain a profile names cannot be deleted (ThingsBoard's answer).
    const del = await api<{ message: string }>(server.app.url, server.jwt, `/api/ruleChain/${chainId}`, { method: 'DELETE' });
    expect(del.status).toBe(400);
    expect(del.body.message).toBe('The rule chain referenced by the device profiles cannot be deleted!');

    // A device moved to the profile follows it on its next message.
    const moved = await api(server.app.url, server.jwt, '/api/device', { method: 'POST', body: { id: { entityType: 'DEVICE', id: plain.id }, name: 'plain-1', deviceProfileId: { entityType: 'DEVICE_PROFILE', id: profileId } } });
    expect(moved.status).toBe(200);
    await publish(plain.token, 2_000, 3);
    expect(await storedKey(plain.id, 2_000)).toBe('viaProfile');

    // Editing the profile's chain reloads it.
    const meta = (await api<{ nodes: Array<Record<string, unknown>> }>(server.app.url, server.jwt, `/api/ruleChain/${chainId}/metadata`)).body;
    meta.nodes[1] = { ...meta.nodes[1], configuration: { renameKeysMapping: { t: 'edited' } } };
    expect((await api(server.app.url, server.jwt, '/api/ruleChain/metadata', { method: 'POST', body: meta })).status).toBe(200);
    await publish(routed.token, 3_000, 4);
    expect(await storedKey(routed.id, 3_000)).toBe('edited');

    // A profile without a chain sends its devices back to the root chain.
    const cleared = await api(server.app.url, server.jwt, '/api/deviceProfile', { method: 'POST', body: { id: { entityType: 'DEVICE_PROFILE', id: profileId }, name: 'Routed', defaultRuleChainId: null } });
    expect(cleared.status).toBe(200);
    await publish(routed.token, 4_000, 5);
    expect(await storedKey(routed.id, 4_000)).toBe('t');
    // Now the chain can go.
    expect((await api(server.app.url, server.jwt, `/api/ruleChain/${chainId}`, { method: 'DELETE' })).status).toBe(200);
  });
});
