import type { IncomingMessage, ServerResponse } from 'node:http';
import { BadRequestError } from '@rivulet/core';
import { FeatureUnavailableError, ProvisionRateLimitError } from '@rivulet/transport-service';
import { internalError, reject, rejectEarly, tooLarge, type HttpContext } from '../context';
import { TbErrorCode, discardBody, replyJson } from '../http-reply';
import { readBody } from '../request-body';

/** Provisioning or claiming asked of a server without that service: 501. */
export function notImplemented(ctx: HttpContext, res: ServerResponse, e: FeatureUnavailableError): void {
  reject(ctx, res, 'notImplemented', 501, TbErrorCode.GENERAL, e.message);
}

/**
 * `POST /api/v1/provision` `{"deviceName":..,"provisionDeviceKey":..,"provisionDeviceSecret":..}`:
 * answered 200 with ThingsBoard's JSON, a refusal (`"status":"NOT_FOUND"`) included; 429 past the
 * per-address rate, 400 for a body that is not JSON, 501 without a provisioning service.
 */
export async function provision(ctx: HttpContext, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const { service, maxPayloadBytes } = ctx;
  if (!service.provisioningAvailable) {
    rejectEarly(ctx, req, res, 'notImplemented', 501, TbErrorCode.GENERAL, new FeatureUnavailableError('provisioning').message);
    return;
  }
  const declared = Number(req.headers['content-length']);
  if (declared > maxPayloadBytes) {
    tooLarge(ctx, res);
    discardBody(req);
    return;
  }
  const b = await readBody(req, maxPayloadBytes);
  if (b.kind === 'too-large') return tooLarge(ctx, res);
  if (b.kind !== 'ok') return;
  try {
    const answer = await service.provision(b.text, 'HTTP', ctx.clientAddress(req));
    ctx.counters.acceptedRequests++;
    replyJson(res, 200, JSON.stringify(answer));
  } catch (e) {
    if (e instanceof ProvisionRateLimitError) {
      reject(ctx, res, 'rateLimited', 429, TbErrorCode.TOO_MANY_REQUESTS, e.message, { 'retry-after': String(Math.max(1, Math.ceil(e.retryAfterMs / 1000))) });
    } else if (e instanceof BadRequestError) reject(ctx, res, 'badRequest', 400, TbErrorCode.INVALID_ARGUMENTS, e.message);
    else if (e instanceof FeatureUnavailableError) notImplemented(ctx, res, e);
    else internalError(ctx, res, e, 'device provisioning failed');
  }
}
