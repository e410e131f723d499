import { describe, expect, it } from 'vitest';
import { newId } from '@rivulet/core';
import { NULL_ENTITY_ID, type Storage } from './types';

/**
 * Tenants, customers, device assignment and users across tenants: part of the storage contract
 * (called from storageContract with its storage, so every implementation runs it).
 */
export function describeTenancy(get: () => Storage): void {
  describe('tenant management', () => {
    it('pages, searches, updates tenants and refuses the null id', async () => {
      const storage = get();
      const tag = newId().slice(0, 8);
      const a = await storage.tenants.create({ title: `Paged ${tag} A`, email: 'a@example.com', country: 'NL', additionalInfo: { description: 'first' } });
      const b = await storage.tenants.create({ title: `Paged ${tag} B` });
      expect(a).toMatchObject({ email: 'a@example.com', country: 'NL', phone: null, additionalInfo: { description: 'first' } });
      const page = await storage.tenants.page({ pageSize: 1, page: 0, textSearch: `paged ${tag}`, sortProperty: 'title', sortOrder: 'ASC' });
      expect(page).toMatchObject({ totalElements: 2, totalPages: 2, hasNext: true });
      expect(page.data.map((t) => t.id)).toEqual([a.id]);
      const second = await storage.tenants.page({ pageSize: 1, page: 1, textSearch: `paged ${tag}`, sortProperty: 'title', sortOrder: 'ASC' });
      expect(second.data.map((t) => t.id)).toEqual([b.id]);
      const updated = await storage.tenants.update(a.id, { title: `Paged ${tag} A2`, city: 'Delft' });
      expect(updated).toMatchObject({ id: a.id, title: `Paged ${tag} A2`, city: 'Delft', email: null, createdTime: a.createdTime, additionalInfo: null });
      expect(await storage.tenants.update(newId(), { title: 'x' })).toBeNull();
      await expect(storage.tenants.create({ id: NULL_ENTITY_ID, title: 'Null' })).rejects.toMatchObject({ code: 'BAD_REQUEST' });
      await expect(storage.tenants.create({ title: '  ' })).rejects.toMatchObject({ code: 'BAD_REQUEST' });
      await expect(storage.tenants.page({ pageSize: 10, page: 0, sortProperty: 'nope' })).rejects.toMatchObject({ code: 'BAD_REQUEST' });
    });

    it('deletes a tenant with all its data in one go, and nothing of another tenant', async () => {
      const storage = get();
      const doomed = await storage.tenants.create({ title: 'Doomed' });
      const kept = await storage.tenants.create({ title: 'Kept' });
      async function populate(tenantId: string): Promise<{ deviceId: string; chainId: string }> {
        const customer = await storage.customers.create(tenantId, { title: 'Customer' });
        const { device } = await storage.devices.create({ tenantId, name: 'd1' });
        await storage.devices.assignToCustomer(tenantId, device.id, customer.id);
        await storage.users.create({ tenantId, email: `admin.${newId()}@example.com`, authority: 'TENANT_ADMIN', passwordHash: 'h' });
        await storage.users.create({ tenantId, customerId: customer.id, email: `cu.${newId()}@example.com`, authority: 'CUSTOMER_USER', passwordHash: 'h' });
        await storage.timeseries.save([{ entityId: device.id, key: 't', ts: 1, value: 1 }, { entityId: device.id, key: 't', ts: 2, value: 2 }]);
        await storage.attributes.save([{ entityId: device.id, scope: 'SHARED_SCOPE', key: 'a', value: 1, lastUpdateTs: 1 }]);
        await storage.attributes.save([{ entityId: tenantId, scope: 'SERVER_SCOPE', key: 'tenantAttr', value: 1, lastUpdateTs: 1 }]);
        const chainId = newId();
        await storage.ruleChains.save({ id: chainId, tenantId, name: 'root', root: true, debugMode: false, metadata: { nodes: [] } });
        await storage.debugEvents.saveBatch([
          {
            tenantId, chainId, nodeIndex: 0, nodeName: 'n', nodeType: 't', ts: Date.now(), direction: 'IN', relation: null,
            msgId: newId(), msgType: 'POST_TELEMETRY_REQUEST', originatorType: 'DEVICE', originatorId: device.id, data: {}, metadata: {}, error: null, durationMs: null,
          },
        ]);
        await storage.dashboards.save({ tenantId, title: 'Dash', configuration: {} });
        await storage.alarms.createOrUpdate({ tenantId, type: 'High', originatorType: 'DEVICE', originatorId: device.id, severity: 'MAJOR', ts: 1 });
        await storage.ruleNodeStates.save([{ tenantId, ruleNodeId: `${chainId}:0`, entityId: device.id, state: { n: 1 } }]);
        return { deviceId: device.id, chainId };
      }
      const d = await populate(doomed.id);
      const k = await populate(kept.id);

      const result = await storage.tenants.delete(doomed.id);
      expect(result?.deviceIds).toEqual([d.deviceId]);
      expect(result?.rows).toMatchObject({
        tenant: 1, device: 1, device_credentials: 1, customer: 1, tb_user: 2, ts_kv: 2, ts_kv_latest: 1, attribute_kv: 2,
        rule_chain: 1, rule_node_debug_event: 1, dashboard: 1, alarm: 1, device_profile: 1, rule_node_state: 1,
      });
      expect(await storage.tenants.get(doomed.id)).toBeNull();
      expect(await storage.devices.get(doomed.id, d.deviceId)).toBeNull();
      expect(await storage.timeseries.count(d.deviceId)).toBe(0);
      expect(await storage.timeseries.findLatest(d.deviceId)).toEqual([]);
      expect(await storage.attributes.findKeys(d.deviceId)).toEqual([]);
      expect(await storage.attributes.findKeys(doomed.id)).toEqual([]);
      expect((await storage.customers.list(doomed.id, { pageSize: 10, page: 0 })).totalElements).toBe(0);
      expect((await storage.users.list({ tenantId: doomed.id }, { pageSize: 10, page: 0 })).totalElements).toBe(0);
      expect((await storage.dashboards.list(doomed.id, { pageSize: 10, page: 0 })).totalElements).toBe(0);
      expect((await storage.alarms.list(doomed.id, { pageSize: 10, page: 0 })).totalElements).toBe(0);
      expect(await storage.ruleChains.getRoot(doomed.id)).toBeNull();
      // The other tenant keeps everything.
      expect(await storage.devices.get(kept.id, k.deviceId)).not.toBeNull();
      expect(await storage.timeseries.count(k.deviceId)).toBe(2);
      expect((await storage.users.list({ tenantId: kept.id }, { pageSize: 10, page: 0 })).totalElements).toBe(2);
      expect(await storage.ruleChains.getRoot(kept.id)).not.toBeNull();
      expect(await storage.ruleNodeStates.get(kept.id, `${k.chainId}:0`, k.deviceId)).toEqual({ n: 1 });
      expect(await storage.ruleNodeStates.get(doomed.id, `${d.chainId}:0`, d.deviceId)).toBeNull();
      expect(await storage.tenants.delete(doomed.id)).toBeNull();
    });
  });

  describe('customers', () => {
    it('creates, updates, pages and deletes customers per tenant', async () => {
      const storage = get();
      const tenantId = (await storage.tenants.create({ title: 'With customers' })).id;
      const otherTenant = (await storage.tenants.create({ title: 'Other' })).id;
      const c = await storage.customers.create(tenantId, { title: 'Acme', email: 'ops@acme.test', zip: '1234' });
      expect(c).toMatchObject({ tenantId, title: 'Acme', email: 'ops@acme.test', zip: '1234', city: null });
      await expect(storage.customers.create(tenantId, { title: 'Acme' })).rejects.toMatchObject({ code: 'CONFLICT' });
      // The same title in another tenant is fine.
      await storage.customers.create(otherTenant, { title: 'Acme' });
      await storage.customers.create(tenantId, { title: 'Beta' });
      expect(await storage.customers.get(otherTenant, c.id)).toBeNull();
      const page = await storage.customers.list(tenantId, { pageSize: 10, page: 0, textSearch: 'acm' });
      expect(page.data.map((x) => x.id)).toEqual([c.id]);
      const updated = await storage.customers.update(tenantId, c.id, { title: 'Acme Inc' });
      expect(updated).toMatchObject({ id: c.id, title: 'Acme Inc', email: null, createdTime: c.createdTime });
      await expect(storage.customers.update(tenantId, c.id, { title: 'Beta' })).rejects.toMatchObject({ code: 'CONFLICT' });
      expect(await storage.customers.update(otherTenant, c.id, { title: 'Stolen' })).toBeNull();
      expect(await storage.customers.delete(otherTenant, c.id)).toBe(false);
      expect(await storage.customers.delete(tenantId, c.id)).toBe(true);
      expect(await storage.customers.get(tenantId, c.id)).toBeNull();
    });

    it("deleting a customer deletes its attributes, and another customer's stay", async () => {
      const storage = get();
      const tenantId = (await storage.tenants.create({ title: 'Customer attributes' })).id;
      const gone = await storage.customers.create(tenantId, { title: 'Gone' });
      const stays = await storage.customers.create(tenantId, { title: 'Stays' });
      for (const c of [gone, stays]) await storage.attributes.save([{ entityId: c.id, scope: 'SERVER_SCOPE', key: 'limit', value: 30, lastUpdateTs: 1 }]);
      // refused for another tenant: nothing goes
      expect(await storage.customers.delete((await storage.tenants.create({ title: 'Other' })).id, gone.id)).toBe(false);
      expect(await storage.attributes.find(gone.id, 'SERVER_SCOPE')).toHaveLength(1);
      expect(await storage.customers.delete(tenantId, gone.id)).toBe(true);
      expect(await storage.attributes.find(gone.id, 'SERVER_SCOPE')).toEqual([]);
      expect((await storage.attributes.find(stays.id, 'SERVER_SCOPE')).map((a) => a.value)).toEqual([30]);
    });

    it('assigns devices to a customer of the same tenant only, lists and unassigns them, and keeps them when the customer goes', async () => {
      const storage = get();
      const tenantId = (await storage.tenants.create({ title: 'Assigning' })).id;
      const otherTenant = (await storage.tenants.create({ title: 'Foreign' })).id;
      const customer = await storage.customers.create(tenantId, { title: 'Buyer' });
      const foreign = await storage.customers.create(otherTenant, { title: 'Foreign buyer' });
      const { device: d1 } = await storage.devices.create({ tenantId, name: 'assigned-1' });
      const { device: d2 } = await storage.devices.create({ tenantId, name: 'assigned-2' });
      await storage.devices.create({ tenantId, name: 'unassigned' });
      expect(d1.customerId).toBeNull();
      expect(await storage.devices.assignToCustomer(tenantId, d1.id, customer.id)).toMatchObject({ id: d1.id, customerId: customer.id });
      await storage.devices.assignToCustomer(tenantId, d2.id, customer.id);
      await expect(storage.devices.assignToCustomer(tenantId, d1.id, foreign.id)).rejects.toMatchObject({ code: 'NOT_FOUND' });
      await expect(storage.devices.assignToCustomer(tenantId, d1.id, newId())).rejects.toMatchObject({ code: 'NOT_FOUND' });
      expect(await storage.devices.assignToCustomer(otherTenant, d1.id, foreign.id)).toBeNull();
      const page = await storage.devices.listByCustomer(tenantId, customer.id, { pageSize: 10, page: 0, sortProperty: 'name', sortOrder: 'ASC' });
      expect(page.data.map((d) => d.name)).toEqual(['assigned-1', 'assigned-2']);
      expect((await storage.devices.listByCustomer(otherTenant, customer.id, { pageSize: 10, page: 0 })).totalElements).toBe(0);
      expect((await storage.devices.listByCustomer(tenantId, customer.id, { pageSize: 10, page: 0, textSearch: '-2' })).data.map((d) => d.id)).toEqual([d2.id]);
      expect(await storage.devices.assignToCustomer(tenantId, d2.id, null)).toMatchObject({ customerId: null });
      const user = await storage.users.create({ tenantId, customerId: customer.id, email: `buyer.${newId()}@example.com`, authority: 'CUSTOMER_USER', passwordHash: 'h' });
      expect(await storage.customers.delete(tenantId, customer.id)).toBe(true);
      expect(await storage.devices.get(tenantId, d1.id)).toMatchObject({ customerId: null });
      expect(await storage.users.get(user.id)).toBeNull();
    });
  });

  describe('users across tenants', () => {
    it('keeps the system administrator out of every tenant', async () => {
      const storage = get();
      const email = `sys.${newId()}@example.com`;
      const sys = await storage.users.create({ tenantId: NULL_ENTITY_ID, email, authority: 'SYS_ADMIN', passwordHash: 'h' });
      expect(sys).toMatchObject({ tenantId: NULL_ENTITY_ID, customerId: null, authority: 'SYS_ADMIN', enabled: true });
      expect((await storage.users.findByEmail(email))?.user).toEqual(sys);
      expect(await storage.users.count('SYS_ADMIN')).toBeGreaterThanOrEqual(1);
      expect(await storage.users.getInTenant(NULL_ENTITY_ID, sys.id)).toEqual(sys);
      // Tenant-scoped reads never find it, even given the null id as a tenant.
      expect((await storage.users.list({ tenantId: NULL_ENTITY_ID }, { pageSize: 100, page: 0 })).data.map((u) => u.id)).not.toContain(sys.id);
      expect(await storage.users.delete(NULL_ENTITY_ID, sys.id)).toBe(false);
      const tenantId = (await storage.tenants.create({ title: 'T' })).id;
      expect(await storage.users.getInTenant(tenantId, sys.id)).toBeNull();
      await expect(storage.users.create({ tenantId, email: `x.${newId()}@example.com`, authority: 'SYS_ADMIN', passwordHash: 'h' })).rejects.toMatchObject({ code: 'BAD_REQUEST' });
      await expect(storage.users.create({ tenantId: NULL_ENTITY_ID, email: `y.${newId()}@example.com`, authority: 'TENANT_ADMIN', passwordHash: 'h' })).rejects.toMatchObject({ code: 'BAD_REQUEST' });
      // Nothing can be owned by the null tenant.
      await expect(storage.devices.create({ tenantId: NULL_ENTITY_ID, name: `sys-${newId()}` })).rejects.toMatchObject({ code: 'BAD_REQUEST' });
      await expect(storage.customers.create(NULL_ENTITY_ID, { title: 'Sys customer' })).rejects.toMatchObject({ code: 'BAD_REQUEST' });
      await expect(storage.dashboards.save({ tenantId: NULL_ENTITY_ID, title: 'Sys', configuration: {} })).rejects.toMatchObject({ code: 'BAD_REQUEST' });
    });

    it('lists tenant admins and customer users, refuses a customer of another tenant, deletes within the tenant', async () => {
      const storage = get();
      const tenantId = (await storage.tenants.create({ title: 'Users' })).id;
      const otherTenant = (await storage.tenants.create({ title: 'Users other' })).id;
      const customer = await storage.customers.create(tenantId, { title: 'C' });
      const foreign = await storage.customers.create(otherTenant, { title: 'F' });
      const admin = await storage.users.create({ tenantId, email: `ta.${newId()}@example.com`, authority: 'TENANT_ADMIN', passwordHash: 'h', firstName: 'Ann' });
      const cu = await storage.users.create({ tenantId, customerId: customer.id, email: `cu.${newId()}@example.com`, authority: 'CUSTOMER_USER', passwordHash: 'h' });
      expect(cu).toMatchObject({ tenantId, customerId: customer.id, authority: 'CUSTOMER_USER' });
      await expect(storage.users.create({ tenantId, customerId: foreign.id, email: `f.${newId()}@example.com`, authority: 'CUSTOMER_USER', passwordHash: 'h' })).rejects.toMatchObject({ code: 'NOT_FOUND' });
      await expect(storage.users.create({ tenantId, email: `n.${newId()}@example.com`, authority: 'CUSTOMER_USER', passwordHash: 'h' })).rejects.toMatchObject({ code: 'BAD_REQUEST' });
      await expect(storage.users.create({ tenantId, customerId: customer.id, email: `n.${newId()}@example.com`, authority: 'TENANT_ADMIN', passwordHash: 'h' })).rejects.toMatchObject({ code: 'BAD_REQUEST' });
      const admins = await storage.users.list({ tenantId, authority: 'TENANT_ADMIN' }, { pageSize: 10, page: 0 });
      expect(admins.data.map((u) => u.id)).toEqual([admin.id]);
      const customerUsers = await storage.users.list({ tenantId, customerId: customer.id }, { pageSize: 10, page: 0 });
      expect(customerUsers.data.map((u) => u.id)).toEqual([cu.id]);
      expect((await storage.users.list({ tenantId: otherTenant, customerId: customer.id }, { pageSize: 10, page: 0 })).totalElements).toBe(0);
      expect(await storage.users.getInTenant(otherTenant, admin.id)).toBeNull();
      expect(await storage.users.updateNames(tenantId, admin.id, { firstName: 'Anna', lastName: 'Smith' })).toMatchObject({ id: admin.id, firstName: 'Anna', lastName: 'Smith', email: admin.email });
      expect(await storage.users.updateNames(otherTenant, admin.id, { firstName: 'X', lastName: null })).toBeNull();
      expect((await storage.users.get(admin.id))?.firstName).toBe('Anna');
      expect(await storage.users.delete(otherTenant, admin.id)).toBe(false);
      expect(await storage.users.delete(tenantId, admin.id)).toBe(true);
      expect(await storage.users.get(admin.id)).toBeNull();
    });

    it('activates a user once with an unexpired token and sets passwords', async () => {
      const storage = get();
      const tenantId = (await storage.tenants.create({ title: 'Activation' })).id;
      const u = await storage.users.create({ tenantId, email: `act.${newId()}@example.com`, authority: 'TENANT_ADMIN', passwordHash: 'unknown', enabled: false });
      expect(u.enabled).toBe(false);
      const hash = `token-hash-${newId()}`;
      expect(await storage.users.setActivationToken(u.id, hash, 1000)).toBe(true);
      // Expired at 1000: nothing happens.
      expect(await storage.users.activate(hash, 'new-hash', 1000)).toBeNull();
      await storage.users.setActivationToken(u.id, hash, Date.now() + 60_000);
      const activated = await storage.users.activate(hash, 'new-hash', Date.now());
      expect(activated).toMatchObject({ id: u.id, enabled: true });
      expect((await storage.users.findByEmail(u.email))?.passwordHash).toBe('new-hash');
      // Spent.
      expect(await storage.users.activate(hash, 'other-hash', Date.now())).toBeNull();
      expect(await storage.users.setPassword(u.id, 'direct-hash')).toBe(true);
      expect((await storage.users.findByEmail(u.email))?.passwordHash).toBe('direct-hash');
      expect(await storage.users.setPassword(newId(), 'x')).toBe(false);
    });
  });
  describe('tenant profiles', () => {
    it('a default profile always exists; tenants get it unless given another; in use or default: not deleted', async () => {
      const storage = get();
      const def = await storage.tenantProfiles.ensureDefault();
      expect(def.isDefault).toBe(true);
      expect((await storage.tenantProfiles.ensureDefault()).id).toBe(def.id);
      const tag = newId().slice(0, 8);
      const small = await storage.tenantProfiles.create({ name: `Small ${tag}`, configuration: { maxDevices: 2, maxKeyLength: 10 } });
      expect(small).toMatchObject({ isDefault: false, description: null, configuration: { maxDevices: 2, maxKeyLength: 10 } });
      await expect(storage.tenantProfiles.create({ name: `Small ${tag}` })).rejects.toMatchObject({ code: 'CONFLICT' });
      const plain = await storage.tenantProfiles.create({ name: `Plain ${tag}` });
      expect((await storage.tenants.create({ title: `T ${tag}` })).tenantProfileId).toBe(def.id);
      const t = await storage.tenants.create({ title: `T2 ${tag}`, tenantProfileId: small.id });
      expect(t.tenantProfileId).toBe(small.id);
      expect((await storage.tenants.update(t.id, { title: `T2 ${tag}` }))?.tenantProfileId).toBe(small.id);
      await expect(storage.tenants.create({ title: 'x', tenantProfileId: newId() })).rejects.toMatchObject({ code: 'NOT_FOUND' });
      expect(await storage.tenants.profileAssignments()).toContainEqual({ tenantId: t.id, tenantProfileId: small.id });
      expect(await storage.tenantProfiles.countTenants(small.id)).toBe(1);
      expect(await storage.tenantProfiles.delete(small.id)).toBe('in-use');
      expect(await storage.tenantProfiles.delete(def.id)).toBe('default');
      expect(await storage.tenantProfiles.delete(plain.id)).toBe('deleted');
      expect(await storage.tenantProfiles.delete(plain.id)).toBe('not-found');
      // unknown limit names and bad values are not kept
      const odd = await storage.tenantProfiles.update(small.id, { name: `Small ${tag}`, configuration: { maxDevices: -1, nope: 3 } as never });
      expect(odd?.configuration).toEqual({});
      // a new default takes the flag from the old one
      const next = await storage.tenantProfiles.create({ name: `Next ${tag}`, isDefault: true });
      expect((await storage.tenantProfiles.getDefault())?.id).toBe(next.id);
      expect((await storage.tenantProfiles.get(def.id))?.isDefault).toBe(false);
      await storage.tenantProfiles.update(def.id, { name: def.name, isDefault: true });
      expect((await storage.tenantProfiles.getDefault())?.id).toBe(def.id);
    });

    it('maxDevices holds under concurrent creates', async () => {
      const storage = get();
      const tenantId = newId();
      const results = await Promise.allSettled(Array.from({ length: 6 }, (_, i) => storage.devices.create({ tenantId, name: `c${i}` }, undefined, { maxDevices: 3 })));
      expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(3);
      for (const r of results) if (r.status === 'rejected') expect(r.reason).toMatchObject({ code: 'FORBIDDEN', limit: 'maxDevices', value: 3 });
      expect(await storage.devices.count(tenantId)).toBe(3);
    });
  });
}
