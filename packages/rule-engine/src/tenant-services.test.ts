import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { validateRuleChain } from './chain';
import { createNodeRegistry } from './registry';
import { bindServicesToTenant, checkChainEntities, checkChainForTenant, createOwnershipCache, createTenantServices, EntityAccessError } from './tenant-services';
import { createDryRunServices, testRunChain } from './test-run';
import { createRecordingServices } from './testing';
import { defineNode, Relation, type EntityOwnership } from './types';

const A = 'tenant-a';
const B = 'tenant-b';
const devA = 'dev-a';
const devB = 'dev-b';
// Tenant A owns devA, tenant B owns devB; answers asynchronously, as a cold cache does.
const ownership: EntityOwnership = { owns: async (t, id) => (t === A && id === devA) || (t === B && id === devB) };

function setup() {
  const real = createRecordingServices();
  real.addDevice({ id: devA });
  const rpcSent: unknown[] = [];
  const base = { ...real, rpc: { sendToDevice: async (r: unknown) => (rpcSent.push(r), { kind: 'delivered' as const }), replyToDevice: (r: unknown) => void rpcSent.push(r) } };
  return { real, rpcSent, bound: bindServicesToTenant(base, { tenantId: B, ownership }) };
}

describe('bindServicesToTenant', () => {
  it('refuses every call that names another tenant\'s entity, and writes nothing', async () => {
    const { real, rpcSent, bound } = setup();
    const refused = [
      bound.timeseries.save([{ entityId: devB, key: 't', ts: 1, value: 1 }, { entityId: devA, key: 't', ts: 1, value: 1 }]),
      bound.timeseries.findLatest(devA),
      bound.timeseries.findHistory!(devA, { keys: ['t'], startTs: 0, endTs: 2 }),
      bound.attributes.save([{ entityId: devA, scope: 'SHARED_SCOPE', key: 'k', value: 1, lastUpdateTs: 1 }]),
      bound.attributes.find(devA, 'SERVER_SCOPE'),
      bound.attributes.delete(devA, 'SERVER_SCOPE', ['k']),
      bound.alarms!.createOrUpdate({ tenantId: B, type: 'x', originatorType: 'DEVICE', originatorId: devA, severity: 'MAJOR', ts: 1 }),
      bound.alarms!.createOrUpdate({ tenantId: A, type: 'x', originatorType: 'DEVICE', originatorId: devB, severity: 'MAJOR', ts: 1 }),
      bound.alarms!.findActive(B, devA, 'x'),
      bound.alarms!.clear(A, 'some-alarm', 1),
      bound.devices!.get(A, devA),
      bound.rpc!.sendToDevice({ requestId: 'r', tenantId: B, deviceId: devA, method: 'factoryReset', params: null, oneway: true, expirationTime: 0 }),
      Promise.resolve().then(() => bound.rpc!.replyToDevice({ deviceId: devA, requestId: '1', body: {} })),
    ];
    for (const p of refused) await expect(p).rejects.toThrow(/does not belong to this tenant|is not this chain's tenant/);
    await expect(bound.timeseries.findLatest(devA)).rejects.toBeInstanceOf(EntityAccessError);
    expect(real.points).toEqual([]);
    expect(real.attributeWrites).toEqual([]);
    expect(real.alarmList).toEqual([]);
    expect(rpcSent).toEqual([]);
  });

  it('Kafka producers are always the bound tenant\'s: a node cannot ask for another tenant\'s (shared or counted against it)', () => {
    const asked: unknown[] = [];
    const kafka = { producer: (o: unknown) => (asked.push(o), { send: async () => undefined }) };
    const bound = bindServicesToTenant({ ...createRecordingServices(), kafka }, { tenantId: B, ownership });
    bound.kafka!.producer({ bootstrapServers: 'k:9092', acks: -1, retries: 0 });
    bound.kafka!.producer({ bootstrapServers: 'k:9092', acks: -1, retries: 0, tenantId: A });
    expect(asked).toEqual([
      { bootstrapServers: 'k:9092', acks: -1, retries: 0, tenantId: B },
      { bootstrapServers: 'k:9092', acks: -1, retries: 0, tenantId: B },
    ]);
  });

  it('passes the tenant\'s own entities (its devices and itself) through', async () => {
    const { real, rpcSent, bound } = setup();
    await bound.timeseries.save([{ entityId: devB, key: 't', ts: 1, value: 1 }]);
    await bound.attributes.save([{ entityId: B, scope: 'SERVER_SCOPE', key: 'k', value: 1, lastUpdateTs: 1 }]);
    await bound.alarms!.createOrUpdate({ tenantId: B, type: 'x', originatorType: 'DEVICE', originatorId: devB, severity: 'MAJOR', ts: 1 });
    await bound.rpc!.sendToDevice({ requestId: 'r', tenantId: B, deviceId: devB, method: 'm', params: null, oneway: true, expirationTime: 0 });
    expect(real.points).toHaveLength(1);
    expect(real.attributeWrites).toHaveLength(1);
    expect(real.alarmList).toHaveLength(1);
    expect(rpcSent).toHaveLength(1);
  });

  it('a cached answer adds no await: writes reach the batcher in call order', async () => {
    const cache = createOwnershipCache({ lookup: async (t, id) => t === B && id.startsWith('b') });
    const order: string[] = [];
    const real = createRecordingServices();
    const bound = bindServicesToTenant({ ...real, timeseries: { ...real.timeseries, save: async (p) => void order.push(p[0]!.entityId) } }, { tenantId: B, ownership: cache });
    expect(cache.owns(B, 'b1')).toBeInstanceOf(Promise);
    await cache.owns(B, 'b1');
    expect(cache.owns(B, 'b1')).toBe(true);
    void bound.timeseries.save([{ entityId: 'b1', key: 't', ts: 1, value: 1 }]);
    expect(order).toEqual(['b1']); // synchronously
    expect(await cache.owns(B, 'a1')).toBe(false);
    expect(cache.owns(B, 'a1')).toBe(false);
    cache.invalidate(B, 'b1');
    expect(cache.owns(B, 'b1')).toBeInstanceOf(Promise);
  });

  it('the cache expires answers (owned after ttlMs, not owned after missTtlMs) and keeps at most maxEntries', async () => {
    let clock = 0;
    let lookups = 0;
    const cache = createOwnershipCache({ lookup: async (_t, id) => (lookups++, id.startsWith('b')), ttlMs: 100, missTtlMs: 10, maxEntries: 2, now: () => clock });
    await cache.owns(B, 'b1');
    await cache.owns(B, 'a1');
    expect([cache.owns(B, 'b1'), cache.owns(B, 'a1'), lookups]).toEqual([true, false, 2]);
    clock = 11;
    expect(cache.owns(B, 'b1')).toBe(true);
    expect(await cache.owns(B, 'a1')).toBe(false);
    expect(lookups).toBe(3);
    clock = 101;
    expect(cache.owns(B, 'b1')).toBe(true); // served at once while asked again in the background
    expect(lookups).toBe(4);
    const revoked = createOwnershipCache({ lookup: async () => (lookups++, lookups < 6), ttlMs: 100, now: () => clock });
    clock = 0;
    expect(await revoked.owns(B, 'b9')).toBe(true);
    clock = 200;
    expect(revoked.owns(B, 'b9')).toBe(true);
    await new Promise((r) => setTimeout(r, 0));
    expect(revoked.owns(B, 'b9')).toBe(false); // the background answer said no
    await cache.owns(A, 'b2'); // a third entry: one of the others is dropped
    const before = lookups;
    await cache.owns(B, 'a1');
    await cache.owns(B, 'b1');
    expect(lookups).toBeGreaterThan(before);
  });

  it('test runs on bound services refuse recorded writes and reads of other tenants too', async () => {
    const { bound } = setup();
    const dry = createDryRunServices(bound);
    await expect(dry.services.timeseries.save([{ entityId: devA, key: 't', ts: 1, value: 1 }])).rejects.toBeInstanceOf(EntityAccessError);
    await expect(dry.services.attributes.find(devA, 'SERVER_SCOPE')).rejects.toBeInstanceOf(EntityAccessError);
    expect(dry.writes).toEqual([]);
    await dry.services.timeseries.save([{ entityId: devB, key: 't', ts: 1, value: 1 }]);
    expect(dry.writes).toHaveLength(1);
  });
});

describe('test runs on bound services', () => {
  const save = defineNode({
    type: 'test.saveOriginator',
    category: 'action',
    name: 'save',
    description: 'saves a point and reads it back for the originator',
    configSchema: z.object({}),
    configVersion: 0,
    relations: [Relation.SUCCESS],
    create: (_c, services) => ({
      async process(msg) {
        await services.timeseries.save([{ entityId: msg.originator.id, key: 't', ts: 1, value: 1 }]);
        await services.timeseries.findLatest(msg.originator.id);
        return [{ relation: Relation.SUCCESS, msg }];
      },
    }),
  });
  const chain = { ruleChain: { name: 'c' }, metadata: { nodes: [{ type: 'test.saveOriginator', name: 'Save' }] } };
  const registry = createNodeRegistry([save]);

  it('a sample without originator gets an id of its own; another tenant’s originator fails the message', async () => {
    const { bound } = setup();
    const own = await testRunChain({ chain, msg: { type: 'X', data: {} }, tenantId: B, registry, services: bound });
    expect(own).toMatchObject({ ok: true, writes: [{ kind: 'timeseries' }] });
    const foreign = await testRunChain({ chain, msg: { type: 'X', data: {}, originator: { entityType: 'DEVICE', id: devA } }, tenantId: B, registry, services: bound });
    expect(foreign).toMatchObject({ ok: false, writes: [], error: expect.stringMatching(/does not belong/) });
    await expect(testRunChain({ chain, msg: { type: 'X', data: {} }, tenantId: A, registry, services: bound })).rejects.toThrow(/bound to another tenant/);
  });
});

describe('checkChainEntities', () => {
  const refNode = defineNode({
    type: 'test.ref',
    category: 'action',
    name: 'ref',
    description: 'names an entity',
    configSchema: z.object({ deviceId: z.string() }),
    configVersion: 0,
    relations: [Relation.SUCCESS],
    entityRefs: (c) => [{ field: 'deviceId', entityType: 'DEVICE', id: c.deviceId }],
    create: () => ({ process: (msg) => [{ relation: Relation.SUCCESS, msg }] }),
  });
  const chain = (deviceId: string) =>
    validateRuleChain({ ruleChain: { name: 'c' }, metadata: { nodes: [{ type: 'test.ref', name: 'Gen', configuration: { deviceId } }] } }, createNodeRegistry([refNode]));

  it('refuses a configuration naming another tenant\'s entity, naming node and field', async () => {
    const { bound } = setup();
    await expect(checkChainEntities(chain(devA), bound)).rejects.toThrow(/node 0 "Gen": deviceId: DEVICE dev-a is not an entity of this tenant/);
    await expect(checkChainEntities(chain(devB), bound)).resolves.toBeUndefined();
    await expect(checkChainEntities(chain(B), bound)).resolves.toBeUndefined();
  });
});

describe('checkChainForTenant: the tenant\'s limits on save and load', () => {
  const periodic = defineNode({
    type: 'test.periodic',
    category: 'action',
    name: 'periodic',
    description: 'fires every period',
    configSchema: z.object({ periodInSeconds: z.number() }),
    configVersion: 0,
    relations: [Relation.SUCCESS],
    checkLimits: (c, l) => (c.periodInSeconds * 1000 < l.minGeneratorPeriodMs ? { field: 'periodInSeconds', message: `under ${l.minGeneratorPeriodMs} ms` } : undefined),
    create: () => ({ process: (msg) => [{ relation: Relation.SUCCESS, msg }] }),
  });
  const registry = createNodeRegistry([periodic]);
  const chain = (periods: number[]) =>
    validateRuleChain({ ruleChain: { name: 'c' }, metadata: { nodes: periods.map((p) => ({ type: 'test.periodic', name: 'P', configuration: { periodInSeconds: p } })) } }, registry);
  const none = { maxDevices: 0, maxRuleChains: 0, maxRuleNodesPerChain: 0, transportDeviceMsgRateLimit: 0, transportTenantMsgRateLimit: 0, maxPayloadBytes: 0, maxKeyLength: 0, maxKeysPerMessage: 0, maxWsSessionsPerTenant: 0, maxWsSubscriptionsPerTenant: 0, maxScriptExecutionMs: 0, maxScriptMemoryMb: 0, minGeneratorPeriodMs: 0, maxDebugEventsPerNode: 0, defaultStorageTtlDays: 0 };
  // Tenant A is held to 2 nodes and 1 s; tenant B has no limits.
  const servicesFor = createTenantServices({
    base: createRecordingServices(),
    ownership,
    limits: { forTenant: (t) => (t === A ? { ...none, maxRuleNodesPerChain: 2, minGeneratorPeriodMs: 1000 } : none) },
  });

  it('refuses a chain over tenant A\'s limits, naming the limit, and lets tenant B run the same chain', async () => {
    await expect(checkChainForTenant(chain([1, 1, 1]), servicesFor(A))).rejects.toThrow('Rule chain "c" has 3 nodes: this tenant\'s limit is 2 nodes per rule chain (maxRuleNodesPerChain)');
    await expect(checkChainForTenant(chain([0.1]), servicesFor(A))).rejects.toThrow('Invalid configuration of node 0 "P": periodInSeconds: under 1000 ms');
    await expect(checkChainForTenant(chain([1, 2]), servicesFor(A))).resolves.toBeUndefined();
    await expect(checkChainForTenant(chain([0.1, 0.1, 0.1]), servicesFor(B))).resolves.toBeUndefined();
  });
});
