import type { IncomingMessage, ServerResponse } from 'node:http';
import { BadRequestError, MsgType, deviceMsg, parseLenientJson, type JsonValue, type Msg } from '@rivulet/core';
import type { QueueRecord } from '@rivulet/queue';
import { GONE, TIMEOUT, reject, type ClientRpcAnswer, type HttpContext } from '../context';
import { TbErrorCode, replyJson } from '../http-reply';
import { readPost } from './device-request';
import { timedOut } from './long-polls';

function clientRpcRequestOf(_ctx: HttpContext, text: string): { method: string; params: JsonValue } {
  const json = parseLenientJson(text);
  if (typeof json !== 'object' || json === null || Array.isArray(json) || typeof json.method !== 'string' || json.method === '') {
    throw new BadRequestError('Client-side RPC: expected {"method":"...","params":...}');
  }
  return { method: json.method, params: json.params ?? {} };
}

/** `POST /rpc`: client-side RPC, answered with the rule chain's reply (downlink.ts), or 408. */
export async function clientRpc(ctx: HttpContext, req: IncomingMessage, res: ServerResponse, token: string): Promise<void> {
  const post = await readPost(ctx, req, res, token, clientRpcRequestOf);
  if (!post) return;
  const { device, value } = post;
  const requestId = String(ctx.nextRpcId);
  ctx.nextRpcId = ctx.nextRpcId >= 0x7fffffff ? 1 : ctx.nextRpcId + 1;
  const { pendingRpc } = ctx;
  const key = `${device.deviceId}#${requestId}`;
  let timer: NodeJS.Timeout | undefined;
  let onClose: (() => void) | undefined;
  // registered before producing: the reply may come back before produce() resolves; the device
  // counts as held here while it waits, so the reply is sent to this process
  const release = ctx.service.holdSession(device.deviceId);
  const reply = new Promise<ClientRpcAnswer>((resolve) => {
    pendingRpc.set(key, resolve);
    timer = setTimeout(() => resolve(TIMEOUT), ctx.requestTimeoutMs);
    onClose = () => resolve(GONE);
    res.on('close', onClose);
  });
  try {
    const records: Array<QueueRecord<Msg>> = [{ key: device.deviceId, value: deviceMsg(device, MsgType.TO_SERVER_RPC_REQUEST, ctx.now(), value, { requestId, sessionId: ctx.sessionId }) }];
    try {
      await ctx.service.produce(records);
    } catch {
      reject(ctx, res, 'unavailable', 503, TbErrorCode.GENERAL, 'Service unavailable: the message queue did not accept the request, retry later', { 'retry-after': '1' });
      return;
    }
    ctx.counters.acceptedMessages++;
    const body = await reply;
    if (body === TIMEOUT) timedOut(ctx, 'reply to the RPC request')(res);
    else if (body === GONE) reject(ctx, res, 'unavailable', 503, TbErrorCode.GENERAL, 'Service unavailable: the server is shutting down');
    else {
      ctx.counters.acceptedRequests++;
      replyJson(res, 200, JSON.stringify(body));
    }
  } finally {
    clearTimeout(timer);
    if (onClose) res.off('close', onClose);
    pendingRpc.delete(key);
    release();
  }
}
