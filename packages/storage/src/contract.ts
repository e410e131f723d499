import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { AttributeScope, newId, type KvValue, type TsPoint } from '@rivulet/core';
import { describeTenancy } from './tenancy-contract';
import { describeDeviceProfiles } from './device-profile-contract';
import type { DebugEventRecord, Device, Storage } from './types';
import { authStorageContract } from './auth-contract';

/**
 * The behaviour every Storage implementation must show, as one shared suite (aedes' abstract
 * persistence tests). An implementation's test file calls `storageContract` with a factory; the
 * suite opens one storage for all its tests and keeps them apart by creating fresh tenants,
 * devices and entity ids, so it also runs against a database other tests are using.
 */
export interface StorageFixture {
  storage: Storage;
  /** Closes the storage and removes whatever the factory created (files, databases). */
  cleanup(): Promise<void>;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** A fixed time base so bucket arithmetic in the assertions is easy to follow. */
const T = 1_700_000_000_000;

export function storageContract(name: string, factory: () => Promise<StorageFixture>): void {
  describe(`Storage contract: ${name}`, () => {
    let fixture: StorageFixture | undefined;
    let storage: Storage;

    beforeAll(async () => {
      fixture = await factory();
      storage = fixture.storage;
    });

    afterAll(async () => {
      await fixture?.cleanup();
    });

    authStorageContract(() => storage);

    async function tenant(title = 'Tenant'): Promise<string> {
      return (await storage.tenants.create({ title })).id;
    }

    async function device(tenantId: string, name = `dev-${newId().slice(0, 8)}`, token?: string): Promise<Device> {
      return (await storage.devices.create({ tenantId, name, type: 'sensor' }, token)).device;
    }

    function point(entityId: string, key: string, ts: number, value: KvValue): TsPoint {
      return { entityId, key, ts, value };
    }

    describe('tenants', () => {
      it('creates, gets and lists tenants', async () => {
        const before = Date.now();
        const t = await storage.tenants.create({ title: 'Acme' });
        expect(t.title).toBe('Acme');
        expect(t.id).toMatch(/^[0-9a-f-]{36}$/);
        expect(t.createdTime).toBeGreaterThanOrEqual(before);
        expect(await storage.tenants.get(t.id)).toEqual(t);
        expect((await storage.tenants.list()).map((x) => x.id)).toContain(t.id);
      });

      it('keeps a given id', async () => {
        const id = newId();
        const t = await storage.tenants.create({ id, title: 'Given' });
        expect(t.id).toBe(id);
        expect((await storage.tenants.get(id))?.title).toBe('Given');
      });

      it('returns null for an unknown or malformed id', async () => {
        expect(await storage.tenants.get(newId())).toBeNull();
        expect(await storage.tenants.get('not-a-uuid')).toBeNull();
      });
    });

    describe('users', () => {
      it('creates a user and finds it by id and by e-mail in any case', async () => {
        const tenantId = await tenant();
        const email = `Admin.${newId().slice(0, 8)}@Example.com`;
        const countBefore = await storage.users.count();
        const u = await storage.users.create({ tenantId, email, authority: 'TENANT_ADMIN', passwordHash: 'hash-1', firstName: 'Ada' });
        expect(u).toMatchObject({ tenantId, email, authority: 'TENANT_ADMIN', firstName: 'Ada', lastName: null });
        expect(await storage.users.get(u.id)).toEqual(u);
        const found = await storage.users.findByEmail(email.toLowerCase());
        expect(found?.user).toEqual(u);
        expect(found?.passwordHash).toBe('hash-1');
        expect((await storage.users.findByEmail(email.toUpperCase()))?.user.id).toBe(u.id);
        expect(await storage.users.count()).toBe(countBefore + 1);
      });

      it('rejects an e-mail that differs only in case', async () => {
        const tenantId = await tenant();
        const email = `dup.${newId().slice(0, 8)}@example.com`;
        await storage.users.create({ tenantId, email, authority: 'TENANT_ADMIN', passwordHash: 'h' });
        await expect(storage.users.create({ tenantId, email: email.toUpperCase(), authority: 'TENANT_ADMIN', passwordHash: 'h' })).rejects.toMatchObject({
          code: 'CONFLICT',
        });
      });

      it('returns null for unknown users', async () => {
        expect(await storage.users.get(newId())).toBeNull();
        expect(await storage.users.findByEmail(`nobody.${newId()}@example.com`)).toBeNull();
      });
    });

    describe('devices', () => {
      it('creates a device with a generated 20-character access token', async () => {
        const tenantId = await tenant();
        const { device: d, credentials } = await storage.devices.create({
          tenantId,
          name: 'Thermometer',
          type: 'thermo',
          label: 'Kitchen',
          additionalInfo: { description: 'first floor', gateway: false },
        });
        expect(d).toMatchObject({ tenantId, name: 'Thermometer', type: 'thermo', label: 'Kitchen', additionalInfo: { description: 'first floor', gateway: false } });
        expect(credentials).toMatchObject({ deviceId: d.id, credentialsType: 'ACCESS_TOKEN', credentialsValue: null });
        expect(credentials.credentialsId).toMatch(/^[A-Za-z0-9]{20}$/);
        expect(await storage.devices.get(tenantId, d.id)).toEqual(d);
        expect(await storage.devices.findByName(tenantId, 'Thermometer')).toEqual(d);
        expect(await storage.devices.getCredentials(d.id)).toEqual(credentials);
        expect(await storage.devices.findByCredentials('ACCESS_TOKEN', credentials.credentialsId)).toEqual(d);
      });

      it('generates different tokens and defaults the optional fields', async () => {
        const tenantId = await tenant();
        const a = await storage.devices.create({ tenantId, name: 'A' });
        const b = await storage.devices.create({ tenantId, name: 'B' });
        expect(a.credentials.credentialsId).not.toBe(b.credentials.credentialsId);
        expect(a.device.type).toBe('default');
        expect(a.device.label).toBeNull();
        expect(a.device.additionalInfo).toBeNull();
      });

      it('uses a given access token', async () => {
        const tenantId = await tenant();
        const token = `tok${newId().replace(/-/g, '').slice(0, 17)}`;
        const { device: d, credentials } = await storage.devices.create({ tenantId, name: 'Given token' }, token);
        expect(credentials.credentialsId).toBe(token);
        expect((await storage.devices.findByCredentials('ACCESS_TOKEN', token))?.id).toBe(d.id);
        expect(await storage.devices.findByCredentials('ACCESS_TOKEN', `${token}x`)).toBeNull();
        expect(await storage.devices.findByCredentials('MQTT_BASIC', token)).toBeNull();
      });

      it('rejects a duplicate name within a tenant, allows it in another tenant', async () => {
        const t1 = await tenant();
        const t2 = await tenant();
        await device(t1, 'Pump 1');
        await expect(storage.devices.create({ tenantId: t1, name: 'Pump 1' })).rejects.toMatchObject({
          code: 'CONFLICT',
          message: expect.stringContaining('Pump 1'),
        });
        const other = await device(t2, 'Pump 1');
        expect(other.tenantId).toBe(t2);
      });

      it('rejects a duplicate access token and leaves no device behind', async () => {
        const tenantId = await tenant();
        const token = `dup${newId().replace(/-/g, '').slice(0, 17)}`;
        await device(tenantId, 'First', token);
        await expect(storage.devices.create({ tenantId, name: 'Second' }, token)).rejects.toMatchObject({ code: 'CONFLICT' });
        // create is atomic: the device row of the failed create is not left without credentials
        expect(await storage.devices.findByName(tenantId, 'Second')).toBeNull();
      });

      it('scopes get and findByName to the tenant', async () => {
        const t1 = await tenant();
        const t2 = await tenant();
        const d = await device(t1, 'Scoped');
        expect(await storage.devices.get(t2, d.id)).toBeNull();
        expect(await storage.devices.findByName(t2, 'Scoped')).toBeNull();
        expect(await storage.devices.get(t1, newId())).toBeNull();
        expect(await storage.devices.get(t1, 'not-a-uuid')).toBeNull();
      });

      it('updates only the patched fields', async () => {
        const tenantId = await tenant();
        const d = await device(tenantId, 'Before');
        const renamed = await storage.devices.update(tenantId, d.id, { name: 'After' });
        expect(renamed).toMatchObject({ id: d.id, name: 'After', type: 'sensor', createdTime: d.createdTime });
        const patched = await storage.devices.update(tenantId, d.id, { label: 'L', additionalInfo: { a: [1, 2] }, type: 't2' });
        expect(patched).toMatchObject({ name: 'After', label: 'L', additionalInfo: { a: [1, 2] }, type: 't2' });
        const cleared = await storage.devices.update(tenantId, d.id, { label: null, additionalInfo: null });
        expect(cleared).toMatchObject({ label: null, additionalInfo: null, type: 't2' });
        expect(await storage.devices.get(tenantId, d.id)).toEqual(cleared);
        expect(await storage.devices.findByName(tenantId, 'Before')).toBeNull();
      });

      it('update returns null for an unknown device and conflicts on a taken name', async () => {
        const t1 = await tenant();
        const t2 = await tenant();
        const a = await device(t1, 'Taken');
        const b = await device(t1, 'Free');
        expect(await storage.devices.update(t1, newId(), { name: 'x' })).toBeNull();
        expect(await storage.devices.update(t2, a.id, { name: 'x' })).toBeNull();
        await expect(storage.devices.update(t1, b.id, { name: 'Taken' })).rejects.toMatchObject({
          code: 'CONFLICT',
          message: expect.stringContaining('Taken'),
        });
      });

      it('replaces credentials and rejects credentials of another device', async () => {
        const tenantId = await tenant();
        const a = await storage.devices.create({ tenantId, name: 'Creds A' });
        const b = await storage.devices.create({ tenantId, name: 'Creds B' });
        const newToken = `new${newId().replace(/-/g, '').slice(0, 17)}`;
        const updated = await storage.devices.updateCredentials(a.device.id, { credentialsType: 'ACCESS_TOKEN', credentialsId: newToken });
        expect(updated).toMatchObject({ deviceId: a.device.id, credentialsType: 'ACCESS_TOKEN', credentialsId: newToken, credentialsValue: null });
        expect(updated.id).toBe(a.credentials.id);
        expect(await storage.devices.findByCredentials('ACCESS_TOKEN', a.credentials.credentialsId)).toBeNull();
        expect((await storage.devices.findByCredentials('ACCESS_TOKEN', newToken))?.id).toBe(a.device.id);

        await expect(
          storage.devices.updateCredentials(b.device.id, { credentialsType: 'ACCESS_TOKEN', credentialsId: newToken }),
        ).rejects.toMatchObject({ code: 'CONFLICT' });
        expect((await storage.devices.getCredentials(b.device.id))?.credentialsId).toBe(b.credentials.credentialsId);

        const value = JSON.stringify({ clientId: 'c1', userName: 'u1', password: 'p1' });
        const basic = await storage.devices.updateCredentials(b.device.id, { credentialsType: 'MQTT_BASIC', credentialsId: `basic-${newId()}`, credentialsValue: value });
        expect(basic).toMatchObject({ credentialsType: 'MQTT_BASIC', credentialsValue: value });
        expect((await storage.devices.findByCredentials('MQTT_BASIC', basic.credentialsId))?.id).toBe(b.device.id);
        expect(await storage.devices.findByCredentials('ACCESS_TOKEN', basic.credentialsId)).toBeNull();
      });

      it("refuses a user name (or token) of another tenant's device in MQTT basic credentials, either way round; within a tenant it may be shared", async () => {
        const [t1, t2] = [await tenant(), await tenant()];
        const suffix = newId().slice(0, 8);
        const basic = (o: { clientId?: string; userName?: string; password?: string }) => ({
          credentialsType: 'MQTT_BASIC' as const,
          credentialsId: `basic-${newId()}`,
          credentialsValue: JSON.stringify({ clientId: o.clientId ?? null, userName: o.userName ?? null, password: o.password ?? null }),
        });
        // t1's device has the user name alone (with a password); t2 may not put it behind a client id
        const victim = await device(t1);
        await storage.devices.updateCredentials(victim.id, basic({ userName: `victim-${suffix}`, password: 'pw' }));
        const attacker = await device(t2);
        const before = await storage.devices.getCredentials(attacker.id);
        await expect(storage.devices.updateCredentials(attacker.id, basic({ clientId: 'c', userName: `victim-${suffix}` }))).rejects.toMatchObject({ code: 'CONFLICT' });
        expect(await storage.devices.getCredentials(attacker.id)).toEqual(before);
        // nor over t1's access token, nor make a device whose token is t1's user name
        const tokenVictim = await device(t1, undefined, `tok${suffix}victim`);
        await expect(storage.devices.updateCredentials(attacker.id, basic({ clientId: 'c', userName: `tok${suffix}victim`, password: 'x' }))).rejects.toMatchObject({ code: 'CONFLICT' });
        expect((await storage.devices.findByCredentials('ACCESS_TOKEN', `tok${suffix}victim`))?.id).toBe(tokenVictim.id);
        await expect(storage.devices.create({ tenantId: t2, name: `squat-${suffix}` }, `victim-${suffix}`)).rejects.toMatchObject({ code: 'CONFLICT' });
        expect(await storage.devices.findByName(t2, `squat-${suffix}`)).toBeNull();
        // the other way round: t2 came first with {clientId, userName}; t1 may not take that user name (alone, or as a token)
        await storage.devices.updateCredentials(attacker.id, basic({ clientId: 'c2', userName: `first-${suffix}` }));
        const late = await device(t1);
        await expect(storage.devices.updateCredentials(late.id, basic({ userName: `first-${suffix}`, password: 'pw' }))).rejects.toMatchObject({ code: 'CONFLICT' });
        await expect(storage.devices.updateCredentials(late.id, { credentialsType: 'ACCESS_TOKEN', credentialsId: `first-${suffix}` })).rejects.toMatchObject({ code: 'CONFLICT' });
        // within t2 the user name is shared by devices with other client ids (ThingsBoard's), and t2's own device may keep changing
        const sibling = await device(t2);
        expect(await storage.devices.updateCredentials(sibling.id, basic({ clientId: 'c3', userName: `first-${suffix}` }))).toMatchObject({ deviceId: sibling.id });
        expect(await storage.devices.updateCredentials(attacker.id, basic({ clientId: 'c4', userName: `first-${suffix}`, password: 'p' }))).toMatchObject({ deviceId: attacker.id });
        // a user name no other tenant has is free; a password or client id equal to another's user name is no user name
        expect(await storage.devices.updateCredentials(late.id, basic({ clientId: `victim-${suffix}`, userName: `own-${suffix}`, password: `victim-${suffix}` }))).toMatchObject({ deviceId: late.id });
      });

      it('rejects credentials for a device that does not exist', async () => {
        await expect(storage.devices.updateCredentials(newId(), { credentialsType: 'ACCESS_TOKEN', credentialsId: `x${newId()}` })).rejects.toMatchObject({
          code: 'NOT_FOUND',
        });
        expect(await storage.devices.getCredentials(newId())).toBeNull();
      });

      describe('list', () => {
        let tenantId: string;
        const names = ['Alpha 1', 'alpha 2', 'Beta 1', 'beta 2', 'Gamma', 'ALPHA 3', 'Delta 50%'];

        beforeAll(async () => {
          tenantId = await tenant();
          for (const [i, n] of names.entries()) {
            await storage.devices.create({ tenantId, name: n, type: i % 2 === 0 ? 'even' : 'odd', label: `L${i}` });
            // distinct createdTime, so the default order is fully determined
            await sleep(3);
          }
        });

        it('pages with exact totals', async () => {
          const p0 = await storage.devices.list(tenantId, { pageSize: 3, page: 0 });
          const p1 = await storage.devices.list(tenantId, { pageSize: 3, page: 1 });
          const p2 = await storage.devices.list(tenantId, { pageSize: 3, page: 2 });
          for (const p of [p0, p1, p2]) {
            expect(p.totalElements).toBe(7);
            expect(p.totalPages).toBe(3);
          }
          expect([p0.data.length, p1.data.length, p2.data.length]).toEqual([3, 3, 1]);
          expect([p0.hasNext, p1.hasNext, p2.hasNext]).toEqual([true, true, false]);
          const all = [...p0.data, ...p1.data, ...p2.data].map((d) => d.name);
          expect(new Set(all).size).toBe(7);
          const exact = await storage.devices.list(tenantId, { pageSize: 7, page: 0 });
          expect(exact).toMatchObject({ totalPages: 1, totalElements: 7, hasNext: false });
        });

        it('reports totals on a page past the end', async () => {
          const p = await storage.devices.list(tenantId, { pageSize: 5, page: 9 });
          expect(p).toEqual({ data: [], totalPages: 2, totalElements: 7, hasNext: false });
        });

        it('sorts by createdTime DESC by default', async () => {
          const p = await storage.devices.list(tenantId, { pageSize: 10, page: 0 });
          expect(p.data.map((d) => d.name)).toEqual([...names].reverse());
        });

        it('sorts by name, type, label and createdTime in both directions', async () => {
          const byName = await storage.devices.list(tenantId, { pageSize: 10, page: 0, sortProperty: 'name', sortOrder: 'ASC' });
          const expected = byName.data.map((d) => d.name);
          expect([...expected].sort()).toEqual([...names].sort());
          // Only names whose order no collation disputes are compared (case order varies by locale).
          const pos = (n: string): number => expected.indexOf(n);
          expect(pos('Beta 1')).toBeLessThan(pos('Delta 50%'));
          expect(pos('Delta 50%')).toBeLessThan(pos('Gamma'));
          const byNameDesc = await storage.devices.list(tenantId, { pageSize: 10, page: 0, sortProperty: 'name', sortOrder: 'DESC' });
          expect(byNameDesc.data.map((d) => d.name)).toEqual([...expected].reverse());
          const byLabel = await storage.devices.list(tenantId, { pageSize: 10, page: 0, sortProperty: 'label', sortOrder: 'ASC' });
          expect(byLabel.data.map((d) => d.label)).toEqual(['L0', 'L1', 'L2', 'L3', 'L4', 'L5', 'L6']);
          const byType = await storage.devices.list(tenantId, { pageSize: 10, page: 0, sortProperty: 'type', sortOrder: 'ASC' });
          expect(byType.data.map((d) => d.type)).toEqual(['even', 'even', 'even', 'even', 'odd', 'odd', 'odd']);
          const byCreated = await storage.devices.list(tenantId, { pageSize: 10, page: 0, sortProperty: 'createdTime', sortOrder: 'ASC' });
          expect(byCreated.data.map((d) => d.name)).toEqual(names);
        });

        it('searches names case-insensitively by substring, with totals of the matches', async () => {
          const p = await storage.devices.list(tenantId, { pageSize: 2, page: 0, textSearch: 'ALPHA', sortProperty: 'name', sortOrder: 'ASC' });
          expect(p.totalElements).toBe(3);
          expect(p.totalPages).toBe(2);
          expect(p.hasNext).toBe(true);
          expect(p.data.every((d) => d.name.toLowerCase().includes('alpha'))).toBe(true);
          const mid = await storage.devices.list(tenantId, { pageSize: 10, page: 0, textSearch: 'ta ' });
          expect(mid.data.map((d) => d.name).sort()).toEqual(['Beta 1', 'Delta 50%', 'beta 2'].sort());
          const none = await storage.devices.list(tenantId, { pageSize: 10, page: 0, textSearch: 'zzz' });
          expect(none).toEqual({ data: [], totalPages: 0, totalElements: 0, hasNext: false });
        });

        it('treats LIKE wildcards in the search text literally', async () => {
          const pct = await storage.devices.list(tenantId, { pageSize: 10, page: 0, textSearch: '50%' });
          expect(pct.data.map((d) => d.name)).toEqual(['Delta 50%']);
          const under = await storage.devices.list(tenantId, { pageSize: 10, page: 0, textSearch: 'a_1' });
          expect(under.totalElements).toBe(0);
        });

        it('lists only the tenant’s devices', async () => {
          const other = await tenant();
          expect((await storage.devices.list(other, { pageSize: 10, page: 0 })).totalElements).toBe(0);
        });

        it('rejects an unknown sort property and a bad page size', async () => {
          await expect(storage.devices.list(tenantId, { pageSize: 10, page: 0, sortProperty: 'password' })).rejects.toMatchObject({ code: 'BAD_REQUEST' });
          await expect(storage.devices.list(tenantId, { pageSize: 0, page: 0 })).rejects.toMatchObject({ code: 'BAD_REQUEST' });
        });
      });

      it('deletes a device with its credentials, attributes and time series', async () => {
        const tenantId = await tenant();
        const { device: d, credentials } = await storage.devices.create({ tenantId, name: 'Doomed' });
        const keep = await device(tenantId, 'Survivor');
        for (const id of [d.id, keep.id]) {
          await storage.attributes.save([
            { entityId: id, scope: 'CLIENT_SCOPE', key: 'fw', value: '1.0', lastUpdateTs: T },
            { entityId: id, scope: 'SERVER_SCOPE', key: 'active', value: true, lastUpdateTs: T },
            { entityId: id, scope: 'SHARED_SCOPE', key: 'interval', value: 30, lastUpdateTs: T },
          ]);
          await storage.timeseries.save([point(id, 'temp', T, 20), point(id, 'temp', T + 1, 21), point(id, 'hum', T, 50)]);
        }
        const other = await tenant();
        expect(await storage.devices.delete(other, d.id)).toBe(false);
        expect(await storage.devices.get(tenantId, d.id)).not.toBeNull();

        expect(await storage.devices.delete(tenantId, d.id)).toBe(true);
        expect(await storage.devices.get(tenantId, d.id)).toBeNull();
        expect(await storage.devices.getCredentials(d.id)).toBeNull();
        expect(await storage.devices.findByCredentials('ACCESS_TOKEN', credentials.credentialsId)).toBeNull();
        for (const scope of Object.values(AttributeScope)) expect(await storage.attributes.find(d.id, scope)).toEqual([]);
        expect(await storage.timeseries.count(d.id)).toBe(0);
        expect(await storage.timeseries.findLatest(d.id)).toEqual([]);
        expect(await storage.timeseries.findKeys(d.id)).toEqual([]);
        expect(await storage.devices.delete(tenantId, d.id)).toBe(false);

        // the name is free again, and the other device kept everything
        await device(tenantId, 'Doomed');
        expect(await storage.timeseries.count(keep.id)).toBe(3);
        expect(await storage.attributes.findKeys(keep.id)).toEqual(['active', 'fw', 'interval']);
        expect(await storage.devices.getCredentials(keep.id)).not.toBeNull();
      });
    });

    describe('attributes', () => {
      const values: Record<string, KvValue> = {
        boolTrue: true,
        boolFalse: false,
        long: 42,
        negLong: -7,
        zero: 0,
        bigLong: Number.MAX_SAFE_INTEGER,
        double: 21.5,
        tiny: 1e-7,
        str: 'hello',
        emptyStr: '',
        unicode: 'Grüße 🌡',
        numericStr: '42',
        obj: { a: 1, nested: { b: [true, null, 'x'] } },
        arr: [1, 'two', { three: 3 }],
        emptyArr: [],
      };

      it('saveIfAbsent writes a key once: of concurrent calls exactly one wins, and a stored key is never overwritten', async () => {
        const entityId = newId();
        const marker = (value: KvValue, ts: number) => ({ entityId, scope: 'SERVER_SCOPE' as const, key: 'provisionState', value, lastUpdateTs: ts });
        const wins = await Promise.all([1, 2, 3, 4, 5].map((i) => storage.attributes.saveIfAbsent(marker(`p${i}`, T + i))));
        expect(wins.filter((w) => w)).toHaveLength(1);
        const [stored] = await storage.attributes.find(entityId, 'SERVER_SCOPE', ['provisionState']);
        expect(stored?.value).toBe(`p${wins.indexOf(true) + 1}`);
        expect(await storage.attributes.saveIfAbsent(marker('later', T + 100))).toBe(false);
        expect((await storage.attributes.find(entityId, 'SERVER_SCOPE', ['provisionState']))[0]?.value).toBe(stored?.value);
        // Another scope or key is another attribute; every value type is written as save writes it.
        expect(await storage.attributes.saveIfAbsent({ ...marker(1.5, T), scope: 'SHARED_SCOPE' })).toBe(true);
        expect(await storage.attributes.saveIfAbsent({ ...marker({ a: [1] }, T), key: 'json' })).toBe(true);
        expect((await storage.attributes.find(entityId, 'SHARED_SCOPE'))[0]?.value).toBe(1.5);
        expect((await storage.attributes.find(entityId, 'SERVER_SCOPE', ['json']))[0]?.value).toEqual({ a: [1] });
        await expect(storage.attributes.saveIfAbsent({ ...marker('x', T), entityId: 'not-a-uuid' })).rejects.toThrow(/Invalid entity id/);
      });

      it('round-trips every value type', async () => {
        const entityId = newId();
        await storage.attributes.save(
          Object.entries(values).map(([key, value]) => ({ entityId, scope: 'SERVER_SCOPE' as const, key, value, lastUpdateTs: T })),
        );
        const found = await storage.attributes.find(entityId, 'SERVER_SCOPE');
        expect(found).toHaveLength(Object.keys(values).length);
        for (const kv of found) {
          expect(kv.value).toStrictEqual(values[kv.key]);
          expect(kv.lastUpdateTs).toBe(T);
        }
      });

      it('finds only the requested keys, leaving missing keys out', async () => {
        const entityId = newId();
        await storage.attributes.save([
          { entityId, scope: 'CLIENT_SCOPE', key: 'a', value: 1, lastUpdateTs: T },
          { entityId, scope: 'CLIENT_SCOPE', key: 'b', value: 2, lastUpdateTs: T },
        ]);
        const found = await storage.attributes.find(entityId, 'CLIENT_SCOPE', ['b', 'missing']);
        expect(found).toEqual([{ key: 'b', value: 2, lastUpdateTs: T }]);
        expect(await storage.attributes.find(entityId, 'CLIENT_SCOPE', [])).toEqual([]);
        expect(await storage.attributes.find(newId(), 'CLIENT_SCOPE')).toEqual([]);
      });

      it('keeps scopes apart', async () => {
        const entityId = newId();
        await storage.attributes.save([
          { entityId, scope: 'CLIENT_SCOPE', key: 'mode', value: 'client', lastUpdateTs: T },
          { entityId, scope: 'SHARED_SCOPE', key: 'mode', value: 'shared', lastUpdateTs: T },
          { entityId, scope: 'SERVER_SCOPE', key: 'mode', value: 'server', lastUpdateTs: T },
          { entityId, scope: 'SHARED_SCOPE', key: 'only', value: 1, lastUpdateTs: T },
        ]);
        expect(await storage.attributes.find(entityId, 'CLIENT_SCOPE')).toEqual([{ key: 'mode', value: 'client', lastUpdateTs: T }]);
        expect((await storage.attributes.find(entityId, 'SHARED_SCOPE')).map((a) => [a.key, a.value])).toEqual([
          ['mode', 'shared'],
          ['only', 1],
        ]);
        expect(await storage.attributes.findKeys(entityId, 'SHARED_SCOPE')).toEqual(['mode', 'only']);
        expect(await storage.attributes.findKeys(entityId, 'CLIENT_SCOPE')).toEqual(['mode']);
        expect(await storage.attributes.findKeys(entityId)).toEqual(['mode', 'only']);

        expect(await storage.attributes.delete(entityId, 'SHARED_SCOPE', ['mode', 'absent'])).toBe(1);
        expect((await storage.attributes.find(entityId, 'CLIENT_SCOPE'))[0]?.value).toBe('client');
        expect((await storage.attributes.find(entityId, 'SERVER_SCOPE'))[0]?.value).toBe('server');
        expect(await storage.attributes.findKeys(entityId, 'SHARED_SCOPE')).toEqual(['only']);
        expect(await storage.attributes.delete(entityId, 'SHARED_SCOPE', ['mode'])).toBe(0);
        expect(await storage.attributes.delete(entityId, 'SHARED_SCOPE', [])).toBe(0);
      });

      it('keeps the newest write per key, across calls and within one call', async () => {
        const entityId = newId();
        const w = (key: string, value: KvValue, lastUpdateTs: number) => ({ entityId, scope: 'CLIENT_SCOPE' as const, key, value, lastUpdateTs });
        await storage.attributes.save([w('k', 'new', T + 10)]);
        await storage.attributes.save([w('k', 'old', T)]);
        expect((await storage.attributes.find(entityId, 'CLIENT_SCOPE', ['k']))[0]).toEqual({ key: 'k', value: 'new', lastUpdateTs: T + 10 });
        await storage.attributes.save([w('k', 'newer', T + 20)]);
        expect((await storage.attributes.find(entityId, 'CLIENT_SCOPE', ['k']))[0]?.value).toBe('newer');

        await storage.attributes.save([w('m', 3, T + 3), w('m', 1, T + 1), w('m', 2, T + 2)]);
        expect((await storage.attributes.find(entityId, 'CLIENT_SCOPE', ['m']))[0]).toEqual({ key: 'm', value: 3, lastUpdateTs: T + 3 });
        // equal timestamps: the later item of the call wins
        await storage.attributes.save([w('e', 'first', T), w('e', 'second', T)]);
        expect((await storage.attributes.find(entityId, 'CLIENT_SCOPE', ['e']))[0]?.value).toBe('second');
      });

      it('replaces a value of one type with a value of another', async () => {
        const entityId = newId();
        const w = (value: KvValue, ts: number) => ({ entityId, scope: 'SERVER_SCOPE' as const, key: 'v', value, lastUpdateTs: ts });
        const sequence: KvValue[] = [true, 5, 5.5, 'five', { five: 5 }, [5], false];
        for (const [i, v] of sequence.entries()) {
          await storage.attributes.save([w(v, T + i)]);
          expect((await storage.attributes.find(entityId, 'SERVER_SCOPE'))[0]?.value).toStrictEqual(v);
        }
      });

      it('stores a batch larger than one statement chunk', async () => {
        const entityId = newId();
        const n = 12_000;
        await storage.attributes.save(Array.from({ length: n }, (_, i) => ({ entityId, scope: 'SERVER_SCOPE' as const, key: `k${i}`, value: i, lastUpdateTs: T })));
        expect(await storage.attributes.findKeys(entityId, 'SERVER_SCOPE')).toHaveLength(n);
        expect(await storage.attributes.find(entityId, 'SERVER_SCOPE', ['k11999'])).toEqual([{ key: 'k11999', value: 11999, lastUpdateTs: T }]);
      }, 60_000);
    });

    describe('attributes: number types', () => {
      it('keeps a DOUBLE of integral value a double (double: true), apart from a LONG of the same value', async () => {
        const entityId = newId();
        await storage.attributes.save([
          { entityId, scope: 'SHARED_SCOPE', key: 't', value: 1, lastUpdateTs: T, double: true },
          { entityId, scope: 'SHARED_SCOPE', key: 'n', value: 1, lastUpdateTs: T },
          { entityId, scope: 'SHARED_SCOPE', key: 'zero', value: 0, lastUpdateTs: T, double: true },
        ]);
        const found = Object.fromEntries((await storage.attributes.find(entityId, 'SHARED_SCOPE')).map((a) => [a.key, a]));
        expect(found.t).toEqual({ key: 't', value: 1, lastUpdateTs: T, double: true });
        expect(found.n).toEqual({ key: 'n', value: 1, lastUpdateTs: T });
        expect(found.zero).toEqual({ key: 'zero', value: 0, lastUpdateTs: T, double: true });
        await storage.attributes.save([{ entityId, scope: 'SHARED_SCOPE', key: 't', value: 1, lastUpdateTs: T + 1 }]);
        expect(await storage.attributes.find(entityId, 'SHARED_SCOPE', ['t'])).toEqual([{ key: 't', value: 1, lastUpdateTs: T + 1 }]);
      });
    });

    describe('timeseries', () => {
      const values: Record<string, KvValue> = {
        boolTrue: true,
        boolFalse: false,
        long: 42,
        negLong: -123_456_789_012,
        bigLong: Number.MAX_SAFE_INTEGER,
        double: 21.5,
        negDouble: -0.000123,
        precise: 0.1 + 0.2,
        str: 'hello, "world"',
        emptyStr: '',
        obj: { a: 1, b: { c: [1, 2, { d: null }] } },
        arr: [1, 2, 3],
        arrOfObjects: [{ x: 1 }, { y: 'z' }],
      };

      it('round-trips every value type through latest and history', async () => {
        const entityId = newId();
        await storage.timeseries.save(Object.entries(values).map(([key, value]) => point(entityId, key, T, value)));
        const latest = await storage.timeseries.findLatest(entityId);
        expect(latest).toHaveLength(Object.keys(values).length);
        for (const kv of latest) {
          expect(kv.ts).toBe(T);
          expect(kv.value).toStrictEqual(values[kv.key]);
        }
        const history = await storage.timeseries.findHistory(entityId, { keys: Object.keys(values), startTs: T, endTs: T + 1 });
        for (const [key, value] of Object.entries(values)) expect(history[key]).toEqual([{ key, ts: T, value }]);
        expect(await storage.timeseries.findKeys(entityId)).toEqual(Object.keys(values).sort());
      });

      it('keeps a DOUBLE of integral value a double (double: true), apart from a LONG of the same value', async () => {
        const entityId = newId();
        await storage.timeseries.save([
          { entityId, key: 't', ts: T, value: 1, double: true },
          { entityId, key: 'n', ts: T, value: 1 },
          { entityId, key: 'neg', ts: T, value: -3, double: true },
          { entityId, key: 'frac', ts: T, value: 2.5, double: true },
          { entityId, key: 'big', ts: T, value: 2 ** 60 },
          { entityId, key: 's', ts: T, value: '1.0', double: true }, // only numbers are doubles
        ]);
        const latest = Object.fromEntries((await storage.timeseries.findLatest(entityId)).map((kv) => [kv.key, kv]));
        expect(latest.t).toEqual({ key: 't', ts: T, value: 1, double: true });
        expect(latest.n).toEqual({ key: 'n', ts: T, value: 1 });
        expect(latest.neg).toEqual({ key: 'neg', ts: T, value: -3, double: true });
        expect(latest.frac).toEqual({ key: 'frac', ts: T, value: 2.5 });
        expect(latest.big).toEqual({ key: 'big', ts: T, value: 2 ** 60 });
        expect(latest.s).toEqual({ key: 's', ts: T, value: '1.0' });
        const history = await storage.timeseries.findHistory(entityId, { keys: ['t', 'n'], startTs: T, endTs: T + 1 });
        expect(history.t).toEqual([{ key: 't', ts: T, value: 1, double: true }]);
        expect(history.n).toEqual([{ key: 'n', ts: T, value: 1 }]);
        // a LONG over the same key replaces the double, and the other way round
        await storage.timeseries.save([{ entityId, key: 't', ts: T + 1, value: 1 }, { entityId, key: 'n', ts: T + 1, value: 1, double: true }]);
        const after = Object.fromEntries((await storage.timeseries.findLatest(entityId, ['t', 'n'])).map((kv) => [kv.key, kv]));
        expect(after.t).toEqual({ key: 't', ts: T + 1, value: 1 });
        expect(after.n).toEqual({ key: 'n', ts: T + 1, value: 1, double: true });
      });

      it('is idempotent: the same point twice is one row, the second value replaces the first', async () => {
        const entityId = newId();
        await storage.timeseries.save([point(entityId, 't', T, 1), point(entityId, 't', T + 1, 2)]);
        expect(await storage.timeseries.count(entityId)).toBe(2);
        await storage.timeseries.save([point(entityId, 't', T, 1), point(entityId, 't', T + 1, 2)]);
        expect(await storage.timeseries.count(entityId)).toBe(2);
        await storage.timeseries.save([point(entityId, 't', T, 'replaced')]);
        expect(await storage.timeseries.count(entityId)).toBe(2);
        const h = await storage.timeseries.findHistory(entityId, { keys: ['t'], startTs: T, endTs: T + 2, orderBy: 'ASC' });
        expect(h.t?.map((p) => p.value)).toEqual(['replaced', 2]);
      });

      it('deduplicates a point repeated within one call, the last one winning', async () => {
        const entityId = newId();
        await storage.timeseries.save([point(entityId, 't', T, 1), point(entityId, 't', T, 2), point(entityId, 't', T, 3)]);
        expect(await storage.timeseries.count(entityId)).toBe(1);
        expect(await storage.timeseries.findLatest(entityId, ['t'])).toEqual([{ key: 't', ts: T, value: 3 }]);
      });

      it('never moves the latest value back in time', async () => {
        const entityId = newId();
        await storage.timeseries.save([point(entityId, 't', T + 2000, 'new')]);
        await storage.timeseries.save([point(entityId, 't', T + 1000, 'old')]);
        expect(await storage.timeseries.findLatest(entityId, ['t'])).toEqual([{ key: 't', ts: T + 2000, value: 'new' }]);
        expect(await storage.timeseries.count(entityId)).toBe(2);
        // within one call, in any order
        await storage.timeseries.save([point(entityId, 'u', T + 5, 5), point(entityId, 'u', T + 9, 9), point(entityId, 'u', T + 7, 7)]);
        expect(await storage.timeseries.findLatest(entityId, ['u'])).toEqual([{ key: 'u', ts: T + 9, value: 9 }]);
        // a point at the latest ts replaces the latest value
        await storage.timeseries.save([point(entityId, 't', T + 2000, 'rewritten')]);
        expect((await storage.timeseries.findLatest(entityId, ['t']))[0]?.value).toBe('rewritten');
      });

      it('finds the latest of the requested keys only', async () => {
        const entityId = newId();
        await storage.timeseries.save([point(entityId, 'a', T, 1), point(entityId, 'b', T, 2), point(entityId, 'c', T, 3)]);
        expect((await storage.timeseries.findLatest(entityId, ['c', 'a', 'zz'])).map((kv) => kv.key)).toEqual(['a', 'c']);
        expect(await storage.timeseries.findLatest(entityId, [])).toEqual([]);
        expect(await storage.timeseries.findLatest(newId())).toEqual([]);
      });

      it('replaces a value of one type with a value of another at the same ts', async () => {
        const entityId = newId();
        const sequence: KvValue[] = [1, 1.5, 'one', true, { one: 1 }, [1], 7];
        for (const v of sequence) {
          await storage.timeseries.save([point(entityId, 'v', T, v)]);
          const h = await storage.timeseries.findHistory(entityId, { keys: ['v'], startTs: T, endTs: T + 1 });
          expect(h.v).toEqual([{ key: 'v', ts: T, value: v }]);
          expect(await storage.timeseries.findLatest(entityId, ['v'])).toEqual([{ key: 'v', ts: T, value: v }]);
        }
        expect(await storage.timeseries.count(entityId)).toBe(1);
      });

      it('stores a large batch of 20,000 points in one call', async () => {
        const entityId = newId();
        const n = 20_000;
        const points = Array.from({ length: n }, (_, i) => point(entityId, i % 2 === 0 ? 'even' : 'odd', T + i, i % 3 === 0 ? i : i + 0.5));
        await storage.timeseries.save(points);
        expect(await storage.timeseries.count(entityId)).toBe(n);
        expect(await storage.timeseries.findLatest(entityId)).toEqual([
          { key: 'even', ts: T + 19_998, value: 19_998 }, // 19,998 is a multiple of 3: stored as a long
          { key: 'odd', ts: T + 19_999, value: 19_999.5 },
        ]);
        const counts = await storage.timeseries.findHistory(entityId, { keys: ['even', 'odd'], startTs: T, endTs: T + n, agg: 'COUNT' });
        expect(counts.even).toEqual([{ key: 'even', ts: T + n / 2, value: n / 2 }]);
        expect(counts.odd).toEqual([{ key: 'odd', ts: T + n / 2, value: n / 2 }]);
        // the same batch again adds nothing
        await storage.timeseries.save(points);
        expect(await storage.timeseries.count(entityId)).toBe(n);
      }, 120_000);

      describe('history without aggregation', () => {
        let entityId: string;
        beforeAll(async () => {
          entityId = newId();
          await storage.timeseries.save([
            ...Array.from({ length: 150 }, (_, i) => point(entityId, 'temp', T + i * 10, i)),
            ...Array.from({ length: 5 }, (_, i) => point(entityId, 'hum', T + i * 10, 50 + i)),
          ]);
        });

        it('returns the newest 100 points per key by default', async () => {
          const h = await storage.timeseries.findHistory(entityId, { keys: ['temp', 'hum'], startTs: T, endTs: T + 10_000 });
          expect(h.temp).toHaveLength(100);
          expect(h.temp?.[0]).toEqual({ key: 'temp', ts: T + 1490, value: 149 });
          expect(h.temp?.[99]).toEqual({ key: 'temp', ts: T + 500, value: 50 });
          expect(h.hum?.map((p) => p.value)).toEqual([54, 53, 52, 51, 50]);
        });

        it('applies limit and ascending order per key', async () => {
          const h = await storage.timeseries.findHistory(entityId, { keys: ['temp', 'hum'], startTs: T, endTs: T + 10_000, limit: 3, orderBy: 'ASC' });
          expect(h.temp?.map((p) => p.ts)).toEqual([T, T + 10, T + 20]);
          expect(h.hum?.map((p) => p.value)).toEqual([50, 51, 52]);
        });

        it('includes startTs and excludes endTs', async () => {
          const h = await storage.timeseries.findHistory(entityId, { keys: ['temp'], startTs: T + 100, endTs: T + 150, orderBy: 'ASC' });
          expect(h.temp?.map((p) => p.ts)).toEqual([T + 100, T + 110, T + 120, T + 130, T + 140]);
        });

        it('leaves out keys without points in the range', async () => {
          const h = await storage.timeseries.findHistory(entityId, { keys: ['hum', 'nothing'], startTs: T + 1000, endTs: T + 2000 });
          expect(h).toEqual({});
        });
      });

      describe('history with aggregation', () => {
        // Three 60 ms buckets from T: [T, T+60) [T+60, T+120) [T+120, T+180), reported at their middles.
        let entityId: string;
        beforeAll(async () => {
          entityId = newId();
          await storage.timeseries.save([
            point(entityId, 'temp', T - 1, 1000), // before the range
            point(entityId, 'temp', T, 10),
            point(entityId, 'temp', T + 10, 20.5),
            point(entityId, 'temp', T + 20, 30),
            point(entityId, 'temp', T + 60, 5),
            point(entityId, 'temp', T + 70, 'text'), // counted by COUNT only
            point(entityId, 'temp', T + 130, 7.25),
            point(entityId, 'temp', T + 180, 1000), // at endTs: excluded
            point(entityId, 'state', T + 5, 'on'),
            point(entityId, 'state', T + 65, 'off'),
          ]);
        });

        const range = { startTs: T, endTs: T + 180, interval: 60 };
        const series = async (agg: 'AVG' | 'MIN' | 'MAX' | 'SUM' | 'COUNT', extra: { orderBy?: 'ASC' | 'DESC'; interval?: number } = {}) =>
          (await storage.timeseries.findHistory(entityId, { keys: ['temp'], ...range, agg, ...extra })).temp?.map((p) => [p.ts - T, p.value]);

        it('averages', async () => {
          const avg = await series('AVG');
          expect(avg).toHaveLength(3);
          expect(avg?.map((x) => x[0])).toEqual([30, 90, 150]);
          expect(avg?.[0]?.[1]).toBeCloseTo(60.5 / 3, 10);
          expect(avg?.[1]?.[1]).toBe(5);
          expect(avg?.[2]?.[1]).toBe(7.25);
        });

        it('takes minimum, maximum, sum and count', async () => {
          expect(await series('MIN')).toEqual([[30, 10], [90, 5], [150, 7.25]]);
          expect(await series('MAX')).toEqual([[30, 30], [90, 5], [150, 7.25]]);
          expect(await series('SUM')).toEqual([[30, 60.5], [90, 5], [150, 7.25]]);
          expect(await series('COUNT')).toEqual([[30, 3], [90, 2], [150, 1]]);
        });

        it('orders buckets oldest first unless told otherwise', async () => {
          expect(await series('COUNT', { orderBy: 'DESC' })).toEqual([[150, 1], [90, 2], [30, 3]]);
        });

        it('uses the whole range as one bucket when no interval is given', async () => {
          const one = await storage.timeseries.findHistory(entityId, { keys: ['temp'], startTs: T, endTs: T + 180, agg: 'AVG' });
          expect(one.temp).toHaveLength(1);
          expect(one.temp?.[0]?.ts).toBe(T + 90);
          expect(one.temp?.[0]?.value).toBeCloseTo((10 + 20.5 + 30 + 5 + 7.25) / 5, 10);
          const count = await storage.timeseries.findHistory(entityId, { keys: ['temp'], startTs: T, endTs: T + 180, agg: 'COUNT' });
          expect(count.temp).toEqual([{ key: 'temp', ts: T + 90, value: 6 }]);
        });

        it('counts non-numeric values but leaves them out of numeric aggregates', async () => {
          const count = await storage.timeseries.findHistory(entityId, { keys: ['state'], ...range, agg: 'COUNT' });
          expect(count.state?.map((p) => p.value)).toEqual([1, 1]);
          const avg = await storage.timeseries.findHistory(entityId, { keys: ['state'], ...range, agg: 'AVG' });
          expect(avg.state).toBeUndefined();
        });

        it('aggregates several keys at once', async () => {
          const h = await storage.timeseries.findHistory(entityId, { keys: ['temp', 'state'], ...range, agg: 'COUNT' });
          expect(Object.keys(h).sort()).toEqual(['state', 'temp']);
        });
      });

      it('deletes a range and recomputes the latest value from what is left', async () => {
        const entityId = newId();
        await storage.timeseries.save([
          point(entityId, 'a', T, 1),
          point(entityId, 'a', T + 10, 2),
          point(entityId, 'a', T + 20, 3),
          point(entityId, 'b', T + 20, 'b'),
        ]);
        // deleting [T+10, T+30) of 'a' removes 2 points, the latest falls back to T
        expect(await storage.timeseries.delete(entityId, ['a'], T + 10, T + 30)).toBe(2);
        expect(await storage.timeseries.findLatest(entityId)).toEqual([
          { key: 'a', ts: T, value: 1 },
          { key: 'b', ts: T + 20, value: 'b' },
        ]);
        expect(await storage.timeseries.count(entityId)).toBe(2);
        // deleting a range that does not hold the latest leaves it alone
        await storage.timeseries.save([point(entityId, 'a', T + 50, 5)]);
        expect(await storage.timeseries.delete(entityId, ['a'], T, T + 1)).toBe(1);
        expect(await storage.timeseries.findLatest(entityId, ['a'])).toEqual([{ key: 'a', ts: T + 50, value: 5 }]);
        // deleting everything removes the latest value and the key
        expect(await storage.timeseries.delete(entityId, ['a', 'b'], 0, T + 1_000_000)).toBe(2);
        expect(await storage.timeseries.findLatest(entityId)).toEqual([]);
        expect(await storage.timeseries.findKeys(entityId)).toEqual([]);
        expect(await storage.timeseries.delete(entityId, ['a'], 0, T + 1_000_000)).toBe(0);
      });

      it("deletes with ThingsBoard's latest-value options: keep it, or drop it without a replacement", async () => {
        const entityId = newId();
        await storage.timeseries.save([point(entityId, 'a', T, 1), point(entityId, 'a', T + 10, 2), point(entityId, 'b', T, 1), point(entityId, 'b', T + 10, 2)]);
        // deleteLatest false: the points go, the latest value stays as it was
        expect(await storage.timeseries.delete(entityId, ['a'], T + 5, T + 20, { deleteLatest: false })).toBe(1);
        expect(await storage.timeseries.findLatest(entityId, ['a'])).toEqual([{ key: 'a', ts: T + 10, value: 2 }]);
        // rewriteLatest false: the latest value goes and the older point left does not replace it
        expect(await storage.timeseries.delete(entityId, ['b'], T + 5, T + 20, { rewriteLatest: false })).toBe(1);
        expect(await storage.timeseries.findLatest(entityId, ['b'])).toEqual([]);
        expect(await storage.timeseries.count(entityId)).toBe(2);
      });

      it('counts points per entity and in total', async () => {
        const e1 = newId();
        const e2 = newId();
        const before = await storage.timeseries.count();
        await storage.timeseries.save([point(e1, 'x', T, 1), point(e1, 'x', T + 1, 1), point(e2, 'x', T, 1)]);
        expect(await storage.timeseries.count(e1)).toBe(2);
        expect(await storage.timeseries.count(e2)).toBe(1);
        expect(await storage.timeseries.count()).toBe(before + 3);
      });

      it('accepts an empty batch', async () => {
        await storage.timeseries.save([]);
        await storage.attributes.save([]);
      });
    });

    describe('rule chains', () => {
      const metadata = { firstNodeIndex: 0, nodes: [{ type: 'saveTimeseries', name: 'Save', configuration: { ttl: 0 } }], connections: [] };

      it('inserts, gets and updates by id, keeping createdTime', async () => {
        const tenantId = await tenant();
        const id = newId();
        const saved = await storage.ruleChains.save({ id, tenantId, name: 'Main', root: false, debugMode: true, metadata });
        expect(saved).toMatchObject({ id, tenantId, name: 'Main', root: false, debugMode: true, metadata });
        expect(saved.updatedTime).toBeGreaterThanOrEqual(saved.createdTime);
        expect(await storage.ruleChains.get(tenantId, id)).toEqual(saved);
        await sleep(3);
        const updated = await storage.ruleChains.save({ id, tenantId, name: 'Main v2', root: false, debugMode: false, metadata: { nodes: [] } });
        expect(updated).toMatchObject({ name: 'Main v2', debugMode: false, metadata: { nodes: [] }, createdTime: saved.createdTime });
        expect(updated.updatedTime).toBeGreaterThan(saved.updatedTime);
        expect(await storage.ruleChains.get(await tenant(), id)).toBeNull();
      });

      it('counts versions and refuses a save that expects a stale one (optimistic lock)', async () => {
        const tenantId = await tenant();
        const id = newId();
        const base = { id, tenantId, name: 'Locked', root: false, debugMode: false, metadata };
        const v1 = await storage.ruleChains.save(base);
        expect(v1.version).toBe(1);
        const v2 = await storage.ruleChains.save({ ...base, name: 'Tab A', expectedVersion: 1 });
        expect(v2.version).toBe(2);
        // a second tab that read version 1 is told, and nothing of its save is stored
        await expect(storage.ruleChains.save({ ...base, name: 'Tab B', expectedVersion: 1 })).rejects.toMatchObject({ code: 'CONFLICT', message: expect.stringMatching(/version mismatch/) });
        expect(await storage.ruleChains.get(tenantId, id)).toMatchObject({ name: 'Tab A', version: 2 });
        // without an expected version the save goes through (ThingsBoard's clients that send none)
        expect((await storage.ruleChains.save({ ...base, name: 'No lock' })).version).toBe(3);
        // a change that is not an edit keeps the version
        expect((await storage.ruleChains.save({ ...base, name: 'No lock', keepVersion: true, expectedVersion: 3 })).version).toBe(3);
        // another tenant's chain is still a conflict of ownership, not of versions
        await expect(storage.ruleChains.save({ ...base, tenantId: await tenant(), expectedVersion: 3 })).rejects.toMatchObject({ message: expect.stringMatching(/another tenant/) });
      });

      it('keeps a given createdTime on insert', async () => {
        const tenantId = await tenant();
        const rc = await storage.ruleChains.save({ id: newId(), tenantId, name: 'Imported', root: false, debugMode: false, metadata: {}, createdTime: T });
        expect(rc.createdTime).toBe(T);
      });

      it('switches the root chain so a tenant has exactly one', async () => {
        const tenantId = await tenant();
        const otherTenant = await tenant();
        expect(await storage.ruleChains.getRoot(tenantId)).toBeNull();
        const a = await storage.ruleChains.save({ id: newId(), tenantId, name: 'A', root: true, debugMode: false, metadata });
        const b = await storage.ruleChains.save({ id: newId(), tenantId, name: 'B', root: false, debugMode: false, metadata });
        const o = await storage.ruleChains.save({ id: newId(), tenantId: otherTenant, name: 'O', root: true, debugMode: false, metadata });
        expect((await storage.ruleChains.getRoot(tenantId))?.id).toBe(a.id);

        await storage.ruleChains.setRoot(tenantId, b.id);
        expect((await storage.ruleChains.getRoot(tenantId))?.id).toBe(b.id);
        expect((await storage.ruleChains.get(tenantId, a.id))?.root).toBe(false);
        // setting the current root again changes nothing
        await storage.ruleChains.setRoot(tenantId, b.id);
        expect((await storage.ruleChains.getRoot(tenantId))?.id).toBe(b.id);

        // saving a chain as root demotes the previous one
        const c = await storage.ruleChains.save({ id: newId(), tenantId, name: 'C', root: true, debugMode: false, metadata });
        expect((await storage.ruleChains.getRoot(tenantId))?.id).toBe(c.id);
        expect((await storage.ruleChains.get(tenantId, b.id))?.root).toBe(false);

        // other tenants are untouched
        expect((await storage.ruleChains.getRoot(otherTenant))?.id).toBe(o.id);
        await expect(storage.ruleChains.setRoot(tenantId, o.id)).rejects.toMatchObject({ code: 'NOT_FOUND' });
        await expect(storage.ruleChains.setRoot(tenantId, newId())).rejects.toMatchObject({ code: 'NOT_FOUND' });
        expect((await storage.ruleChains.getRoot(tenantId))?.id).toBe(c.id);
      });

      it('lists with paging and text search', async () => {
        const tenantId = await tenant();
        for (const n of ['Root chain', 'Thermostat', 'Thermo alarms', 'Other']) {
          await storage.ruleChains.save({ id: newId(), tenantId, name: n, root: false, debugMode: false, metadata });
          await sleep(3);
        }
        const p = await storage.ruleChains.list(tenantId, { pageSize: 3, page: 0 });
        expect(p).toMatchObject({ totalElements: 4, totalPages: 2, hasNext: true });
        expect(p.data.map((r) => r.name)).toEqual(['Other', 'Thermo alarms', 'Thermostat']);
        const s = await storage.ruleChains.list(tenantId, { pageSize: 10, page: 0, textSearch: 'THERMO', sortProperty: 'name', sortOrder: 'ASC' });
        expect(s.data.map((r) => r.name)).toEqual(['Thermo alarms', 'Thermostat']);
        expect(s.totalElements).toBe(2);
      });

      it('deletes a chain of its tenant only', async () => {
        const tenantId = await tenant();
        const rc = await storage.ruleChains.save({ id: newId(), tenantId, name: 'Gone', root: false, debugMode: false, metadata });
        expect(await storage.ruleChains.delete(await tenant(), rc.id)).toBe(false);
        expect(await storage.ruleChains.delete(tenantId, rc.id)).toBe(true);
        expect(await storage.ruleChains.get(tenantId, rc.id)).toBeNull();
        expect(await storage.ruleChains.delete(tenantId, rc.id)).toBe(false);
      });
    });

    describe('rule chain configuration', () => {
      it('keeps configuration and additionalInfo, null when not given', async () => {
        const tenantId = await tenant();
        const id = newId();
        const plain = await storage.ruleChains.save({ id, tenantId, name: 'Plain', root: false, debugMode: false, metadata: { nodes: [] } });
        expect(plain.configuration).toBeNull();
        expect(plain.additionalInfo).toBeNull();
        const configuration = { processingStrategy: { type: 'RETRY_FAILED', retries: 2, pauseBetweenRetriesMs: 10 } };
        const saved = await storage.ruleChains.save({ id, tenantId, name: 'Plain', root: false, debugMode: false, metadata: { nodes: [] }, configuration, additionalInfo: { description: 'd' } });
        expect(saved).toMatchObject({ configuration, additionalInfo: { description: 'd' } });
        expect(await storage.ruleChains.get(tenantId, id)).toEqual(saved);
      });
    });

    describe('dashboards', () => {
      const configuration = {
        description: 'Plant floor',
        widgets: { 'w-1': { typeFullFqn: 'system.time_series_chart', type: 'timeseries', sizeX: 8, sizeY: 5, config: { datasources: [] } } },
        states: { default: { name: 'Plant', root: true, layouts: { main: { widgets: { 'w-1': { sizeX: 8, sizeY: 5, row: 0, col: 0 } } } } } },
        entityAliases: {},
        settings: { showTitle: false },
      };

      it('creates a dashboard with a generated id and reads it back whole', async () => {
        const tenantId = await tenant();
        const before = Date.now();
        const d = await storage.dashboards.save({ tenantId, title: 'Plant', description: 'd', configuration });
        expect(d).toMatchObject({ tenantId, title: 'Plant', description: 'd', configuration });
        expect(d.id).toMatch(/^[0-9a-f-]{36}$/);
        expect(d.createdTime).toBeGreaterThanOrEqual(before);
        expect(await storage.dashboards.get(tenantId, d.id)).toEqual(d);
        const plain = await storage.dashboards.save({ tenantId, title: 'Empty', configuration: {} });
        expect(plain).toMatchObject({ description: null, configuration: {} });
      });

      it('keeps JSON values of every type in the configuration', async () => {
        const tenantId = await tenant();
        const odd = { s: 'x', n: 1.5, i: -3, b: false, z: null, a: [1, 'two', { three: [3] }], nested: { deep: { deeper: {} } }, unicode: 'Grad °C ✓' };
        const d = await storage.dashboards.save({ tenantId, title: 'Types', configuration: odd });
        expect((await storage.dashboards.get(tenantId, d.id))?.configuration).toEqual(odd);
      });

      it('updates by id, keeping createdTime, within its tenant only', async () => {
        const tenantId = await tenant();
        const d = await storage.dashboards.save({ tenantId, title: 'V1', description: 'first', configuration });
        await sleep(3);
        const updated = await storage.dashboards.save({ id: d.id, tenantId, title: 'V2', configuration: { widgets: {} } });
        expect(updated).toEqual({ id: d.id, tenantId, title: 'V2', description: null, configuration: { widgets: {} }, createdTime: d.createdTime });
        expect(await storage.dashboards.get(tenantId, d.id)).toEqual(updated);
        // Another tenant can neither see it nor overwrite it.
        const other = await tenant();
        expect(await storage.dashboards.get(other, d.id)).toBeNull();
        await expect(storage.dashboards.save({ id: d.id, tenantId: other, title: 'Stolen', configuration: {} })).rejects.toMatchObject({ code: 'CONFLICT' });
        expect((await storage.dashboards.get(tenantId, d.id))?.title).toBe('V2');
      });

      it('keeps a given id on insert and refuses a malformed one', async () => {
        const tenantId = await tenant();
        const id = newId();
        expect((await storage.dashboards.save({ id, tenantId, title: 'Given', configuration: {} })).id).toBe(id);
        await expect(storage.dashboards.save({ id: 'nope', tenantId, title: 'Bad', configuration: {} })).rejects.toMatchObject({ code: 'BAD_REQUEST' });
        await expect(storage.dashboards.save({ tenantId: 'nope', title: 'Bad', configuration: {} })).rejects.toMatchObject({ code: 'BAD_REQUEST' });
      });

      it('returns null for an unknown or malformed id', async () => {
        const tenantId = await tenant();
        expect(await storage.dashboards.get(tenantId, newId())).toBeNull();
        expect(await storage.dashboards.get(tenantId, 'not-a-uuid')).toBeNull();
        expect(await storage.dashboards.get('not-a-uuid', newId())).toBeNull();
      });

      describe('list', () => {
        let tenantId: string;
        const titles = ['Alpha plant', 'alpha line', 'Beta', 'Gamma 50%', 'ALPHA yard'];

        beforeAll(async () => {
          tenantId = await tenant();
          for (const title of titles) {
            await storage.dashboards.save({ tenantId, title, configuration });
            // distinct createdTime, so the default order is fully determined
            await sleep(3);
          }
        });

        it('pages with exact totals, newest first by default, without configurations', async () => {
          const p0 = await storage.dashboards.list(tenantId, { pageSize: 2, page: 0 });
          const p2 = await storage.dashboards.list(tenantId, { pageSize: 2, page: 2 });
          expect(p0).toMatchObject({ totalElements: 5, totalPages: 3, hasNext: true });
          expect(p2).toMatchObject({ totalElements: 5, totalPages: 3, hasNext: false });
          expect(p0.data.map((d) => d.title)).toEqual(['ALPHA yard', 'Gamma 50%']);
          expect(p2.data.map((d) => d.title)).toEqual(['Alpha plant']);
          for (const d of p0.data) {
            expect(d).not.toHaveProperty('configuration');
            expect(d).toMatchObject({ tenantId, description: null });
          }
          expect(await storage.dashboards.list(tenantId, { pageSize: 5, page: 7 })).toEqual({ data: [], totalPages: 1, totalElements: 5, hasNext: false });
        });

        it('sorts by title and createdTime in both directions', async () => {
          const byTitle = await storage.dashboards.list(tenantId, { pageSize: 10, page: 0, sortProperty: 'title', sortOrder: 'ASC' });
          const expected = byTitle.data.map((d) => d.title);
          expect([...expected].sort()).toEqual([...titles].sort());
          // Only titles whose order no collation disputes are compared (case order varies by locale).
          expect(expected.indexOf('Beta')).toBeLessThan(expected.indexOf('Gamma 50%'));
          const byTitleDesc = await storage.dashboards.list(tenantId, { pageSize: 10, page: 0, sortProperty: 'title', sortOrder: 'DESC' });
          expect(byTitleDesc.data.map((d) => d.title)).toEqual([...expected].reverse());
          const byCreated = await storage.dashboards.list(tenantId, { pageSize: 10, page: 0, sortProperty: 'createdTime', sortOrder: 'ASC' });
          expect(byCreated.data.map((d) => d.title)).toEqual(titles);
        });

        it('searches titles case-insensitively by substring, wildcards taken literally', async () => {
          const p = await storage.dashboards.list(tenantId, { pageSize: 2, page: 0, textSearch: 'ALPHA', sortProperty: 'createdTime', sortOrder: 'ASC' });
          expect(p).toMatchObject({ totalElements: 3, totalPages: 2, hasNext: true });
          expect(p.data.map((d) => d.title)).toEqual(['Alpha plant', 'alpha line']);
          expect((await storage.dashboards.list(tenantId, { pageSize: 10, page: 0, textSearch: '50%' })).data.map((d) => d.title)).toEqual(['Gamma 50%']);
          expect((await storage.dashboards.list(tenantId, { pageSize: 10, page: 0, textSearch: 'a_p' })).totalElements).toBe(0);
          expect(await storage.dashboards.list(tenantId, { pageSize: 10, page: 0, textSearch: 'zzz' })).toEqual({ data: [], totalPages: 0, totalElements: 0, hasNext: false });
        });

        it('lists only the tenant’s dashboards', async () => {
          expect((await storage.dashboards.list(await tenant(), { pageSize: 10, page: 0 })).totalElements).toBe(0);
        });

        it('rejects an unknown sort property and a bad page size', async () => {
          await expect(storage.dashboards.list(tenantId, { pageSize: 10, page: 0, sortProperty: 'configuration' })).rejects.toMatchObject({ code: 'BAD_REQUEST' });
          await expect(storage.dashboards.list(tenantId, { pageSize: 0, page: 0 })).rejects.toMatchObject({ code: 'BAD_REQUEST' });
        });
      });

      it('deletes a dashboard of its tenant only', async () => {
        const tenantId = await tenant();
        const d = await storage.dashboards.save({ tenantId, title: 'Gone', configuration });
        expect(await storage.dashboards.delete(await tenant(), d.id)).toBe(false);
        expect(await storage.dashboards.delete(tenantId, 'not-a-uuid')).toBe(false);
        expect(await storage.dashboards.delete(tenantId, d.id)).toBe(true);
        expect(await storage.dashboards.get(tenantId, d.id)).toBeNull();
        expect(await storage.dashboards.delete(tenantId, d.id)).toBe(false);
      });
    });

    describe('alarms', () => {
      const input = (tenantId: string, originatorId: string, over: Partial<Parameters<Storage['alarms']['createOrUpdate']>[0]> = {}) => ({
        tenantId,
        type: 'High Temperature',
        originatorType: 'DEVICE',
        originatorId,
        severity: 'MAJOR' as const,
        details: { temperature: 31 },
        ts: T,
        ...over,
      });

      it('creates an alarm, then updates the active one of the same originator and type', async () => {
        const tenantId = await tenant();
        const originatorId = newId();
        const first = await storage.alarms.createOrUpdate(input(tenantId, originatorId));
        expect(first.created).toBe(true);
        expect(first.alarm).toMatchObject({
          tenantId,
          type: 'High Temperature',
          originatorType: 'DEVICE',
          originatorId,
          severity: 'MAJOR',
          acknowledged: false,
          cleared: false,
          startTs: T,
          endTs: T,
          ackTs: 0,
          clearTs: 0,
          details: { temperature: 31 },
        });
        expect(await storage.alarms.get(tenantId, first.alarm.id)).toEqual(first.alarm);
        expect(await storage.alarms.findActive(tenantId, originatorId, 'High Temperature')).toEqual(first.alarm);

        const second = await storage.alarms.createOrUpdate(input(tenantId, originatorId, { severity: 'CRITICAL', details: { temperature: 35 }, ts: T + 1000 }));
        expect(second.created).toBe(false);
        expect(second.alarm).toMatchObject({ id: first.alarm.id, severity: 'CRITICAL', startTs: T, endTs: T + 1000, details: { temperature: 35 } });
        // details left out keep theirs; an older ts does not move endTs back
        const third = await storage.alarms.createOrUpdate(input(tenantId, originatorId, { details: undefined, ts: T + 10 }));
        expect(third.alarm).toMatchObject({ id: first.alarm.id, endTs: T + 1000, details: { temperature: 35 } });

        // another type, another originator, another tenant: separate alarms
        const otherType = await storage.alarms.createOrUpdate(input(tenantId, originatorId, { type: 'Low Battery' }));
        const otherOriginator = await storage.alarms.createOrUpdate(input(tenantId, newId()));
        const otherTenant = await storage.alarms.createOrUpdate(input(await tenant(), originatorId));
        for (const r of [otherType, otherOriginator, otherTenant]) {
          expect(r.created).toBe(true);
          expect(r.alarm.id).not.toBe(first.alarm.id);
        }
      });

      it('keeps one active alarm per originator and type under concurrent creates', async () => {
        const tenantId = await tenant();
        const originatorId = newId();
        const results = await Promise.all(Array.from({ length: 20 }, (_, i) => storage.alarms.createOrUpdate(input(tenantId, originatorId, { ts: T + i }))));
        expect(results.filter((r) => r.created)).toHaveLength(1);
        expect(new Set(results.map((r) => r.alarm.id)).size).toBe(1);
        const page = await storage.alarms.list(tenantId, { pageSize: 10, page: 0, originatorId });
        expect(page.totalElements).toBe(1);
        expect(page.data[0]?.endTs).toBe(T + 19);
      });

      it('acknowledges and clears independently; a cleared alarm frees the slot for a new one', async () => {
        const tenantId = await tenant();
        const originatorId = newId();
        const { alarm } = await storage.alarms.createOrUpdate(input(tenantId, originatorId));
        const acked = await storage.alarms.acknowledge(tenantId, alarm.id, T + 5);
        expect(acked).toMatchObject({ id: alarm.id, acknowledged: true, ackTs: T + 5, cleared: false });
        // acknowledging again keeps the first ackTs
        expect((await storage.alarms.acknowledge(tenantId, alarm.id, T + 50))?.ackTs).toBe(T + 5);

        const cleared = await storage.alarms.clear(tenantId, alarm.id, T + 9, { clearedBy: 'test' });
        expect(cleared).toMatchObject({ id: alarm.id, cleared: true, clearTs: T + 9, acknowledged: true, details: { clearedBy: 'test' } });
        expect((await storage.alarms.clear(tenantId, alarm.id, T + 99))?.clearTs).toBe(T + 9);
        expect(await storage.alarms.findActive(tenantId, originatorId, 'High Temperature')).toBeNull();

        const next = await storage.alarms.createOrUpdate(input(tenantId, originatorId, { ts: T + 100 }));
        expect(next.created).toBe(true);
        expect(next.alarm.id).not.toBe(alarm.id);
        expect((await storage.alarms.findActive(tenantId, originatorId, 'High Temperature'))?.id).toBe(next.alarm.id);

        // unknown or other tenant's alarms
        const other = await tenant();
        expect(await storage.alarms.acknowledge(other, alarm.id, T)).toBeNull();
        expect(await storage.alarms.clear(other, next.alarm.id, T)).toBeNull();
        expect(await storage.alarms.get(other, alarm.id)).toBeNull();
        expect(await storage.alarms.acknowledge(tenantId, newId(), T)).toBeNull();
        expect(await storage.alarms.get(tenantId, 'not-a-uuid')).toBeNull();
      });

      it('lists with status, severity, type and text filters, paged', async () => {
        const tenantId = await tenant();
        const d1 = newId();
        const d2 = newId();
        const a = (await storage.alarms.createOrUpdate(input(tenantId, d1, { type: 'A', severity: 'CRITICAL' }))).alarm; // active unack
        await sleep(3);
        const b = (await storage.alarms.createOrUpdate(input(tenantId, d1, { type: 'B', severity: 'MINOR' }))).alarm;
        await storage.alarms.acknowledge(tenantId, b.id, T); // active ack
        await sleep(3);
        const c = (await storage.alarms.createOrUpdate(input(tenantId, d2, { type: 'C', severity: 'CRITICAL' }))).alarm;
        await storage.alarms.clear(tenantId, c.id, T); // cleared unack
        await sleep(3);
        const d = (await storage.alarms.createOrUpdate(input(tenantId, d2, { type: 'Door open', severity: 'WARNING' }))).alarm;
        await storage.alarms.acknowledge(tenantId, d.id, T);
        await storage.alarms.clear(tenantId, d.id, T); // cleared ack

        const ids = async (q: Omit<Parameters<Storage['alarms']['list']>[1], 'pageSize' | 'page'>) =>
          (await storage.alarms.list(tenantId, { pageSize: 100, page: 0, ...q })).data.map((x) => x.id);
        expect(await ids({})).toEqual([d.id, c.id, b.id, a.id]); // newest first
        expect(await ids({ searchStatus: 'ANY' })).toHaveLength(4);
        expect(await ids({ searchStatus: 'ACTIVE' })).toEqual([b.id, a.id]);
        expect(await ids({ searchStatus: 'CLEARED' })).toEqual([d.id, c.id]);
        expect(await ids({ searchStatus: 'ACK' })).toEqual([d.id, b.id]);
        expect(await ids({ searchStatus: 'UNACK' })).toEqual([c.id, a.id]);
        expect(await ids({ status: 'ACTIVE_UNACK' })).toEqual([a.id]);
        expect(await ids({ status: 'ACTIVE_ACK' })).toEqual([b.id]);
        expect(await ids({ status: 'CLEARED_UNACK' })).toEqual([c.id]);
        expect(await ids({ status: 'CLEARED_ACK' })).toEqual([d.id]);
        expect(await ids({ severity: 'CRITICAL' })).toEqual([c.id, a.id]);
        expect(await ids({ originatorId: d1 })).toEqual([b.id, a.id]);
        expect(await ids({ originatorId: d2, searchStatus: 'CLEARED', severity: 'WARNING' })).toEqual([d.id]);
        expect(await ids({ type: 'B' })).toEqual([b.id]);
        expect(await ids({ textSearch: 'door' })).toEqual([d.id]);
        expect(await ids({ textSearch: 'minor' })).toEqual([b.id]);
        expect(await ids({ sortProperty: 'type', sortOrder: 'ASC' })).toEqual([a.id, b.id, c.id, d.id]);
        expect(await ids({ originatorId: 'not-a-uuid' })).toEqual([]);

        const p = await storage.alarms.list(tenantId, { pageSize: 3, page: 1 });
        expect(p).toMatchObject({ totalElements: 4, totalPages: 2, hasNext: false });
        expect(p.data.map((x) => x.id)).toEqual([a.id]);
        expect((await storage.alarms.list(await tenant(), { pageSize: 10, page: 0 })).totalElements).toBe(0);
      });

      it('deletes an alarm of its tenant only', async () => {
        const tenantId = await tenant();
        const { alarm } = await storage.alarms.createOrUpdate(input(tenantId, newId()));
        expect(await storage.alarms.delete(await tenant(), alarm.id)).toBe(false);
        expect(await storage.alarms.delete(tenantId, alarm.id)).toBe(true);
        expect(await storage.alarms.get(tenantId, alarm.id)).toBeNull();
        expect(await storage.alarms.delete(tenantId, alarm.id)).toBe(false);
      });

      it('rejects bad input', async () => {
        const tenantId = await tenant();
        await expect(storage.alarms.createOrUpdate(input(tenantId, 'nope'))).rejects.toMatchObject({ code: 'BAD_REQUEST' });
        await expect(storage.alarms.createOrUpdate(input(tenantId, newId(), { type: ' ' }))).rejects.toMatchObject({ code: 'BAD_REQUEST' });
        await expect(storage.alarms.createOrUpdate(input(tenantId, newId(), { severity: 'HUGE' as never }))).rejects.toMatchObject({ code: 'BAD_REQUEST' });
      });
    });

    describe('rule node debug events', () => {
      const event = (tenantId: string, chainId: string, nodeIndex: number, ts: number, over: Partial<DebugEventRecord> = {}): DebugEventRecord => ({
        tenantId,
        chainId,
        nodeIndex,
        nodeName: `node ${nodeIndex}`,
        nodeType: 'rivulet.action.log',
        ts,
        direction: 'IN',
        relation: null,
        msgId: newId(),
        msgType: 'POST_TELEMETRY_REQUEST',
        originatorType: 'DEVICE',
        originatorId: newId(),
        data: { temperature: 21.5, nested: { a: [1, 'x', null] } },
        metadata: { deviceName: 'd1', ts: String(ts) },
        error: null,
        durationMs: null,
        ...over,
      });

      it('saves a batch and lists a node’s events newest first, paged', async () => {
        const tenantId = await tenant();
        const chainId = newId();
        const events = [
          event(tenantId, chainId, 0, T),
          event(tenantId, chainId, 0, T + 1, { direction: 'OUT', relation: 'Success', durationMs: 1.25 }),
          event(tenantId, chainId, 1, T + 2, { direction: 'OUT', relation: 'Failure', error: 'boom', data: 'text', durationMs: 3 }),
          event(tenantId, chainId, 0, T + 3, { data: null }),
        ];
        await storage.debugEvents.saveBatch(events);
        const p = await storage.debugEvents.list(tenantId, chainId, 0, { pageSize: 2, page: 0 });
        expect(p).toMatchObject({ totalElements: 3, totalPages: 2, hasNext: true });
        expect(p.data.map((e) => e.ts)).toEqual([T + 3, T + 1]);
        const { id, ...rest } = p.data[1]!;
        expect(id).toEqual(expect.any(String));
        expect(rest).toEqual({ ...events[1], id: undefined, data: events[1]!.data });
        expect(p.data[0]?.data).toBeNull();
        const failure = (await storage.debugEvents.list(tenantId, chainId, 1, { pageSize: 10, page: 0 })).data;
        expect(failure).toHaveLength(1);
        expect(failure[0]).toMatchObject({ direction: 'OUT', relation: 'Failure', error: 'boom', data: 'text', durationMs: 3 });
        expect((await storage.debugEvents.list(tenantId, chainId, undefined, { pageSize: 10, page: 0 })).totalElements).toBe(4);
        expect(await storage.debugEvents.count(tenantId, chainId)).toBe(4);
        expect(await storage.debugEvents.count(tenantId, chainId, 1)).toBe(1);
        // another tenant sees none of them
        expect(await storage.debugEvents.count(await tenant(), chainId)).toBe(0);
        expect((await storage.debugEvents.list(await tenant(), chainId, 0, { pageSize: 10, page: 0 })).data).toEqual([]);
      });

      it('keeps events of one ms in the order they were written', async () => {
        const tenantId = await tenant();
        const chainId = newId();
        await storage.debugEvents.saveBatch([event(tenantId, chainId, 0, T, { msgType: 'first' }), event(tenantId, chainId, 0, T, { msgType: 'second', direction: 'OUT', relation: 'Success' })]);
        const p = await storage.debugEvents.list(tenantId, chainId, 0, { pageSize: 10, page: 0 });
        expect(p.data.map((e) => e.msgType)).toEqual(['second', 'first']);
      });

      it('caps the events kept per node', async () => {
        const tenantId = await tenant();
        const chainId = newId();
        const otherChain = newId();
        await storage.debugEvents.saveBatch(Array.from({ length: 5 }, (_, i) => event(tenantId, otherChain, 0, T + i)));
        for (let round = 0; round < 3; round++) {
          await storage.debugEvents.saveBatch(
            Array.from({ length: 8 }, (_, i) => event(tenantId, chainId, i % 2, T + round * 100 + i)),
            { maxPerNode: 6 },
          );
        }
        expect(await storage.debugEvents.count(tenantId, chainId, 0)).toBe(6);
        expect(await storage.debugEvents.count(tenantId, chainId, 1)).toBe(6);
        const kept = await storage.debugEvents.list(tenantId, chainId, 0, { pageSize: 10, page: 0 });
        expect(kept.data.map((e) => e.ts)).toEqual([T + 206, T + 204, T + 202, T + 200, T + 106, T + 104]);
        // nodes the batch did not touch are left alone
        expect(await storage.debugEvents.count(tenantId, otherChain)).toBe(5);
      });

      it('deletes by age and by chain or node', async () => {
        const tenantId = await tenant();
        const chainId = newId();
        const old = T - 1_000_000_000_000; // older than anything other tests write
        await storage.debugEvents.saveBatch([event(tenantId, chainId, 0, old), event(tenantId, chainId, 0, old + 1), event(tenantId, chainId, 1, T), event(tenantId, chainId, 2, T)]);
        expect(await storage.debugEvents.deleteOlderThan(old + 1)).toBe(1);
        expect(await storage.debugEvents.count(tenantId, chainId)).toBe(3);
        expect(await storage.debugEvents.deleteByChain(tenantId, chainId, 1)).toBe(1);
        expect(await storage.debugEvents.deleteByChain(await tenant(), chainId)).toBe(0);
        expect(await storage.debugEvents.deleteByChain(tenantId, chainId)).toBe(2);
        expect(await storage.debugEvents.count(tenantId, chainId)).toBe(0);
      });

      it('rejects events with malformed ids and accepts an empty batch', async () => {
        await storage.debugEvents.saveBatch([]);
        await expect(storage.debugEvents.saveBatch([event('nope', newId(), 0, T)])).rejects.toMatchObject({ code: 'BAD_REQUEST' });
        await expect(storage.debugEvents.saveBatch([event(newId(), 'chain-1', 0, T)])).rejects.toMatchObject({ code: 'BAD_REQUEST' });
      });
    });

    describe('rule node state', () => {
      it('saves, replaces and reads a state per (tenant, node, entity)', async () => {
        const tenantId = await tenant();
        const d = await device(tenantId);
        const node = `${newId()}:2`;
        expect(await storage.ruleNodeStates.get(tenantId, node, d.id)).toBeNull();
        const state = { alarmStates: { high: { createRuleStates: { CRITICAL: { lastEventTs: T, duration: 1500, eventCount: 0 } }, clearRuleState: null } } };
        await storage.ruleNodeStates.save([{ tenantId, ruleNodeId: node, entityId: d.id, state }]);
        expect(await storage.ruleNodeStates.get(tenantId, node, d.id)).toEqual(state);
        // idempotent: the same save again, then a newer state replaces it
        await storage.ruleNodeStates.save([{ tenantId, ruleNodeId: node, entityId: d.id, state }]);
        expect(await storage.ruleNodeStates.get(tenantId, node, d.id)).toEqual(state);
        await storage.ruleNodeStates.save([
          { tenantId, ruleNodeId: node, entityId: d.id, state: { v: 1 } },
          { tenantId, ruleNodeId: node, entityId: d.id, state: { v: 2 } },
        ]);
        expect(await storage.ruleNodeStates.get(tenantId, node, d.id)).toEqual({ v: 2 });
        // another node and another entity are other keys
        expect(await storage.ruleNodeStates.get(tenantId, `${node}0`, d.id)).toBeNull();
        expect(await storage.ruleNodeStates.get(tenantId, node, newId())).toBeNull();
      });

      it('never hands one tenant the state another tenant saved under the same key', async () => {
        const a = await tenant();
        const b = await tenant();
        const d = await device(a);
        const node = `${newId()}:0`;
        await storage.ruleNodeStates.save([{ tenantId: a, ruleNodeId: node, entityId: d.id, state: { owner: 'a' } }]);
        expect(await storage.ruleNodeStates.get(b, node, d.id)).toBeNull();
        await storage.ruleNodeStates.save([{ tenantId: b, ruleNodeId: node, entityId: d.id, state: { owner: 'b' } }]);
        expect(await storage.ruleNodeStates.get(a, node, d.id)).toEqual({ owner: 'a' });
        expect(await storage.ruleNodeStates.deleteByEntity(b, d.id)).toBe(1);
        expect(await storage.ruleNodeStates.deleteByNode(b, node)).toBe(0);
        expect(await storage.ruleNodeStates.get(a, node, d.id)).toEqual({ owner: 'a' });
      });

      it('deletes one state, an entity\'s, a node\'s and a chain\'s (by prefix)', async () => {
        const tenantId = await tenant();
        const d1 = await device(tenantId);
        const d2 = await device(tenantId);
        const chain = newId();
        const n0 = `${chain}:0`;
        const n1 = `${chain}:1`;
        const other = `${newId()}:0`;
        const w = (ruleNodeId: string, entityId: string) => ({ tenantId, ruleNodeId, entityId, state: { k: ruleNodeId } });
        await storage.ruleNodeStates.save([w(n0, d1.id), w(n0, d2.id), w(n1, d1.id), w(other, d1.id), w(other, d2.id)]);
        expect(await storage.ruleNodeStates.delete(tenantId, n0, d2.id)).toBe(true);
        expect(await storage.ruleNodeStates.delete(tenantId, n0, d2.id)).toBe(false);
        expect(await storage.ruleNodeStates.deleteByEntity(tenantId, d2.id)).toBe(1);
        expect(await storage.ruleNodeStates.get(tenantId, other, d2.id)).toBeNull();
        expect(await storage.ruleNodeStates.deleteByNode(tenantId, chain, { prefix: true })).toBe(2);
        expect(await storage.ruleNodeStates.get(tenantId, other, d1.id)).toEqual({ k: other });
        expect(await storage.ruleNodeStates.deleteByNode(tenantId, other)).toBe(1);
        // a deleted device takes its states along
        await storage.ruleNodeStates.save([w(n0, d1.id)]);
        expect(await storage.devices.delete(tenantId, d1.id)).toBe(true);
        expect(await storage.ruleNodeStates.get(tenantId, n0, d1.id)).toBeNull();
      });

      it('refuses malformed keys and states with a clear error and accepts an empty batch', async () => {
        const tenantId = await tenant();
        await storage.ruleNodeStates.save([]);
        await expect(storage.ruleNodeStates.save([{ tenantId: 'nope', ruleNodeId: 'n', entityId: newId(), state: {} }])).rejects.toMatchObject({ code: 'BAD_REQUEST' });
        await expect(storage.ruleNodeStates.save([{ tenantId, ruleNodeId: 'n', entityId: 'x', state: {} }])).rejects.toMatchObject({ code: 'BAD_REQUEST' });
        await expect(storage.ruleNodeStates.save([{ tenantId, ruleNodeId: '', entityId: newId(), state: {} }])).rejects.toMatchObject({ code: 'BAD_REQUEST' });
        await expect(storage.ruleNodeStates.save([{ tenantId, ruleNodeId: 'n', entityId: newId(), state: [] as never }])).rejects.toMatchObject({ code: 'BAD_REQUEST' });
        expect(await storage.ruleNodeStates.get('nope', 'n', newId())).toBeNull();
      });
    });

    describeTenancy(() => storage);
    describeDeviceProfiles(() => storage);
  });
}
