import type { IncomingMessage, ServerResponse } from 'node:http';
import { ErrorCodes } from '@rivulet/api-types';
import { BadRequestError, ErrorCode, JsonWithDoubles, parseJsonWithDepthLimit, stringifyJson } from '@rivulet/core';
import { ApiError, invalidBody } from './api-error';

/** Splits `req.url` by hand: `new URL()` would read a path like `//host/x` as a host. */
export function splitUrl(url: string | undefined): { path: string; query: URLSearchParams } {
  const u = url ?? '/';
  const q = u.indexOf('?');
  return q < 0 ? { path: u, query: new URLSearchParams() } : { path: u.slice(0, q), query: new URLSearchParams(u.slice(q + 1)) };
}

function tooLarge(maxBytes: number): ApiError {
  return new ApiError(ErrorCode.PAYLOAD_TOO_LARGE, ErrorCodes.BAD_REQUEST_PARAMS, `Request body is larger than ${maxBytes} bytes`);
}

/**
 * Reads the whole body, refusing more than maxBytes (checked against Content-Length first, then while
 * reading, since chunked bodies have no length). The rest of a refused body is discarded unread.
 */
export function readBody(req: IncomingMessage, maxBytes: number): Promise<Buffer> {
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > maxBytes) {
    req.resume();
    return Promise.reject(tooLarge(maxBytes));
  }
  return new Promise<Buffer>((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const cleanup = (): void => {
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onError);
      req.off('aborted', onAborted);
    };
    const onData = (chunk: Buffer): void => {
      size += chunk.length;
      if (size > maxBytes) {
        cleanup();
        req.resume();
        reject(tooLarge(maxBytes));
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = (): void => {
      cleanup();
      resolve(Buffer.concat(chunks, size));
    };
    const onError = (e: Error): void => {
      cleanup();
      reject(e);
    };
    const onAborted = (): void => {
      cleanup();
      reject(invalidBody('Request aborted'));
    };
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onError);
    req.on('aborted', onAborted);
  });
}

/** The body as JSON: 400 with the parser's message when it is empty or malformed. */
export async function readJsonBody(req: IncomingMessage, maxBytes: number): Promise<unknown> {
  const buf = await readBody(req, maxBytes);
  const text = buf.toString('utf8');
  if (text.trim().length === 0) throw invalidBody('Request body is required');
  let value: unknown;
  try {
    // the depth limit shared with the device and WebSocket APIs: deeper values overflow the stack of the recursive checks below and later
    value = parseJsonWithDepthLimit(text);
  } catch (e) {
    throw invalidBody(e instanceof BadRequestError ? e.message : `Invalid JSON: ${e instanceof Error ? e.message : String(e)}`);
  }
  const at = nulPath(value, 'body');
  if (at !== undefined) throw invalidBody(`${at}: must not contain the NUL character (\\u0000)`);
  return value;
}

/**
 * Where a NUL character (U+0000) sits in a parsed JSON value (a string or a key), else undefined.
 * PostgreSQL's text and jsonb cannot hold it: refused here with 400 rather than failing with 500 in storage.
 */
export function nulPath(value: unknown, path: string): string | undefined {
  if (typeof value === 'string') return value.includes('\0') ? path : undefined;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const at = nulPath(value[i], `${path}[${i}]`);
      if (at !== undefined) return at;
    }
    return undefined;
  }
  if (typeof value === 'object' && value !== null) {
    for (const [k, v] of Object.entries(value)) {
      if (k.includes('\0')) return `${path} (a key)`;
      const at = nulPath(v, `${path}.${k}`);
      if (at !== undefined) return at;
    }
  }
  return undefined;
}

export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  if (res.headersSent) {
    res.end();
    return;
  }
  if (body === undefined) {
    res.writeHead(status, { 'content-length': '0', ...headers });
    res.end();
    return;
  }
  // an answer holding doubles of integral value (JsonWithDoubles) prints them as 1.0: see stringifyJson
  const text = body instanceof JsonWithDoubles ? stringifyJson(body.value) : JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json',
    'content-length': String(Buffer.byteLength(text)),
    'cache-control': 'no-store',
    ...headers,
  });
  res.end(text);
}
