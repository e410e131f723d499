import { createTestDatabase } from '@rivulet/testing';
import { AttributeScope, type DeviceInfo } from '@rivulet/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Rivulet } from './app';
import { createDeviceClaimingService } from './device-claiming';
import { api, createDevice, createTenantWithAdmin, login, startTestServer, SYSADMIN, tempDir } from './test-helpers';

/**
 * Device claiming (ThingsBoard's claiming API), server side: the device's claim request stored by
 * the claiming service the transports call, then the customer user's REST claim against a real
 * server and PostgreSQL. The end-to-end test over MQTT is in provisioning-e2e.test.ts.
 */
describe('device claiming', () => {
  let app: Rivulet;
  let db: { url: string; drop(): Promise<void> };
  let jwt: string;
  const dir = tempDir();
  let customers: Array<{ id: string; jwt: string }>;

  beforeAll(async () => {
    db = await createTestDatabase('claiming');
    app = await startTestServer({ DATABASE_URL: db.url, RIVULET_DATA_DIR: dir.dir, RIVULET_CLAIM_DURATION_MS: '60000' });
    jwt = await login(app.url);
    customers = [];
    for (const n of [1, 2]) {
      const c = await api<{ id: { id: string } }>(app.url, jwt, '/api/customer', { method: 'POST', body: { title: `Claimers ${n}` } });
      const email = `claimer${n}@customer.test`;
      const u = await api(app.url, jwt, '/api/user', { method: 'POST', body: { email, authority: 'CUSTOMER_USER', customerId: { id: c.body.id.id }, password: `claimer-pw-${n}` } });
      expect(u.status).toBe(200);
      customers.push({ id: c.body.id.id, jwt: await login(app.url, { username: email, password: `claimer-pw-${n}` }) });
    }
  });
  afterAll(async () => {
    await app?.stop();
    await db?.drop();
    dir.remove();
  });

  const claiming = (o: { allowClaimingByDefault?: boolean; now?: () => number } = {}) =>
    createDeviceClaimingService({ storage: app.storage, defaultDurationMs: 60_000, allowClaimingByDefault: o.allowClaimingByDefault ?? true, ...(o.now ? { now: o.now } : {}) });
  const info = (id: string, name: string): DeviceInfo => ({ tenantId: app.tenantId, deviceId: id, deviceName: name, deviceType: 'sensor' });
  const claim = (customerJwt: string, name: string, body?: unknown) =>
    api<unknown>(app.url, customerJwt, `/api/customer/device/${encodeURIComponent(name)}/claim`, { method: 'POST', ...(body === undefined ? {} : { body }) });
  const customerOf = async (id: string) => (await api<{ customerId: { id: string } }>(app.url, jwt, `/api/device/${id}`)).body.customerId.id;
  const claimingData = async (id: string) => (await app.storage.attributes.find(id, AttributeScope.SERVER_SCOPE, ['claimingData']))[0]?.value;

  it('a customer user claims a device with the secret key it announced: ClaimResult, the device is the customer\'s', async () => {
    const d = await createDevice(app.url, jwt, 'claim-ok');
    await claiming().requestClaim(info(d.id, 'claim-ok'), { secretKey: 's3cret', durationMs: 30_000 });
    const stored = JSON.parse(String(await claimingData(d.id))) as { secretKey: string; expirationTime: number };
    expect(stored.secretKey).toBe('s3cret');
    expect(stored.expirationTime).toBeGreaterThan(Date.now() + 25_000);

    const r = await claim(customers[0]!.jwt, 'claim-ok', { secretKey: 's3cret' });
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ response: 'SUCCESS', device: { id: { id: d.id }, name: 'claim-ok', customerId: { entityType: 'CUSTOMER', id: customers[0]!.id } } });
    expect(await customerOf(d.id)).toBe(customers[0]!.id);
    // the pending claim is spent: the device is the customer's, its claim data gone
    expect(await claimingData(d.id)).toBeUndefined();
    // the customer user now reads it; the other customer does not
    expect((await api(app.url, customers[0]!.jwt, `/api/device/${d.id}`)).status).toBe(200);
    expect((await api(app.url, customers[1]!.jwt, `/api/device/${d.id}`)).status).toBe(404);
    // claiming it again: CLAIMED
    const again = await claim(customers[1]!.jwt, 'claim-ok', { secretKey: 's3cret' });
    expect(again).toEqual({ status: 400, body: 'CLAIMED' });
    expect(await customerOf(d.id)).toBe(customers[0]!.id);
  });

  it('a wrong secret key answers FAILURE and drops the pending claim (one guess per claim request)', async () => {
    const d = await createDevice(app.url, jwt, 'claim-wrong');
    await claiming().requestClaim(info(d.id, 'claim-wrong'), { secretKey: 'right', durationMs: undefined });
    expect(await claim(customers[0]!.jwt, 'claim-wrong', { secretKey: 'wrong' })).toEqual({ status: 400, body: 'FAILURE' });
    expect(await claim(customers[0]!.jwt, 'claim-wrong', { secretKey: 'right' })).toEqual({ status: 400, body: 'FAILURE' });
    expect(await customerOf(d.id)).toBe('13814000-1dd2-11b2-8080-808080808080');
    // the device asks again: now the right key claims it
    await claiming().requestClaim(info(d.id, 'claim-wrong'), { secretKey: 'right', durationMs: undefined });
    expect((await claim(customers[0]!.jwt, 'claim-wrong', { secretKey: 'right' })).status).toBe(200);
  });

  it('an expired claim answers FAILURE', async () => {
    const d = await createDevice(app.url, jwt, 'claim-expired');
    // asked 61 s ago for 60 s
    await claiming({ now: () => Date.now() - 61_000 }).requestClaim(info(d.id, 'claim-expired'), { secretKey: 'k', durationMs: 60_000 });
    expect(await claim(customers[0]!.jwt, 'claim-expired', { secretKey: 'k' })).toEqual({ status: 400, body: 'FAILURE' });
    expect(await customerOf(d.id)).toBe('13814000-1dd2-11b2-8080-808080808080');
  });

  it("ThingsBoard's defaults: no durationMs takes the configured duration; no secret key (or no body) is the empty key", async () => {
    const d = await createDevice(app.url, jwt, 'claim-defaults');
    const before = Date.now();
    await claiming().requestClaim(info(d.id, 'claim-defaults'), { secretKey: '', durationMs: undefined });
    const stored = JSON.parse(String(await claimingData(d.id))) as { secretKey: string; expirationTime: number };
    expect(stored.secretKey).toBe('');
    expect(stored.expirationTime).toBeGreaterThanOrEqual(before + 60_000);
    expect(stored.expirationTime).toBeLessThanOrEqual(Date.now() + 60_000);
    // a zero or negative duration is no duration either (ThingsBoard's validateDurationMs)
    await claiming().requestClaim(info(d.id, 'claim-defaults'), { secretKey: '', durationMs: -5 });
    expect((JSON.parse(String(await claimingData(d.id))) as { expirationTime: number }).expirationTime).toBeGreaterThan(Date.now() + 50_000);
    // a non-empty key does not match the empty one
    expect(await claim(customers[0]!.jwt, 'claim-defaults', { secretKey: 'x' })).toEqual({ status: 400, body: 'FAILURE' });
    await claiming().requestClaim(info(d.id, 'claim-defaults'), { secretKey: '', durationMs: undefined });
    // no body at all: the empty key
    const r = await claim(customers[0]!.jwt, 'claim-defaults');
    expect(r.status).toBe(200);
    expect(await customerOf(d.id)).toBe(customers[0]!.id);

    const e = await createDevice(app.url, jwt, 'claim-defaults-2');
    await claiming().requestClaim(info(e.id, 'claim-defaults-2'), { secretKey: '', durationMs: undefined });
    expect((await claim(customers[1]!.jwt, 'claim-defaults-2', {})).status).toBe(200);
  });

  it('no pending claim: FAILURE for an unassigned device, CLAIMED for an assigned one; unknown names 404', async () => {
    const d = await createDevice(app.url, jwt, 'claim-none');
    expect(await claim(customers[0]!.jwt, 'claim-none', { secretKey: '' })).toEqual({ status: 400, body: 'FAILURE' });
    expect((await api(app.url, jwt, `/api/customer/${customers[1]!.id}/device/${d.id}`, { method: 'POST' })).status).toBe(200);
    expect(await claim(customers[0]!.jwt, 'claim-none', { secretKey: '' })).toEqual({ status: 400, body: 'CLAIMED' });
    expect((await claim(customers[0]!.jwt, 'no-such-device', { secretKey: '' })).status).toBe(404);
    expect((await claim(customers[0]!.jwt, 'x'.repeat(300), { secretKey: '' })).status).toBe(404);
  });

  it('bad requests: a secret key that is not a string is 400; a tenant administrator may not claim (403)', async () => {
    const d = await createDevice(app.url, jwt, 'claim-bad');
    await claiming().requestClaim(info(d.id, 'claim-bad'), { secretKey: 'k', durationMs: undefined });
    const r = await claim(customers[0]!.jwt, 'claim-bad', { secretKey: 42 });
    expect(r.status).toBe(400);
    expect(r.body).toMatchObject({ message: expect.stringContaining('secretKey') });
    expect((await claim(jwt, 'claim-bad', { secretKey: 'k' })).status).toBe(403);
    // still pending, still claimable
    expect((await claim(customers[0]!.jwt, 'claim-bad', { secretKey: 'k' })).status).toBe(200);
  });

  it("a customer user cannot claim another tenant's device, whatever its name", async () => {
    const sys = await login(app.url, SYSADMIN);
    const other = await createTenantWithAdmin(app.url, sys, { title: 'Other claims', email: 'admin@other-claims.test', password: 'other-claims-pw' });
    const d = await createDevice(app.url, other.jwt, 'claim-foreign');
    await claiming().requestClaim({ tenantId: other.tenantId, deviceId: d.id, deviceName: 'claim-foreign', deviceType: 'sensor' }, { secretKey: 'k', durationMs: undefined });
    expect((await claim(customers[0]!.jwt, 'claim-foreign', { secretKey: 'k' })).status).toBe(404);
    expect((await api<{ customerId: { id: string } }>(app.url, other.jwt, `/api/device/${d.id}`)).body.customerId.id).toBe('13814000-1dd2-11b2-8080-808080808080');
  });

  it('a device that belongs to a customer cannot ask to be claimed; a secret key over 1024 characters is refused', async () => {
    const d = await createDevice(app.url, jwt, 'claim-assigned');
    expect((await api(app.url, jwt, `/api/customer/${customers[1]!.id}/device/${d.id}`, { method: 'POST' })).status).toBe(200);
    await claiming().requestClaim(info(d.id, 'claim-assigned'), { secretKey: 'k', durationMs: undefined });
    expect(await claimingData(d.id)).toBeUndefined();
    const e = await createDevice(app.url, jwt, 'claim-long-key');
    await claiming().requestClaim(info(e.id, 'claim-long-key'), { secretKey: 'k'.repeat(1025), durationMs: undefined });
    expect(await claimingData(e.id)).toBeUndefined();
  });

  it('claiming not allowed by default: only a device with claimingAllowed = true may ask; the claim spends it', async () => {
    const d = await createDevice(app.url, jwt, 'claim-allowed');
    const strict = claiming({ allowClaimingByDefault: false });
    await strict.requestClaim(info(d.id, 'claim-allowed'), { secretKey: 'k', durationMs: undefined });
    expect(await claimingData(d.id)).toBeUndefined();
    expect((await api(app.url, jwt, `/api/plugins/telemetry/DEVICE/${d.id}/SERVER_SCOPE`, { method: 'POST', body: { claimingAllowed: true } })).status).toBe(200);
    await strict.requestClaim(info(d.id, 'claim-allowed'), { secretKey: 'k', durationMs: undefined });
    expect(await claimingData(d.id)).toBeDefined();
    expect((await claim(customers[0]!.jwt, 'claim-allowed', { secretKey: 'k' })).status).toBe(200);
    // the claim spent claimingAllowed too
    expect(await app.storage.attributes.find(d.id, AttributeScope.SERVER_SCOPE, ['claimingAllowed'])).toEqual([]);
  });

  it('re-claiming: the customer user of the owning customer (or the tenant administrator) returns the device; another customer may not', async () => {
    const d = await createDevice(app.url, jwt, 'claim-reclaim');
    await claiming().requestClaim(info(d.id, 'claim-reclaim'), { secretKey: 'k', durationMs: undefined });
    expect((await claim(customers[0]!.jwt, 'claim-reclaim', { secretKey: 'k' })).status).toBe(200);
    const unclaim = (who: string) => api(app.url, who, '/api/customer/device/claim-reclaim/claim', { method: 'DELETE' });
    expect((await unclaim(customers[1]!.jwt)).status).toBe(403);
    expect(await customerOf(d.id)).toBe(customers[0]!.id);
    expect((await unclaim(customers[0]!.jwt)).status).toBe(200);
    expect(await customerOf(d.id)).toBe('13814000-1dd2-11b2-8080-808080808080');
    // claimable again once the device asks again, by the other customer this time
    await claiming().requestClaim(info(d.id, 'claim-reclaim'), { secretKey: 'k2', durationMs: undefined });
    expect((await claim(customers[1]!.jwt, 'claim-reclaim', { secretKey: 'k2' })).status).toBe(200);
    expect((await unclaim(jwt)).status).toBe(200);
    expect(await customerOf(d.id)).toBe('13814000-1dd2-11b2-8080-808080808080');
    // an unassigned device: nothing to do, 200 (ThingsBoard's)
    expect((await unclaim(customers[1]!.jwt)).status).toBe(200);
    expect((await api(app.url, jwt, '/api/customer/device/no-such-device/claim', { method: 'DELETE' })).status).toBe(404);
  });

  it('two customers claiming the same device at once: exactly one gets it', async () => {
    for (let i = 0; i < 5; i++) {
      const name = `claim-race-${i}`;
      const d = await createDevice(app.url, jwt, name);
      await claiming().requestClaim(info(d.id, name), { secretKey: 'k', durationMs: undefined });
      const results = await Promise.all(customers.map((c) => claim(c.jwt, name, { secretKey: 'k' })));
      const winners = results.filter((r) => r.status === 200);
      expect(winners).toHaveLength(1);
      const winner = customers[results.indexOf(winners[0]!)]!;
      expect(await customerOf(d.id)).toBe(winner.id);
    }
  });
});

