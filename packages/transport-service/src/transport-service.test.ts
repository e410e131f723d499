import { BadRequestError, type DeviceInfo } from '@rivulet/core';
import { createMemoryQueue } from '@rivulet/queue';
import { describe, expect, it } from 'vitest';
import { FeatureUnavailableError, ProvisionRateLimitError } from './errors';
import { createTransportService, type TransportServiceOptions } from './transport-service';
import { TEST_DOUBLE_PROVISION_KEY, TEST_DOUBLE_PROVISION_SECRET, createClaimingTestDouble, createProvisioningTestDouble } from './test-doubles';

const device = { tenantId: 't1', deviceId: 'd1', name: 'A', type: 'default' } as unknown as DeviceInfo;
/** The service with its required parts (unused here) and the given ones. */
function serviceWith(o: Partial<TransportServiceOptions>) {
  return createTransportService({
    queue: createMemoryQueue({}),
    auth: { authenticateToken: async () => null },
    deviceApi: { getAttributes: async () => ({}) },
    ...o,
  });
}

const good = JSON.stringify({ deviceName: 'dev', provisionDeviceKey: TEST_DOUBLE_PROVISION_KEY, provisionDeviceSecret: TEST_DOUBLE_PROVISION_SECRET });

describe('transport service: provisioning and claiming delegation', () => {
  it('hands the parsed request to the provisioning service and returns its answer', async () => {
    const provisioning = createProvisioningTestDouble();
    const s = serviceWith({ provisioning });
    await expect(s.provision(good, 'HTTP', '10.0.0.1')).resolves.toEqual({ status: 'SUCCESS', credentialsType: 'ACCESS_TOKEN', credentialsValue: 'token-for-dev' });
    await expect(s.provision('{"provisionDeviceKey":"x"}', 'MQTT', '10.0.0.1')).resolves.toMatchObject({ status: 'NOT_FOUND' });
    expect(provisioning.calls.map((c) => c.transport)).toEqual(['HTTP', 'MQTT']);
  });

  it('refuses without a service, on malformed JSON, and past the per-address rate (before the service sees it)', async () => {
    await expect(serviceWith({}).provision(good, 'COAP', 'a')).rejects.toBeInstanceOf(FeatureUnavailableError);
    await expect(serviceWith({}).claim(device, '')).rejects.toBeInstanceOf(FeatureUnavailableError);
    const provisioning = createProvisioningTestDouble();
    const s = serviceWith({ provisioning, provisionRequestsPerMinute: 2 });
    await expect(s.provision('{nope', 'HTTP', 'a')).rejects.toBeInstanceOf(BadRequestError);
    await s.provision(good, 'HTTP', 'a');
    const refused = await s.provision(good, 'MQTT', 'a').catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(ProvisionRateLimitError);
    expect((refused as ProvisionRateLimitError).retryAfterMs).toBeGreaterThan(0);
    expect(provisioning.calls).toHaveLength(1);
    // another address is not affected
    await expect(s.provision(good, 'HTTP', 'b')).resolves.toMatchObject({ status: 'SUCCESS' });
    expect(s.stats().provision).toEqual({ requests: 4, rateLimited: 1, unavailable: 0 });
  });

  it('parses claim requests: both fields optional, wrong types refused', async () => {
    const claiming = createClaimingTestDouble();
    const s = serviceWith({ claiming });
    await s.claim(device, '');
    await s.claim(device, '{"secretKey":"s3","durationMs":60000}');
    await s.claim(device, '{"durationMs":"1000"}');
    expect(claiming.calls.map((c) => c.request)).toEqual([
      { secretKey: '', durationMs: undefined },
      { secretKey: 's3', durationMs: 60000 },
      { secretKey: '', durationMs: 1000 },
    ]);
    for (const bad of ['[1]', '{"secretKey":5}', '{"durationMs":-1}', '{"durationMs":1.5}', '{x']) {
      await expect(s.claim(device, bad)).rejects.toBeInstanceOf(BadRequestError);
    }
    expect(claiming.calls).toHaveLength(3);
  });
});
