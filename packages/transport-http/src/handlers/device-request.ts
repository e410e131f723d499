import type { IncomingMessage, ServerResponse } from 'node:http';
import { BadRequestError, type DeviceInfo } from '@rivulet/core';
import { internalError, reject, tooLarge, type HttpContext } from '../context';
import { TbErrorCode, canReply, discardBody } from '../http-reply';
import { readBody } from '../request-body';

/** The device of `token`, or undefined after answering 401 (unknown token), 429 (rate) or 500 (auth failed). */
export async function authenticate(ctx: HttpContext, res: ServerResponse, token: string): Promise<DeviceInfo | undefined> {
  let device: DeviceInfo | null;
  try {
    device = token === '' ? null : await ctx.auth.authenticateToken(token);
  } catch (e) {
    internalError(ctx, res, e, 'device authentication failed');
    return undefined;
  }
  if (!device) {
    reject(ctx, res, 'unauthorized', 401, TbErrorCode.AUTHENTICATION, 'Authentication failed: invalid device access token');
    return undefined;
  }
  ctx.state.onActivity(device);
  const { limiter } = ctx;
  if (limiter !== undefined) {
    // before the payload is parsed: a refused request costs no parsing and produces nothing
    const r = limiter.reserve(device, Date.now());
    if (!r.ok) {
      const seconds = Math.max(1, Math.ceil(r.retryAfterMs / 1000));
      const who = r.reason === 'device' ? 'this device' : "this device's tenant";
      reject(ctx, res, 'rateLimited', 429, TbErrorCode.TOO_MANY_REQUESTS, `Too many requests: ${who} is over its message rate limit of ${r.limit} per second; retry after ${seconds} s`, {
        'retry-after': String(seconds),
      });
      return undefined;
    }
  }
  return device;
}

/** Parses a post's body for its device; throws BadRequestError (answered 400). A module-level function, so a request allocates no parser. */
export type PostParser<T> = (ctx: HttpContext, text: string, device: DeviceInfo) => T;

/**
 * Reads the body of a post (413 as soon as it passes the cap) while the token is checked, then
 * parses it with `parse`; undefined after any error answer.
 */
export async function readPost<T>(
  ctx: HttpContext,
  req: IncomingMessage,
  res: ServerResponse,
  token: string,
  parse: PostParser<T>,
): Promise<{ device: DeviceInfo; value: T } | undefined> {
  const { maxPayloadBytes } = ctx;
  const declared = Number(req.headers['content-length']);
  if (declared > maxPayloadBytes) {
    tooLarge(ctx, res);
    discardBody(req);
    return undefined;
  }
  const body = readBody(req, maxPayloadBytes).then((b) => {
    if (b.kind === 'too-large') tooLarge(ctx, res);
    // counted unless already answered (an early 401 or 413 is the request's outcome)
    else if (b.kind === 'aborted' && !res.headersSent) {
      ctx.rejected.aborted++;
      ctx.logger.debug({}, 'device request aborted');
    }
    return b;
  });
  const device = await authenticate(ctx, res, token);
  const b = await body;
  if (!device || b.kind !== 'ok' || !canReply(res)) return undefined;
  // The tenant's own payload limit, known only now: below the process-wide one it refuses more.
  const limit = ctx.service.payloadLimit(device, maxPayloadBytes);
  if (limit < maxPayloadBytes && Buffer.byteLength(b.text) > limit) {
    tooLarge(ctx, res, limit);
    return undefined;
  }
  try {
    return { device, value: parse(ctx, b.text, device) };
  } catch (e) {
    if (e instanceof BadRequestError) {
      reject(ctx, res, 'badRequest', 400, TbErrorCode.INVALID_ARGUMENTS, e.message);
    } else internalError(ctx, res, e, 'device payload parsing failed');
    return undefined;
  }
}
