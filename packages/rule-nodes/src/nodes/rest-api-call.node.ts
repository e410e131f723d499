import { BadRequestError, ErrorCode, RivuletError, createMsg, errorMessage, type JsonValue, type Msg } from '@rivulet/core';
import { defineNode, OutboundDeniedError, Relation, type OutboundHttpRequest, type OutboundHttpResponse } from '@rivulet/rule-engine';
import { z } from 'zod';
import { requireCapability, tbBool } from '../util/data';
import { processPattern } from '../util/patterns';

const Credentials = z.looseObject({
  type: z.string().default('anonymous'),
  username: z.string().nullish(),
  password: z.string().nullish(),
});

/** A small semaphore: maxParallelRequestsCount (0: no limit). */
function limiter(max: number) {
  let active = 0;
  const waiting: Array<() => void> = [];
  return async <T>(fn: () => Promise<T>): Promise<T> => {
    if (max > 0 && active >= max) await new Promise<void>((r) => waiting.push(r));
    active++;
    try {
      return await fn();
    } finally {
      active--;
      waiting.shift()?.();
    }
  };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const retryable = (status: number) => status >= 500 || status === 429 || status === 408;

/**
 * Calls an HTTP endpoint with the message (ThingsBoard's TbRestApiCallNode): URL and headers may use
 * `${metadata}` / `$[data]` patterns; the data is the body (JSON, or the raw string with
 * parseToPlainText). The response becomes the message data on Success, with status, statusCode,
 * statusReason and the response headers in the metadata. A status that is not 2xx goes to Failure with
 * the same metadata and the error. Network errors, timeouts, 408, 429 and 5xx are retried `retries`
 * times with a growing pause; the time limit applies to each attempt.
 *
 * The call goes through the `outbound` capability: every address connected to, redirects included
 * (at most 5), is checked against the deployment's outbound policy, and a denied call fails the
 * message with the policy's error (not retried). In a test run nothing is sent: the call is recorded
 * and answered with a simulated empty 200 whose metadata says `simulated: test-run`.
 */
export const restApiCallNode = defineNode({
  type: 'rivulet.external.restApiCall',
  aliases: ['org.thingsboard.rule.engine.rest.TbRestApiCallNode'],
  category: 'external',
  name: 'REST API call',
  description: 'Sends the message to an HTTP endpoint; the response becomes the message (timeout, retries).',
  configSchema: z.looseObject({
    restEndpointUrlPattern: z.string().min(1).default('http://localhost/api'),
    requestMethod: z.enum(['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'HEAD', 'OPTIONS']).default('POST'),
    headers: z.record(z.string(), z.string()).nullish(),
    /** Per attempt; 0 means Rivulet's default of 10 s (ThingsBoard's 0 waits forever). */
    readTimeoutMs: z.number().int().nonnegative().default(0),
    maxParallelRequestsCount: z.number().int().nonnegative().default(0),
    parseToPlainText: tbBool().default(false),
    ignoreRequestBody: tbBool().default(false),
    maxInMemoryBufferSizeInKb: z.number().int().positive().default(256),
    credentials: Credentials.nullish(),
    retries: z.number().int().min(0).max(10).default(0),
    retryDelayMs: z.number().int().nonnegative().default(500),
  }),
  configVersion: 0,
  relations: [Relation.SUCCESS, Relation.FAILURE],
  requires: ['outbound'],
  create(config, services) {
    const cred = config.credentials;
    if (cred && cred.type !== 'anonymous' && cred.type !== 'basic') {
      throw new BadRequestError(`credentials.type ${cred.type} is not supported (anonymous or basic)`);
    }
    const auth = cred?.type === 'basic' ? `Basic ${Buffer.from(`${cred.username ?? ''}:${cred.password ?? ''}`).toString('base64')}` : undefined;
    const timeoutMs = config.readTimeoutMs > 0 ? config.readTimeoutMs : 10_000;
    const maxBytes = config.maxInMemoryBufferSizeInKb * 1024;
    const withSlot = limiter(config.maxParallelRequestsCount);
    const sendsBody = !config.ignoreRequestBody && config.requestMethod !== 'GET' && config.requestMethod !== 'HEAD';

    function responseMsg(msg: Msg, r: OutboundHttpResponse, error?: string): Msg {
      const metadata: Record<string, string> = { ...msg.metadata, ...r.headers };
      if (r.simulated) metadata.simulated = 'test-run';
      metadata.status = r.statusText || String(r.status);
      metadata.statusCode = String(r.status);
      metadata.statusReason = r.statusText;
      if (error) metadata.error = error;
      let data: JsonValue = r.body;
      if (r.body !== '' && !config.parseToPlainText) {
        try {
          data = JSON.parse(r.body) as JsonValue;
        } catch {
          // Not JSON: the text as it came.
        }
      }
      // Same id: the response continues this message's processing.
      return createMsg({ id: msg.id, ts: msg.ts, type: msg.type, originator: msg.originator, tenantId: msg.tenantId, metadata, data });
    }

    return {
      async process(msg) {
        const outbound = requireCapability(services, 'outbound', 'REST API call');
        const url = processPattern(config.restEndpointUrlPattern, msg);
        let parsed: URL;
        try {
          parsed = new URL(url);
        } catch {
          throw new BadRequestError(`Invalid URL "${url}"`);
        }
        if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') throw new BadRequestError(`Unsupported URL scheme ${parsed.protocol}`);
        const headers: Record<string, string> = {};
        for (const [k, v] of Object.entries(config.headers ?? { 'Content-Type': 'application/json' })) headers[processPattern(k, msg)] = processPattern(v, msg);
        if (auth) headers.Authorization = auth;
        const request: OutboundHttpRequest = { method: config.requestMethod, url, headers, timeoutMs, maxResponseBytes: maxBytes };
        if (sendsBody) request.body = typeof msg.data === 'string' && config.parseToPlainText ? msg.data : JSON.stringify(msg.data);

        return withSlot(async () => {
          let lastError = '';
          for (let i = 0; i <= config.retries; i++) {
            if (i > 0) await sleep(config.retryDelayMs * 2 ** (i - 1));
            try {
              const r = await outbound.http(request);
              if (r.status >= 200 && r.status < 300) return [{ relation: Relation.SUCCESS, msg: responseMsg(msg, r) }];
              lastError = `HTTP ${r.status} ${r.statusText}`.trim();
              if (!retryable(r.status) || i === config.retries) return [{ relation: Relation.FAILURE, msg: responseMsg(msg, r, lastError) }];
            } catch (e) {
              // The policy's refusal is the message's error as it is: retrying cannot change it.
              if (e instanceof OutboundDeniedError) throw e;
              lastError = e instanceof Error && e.name === 'TimeoutError' ? `No response within ${timeoutMs} ms` : errorMessage(e);
              if (e instanceof RivuletError) break;
            }
          }
          throw new RivuletError(ErrorCode.UNAVAILABLE, `${config.requestMethod} ${parsed.origin}${parsed.pathname} failed after ${config.retries + 1} attempt(s): ${lastError}`);
        });
      },
    };
  },
});
