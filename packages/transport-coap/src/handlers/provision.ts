import type { IncomingMessage } from 'coap';
import { BadRequestError } from '@rivulet/core';
import { FeatureUnavailableError, ProvisionRateLimitError } from '@rivulet/transport-service';
import type { CoapResponse } from '../coap-endpoint';
import { Code } from '../coap-message';
import { accept, internalError, reject, type CoapContext } from '../context';

/**
 * `POST /api/v1/provision` `{"deviceName":..,"provisionDeviceKey":..,"provisionDeviceSecret":..}`:
 * 2.05 with ThingsBoard's JSON answer, a refusal included; 4.29 with Max-Age past the per-address
 * rate, 4.00 for a payload that is not JSON, 5.01 without a provisioning service.
 */
export async function provision(ctx: CoapContext, req: IncomingMessage, res: CoapResponse): Promise<void> {
  const { service } = ctx;
  if (!service.provisioningAvailable) return reject(ctx, res, 'notImplemented', Code.NOT_IMPLEMENTED, new FeatureUnavailableError('provisioning').message);
  try {
    const answer = await service.provision(req.payload.toString('utf8'), 'COAP', req.rsinfo.address);
    accept(ctx, res, Code.CONTENT, JSON.stringify(answer));
  } catch (e) {
    if (e instanceof ProvisionRateLimitError) reject(ctx, res, 'rateLimited', Code.TOO_MANY_REQUESTS, e.message, { 'Max-Age': Math.max(1, Math.ceil(e.retryAfterMs / 1000)) });
    else if (e instanceof BadRequestError) reject(ctx, res, 'badRequest', Code.BAD_REQUEST, e.message);
    else if (e instanceof FeatureUnavailableError) reject(ctx, res, 'notImplemented', Code.NOT_IMPLEMENTED, e.message);
    else internalError(ctx, res, e, 'device provisioning failed');
  }
}
