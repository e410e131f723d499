import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { api } from '../test-helpers';
import { settle, startIsolationWorld, type IsolationWorld } from './isolation-fixture';

/**
 * Isolation matrix, TENANT and CUSTOMER attributes of the telemetry API: tenant A's own server
 * attributes and those of one of A's customers, aimed at by tenant B's administrator, by a customer
 * user of B and by a customer user of another of A's customers. Every call answers 403 or 404,
 * shows nothing of A's values, and changes nothing of them.
 */
describe('isolation: tenant and customer attributes', () => {
  let w: IsolationWorld;
  let customerId: string;
  const TENANT_SECRET = 'tenant-a-secret-threshold';
  const CUSTOMER_SECRET = 'customer-a-secret-contract';

  beforeAll(async () => {
    w = await startIsolationWorld('entity_attrs');
    const c = await api<{ id: { id: string } }>(w.app.url, w.a.jwt, '/api/customer', { method: 'POST', body: { title: 'A attributes customer' } });
    expect(c.status).toBe(200);
    customerId = c.body.id.id;
    expect((await api(w.app.url, w.a.jwt, `/api/plugins/telemetry/TENANT/${w.a.tenantId}/attributes/SERVER_SCOPE`, { method: 'POST', body: { maxTemp: 30, note: TENANT_SECRET } })).status).toBe(200);
    expect((await api(w.app.url, w.a.jwt, `/api/plugins/telemetry/CUSTOMER/${customerId}/attributes/SERVER_SCOPE`, { method: 'POST', body: { minTemp: 5, note: CUSTOMER_SECRET } })).status).toBe(200);
  }, 120_000);
  afterAll(async () => w?.close());

  const stored = async () => ({
    tenant: await w.app.storage.attributes.find(w.a.tenantId, 'SERVER_SCOPE'),
    customer: await w.app.storage.attributes.find(customerId, 'SERVER_SCOPE'),
    shared: [await w.app.storage.attributes.find(w.a.tenantId, 'SHARED_SCOPE'), await w.app.storage.attributes.find(customerId, 'SHARED_SCOPE')],
  });

  const probes = (base: string): Array<{ method: 'GET' | 'POST' | 'DELETE'; path: string; body?: unknown }> => [
    { method: 'GET', path: `${base}/values/attributes/SERVER_SCOPE?keys=note,maxTemp,minTemp` },
    { method: 'GET', path: `${base}/values/attributes?keys=note` },
    { method: 'GET', path: `${base}/values/attributes` },
    { method: 'GET', path: `${base}/keys/attributes` },
    { method: 'GET', path: `${base}/keys/attributes/SERVER_SCOPE` },
    { method: 'POST', path: `${base}/attributes/SERVER_SCOPE`, body: { maxTemp: 999, minTemp: -999 } },
    { method: 'POST', path: `${base}/SERVER_SCOPE`, body: { maxTemp: 999, minTemp: -999 } },
    { method: 'DELETE', path: `${base}/SERVER_SCOPE?keys=maxTemp,minTemp,note` },
  ];

  it("tenant B's administrator: A's tenant and A's customer are 404 on every attribute path", async () => {
    const before = await stored();
    for (const caller of w.callers) {
      for (const base of [`/api/plugins/telemetry/TENANT/${w.a.tenantId}`, `/api/plugins/telemetry/CUSTOMER/${customerId}`]) {
        for (const p of probes(base)) {
          const r = await api(w.app.url, caller.jwt, p.path, { method: p.method, ...(p.body === undefined ? {} : { body: p.body }) });
          expect(r.status, `${caller.name}: ${p.method} ${p.path}`).toBe(404);
          const text = JSON.stringify(r.body);
          expect(text).not.toContain(TENANT_SECRET);
          expect(text).not.toContain(CUSTOMER_SECRET);
        }
      }
    }
    await settle();
    expect(await stored()).toEqual(before);
  });

  it("customer users (of tenant B, and of another of A's customers): A's tenant is 403, A's customer 403/404, nothing shown or changed", async () => {
    const before = await stored();
    for (const caller of w.customerCallers) {
      for (const base of [`/api/plugins/telemetry/TENANT/${w.a.tenantId}`, `/api/plugins/telemetry/CUSTOMER/${customerId}`]) {
        for (const p of probes(base)) {
          const r = await api(w.app.url, caller.jwt, p.path, { method: p.method, ...(p.body === undefined ? {} : { body: p.body }) });
          // writes: tenant administrators only (403); reads of a tenant: 403; of a customer not theirs: 404
          const expected = p.method !== 'GET' || base.includes('/TENANT/') ? 403 : 404;
          expect(r.status, `${caller.name}: ${p.method} ${p.path}`).toBe(expected);
          const text = JSON.stringify(r.body);
          expect(text).not.toContain(TENANT_SECRET);
          expect(text).not.toContain(CUSTOMER_SECRET);
        }
      }
    }
    await settle();
    expect(await stored()).toEqual(before);
  });

  it("B's administrator cannot reach A's entities by naming them as another entity type or scope either", async () => {
    const before = await stored();
    const b = w.callers[0]!;
    for (const path of [
      `/api/plugins/telemetry/CUSTOMER/${w.a.tenantId}/values/attributes`,
      `/api/plugins/telemetry/TENANT/${customerId}/values/attributes`,
      `/api/plugins/telemetry/DEVICE/${customerId}/values/attributes`,
      `/api/plugins/telemetry/DEVICE/${w.a.tenantId}/values/attributes`,
      `/api/plugins/telemetry/TENANT/${w.a.deviceId}/values/attributes`,
      `/api/plugins/telemetry/CUSTOMER/${w.a.deviceId}/values/attributes`,
    ]) {
      const r = await api(w.app.url, b.jwt, path);
      expect(r.status, path).toBe(404);
    }
    // its own tenant id with A's keys: its own (empty) attributes, none of A's
    const own = await api<Array<{ key: string }>>(w.app.url, b.jwt, `/api/plugins/telemetry/TENANT/${b.tenantId}/values/attributes?keys=note,maxTemp`);
    expect(own.status).toBe(200);
    expect(own.body).toEqual([]);
    expect(await stored()).toEqual(before);
  });
});