/**
 * RIVULET_CLAIM_ALLOW_BY_DEFAULT=false through the whole server on the embedded database (PGlite):
 * the device asks over the HTTP device API, the customer claims over REST, re-claiming sets
 * claimingAllowed again.
 */
describe('device claiming not allowed by default (embedded database)', () => {
  let app: Rivulet;
  let jwt: string;
  const dir = tempDir();
  let customerJwt: string;
  let customerId: string;

  beforeAll(async () => {
    app = await startTestServer({ RIVULET_DATA_DIR: dir.dir, RIVULET_CLAIM_ALLOW_BY_DEFAULT: 'false' });
    jwt = await login(app.url);
    const c = await api<{ id: { id: string } }>(app.url, jwt, '/api/customer', { method: 'POST', body: { title: 'Strict claimers' } });
    customerId = c.body.id.id;
    expect((await api(app.url, jwt, '/api/user', { method: 'POST', body: { email: 'strict@customer.test', authority: 'CUSTOMER_USER', customerId: { id: customerId }, password: 'strict-pw-1' } })).status).toBe(200);
    customerJwt = await login(app.url, { username: 'strict@customer.test', password: 'strict-pw-1' });
  });
  afterAll(async () => {
    await app?.stop();
    dir.remove();
  });

  const announce = async (token: string) => (await fetch(`${app.url}/api/v1/${token}/claim`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ secretKey: 'strict-key' }) })).status;
  const claim = () => api(app.url, customerJwt, '/api/customer/device/strict-device/claim', { method: 'POST', body: { secretKey: 'strict-key' } });
  const allowed = async (id: string) => (await app.storage.attributes.find(id, AttributeScope.SERVER_SCOPE, ['claimingAllowed']))[0]?.value;

  it('a device without claimingAllowed cannot be claimed; with it once; re-claiming allows it again', async () => {
    const d = await createDevice(app.url, jwt, 'strict-device');
    expect(await announce(d.token)).toBe(200);
    expect(await claim()).toEqual({ status: 400, body: 'FAILURE' });

    expect((await api(app.url, jwt, `/api/plugins/telemetry/DEVICE/${d.id}/SERVER_SCOPE`, { method: 'POST', body: { claimingAllowed: true } })).status).toBe(200);
    expect(await announce(d.token)).toBe(200);
    expect((await claim()).status).toBe(200);
    expect(await allowed(d.id)).toBeUndefined();
    // the claim spent claimingAllowed: the device cannot be offered again while it is the customer's or after
    expect((await api(app.url, customerJwt, '/api/customer/device/strict-device/claim', { method: 'DELETE' })).status).toBe(200);
    expect((await api<{ customerId: { id: string } }>(app.url, jwt, `/api/device/${d.id}`)).body.customerId.id).toBe('13814000-1dd2-11b2-8080-808080808080');
    // re-claiming set claimingAllowed = true (ThingsBoard's reClaimDevice): the device may ask again
    expect(await allowed(d.id)).toBe(true);
    expect(await announce(d.token)).toBe(200);
    expect((await claim()).status).toBe(200);
    expect((await api<{ customerId: { id: string } }>(app.url, jwt, `/api/device/${d.id}`)).body.customerId.id).toBe(customerId);
  });
});
