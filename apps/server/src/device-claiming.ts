import { AttributeScope, silentLogger, type DeviceClaimingService, type Logger } from '@rivulet/core';
import { CLAIMING_ALLOWED_ATTRIBUTE, CLAIMING_DATA_ATTRIBUTE, formatClaimData, MAX_CLAIM_SECRET_LENGTH } from '@rivulet/api';
import type { Storage } from '@rivulet/storage';

/** The longest claim window a device may ask for (ten years): an expiration time stays a safe integer. */
const MAX_CLAIM_DURATION_MS = 10 * 365 * 86_400_000;

/**
 * The device's side of claiming (ThingsBoard's registerClaimingInfo), on storage: the claim request
 * becomes the device's claimingData server attribute (`{"secretKey","expirationTime"}`), which the
 * API process reads when a customer claims the device, wherever the transport runs.
 *
 * Refused (logged, nothing stored, the device is not told: ThingsBoard answers nothing either):
 * a device that belongs to a customer, a device without `claimingAllowed` = true when claiming is
 * not allowed by default, a secret key longer than 1024 characters. A new request replaces a pending
 * one (ThingsBoard kept the first in its cache until it expired; the device is the one that knows
 * its current key). Never rejects on a refusal; only when storage fails.
 */
export function createDeviceClaimingService(o: {
  storage: Storage;
  /** ThingsBoard's security.claim.duration: the window when the request has no positive durationMs. */
  defaultDurationMs: number;
  /** ThingsBoard's security.claim.allowClaimingByDefault. */
  allowClaimingByDefault: boolean;
  logger?: Logger;
  now?: () => number;
}): DeviceClaimingService {
  const logger = (o.logger ?? silentLogger).child({ component: 'device-claiming' });
  const now = o.now ?? Date.now;
  return {
    async requestClaim(info, request) {
      const { tenantId, deviceId } = info;
      const secretKey = request.secretKey;
      if (typeof secretKey !== 'string' || secretKey.length > MAX_CLAIM_SECRET_LENGTH || secretKey.includes('\u0000')) {
        logger.warn({ tenantId, deviceId }, 'claim request refused: secret key not a string of at most 1024 characters');
        return;
      }
      const device = await o.storage.devices.get(tenantId, deviceId);
      if (!device) return;
      if (device.customerId !== null) {
        logger.warn({ tenantId, deviceId }, 'claim request refused: the device belongs to a customer already');
        return;
      }
      if (!o.allowClaimingByDefault) {
        const [allowed] = await o.storage.attributes.find(deviceId, AttributeScope.SERVER_SCOPE, [CLAIMING_ALLOWED_ATTRIBUTE]);
        if (allowed?.value !== true) {
          logger.warn({ tenantId, deviceId }, 'claim request refused: claiming is not allowed by default and the device has no claimingAllowed = true');
          return;
        }
      }
      const d = request.durationMs;
      // ThingsBoard's validateDurationMs: a positive duration, else the configured one
      const durationMs = typeof d === 'number' && Number.isFinite(d) && d > 0 ? Math.min(Math.floor(d), MAX_CLAIM_DURATION_MS) : o.defaultDurationMs;
      const ts = now();
      await o.storage.attributes.save([
        { entityId: deviceId, scope: AttributeScope.SERVER_SCOPE, key: CLAIMING_DATA_ATTRIBUTE, value: formatClaimData({ secretKey, expirationTime: ts + durationMs }), lastUpdateTs: ts },
      ]);
      logger.debug({ tenantId, deviceId, durationMs }, 'claim request stored');
    },
  };
}
