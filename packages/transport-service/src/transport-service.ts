import {
  parseLenientJson,
  silentLogger,
  type DeviceClaimingService,
  type DeviceInfo,
  type DeviceProvisioningService,
  type Logger,
  type ProvisionResponse,
  type ProvisionTransport,
} from '@rivulet/core';
import { createAddressRateLimit, type AddressRateLimit } from './address-rate-limit';
import { parseClaimRequest, type ClaimRequest } from './claim-request';
import { FeatureUnavailableError, ProvisionRateLimitError } from './errors';

export interface TransportServiceOptions {
  /** Device provisioning (core's DeviceProvisioningService); absent: every transport refuses provisioning. */
  provisioning?: DeviceProvisioningService;
  /** Device claiming (core's DeviceClaimingService); absent: every transport refuses claiming. */
  claiming?: DeviceClaimingService;
  /** Provisioning requests per source address per minute, all transports together; default 10, 0: no limit. */
  provisionRequestsPerMinute?: number;
  logger?: Logger;
}

export interface TransportServiceStats {
  provision: { requests: number; rateLimited: number; unavailable: number };
  claim: { requests: number; unavailable: number };
}

/**
 * What HTTP, MQTT and CoAP share behind their protocols (ThingsBoard's TransportService): each
 * transport keeps only its protocol (topics, paths, status codes) and calls this for the work.
 */
export interface TransportService {
  readonly provisioningAvailable: boolean;
  readonly claimingAvailable: boolean;
  /**
   * A provisioning request as the device sent it (JSON text), from `sourceAddress`. Throws
   * FeatureUnavailableError (no provisioning service), ProvisionRateLimitError (over the per-address
   * rate, checked before anything else) or BadRequestError (not JSON); otherwise resolves with
   * ThingsBoard's answer, a refusal included (`{"status":"NOT_FOUND"|"FAILURE",...}`).
   */
  provision(text: string, transport: ProvisionTransport, sourceAddress: string | undefined): Promise<ProvisionResponse>;
  /** A device's claim announcement (`{"secretKey":..,"durationMs":..}`, both optional). Throws FeatureUnavailableError or BadRequestError. */
  claim(device: DeviceInfo, text: string): Promise<void>;
  /** The same with the request already parsed (a gateway's `v1/gateway/claim` names several devices). */
  claimParsed(device: DeviceInfo, request: ClaimRequest): Promise<void>;
  stats(): TransportServiceStats;
}

export function createTransportService(options: TransportServiceOptions): TransportService {
  const { provisioning, claiming } = options;
  const logger = (options.logger ?? silentLogger).child({ component: 'transport-service' });
  const perMinute = options.provisionRequestsPerMinute ?? 10;
  const provisionLimit: AddressRateLimit | undefined = perMinute > 0 ? createAddressRateLimit({ requests: perMinute, periodMs: 60_000 }) : undefined;
  const stats: TransportServiceStats = { provision: { requests: 0, rateLimited: 0, unavailable: 0 }, claim: { requests: 0, unavailable: 0 } };

  async function claimParsed(device: DeviceInfo, request: ClaimRequest): Promise<void> {
    stats.claim.requests++;
    if (!claiming) {
      stats.claim.unavailable++;
      throw new FeatureUnavailableError('claiming');
    }
    await claiming.requestClaim(device, { secretKey: request.secretKey, durationMs: request.durationMs });
  }

  return {
    provisioningAvailable: provisioning !== undefined,
    claimingAvailable: claiming !== undefined,

    async provision(text, transport, sourceAddress) {
      stats.provision.requests++;
      if (!provisioning) {
        stats.provision.unavailable++;
        throw new FeatureUnavailableError('provisioning');
      }
      // before parsing: a refused request costs nothing and reaches no secret
      const waitMs = provisionLimit?.take(sourceAddress ?? 'unknown', Date.now()) ?? 0;
      if (waitMs > 0) {
        stats.provision.rateLimited++;
        logger.debug({ transport, sourceAddress, retryAfterMs: waitMs }, 'provisioning request refused: address over its rate');
        throw new ProvisionRateLimitError(waitMs);
      }
      const request = text.trim() === '' ? {} : parseLenientJson(text);
      const response = await provisioning.provision(request, transport);
      logger.debug({ transport, sourceAddress, status: response.status }, 'provisioning request answered');
      return response;
    },

    async claim(device, text) {
      return claimParsed(device, parseClaimRequest(text));
    },
    claimParsed,

    stats() {
      return { provision: { ...stats.provision }, claim: { ...stats.claim } };
    },
  };
}
