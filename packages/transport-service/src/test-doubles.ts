import type { DeviceClaimingService, DeviceInfo, DeviceProvisioningService, ProvisionResponse, ProvisionTransport } from '@rivulet/core';

/**
 * TEST DOUBLES of core's DeviceProvisioningService and DeviceClaimingService, for the transports'
 * protocol tests (topics, paths, status codes). Not implementations: the server's real ones (on
 * storage) live in apps/server and have their own end-to-end tests.
 */

export const TEST_DOUBLE_PROVISION_KEY = 'test-double-key';
export const TEST_DOUBLE_PROVISION_SECRET = 'test-double-secret';

export interface ProvisioningTestDouble extends DeviceProvisioningService {
  readonly calls: Array<{ request: unknown; transport: ProvisionTransport }>;
}

/**
 * Answers SUCCESS with an access token `token-for-{deviceName}` for TEST_DOUBLE_PROVISION_KEY and
 * _SECRET, ThingsBoard's NOT_FOUND otherwise; records every call.
 */
export function createProvisioningTestDouble(): ProvisioningTestDouble {
  const calls: Array<{ request: unknown; transport: ProvisionTransport }> = [];
  return {
    calls,
    async provision(request, transport): Promise<ProvisionResponse> {
      calls.push({ request, transport });
      const r = (typeof request === 'object' && request !== null ? request : {}) as Record<string, unknown>;
      if (r.provisionDeviceKey === TEST_DOUBLE_PROVISION_KEY && r.provisionDeviceSecret === TEST_DOUBLE_PROVISION_SECRET) {
        return { status: 'SUCCESS', credentialsType: 'ACCESS_TOKEN', credentialsValue: `token-for-${String(r.deviceName)}` };
      }
      return { status: 'NOT_FOUND', errorMsg: 'Provision data was not found!' };
    },
  };
}

export interface ClaimingTestDouble extends DeviceClaimingService {
  readonly calls: Array<{ device: DeviceInfo; request: { secretKey: string; durationMs: number | undefined } }>;
}

/** Records every claim announcement; `fail` makes it reject (as a real one may, e.g. on a storage error). */
export function createClaimingTestDouble(fail?: Error): ClaimingTestDouble {
  const calls: ClaimingTestDouble['calls'] = [];
  return {
    calls,
    async requestClaim(device, request) {
      calls.push({ device, request });
      if (fail) throw fail;
    },
  };
}
