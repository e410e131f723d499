import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { silentLogger, type Msg } from '@rivulet/core';
import { createMemoryQueue, Topics } from '@rivulet/queue';
import { compileRuleChain, createNodeRegistry, createRuleChainResolver, createRuleEngine, validateRuleChain, type CompiledChain } from '@rivulet/rule-engine';
import { createOutbound } from '@rivulet/outbound';
import { createRecordingServices, type RecordingServices } from '@rivulet/rule-engine/testing';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { builtinNodes } from './index';
import { DEVICE, DEVICE2, TENANT, telemetry, tmsg } from './test-kit';

const registry = createNodeRegistry(builtinNodes);
const fixture = (name: string, vars: Record<string, string> = {}): unknown => {
  let text = readFileSync(new URL(`./fixtures/${name}`, import.meta.url), 'utf8');
  for (const [k, v] of Object.entries(vars)) text = text.replaceAll(`{{${k}}}`, v);
  return JSON.parse(text);
};
const compile = (json: unknown, services: RecordingServices): CompiledChain =>
  compileRuleChain({ id: 'fixture', tenantId: TENANT, chain: validateRuleChain(json, registry), services, logger: silentLogger });

// The webhook the alarm chain's REST API call node notifies.
let webhook: Server;
let base = '';
const calls: Array<{ url: string; body: { type?: string; status?: string; details?: unknown } }> = [];
beforeAll(async () => {
  webhook = createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      calls.push({ url: req.url!, body: JSON.parse(body) });
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}');
    });
  });
  await new Promise<void>((r) => webhook.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(webhook.address() as AddressInfo).port}`;
});
afterAll(async () => {
  const closed = new Promise<void>((r) => webhook.close(() => r()));
  webhook.closeAllConnections();
  await closed;
});

describe('fixture: a ThingsBoard export (its class names) driving storage, alarms and a webhook', () => {
  function setup() {
    // The webhook is on loopback: allow-listed, as a deployment would.
    const services = createRecordingServices({ outbound: createOutbound({ allow: ['127.0.0.1/32'], logger: silentLogger }) });
    services.addDevice({ id: DEVICE.id, name: 'thermo-1', type: 'thermostat' });
    services.addDevice({ id: DEVICE2.id, name: 'thermo-2', type: 'thermostat' });
    // thermo-2 has its own threshold, read by the attributes node and used by the TBEL filter.
    services.attributeWrites.push({ entityId: DEVICE2.id, scope: 'SERVER_SCOPE', key: 'threshold', value: 40, lastUpdateTs: 1 });
    return { services, chain: compile(fixture('thingsboard-alarm-chain.json', { WEBHOOK: base }), services) };
  }

  it('telemetry is stored (with the transform\'s addition); a hot reading creates one alarm and calls the webhook', async () => {
    const { services, chain } = setup();
    calls.length = 0;
    expect(await chain.run(telemetry({ temperature: 35 }, { ts: '1000' }))).toEqual({ ok: true });
    expect(services.points).toEqual([
      { entityId: DEVICE.id, key: 'temperature', ts: 1000, value: 35 },
      { entityId: DEVICE.id, key: 'temperatureF', ts: 1000, value: 95 },
    ]);
    expect(services.alarmList).toHaveLength(1);
    expect(services.alarmList[0]).toMatchObject({ type: 'High Temperature', severity: 'CRITICAL', originatorId: DEVICE.id, cleared: false, details: { temperature: 35, count: 1 } });
    expect(calls).toEqual([{ url: '/alarms/thermostat', body: expect.objectContaining({ type: 'High Temperature', status: 'ACTIVE_UNACK' }) }]);

    // Still hot: the same alarm is updated (Updated is not linked: no webhook call).
    expect(await chain.run(telemetry({ temperature: 36 }, { ts: '2000' }))).toEqual({ ok: true });
    expect(services.alarmList).toHaveLength(1);
    expect(services.alarmList[0]!.details).toEqual({ temperature: 36, count: 2 });
    expect(calls).toHaveLength(1);

    // Back to normal: cleared, webhook told; normal again: nothing to clear.
    expect(await chain.run(telemetry({ temperature: 20 }, { ts: '3000' }))).toEqual({ ok: true });
    expect(services.alarmList[0]).toMatchObject({ cleared: true, details: { temperature: 36, count: 2 } });
    expect(calls.at(-1)).toEqual({ url: '/alarms/thermostat', body: expect.objectContaining({ status: 'CLEARED_UNACK' }) });
    expect(await chain.run(telemetry({ temperature: 21 }, { ts: '4000' }))).toEqual({ ok: true });
    expect(calls).toHaveLength(2);
    await chain.destroy();
  });

  it('a per-device threshold attribute changes the decision; attributes are saved', async () => {
    const { services, chain } = setup();
    calls.length = 0;
    await chain.run(telemetry({ temperature: 35 }, {}, DEVICE2));
    expect(services.alarmList).toEqual([]);
    await chain.run(telemetry({ temperature: 45 }, {}, DEVICE2));
    expect(services.alarmList).toHaveLength(1);
    await chain.run(tmsg('POST_ATTRIBUTES_REQUEST', { firmware: '2.1' }));
    expect(services.attributeWrites.at(-1)).toMatchObject({ entityId: DEVICE.id, scope: 'CLIENT_SCOPE', key: 'firmware', value: '2.1' });
    await chain.destroy();
  });

  it('a storage failure fails the message and names the node', async () => {
    const { services, chain } = setup();
    services.failNext('alarms', new Error('alarm table locked'));
    const out = await chain.run(telemetry({ temperature: 50 }));
    expect(out.ok).toBe(false);
    expect(out.error).toMatch(/Create High Temperature.*alarm table locked/);
    await chain.destroy();
  });

  it('runs through the real engine on the memory queue (one device\'s messages in order)', async () => {
    const queue = createMemoryQueue({ partitions: 2 });
    const services = createRecordingServices({ outbound: createOutbound({ allow: ['127.0.0.1/32'], logger: silentLogger }) });
    services.addDevice({ id: DEVICE.id, name: 'thermo-1', type: 'thermostat' });
    const engine = createRuleEngine({
      queue,
      registry,
      servicesFor: () => services,
      chains: { getRootChain: async () => ({ id: 'tb', json: fixture('thingsboard-alarm-chain.json', { WEBHOOK: base }) }) },
      maxRetries: 0,
      // Create and clear of one device's alarm must happen in its messages' order (BURST runs a
      // batch's messages side by side).
      submitStrategy: 'SEQUENTIAL_BY_ORIGINATOR',
    });
    await engine.start();
    try {
      const msgs: Msg[] = [30, 31, 32, 10].map((t, i) => telemetry({ temperature: t }, { ts: String(1000 + i) }));
      // One device's messages, one after another (the queue keeps their order on one partition).
      for (const m of msgs) await queue.produce(Topics.RULE_ENGINE, [{ key: m.originator.id, value: m }]);
      await vi.waitFor(() => expect(engine.stats().processed).toBe(4), { timeout: 5000 });
      expect(services.points.filter((p) => p.key === 'temperature').map((p) => p.value).sort()).toEqual([10, 30, 31, 32]);
      expect(services.alarmList).toHaveLength(1);
      expect(services.alarmList[0]!.cleared).toBe(true);
    } finally {
      await engine.stop();
      await queue.close();
    }
  });
});

describe('fixture: nested chains (rule chain node and output nodes, ThingsBoard names)', () => {
  it('the nested chain\'s outputs become the rule chain node\'s relations', async () => {
    const services = createRecordingServices();
    const sub = fixture('thingsboard-nested-sub.json');
    const resolver = createRuleChainResolver({
      registry,
      servicesFor: () => withChains,
      load: async (_tenantId, chainId) => (chainId === 'sub-id' ? { json: sub } : null),
    });
    const withChains = { ...services, ruleChains: resolver };
    const root = compileRuleChain({ id: 'root', tenantId: TENANT, chain: validateRuleChain(fixture('thingsboard-nested-root.json', { SUB: 'sub-id' }), registry), services: withChains, logger: silentLogger });
    expect(await root.run(telemetry({ temperature: 35 }, { ts: '5' }))).toEqual({ ok: true });
    expect(await root.run(telemetry({ temperature: 20 }, { ts: '6' }))).toEqual({ ok: true });
    expect(services.points).toEqual([{ entityId: DEVICE.id, key: 'temperature', ts: 5, value: 35 }]);
    const [classify] = root.stats();
    expect(classify!.out).toEqual({ Hot: 1, Normal: 1 });
    await root.destroy();
    await resolver.close();
  });

  it('a missing chain and a chain that calls itself fail clearly', async () => {
    const services = createRecordingServices();
    const selfCalling = fixture('thingsboard-nested-root.json', { SUB: 'root-id' });
    const resolver = createRuleChainResolver({ registry, servicesFor: () => withChains, load: async (_t, id) => (id === 'root-id' ? { json: selfCalling } : null) });
    const withChains = { ...services, ruleChains: resolver };
    const loop = compileRuleChain({ id: 'root-id', tenantId: TENANT, chain: validateRuleChain(selfCalling, registry), services: withChains, logger: silentLogger });
    const out = await loop.run(telemetry({ temperature: 1 }));
    expect(out.ok).toBe(false);
    expect(out.error).toMatch(/more than 8 deep/);
    const missing = compileRuleChain({ id: 'x', tenantId: TENANT, chain: validateRuleChain(fixture('thingsboard-nested-root.json', { SUB: 'gone' }), registry), services: withChains, logger: silentLogger });
    expect((await missing.run(telemetry({}))).error).toMatch(/Rule chain gone not found/);
    await resolver.close();
  });
});

describe('fixture: the six-node sampling chain', () => {
  it('switch, threshold, dedup, enrichment, transform, save', async () => {
    let now = 1_000;
    const services = createRecordingServices({ now: () => now });
    services.addDevice({ id: DEVICE.id, name: 'thermo-1', type: 'thermostat' });
    const chain = compile(fixture('rivulet-sampling-chain.json'), services);
    await chain.run(telemetry({ temperature: 212 }, { ts: '1' }));
    // Within the 1 ms dedup interval (the clock has not moved): dropped.
    await chain.run(telemetry({ temperature: 100 }, { ts: '2' }));
    now += 5;
    // Past the interval but implausible: stopped by the threshold.
    await chain.run(telemetry({ temperature: -500 }, { ts: '3' }));
    expect(services.points).toEqual([
      { entityId: DEVICE.id, key: 'temperature', ts: 1, value: 212 },
      { entityId: DEVICE.id, key: 'temperatureC', ts: 1, value: 100 },
    ]);
    expect(chain.stats().map((s) => s.in)).toEqual([3, 3, 2, 1, 1, 1]);
    await chain.destroy();
  });
});

describe('every node type round-trips its defaults through validation', () => {
  it('each built-in validates with its default configuration (or names the field it needs)', () => {
    for (const def of builtinNodes) {
      const json = { ruleChain: { name: 'one' }, metadata: { nodes: [{ type: def.type, name: def.name, configuration: {} }] } };
      try {
        validateRuleChain(json, registry);
      } catch (e) {
        expect((e as Error).message, def.type).toMatch(/Invalid configuration of node 0 .*: \w+/);
      }
    }
  });
});
