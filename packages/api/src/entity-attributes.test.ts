import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NULL_ENTITY_ID } from '@rivulet/storage';
import { closeTwoTenants, startTwoTenants, type TwoTenants } from './test-storage';
import { hashPassword } from './password';

/**
 * ThingsBoard's telemetry controller for TENANT and CUSTOMER: SERVER_SCOPE attributes of the caller's
 * own tenant and of its customers, over HTTP against the API on embedded PGlite.
 */
describe('TENANT and CUSTOMER attributes over the telemetry API', () => {
  let f: TwoTenants;
  let customerId: string;
  let otherCustomerId: string;
  let customerToken: string;
  let otherCustomersToken: string;

  beforeAll(async () => {
    f = await startTwoTenants('entity-attrs');
    customerId = (await f.storage.customers.create(f.admin.tenantId, { title: 'Acme' })).id;
    otherCustomerId = (await f.storage.customers.create(f.admin.tenantId, { title: 'Beta' })).id;
    const user = async (cid: string, email: string) => {
      await f.storage.users.create({ tenantId: f.admin.tenantId, customerId: cid, email, authority: 'CUSTOMER_USER', passwordHash: await hashPassword('pw-c') });
      return f.t.login({ email, password: 'pw-c' });
    };
    customerToken = await user(customerId, 'user@acme.test');
    otherCustomersToken = await user(otherCustomerId, 'user@beta.test');
  });
  afterAll(async () => closeTwoTenants(f));

  const req = (method: string, path: string, body?: unknown, token = f.token) => f.t.request(method, path, { token, ...(body === undefined ? {} : { body }) });
  const values = (body: Array<{ key: string; value: unknown }>) => Object.fromEntries(body.map((a) => [a.key, a.value]));

  it('a tenant administrator saves, reads and deletes server attributes of its own tenant, on every path ThingsBoard has', async () => {
    const base = `/api/plugins/telemetry/TENANT/${f.admin.tenantId}`;
    expect((await req('POST', `${base}/attributes/SERVER_SCOPE`, { maxTemp: 30, site: 'Delft', ratio: 1.0, cfg: { a: [1] } })).status).toBe(200);
    // ThingsBoard's older save path; entity type in lower case as its clients sometimes send it
    expect((await req('POST', `/api/plugins/telemetry/tenant/${f.admin.tenantId}/SERVER_SCOPE`, { enabled: true })).status).toBe(200);

    const scoped = await req('GET', `${base}/values/attributes/SERVER_SCOPE?keys=maxTemp,ratio,missing`);
    expect(scoped.status).toBe(200);
    expect(values(scoped.body)).toEqual({ maxTemp: 30, ratio: 1 });
    expect(scoped.body[0]).toMatchObject({ lastUpdateTs: expect.any(Number) });
    const all = await req('GET', `${base}/values/attributes`);
    expect(values(all.body)).toEqual({ maxTemp: 30, site: 'Delft', ratio: 1, cfg: { a: [1] }, enabled: true });
    expect((await req('GET', `${base}/values/attributes?keys=site`)).body.map((a: { key: string }) => a.key)).toEqual(['site']);
    expect([...(await req('GET', `${base}/keys/attributes`)).body].sort()).toEqual(['cfg', 'enabled', 'maxTemp', 'ratio', 'site']);
    expect([...(await req('GET', `${base}/keys/attributes/SERVER_SCOPE`)).body].sort()).toEqual(['cfg', 'enabled', 'maxTemp', 'ratio', 'site']);
    // stored under the tenant's id, server scope
    expect((await f.storage.attributes.find(f.admin.tenantId, 'SERVER_SCOPE', ['maxTemp'])).map((a) => a.value)).toEqual([30]);

    expect((await req('DELETE', `${base}/SERVER_SCOPE?keys=maxTemp,site`)).status).toBe(200);
    expect([...(await req('GET', `${base}/keys/attributes`)).body].sort()).toEqual(['cfg', 'enabled', 'ratio']);
  });

  it('a tenant or customer has SERVER_SCOPE only: other scopes are a clear 400 and nothing is stored; time series and other entity types are refused by name', async () => {
    for (const [type, id] of [['TENANT', f.admin.tenantId], ['CUSTOMER', customerId]] as const) {
      const base = `/api/plugins/telemetry/${type}/${id}`;
      for (const scope of ['SHARED_SCOPE', 'CLIENT_SCOPE']) {
        const save = await req('POST', `${base}/attributes/${scope}`, { x: 1 });
        expect(save.status).toBe(400);
        expect(save.body.message).toBe(`Invalid attribute scope '${scope}' for ${type}: only SERVER_SCOPE is supported (CLIENT_SCOPE and SHARED_SCOPE are a device's)`);
        expect((await req('POST', `${base}/${scope}`, { x: 1 })).status).toBe(400);
        expect((await req('GET', `${base}/values/attributes/${scope}`)).status).toBe(400);
        expect((await req('GET', `${base}/keys/attributes/${scope}`)).status).toBe(400);
        expect((await req('DELETE', `${base}/${scope}?keys=x`)).status).toBe(400);
      }
      expect((await req('GET', `${base}/values/attributes/NOPE`)).body.message).toContain("Invalid attribute scope 'NOPE'");
      for (const s of ['SHARED_SCOPE', 'CLIENT_SCOPE'] as const) expect(await f.storage.attributes.find(id, s)).toEqual([]);

      const ts = await req('POST', `${base}/timeseries/ANY`, { t: 1 });
      expect(ts.status).toBe(400);
      expect(ts.body.message).toBe(`Time series of entity type '${type}' are not supported; only DEVICE has time series`);
      expect((await req('GET', `${base}/values/timeseries?keys=t`)).status).toBe(400);
      expect((await req('GET', `${base}/keys/timeseries`)).status).toBe(400);
      expect((await req('DELETE', `${base}/timeseries/delete?keys=t&deleteAllDataForKeys=true`)).status).toBe(400);
      expect(await f.storage.timeseries.findLatest(id)).toEqual([]);

      // bad bodies: a clear 400, nothing stored
      expect((await req('POST', `${base}/attributes/SERVER_SCOPE`, [1, 2])).status).toBe(400);
      const empty = await req('POST', `${base}/attributes/SERVER_SCOPE`, {});
      expect(empty.status).toBe(400);
      expect(empty.body.message).toBe('No attributes data found in request body!');
      expect((await f.t.request('POST', `${base}/attributes/SERVER_SCOPE`, { token: f.token, rawBody: '{"x":' })).status).toBe(400);
      expect((await req('DELETE', `${base}/SERVER_SCOPE`)).status).toBe(400);
    }
    const asset = await req('GET', `/api/plugins/telemetry/ASSET/${customerId}/values/attributes`);
    expect(asset.status).toBe(400);
    expect(asset.body.message).toBe("Entity type 'ASSET' is not supported; attributes are served for DEVICE, TENANT and CUSTOMER");
    expect((await req('GET', `/api/plugins/telemetry/TENANT/not-a-uuid/values/attributes`)).status).toBe(400);
  });

  it("a customer's server attributes: the tenant administrator writes them; its customer user reads them, not another customer's, and writes nothing", async () => {
    const base = `/api/plugins/telemetry/CUSTOMER/${customerId}`;
    expect((await req('POST', `${base}/attributes/SERVER_SCOPE`, { maxTemp: 25, contract: 'gold' })).status).toBe(200);
    expect((await req('POST', `${base}/SERVER_SCOPE`, { region: 'EU' })).status).toBe(200);
    expect(values((await req('GET', `${base}/values/attributes/SERVER_SCOPE`)).body)).toEqual({ maxTemp: 25, contract: 'gold', region: 'EU' });

    // ThingsBoard's CustomerUserPermissions: READ_ATTRIBUTES of its own customer
    const own = await req('GET', `${base}/values/attributes?keys=maxTemp`, undefined, customerToken);
    expect(own.status).toBe(200);
    expect(values(own.body)).toEqual({ maxTemp: 25 });
    expect([...(await req('GET', `${base}/keys/attributes`, undefined, customerToken)).body].sort()).toEqual(['contract', 'maxTemp', 'region']);
    expect((await req('GET', `${base}/values/attributes/SERVER_SCOPE`, undefined, otherCustomersToken)).status).toBe(404);
    expect((await req('GET', `${base}/keys/attributes`, undefined, otherCustomersToken)).status).toBe(404);
    // writing: tenant administrators only
    expect((await req('POST', `${base}/attributes/SERVER_SCOPE`, { maxTemp: 99 }, customerToken)).status).toBe(403);
    expect((await req('DELETE', `${base}/SERVER_SCOPE?keys=maxTemp`, undefined, customerToken)).status).toBe(403);
    // the tenant's attributes are not a customer user's (ThingsBoard: no TENANT permission)
    expect((await req('GET', `/api/plugins/telemetry/TENANT/${f.admin.tenantId}/values/attributes`, undefined, customerToken)).status).toBe(403);

    expect((await req('DELETE', `${base}/SERVER_SCOPE?keys=contract`)).status).toBe(200);
    expect(values((await req('GET', `${base}/values/attributes`)).body)).toEqual({ maxTemp: 25, region: 'EU' });
    // a customer that does not exist in the tenant: 404
    expect((await req('GET', `/api/plugins/telemetry/CUSTOMER/${f.admin.tenantId}/values/attributes`)).status).toBe(404);
  });

  it("another tenant's administrator reaches neither the tenant's nor its customers' attributes: 404, nothing read or changed", async () => {
    await req('POST', `/api/plugins/telemetry/TENANT/${f.admin.tenantId}/attributes/SERVER_SCOPE`, { secret: 'tenant-secret-value' });
    await req('POST', `/api/plugins/telemetry/CUSTOMER/${customerId}/attributes/SERVER_SCOPE`, { secret: 'customer-secret-value' });
    const snapshot = async () => [await f.storage.attributes.find(f.admin.tenantId, 'SERVER_SCOPE'), await f.storage.attributes.find(customerId, 'SERVER_SCOPE')];
    const before = await snapshot();
    for (const base of [`/api/plugins/telemetry/TENANT/${f.admin.tenantId}`, `/api/plugins/telemetry/CUSTOMER/${customerId}`]) {
      for (const [method, path, body] of [
        ['GET', '/values/attributes/SERVER_SCOPE?keys=secret'],
        ['GET', '/values/attributes'],
        ['GET', '/keys/attributes'],
        ['GET', '/keys/attributes/SERVER_SCOPE'],
        ['POST', '/attributes/SERVER_SCOPE', { secret: 'stolen' }],
        ['POST', '/SERVER_SCOPE', { secret: 'stolen' }],
        ['DELETE', '/SERVER_SCOPE?keys=secret'],
      ] as const) {
        const r = await req(method, base + path, body, f.otherToken);
        expect(r.status, `${method} ${base}${path}`).toBe(404);
        expect(JSON.stringify(r.body)).not.toContain('secret-value');
      }
    }
    expect(await snapshot()).toEqual(before);
    // its own tenant is its own
    expect((await req('POST', `/api/plugins/telemetry/TENANT/${f.other.tenantId}/attributes/SERVER_SCOPE`, { secret: 'b' }, f.otherToken)).status).toBe(200);
    expect(values((await req('GET', `/api/plugins/telemetry/TENANT/${f.other.tenantId}/values/attributes`, undefined, f.otherToken)).body)).toEqual({ secret: 'b' });
    expect(await snapshot()).toEqual(before);
  });

  it('a system administrator holds no tenant data: 403 on a tenant and on a customer', async () => {
    await f.storage.users.create({ tenantId: NULL_ENTITY_ID, email: 'sys@entity-attrs.test', authority: 'SYS_ADMIN', passwordHash: await hashPassword('pw-s') });
    const token = await f.t.login({ email: 'sys@entity-attrs.test', password: 'pw-s' });
    expect((await req('GET', `/api/plugins/telemetry/TENANT/${f.admin.tenantId}/values/attributes`, undefined, token)).status).toBe(403);
    expect((await req('POST', `/api/plugins/telemetry/TENANT/${f.admin.tenantId}/attributes/SERVER_SCOPE`, { x: 1 }, token)).status).toBe(403);
    expect((await req('GET', `/api/plugins/telemetry/CUSTOMER/${customerId}/values/attributes`, undefined, token)).status).toBe(403);
  });

  it("deleting a customer deletes its attributes", async () => {
    const gone = (await f.storage.customers.create(f.admin.tenantId, { title: 'Gone' })).id;
    expect((await req('POST', `/api/plugins/telemetry/CUSTOMER/${gone}/attributes/SERVER_SCOPE`, { k: 1 })).status).toBe(200);
    expect((await req('DELETE', `/api/customer/${gone}`)).status).toBe(200);
    expect(await f.storage.attributes.find(gone, 'SERVER_SCOPE')).toEqual([]);
    expect((await req('GET', `/api/plugins/telemetry/CUSTOMER/${gone}/values/attributes`)).status).toBe(404);
  });
});
