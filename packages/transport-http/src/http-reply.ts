import type { IncomingMessage, ServerResponse } from 'node:http';

/**
 * ThingsBoard's ThingsboardErrorCode numbers, as its error answers carry them
 * (`{"status":401,"message":"Authentication failed","errorCode":10,"timestamp":...}`).
 */
export const TbErrorCode = {
  GENERAL: 2,
  AUTHENTICATION: 10,
  INVALID_ARGUMENTS: 30,
  BAD_REQUEST_PARAMS: 31,
  ITEM_NOT_FOUND: 32,
  TOO_MANY_REQUESTS: 33,
} as const;
export type TbErrorCode = (typeof TbErrorCode)[keyof typeof TbErrorCode];

/**
 * Bytes of an unwanted request body (after an early answer: 401, 413, 404, ...) read and dropped
 * before the connection is cut. Reading the rest lets the client finish sending and read our answer
 * (closing on unread data makes the kernel send RST, and clients then report "connection reset"
 * instead of the status); the cap keeps a client from streaming at us for free.
 */
export const DISCARD_LIMIT_BYTES = 1024 * 1024;

const JSON_HEADERS = { 'content-type': 'application/json' } as const;

/** Whether a response can still be written (not answered yet, client still there). */
export function canReply(res: ServerResponse): boolean {
  return !res.headersSent && !res.writableEnded && !res.destroyed;
}

/** 200 with an empty body, ThingsBoard's answer to an accepted post. */
export function replyOk(res: ServerResponse): void {
  if (!canReply(res)) return;
  res.statusCode = 200;
  res.end();
}

export function replyJson(res: ServerResponse, status: number, body: string): void {
  if (!canReply(res)) return;
  res.writeHead(status, JSON_HEADERS);
  res.end(body);
}

export function replyError(
  res: ServerResponse,
  status: number,
  errorCode: TbErrorCode,
  message: string,
  headers?: Record<string, string>,
): void {
  if (!canReply(res)) return;
  const body = JSON.stringify({ status, message, errorCode, timestamp: Date.now() });
  res.writeHead(status, headers ? { ...JSON_HEADERS, ...headers } : JSON_HEADERS);
  res.end(body);
}

/**
 * Reads and drops whatever is left of a request body we answered without needing it, up to
 * DISCARD_LIMIT_BYTES; beyond that the connection is cut.
 */
export function discardBody(req: IncomingMessage): void {
  if (req.complete || req.destroyed) return;
  let dropped = 0;
  req.on('data', (chunk: Buffer) => {
    dropped += chunk.length;
    if (dropped > DISCARD_LIMIT_BYTES) req.socket.destroy();
  });
  // a client gone mid-body is not our error
  req.on('error', noop);
}

export function noop(): void {}
