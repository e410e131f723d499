import { ErrorCode, RivuletError } from '@rivulet/core';

/** A device API feature this server was started without (no provisioning or claiming service given). */
export type OptionalFeature = 'provisioning' | 'claiming';

/**
 * The feature is not available on this server: each transport refuses clearly (HTTP 501, CoAP
 * 5.01, MQTT 5 reason code 0x83 / CONNACK 0x87, MQTT 3.1.1 closes without PUBACK or CONNACK 5),
 * never acknowledges and drops.
 */
export class FeatureUnavailableError extends Error {
  constructor(readonly feature: OptionalFeature) {
    super(`Device ${feature} is not available on this server`);
    this.name = 'FeatureUnavailableError';
  }
}

/** Too many provisioning requests from one source address (the secret must not be brute-forceable). */
export class ProvisionRateLimitError extends RivuletError {
  constructor(readonly retryAfterMs: number) {
    super(ErrorCode.TOO_MANY_REQUESTS, `Too many provisioning requests from this address; retry after ${Math.max(1, Math.ceil(retryAfterMs / 1000))} s`);
    this.name = 'ProvisionRateLimitError';
  }
}

/** The queue did not accept a device's messages (it is closing or full): the transport answers "retry later" and acknowledges nothing. */
export class QueueRejectedError extends Error {
  constructor(cause: unknown) {
    super('the message queue did not accept the payload', { cause });
    this.name = 'QueueRejectedError';
  }
}
