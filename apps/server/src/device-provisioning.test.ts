import { createMemoryBroadcast } from '@rivulet/broadcast';
import { AttributeScope, type Msg, type TenantLimitsSource } from '@rivulet/core';
import type { Queue } from '@rivulet/queue';
import type { DeviceProfile, Storage } from '@rivulet/storage';
import { createTestDatabase } from '@rivulet/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Rivulet } from './app';
import { createDeviceProvisioningService } from './device-provisioning';
import { createTenantWithAdmin, login, startTestServer, SYSADMIN, tempDir } from './test-helpers';

const FAILURE = { status: 'FAILURE', errorMsg: 'Failed to provision device!' };
const NOT_FOUND = { status: 'NOT_FOUND', errorMsg: 'Provision data was not found!' };

/**
 * Device provisioning (ThingsBoard's DeviceProvisionServiceImpl), service level: the service the
 * transports call, on the real server's storage (PostgreSQL) and queue. The end-to-end tests over
 * MQTT, HTTP and CoAP are in provisioning-e2e.test.ts.
 */
describe('device provisioning service', () => {
  let app: Rivulet;
  let db: { url: string; drop(): Promise<void> };
  const dir = tempDir();
  /** What the service produced to the rule engine (the records still go to the real queue). */
  const produced: Msg[] = [];
  let profiles: { create: DeviceProfile; pre: DeviceProfile; disabled: DeviceProfile; other: DeviceProfile; noSecret: DeviceProfile };
  let otherTenantId: string;

  const service = (o: { storage?: Storage; tenantLimits?: TenantLimitsSource } = {}) => {
    const queue: Queue = Object.create(app.queue) as Queue;
    queue.produce = async <T,>(topic: string, records: ReadonlyArray<{ key: string; value: T }>) => {
      for (const r of records) produced.push(r.value as unknown as Msg);
      return app.queue.produce(topic, records);
    };
    return createDeviceProvisioningService({ storage: o.storage ?? app.storage, queue, broadcast: createMemoryBroadcast(), tenantLimits: o.tenantLimits ?? app.tenantLimits });
  };
  const provisionConfig = (type: string, secret: string | null) => ({
    configuration: { type: 'DEFAULT' },
    transportConfiguration: { type: 'DEFAULT' },
    provisionConfiguration: { type, provisionDeviceSecret: secret },
    alarms: null,
  });

  beforeAll(async () => {
    db = await createTestDatabase('provisioning');
    app = await startTestServer({ DATABASE_URL: db.url, RIVULET_DATA_DIR: dir.dir });
    const sys = await login(app.url, SYSADMIN);
    otherTenantId = (await createTenantWithAdmin(app.url, sys, { title: 'Provisioned elsewhere', email: 'admin@prov-other.test', password: 'prov-other-pw' })).tenantId;
    const p = app.storage.deviceProfiles;
    profiles = {
      create: await p.create(app.tenantId, { name: 'self-made', provisionType: 'ALLOW_CREATE_NEW_DEVICES', provisionDeviceKey: 'key-create', profileData: provisionConfig('ALLOW_CREATE_NEW_DEVICES', 'secret-create') }),
      pre: await p.create(app.tenantId, { name: 'factory-made', provisionType: 'CHECK_PRE_PROVISIONED_DEVICES', provisionDeviceKey: 'key-pre', profileData: provisionConfig('CHECK_PRE_PROVISIONED_DEVICES', 'secret-pre') }),
      disabled: await p.create(app.tenantId, { name: 'closed', provisionType: 'DISABLED', provisionDeviceKey: 'key-disabled', profileData: provisionConfig('DISABLED', 'secret-disabled') }),
      other: await p.create(otherTenantId, { name: 'elsewhere', provisionType: 'ALLOW_CREATE_NEW_DEVICES', provisionDeviceKey: 'key-other', profileData: provisionConfig('ALLOW_CREATE_NEW_DEVICES', 'secret-other') }),
      noSecret: await p.create(app.tenantId, { name: 'no-secret', provisionType: 'ALLOW_CREATE_NEW_DEVICES', provisionDeviceKey: 'key-no-secret', profileData: provisionConfig('ALLOW_CREATE_NEW_DEVICES', null) }),
    };
  });
  afterAll(async () => {
    await app?.stop();
    await db?.drop();
    dir.remove();
  });

  const create = (extra: Record<string, unknown>) => ({ provisionDeviceKey: 'key-create', provisionDeviceSecret: 'secret-create', ...extra });
  const eventsOf = (deviceId: string) => produced.filter((m) => m.originator.id === deviceId).map((m) => m.type);

  it('ALLOW_CREATE_NEW_DEVICES: creates the device in the profile\'s tenant with that profile and a generated token, marks it provisioned, tells the rule engine', async () => {
    const r = await service().provision(create({ deviceName: 'prov-new-1' }), 'MQTT');
    expect(r).toMatchObject({ status: 'SUCCESS', credentialsType: 'ACCESS_TOKEN' });
    const token = (r as { credentialsValue: string }).credentialsValue;
    expect(token).toMatch(/^\S{20}$/);
    const device = await app.storage.devices.findByName(app.tenantId, 'prov-new-1');
    expect(device).toMatchObject({ tenantId: app.tenantId, deviceProfileId: profiles.create.id, type: 'self-made', customerId: null });
    expect((await app.storage.devices.findByCredentials('ACCESS_TOKEN', token))?.id).toBe(device!.id);
    expect(await app.storage.attributes.find(device!.id, AttributeScope.SERVER_SCOPE, ['provisionState'])).toMatchObject([{ key: 'provisionState', value: 'provisioned' }]);
    expect(eventsOf(device!.id).sort()).toEqual(['ENTITY_CREATED', 'PROVISION_SUCCESS']);
    const success = produced.find((m) => m.originator.id === device!.id && m.type === 'PROVISION_SUCCESS')!;
    expect(success.tenantId).toBe(app.tenantId);
    expect(success.metadata).toEqual({ tenantId: app.tenantId });
    expect(success.data).toMatchObject({ deviceName: 'prov-new-1', credentials: { provisionDeviceKey: 'key-create' }, transport: 'MQTT' });
    // no secret reaches rule chains
    expect(JSON.stringify(success.data)).not.toContain('secret-create');
    expect(produced.find((m) => m.originator.id === device!.id && m.type === 'ENTITY_CREATED')!.data).toMatchObject({ name: 'prov-new-1', id: { entityType: 'DEVICE', id: device!.id } });
  });

  it('a device provisions once: the second request for the name is FAILURE (PROVISION_FAILURE on the device)', async () => {
    expect((await service().provision(create({ deviceName: 'prov-once' }), 'HTTP')).status).toBe('SUCCESS');
    const device = await app.storage.devices.findByName(app.tenantId, 'prov-once');
    expect(await service().provision(create({ deviceName: 'prov-once' }), 'HTTP')).toEqual(FAILURE);
    expect(eventsOf(device!.id)).toContain('PROVISION_FAILURE');
    // a name taken by a device made over REST counts the same
    expect(await service().provision(create({ deviceName: '  prov-once  ' }), 'COAP')).toEqual(FAILURE);
  });

  it('the requested access token or MQTT basic credentials are the device\'s', async () => {
    const t = await service().provision(create({ deviceName: 'prov-token', credentialsType: 'ACCESS_TOKEN', token: 'my-own-token-1' }), 'HTTP');
    expect(t).toEqual({ status: 'SUCCESS', credentialsType: 'ACCESS_TOKEN', credentialsValue: 'my-own-token-1' });
    expect((await app.storage.devices.findByCredentials('ACCESS_TOKEN', 'my-own-token-1'))?.name).toBe('prov-token');

    const b = await service().provision(create({ deviceName: 'prov-basic', credentialsType: 'MQTT_BASIC', clientId: 'cid-1', username: 'user-1', password: 'pw-1' }), 'MQTT');
    expect(b).toEqual({ status: 'SUCCESS', credentialsType: 'MQTT_BASIC', credentialsValue: { clientId: 'cid-1', userName: 'user-1', password: 'pw-1' } });
    const device = await app.storage.devices.findByName(app.tenantId, 'prov-basic');
    expect(await app.storage.devices.getCredentials(device!.id)).toMatchObject({ credentialsType: 'MQTT_BASIC', credentialsValue: JSON.stringify({ clientId: 'cid-1', userName: 'user-1', password: 'pw-1' }) });
    // a credentials type without any credentials: the generated token (ThingsBoard's)
    const g = await service().provision(create({ deviceName: 'prov-basic-empty', credentialsType: 'MQTT_BASIC' }), 'MQTT');
    expect(g).toMatchObject({ status: 'SUCCESS', credentialsType: 'ACCESS_TOKEN' });
  });

  it('no device name: a 20-character name is generated', async () => {
    const r = await service().provision(create({}), 'HTTP');
    expect(r).toMatchObject({ status: 'SUCCESS', credentialsType: 'ACCESS_TOKEN' });
    const device = await app.storage.devices.findByCredentials('ACCESS_TOKEN', (r as { credentialsValue: string }).credentialsValue);
    expect(device?.name).toMatch(/^[A-Za-z0-9]{20}$/);
    expect(device?.deviceProfileId).toBe(profiles.create.id);
  });

  it("the profile's tenant, never another: a key of another tenant's profile creates the device there", async () => {
    const r = await service().provision({ deviceName: 'prov-elsewhere', provisionDeviceKey: 'key-other', provisionDeviceSecret: 'secret-other' }, 'HTTP');
    expect(r.status).toBe('SUCCESS');
    expect(await app.storage.devices.findByName(app.tenantId, 'prov-elsewhere')).toBeNull();
    expect(await app.storage.devices.findByName(otherTenantId, 'prov-elsewhere')).toMatchObject({ tenantId: otherTenantId, deviceProfileId: profiles.other.id });
    // the secret of one profile does not open another
    expect(await service().provision({ deviceName: 'prov-mixed', provisionDeviceKey: 'key-other', provisionDeviceSecret: 'secret-create' }, 'HTTP')).toEqual(NOT_FOUND);
  });

  it('CHECK_PRE_PROVISIONED_DEVICES: answers the credentials of the device of that name and profile, once', async () => {
    const { device, credentials } = await app.storage.devices.create({ tenantId: app.tenantId, name: 'prov-pre-1', deviceProfileId: profiles.pre.id }, 'pre-made-token-1');
    const pre = { provisionDeviceKey: 'key-pre', provisionDeviceSecret: 'secret-pre' };
    expect(await service().provision({ ...pre, deviceName: 'prov-pre-1' }, 'COAP')).toEqual({ status: 'SUCCESS', credentialsType: 'ACCESS_TOKEN', credentialsValue: credentials.credentialsId });
    expect(await app.storage.attributes.find(device.id, AttributeScope.SERVER_SCOPE, ['provisionState'])).toMatchObject([{ value: 'provisioned' }]);
    expect(eventsOf(device.id)).toEqual(['PROVISION_SUCCESS']);
    // once only
    expect(await service().provision({ ...pre, deviceName: 'prov-pre-1' }, 'COAP')).toEqual(FAILURE);
    expect(eventsOf(device.id)).toEqual(['PROVISION_SUCCESS', 'PROVISION_FAILURE']);
    // no such device, or one of another profile: FAILURE, nothing created
    expect(await service().provision({ ...pre, deviceName: 'prov-pre-missing' }, 'COAP')).toEqual(FAILURE);
    expect(await app.storage.devices.findByName(app.tenantId, 'prov-pre-missing')).toBeNull();
    await app.storage.devices.create({ tenantId: app.tenantId, name: 'prov-pre-wrong-profile', deviceProfileId: profiles.create.id });
    expect(await service().provision({ ...pre, deviceName: 'prov-pre-wrong-profile' }, 'COAP')).toEqual(FAILURE);
    expect(await service().provision({ ...pre }, 'COAP')).toEqual(FAILURE);
  });

  it('CHECK_PRE_PROVISIONED_DEVICES with MQTT basic credentials answers them as an object', async () => {
    const { device } = await app.storage.devices.create({ tenantId: app.tenantId, name: 'prov-pre-basic', deviceProfileId: profiles.pre.id });
    const value = { clientId: 'pre-cid', userName: 'pre-user', password: 'pre-pw' };
    await app.storage.devices.updateCredentials(device.id, { credentialsType: 'MQTT_BASIC', credentialsId: 'pre-basic-lookup-id', credentialsValue: JSON.stringify(value) });
    expect(await service().provision({ deviceName: 'prov-pre-basic', provisionDeviceKey: 'key-pre', provisionDeviceSecret: 'secret-pre' }, 'MQTT')).toEqual({ status: 'SUCCESS', credentialsType: 'MQTT_BASIC', credentialsValue: value });
  });

  it('invalid requests answer FAILURE or NOT_FOUND as ThingsBoard, never throw', async () => {
    const s = service();
    for (const bad of [null, undefined, [], 'text', 42, true, { deviceName: 42, provisionDeviceKey: 'key-create', provisionDeviceSecret: 'secret-create' }]) {
      expect(await s.provision(bad, 'HTTP')).toEqual(FAILURE);
    }
    // missing or empty key or secret
    expect(await s.provision({ deviceName: 'x' }, 'HTTP')).toEqual(NOT_FOUND);
    expect(await s.provision({ deviceName: 'x', provisionDeviceKey: 'key-create' }, 'HTTP')).toEqual(NOT_FOUND);
    expect(await s.provision({ deviceName: 'x', provisionDeviceSecret: 'secret-create' }, 'HTTP')).toEqual(NOT_FOUND);
    expect(await s.provision({ deviceName: 'x', provisionDeviceKey: '', provisionDeviceSecret: 'secret-create' }, 'HTTP')).toEqual(NOT_FOUND);
    // wrong secret, unknown key, DISABLED profile, a profile without a secret
    expect(await s.provision(create({ deviceName: 'x', provisionDeviceSecret: 'secret-wrong' }), 'HTTP')).toEqual(NOT_FOUND);
    expect(await s.provision({ deviceName: 'x', provisionDeviceKey: 'no-such-key', provisionDeviceSecret: 'secret-create' }, 'HTTP')).toEqual(NOT_FOUND);
    expect(await s.provision({ deviceName: 'x', provisionDeviceKey: 'key-disabled', provisionDeviceSecret: 'secret-disabled' }, 'HTTP')).toEqual(NOT_FOUND);
    expect(await s.provision({ deviceName: 'x', provisionDeviceKey: 'key-no-secret', provisionDeviceSecret: 'anything' }, 'HTTP')).toEqual(NOT_FOUND);
    // names: spaces only, too long
    expect(await s.provision(create({ deviceName: '   ' }), 'HTTP')).toEqual(FAILURE);
    expect(await s.provision(create({ deviceName: 'n'.repeat(256) }), 'HTTP')).toEqual(FAILURE);
    // credentials that cannot be: bad token characters, X509, an unknown type, basic without client id and user name, NUL
    expect(await s.provision(create({ deviceName: 'x', credentialsType: 'ACCESS_TOKEN', token: 'has space' }), 'HTTP')).toEqual(FAILURE);
    expect(await s.provision(create({ deviceName: 'x', credentialsType: 'ACCESS_TOKEN', token: 't'.repeat(129) }), 'HTTP')).toEqual(FAILURE);
    expect(await s.provision(create({ deviceName: 'x', credentialsType: 'X509_CERTIFICATE', hash: 'abc' }), 'HTTP')).toEqual(FAILURE);
    expect(await s.provision(create({ deviceName: 'x', credentialsType: 'PSK', token: 'abc' }), 'HTTP')).toEqual(FAILURE);
    expect(await s.provision(create({ deviceName: 'x', credentialsType: 'MQTT_BASIC', password: 'only-a-password' }), 'HTTP')).toEqual(FAILURE);
    expect(await s.provision(create({ deviceName: 'x\u0000y' }), 'HTTP')).toEqual(FAILURE);
    // none of these made a device
    expect(await app.storage.devices.findByName(app.tenantId, 'x')).toBeNull();
  });

  it('credentials taken: FAILURE and no device is left behind', async () => {
    await app.storage.devices.create({ tenantId: app.tenantId, name: 'prov-token-owner' }, 'taken-token-1');
    expect(await service().provision(create({ deviceName: 'prov-token-thief', token: 'taken-token-1' }), 'HTTP')).toEqual(FAILURE);
    expect(await app.storage.devices.findByName(app.tenantId, 'prov-token-thief')).toBeNull();

    expect((await service().provision(create({ deviceName: 'prov-basic-owner', credentialsType: 'MQTT_BASIC', clientId: 'shared-cid', username: 'shared-user' }), 'MQTT')).status).toBe('SUCCESS');
    expect(await service().provision(create({ deviceName: 'prov-basic-thief', credentialsType: 'MQTT_BASIC', clientId: 'shared-cid', username: 'shared-user' }), 'MQTT')).toEqual(FAILURE);
    expect(await app.storage.devices.findByName(app.tenantId, 'prov-basic-thief')).toBeNull();
  });

  it("the tenant's device limit holds: past it FAILURE, nothing created", async () => {
    const count = await app.storage.devices.count(app.tenantId);
    const limits: TenantLimitsSource = { forTenant: (t) => ({ ...app.tenantLimits.forTenant(t), maxDevices: count }) };
    expect(await service({ tenantLimits: limits }).provision(create({ deviceName: 'prov-over-limit' }), 'HTTP')).toEqual(FAILURE);
    expect(await app.storage.devices.findByName(app.tenantId, 'prov-over-limit')).toBeNull();
    const roomy: TenantLimitsSource = { forTenant: (t) => ({ ...app.tenantLimits.forTenant(t), maxDevices: count + 1 }) };
    expect((await service({ tenantLimits: roomy }).provision(create({ deviceName: 'prov-over-limit' }), 'HTTP')).status).toBe('SUCCESS');
  });

  it('requests at once for one device: exactly one SUCCESS (created, and pre-provisioned)', async () => {
    const s = service();
    const created = await Promise.all(Array.from({ length: 6 }, () => s.provision(create({ deviceName: 'prov-race' }), 'MQTT')));
    expect(created.filter((r) => r.status === 'SUCCESS')).toHaveLength(1);
    expect(created.filter((r) => r.status === 'FAILURE')).toHaveLength(5);
    await app.storage.devices.create({ tenantId: app.tenantId, name: 'prov-pre-race', deviceProfileId: profiles.pre.id });
    const pre = await Promise.all(Array.from({ length: 6 }, () => s.provision({ deviceName: 'prov-pre-race', provisionDeviceKey: 'key-pre', provisionDeviceSecret: 'secret-pre' }, 'MQTT')));
    expect(pre.filter((r) => r.status === 'SUCCESS')).toHaveLength(1);
  });

  it('requests at once from several processes (one service each, one database): exactly one SUCCESS for a pre-provisioned device', async () => {
    // Each service stands for a transport process: nothing shared but PostgreSQL.
    const processes = Array.from({ length: 4 }, () => service());
    for (let round = 0; round < 5; round++) {
      const name = `prov-pre-race-procs-${round}`;
      await app.storage.devices.create({ tenantId: app.tenantId, name, deviceProfileId: profiles.pre.id });
      const answers = await Promise.all(processes.flatMap((s) => [s, s].map((p) => p.provision({ deviceName: name, provisionDeviceKey: 'key-pre', provisionDeviceSecret: 'secret-pre' }, 'HTTP'))));
      expect(answers.filter((r) => r.status === 'SUCCESS')).toHaveLength(1);
      expect(answers.filter((r) => r.status === 'FAILURE')).toHaveLength(7);
    }
  });

  it('a storage failure answers FAILURE (logged), the caller gets no exception', async () => {
    const broken: Storage = { ...app.storage, deviceProfiles: { ...app.storage.deviceProfiles, findByProvisionKey: () => Promise.reject(new Error('database down')) } };
    expect(await service({ storage: broken }).provision(create({ deviceName: 'prov-db-down' }), 'HTTP')).toEqual(FAILURE);
  });
});
