import { createMemoryBroadcast } from '@rivulet/broadcast';
import { createEmbeddedStorage } from '@rivulet/storage-postgres';
import type { Storage } from '@rivulet/storage';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEntityOwnership } from './node-capabilities';

/**
 * The ownership behind the tenant-bound rule-node services, on real (embedded) storage: a tenant's
 * devices and customers are its own, another tenant's never are (whatever the id).
 */
describe('createEntityOwnership', () => {
  let storage: Storage;
  beforeAll(async () => {
    storage = await createEmbeddedStorage();
  });
  afterAll(async () => {
    await storage?.close();
  });

  it("owns the tenant's devices and customers, not another tenant's, not unknown or malformed ids", async () => {
    const a = (await storage.tenants.create({ title: 'Owner A' })).id;
    const b = (await storage.tenants.create({ title: 'Owner B' })).id;
    const { device } = await storage.devices.create({ tenantId: a, name: 'a-device' });
    const customer = await storage.customers.create(a, { title: 'A customer' });
    const ownership = createEntityOwnership({ storage, broadcast: createMemoryBroadcast() });
    const owns = async (t: string, id: string) => await ownership.owns(t, id);
    expect(await owns(a, device.id)).toBe(true);
    expect(await owns(a, customer.id)).toBe(true);
    expect(await owns(b, device.id)).toBe(false);
    expect(await owns(b, customer.id)).toBe(false);
    expect(await owns(a, '00000000-0000-4000-8000-000000000bad')).toBe(false);
    expect(await owns(a, 'not-a-uuid')).toBe(false);
    // cached answers stay right
    expect(await owns(b, customer.id)).toBe(false);
    expect(await owns(a, customer.id)).toBe(true);
    ownership.close();
  });
});
