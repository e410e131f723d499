import { Agent as HttpAgent, request as httpRequest, type ClientRequestArgs, type IncomingMessage } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest, type RequestOptions as HttpsRequestOptions } from 'node:https';
import type { Duplex } from 'node:stream';
import type { ConnectionOptions } from 'node:tls';
import { BadRequestError, ErrorCode, RivuletError } from '@rivulet/core';
import type { OutboundHttpRequest, OutboundHttpResponse } from '@rivulet/rule-engine';
import { connectChecked } from './connect';
import { stripBrackets, type OutboundPolicy } from './policy';

const REDIRECTS = new Set([301, 302, 303, 307, 308]);
/** Headers that must not follow a redirect to another origin (what fetch drops too). */
const CREDENTIAL_HEADERS = new Set(['authorization', 'proxy-authorization', 'cookie']);

class TimeoutError extends Error {
  constructor(ms: number) {
    super(`No response within ${ms} ms`);
    this.name = 'TimeoutError';
  }
}

function checkUrl(url: URL): void {
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new BadRequestError(`Unsupported URL scheme ${url.protocol}`);
}

/**
 * Keep-alive agents whose every new connection goes through connectChecked. A pooled connection was
 * checked when it was made and stays with the address it was made to, so reusing it is safe.
 */
export interface CheckedAgents {
  readonly http: HttpAgent;
  readonly https: HttpsAgent;
  destroy(): void;
}

export function createCheckedAgents(policy: OutboundPolicy, options: { maxSocketsPerHost?: number } = {}): CheckedAgents {
  const common = { keepAlive: true, maxSockets: options.maxSocketsPerHost ?? 64, maxFreeSockets: 16, timeout: 30_000 };
  class CheckedHttpAgent extends HttpAgent {
    override createConnection(o: ClientRequestArgs): Duplex {
      return connectChecked(policy, { host: stripBrackets(o.host ?? ''), port: Number(o.port) });
    }
  }
  class CheckedHttpsAgent extends HttpsAgent {
    override createConnection(o: HttpsRequestOptions): Duplex {
      return connectChecked(policy, { host: stripBrackets(o.host ?? ''), port: Number(o.port), tls: { ...(o as ConnectionOptions), ALPNProtocols: ['http/1.1'] } });
    }
  }
  const http = new CheckedHttpAgent(common);
  const https = new CheckedHttpsAgent(common);
  return {
    http,
    https,
    destroy() {
      http.destroy();
      https.destroy();
    },
  };
}

/**
 * One HTTP exchange where every connection goes through connectChecked (so every hop's address is
 * checked after resolution). Redirects are followed here, not by the HTTP stack, up to
 * maxRedirects: 303, and 301/302 after a POST, become a GET without body (as fetch does);
 * credentials are dropped when the origin changes. Connections come from the checked keep-alive agents.
 */
export async function checkedHttp(agents: CheckedAgents, req: OutboundHttpRequest): Promise<OutboundHttpResponse> {
  const maxRedirects = req.maxRedirects ?? 5;
  let url: URL;
  try {
    url = new URL(req.url);
  } catch {
    throw new BadRequestError(`Invalid URL "${req.url}"`);
  }
  let method = req.method.toUpperCase();
  let body = req.body;
  let headers: Record<string, string> = { ...req.headers };
  const deadline = Date.now() + req.timeoutMs;
  for (let hop = 0; ; hop++) {
    checkUrl(url);
    const res = await exchange(agents, url, method, headers, body, deadline, req.timeoutMs);
    const location = res.headers.location;
    if (REDIRECTS.has(res.statusCode ?? 0) && location) {
      res.resume();
      if (hop >= maxRedirects) throw new RivuletError(ErrorCode.BAD_REQUEST, `More than ${maxRedirects} redirects (last to ${location})`);
      const next = new URL(location, url);
      if (res.statusCode === 303 || ((res.statusCode === 301 || res.statusCode === 302) && method === 'POST')) {
        if (method !== 'HEAD') method = 'GET';
        body = undefined;
        headers = Object.fromEntries(Object.entries(headers).filter(([k]) => !/^content-/i.test(k)));
      }
      if (next.origin !== url.origin) headers = Object.fromEntries(Object.entries(headers).filter(([k]) => !CREDENTIAL_HEADERS.has(k.toLowerCase())));
      url = next;
      continue;
    }
    const text = await readBody(res, req.maxResponseBytes, deadline, req.timeoutMs);
    const out: Record<string, string> = {};
    for (const [k, v] of Object.entries(res.headers)) if (v !== undefined) out[k] = Array.isArray(v) ? v.join(', ') : v;
    return { status: res.statusCode ?? 0, statusText: res.statusMessage ?? '', headers: out, body: text, url: url.href };
  }
}

function exchange(
  agents: CheckedAgents,
  url: URL,
  method: string,
  headers: Record<string, string>,
  body: string | undefined,
  deadline: number,
  timeoutMs: number,
): Promise<IncomingMessage> {
  const https = url.protocol === 'https:';
  const host = stripBrackets(url.hostname);
  const port = url.port ? Number(url.port) : https ? 443 : 80;
  return new Promise((resolve, reject) => {
    const request = (https ? httpsRequest : httpRequest)({
      method,
      host,
      port,
      path: `${url.pathname}${url.search}`,
      headers: body === undefined ? headers : { ...headers, 'content-length': String(Buffer.byteLength(body)) },
      agent: https ? agents.https : agents.http,
    });
    const timer = setTimeout(() => request.destroy(new TimeoutError(timeoutMs)), Math.max(0, deadline - Date.now()));
    request.once('response', (res) => {
      clearTimeout(timer);
      resolve(res);
    });
    request.once('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    request.end(body);
  });
}

function readBody(res: IncomingMessage, maxBytes: number, deadline: number, timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const timer = setTimeout(() => res.destroy(new TimeoutError(timeoutMs)), Math.max(0, deadline - Date.now()));
    res.on('data', (c: Buffer) => {
      size += c.length;
      if (size > maxBytes) {
        res.destroy(new RivuletError(ErrorCode.PAYLOAD_TOO_LARGE, `Response is larger than ${Math.floor(maxBytes / 1024)} KB`));
        return;
      }
      chunks.push(c);
    });
    res.once('end', () => {
      clearTimeout(timer);
      resolve(Buffer.concat(chunks).toString('utf8'));
    });
    res.once('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    res.once('close', () => {
      clearTimeout(timer);
      if (!res.complete) reject(new Error('Connection closed before the response was complete'));
    });
  });
}
