import { BadRequestError, EntityType, ErrorCode, RivuletError, newId, withMsg, type JsonValue } from '@rivulet/core';
import { defineNode, Relation } from '@rivulet/rule-engine';
import { z } from 'zod';

function isObject(v: JsonValue): v is Record<string, JsonValue> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * Server-side RPC from a rule chain: sends `{"method","params"}` (the message data) to the
 * originator device and goes on by Success with the device's reply as the data, or by Failure
 * (no session, timeout, delivery failed). ThingsBoard's TbSendRPCRequestNode: metadata `oneway`
 * "true" makes it one-way, `requestUUID` and `expirationTime` are honoured, `timeoutInSeconds`
 * bounds the wait otherwise.
 *
 * The message is done when the device answered, so a slow device holds its batch for up to the
 * timeout; REST callers reach devices without the chain (/api/rpc), this node is for chains.
 */
export const rpcCallRequestNode = defineNode({
  type: 'rivulet.action.rpcCallRequest',
  aliases: ['org.thingsboard.rule.engine.rpc.TbSendRPCRequestNode'],
  category: 'action',
  name: 'rpc call request',
  description: 'Sends the message data {"method","params"} to the originator device as an RPC request; Success carries its reply.',
  configSchema: z.looseObject({
    timeoutInSeconds: z.number().int().positive().max(600).default(60),
  }),
  configVersion: 0,
  relations: [Relation.SUCCESS, Relation.FAILURE],
  requires: ['rpc'],
  create(config, services) {
    return {
      async process(msg) {
        const rpc = services.rpc;
        if (!rpc) throw new RivuletError(ErrorCode.UNAVAILABLE, "The rpc call request node needs the 'rpc' service, which this server does not provide");
        if (msg.originator.entityType !== EntityType.DEVICE) throw new BadRequestError('Message originator is not a device entity!');
        const data = msg.data;
        if (!isObject(data) || typeof data.method !== 'string' || data.method === '') throw new BadRequestError('Method is not present in the message!');
        if (!Object.hasOwn(data, 'params')) throw new BadRequestError('Params are not present in the message!');
        const now = services.now();
        const metaExpiration = Number(msg.metadata.expirationTime);
        const expirationTime = Number.isFinite(metaExpiration) && metaExpiration > 0 ? metaExpiration : now + config.timeoutInSeconds * 1000;
        const oneway = msg.metadata.oneway === 'true';
        const outcome = await rpc.sendToDevice({
          requestId: msg.metadata.requestUUID || newId(),
          tenantId: msg.tenantId,
          deviceId: msg.originator.id,
          method: data.method,
          params: data.params ?? null,
          oneway,
          expirationTime,
        });
        switch (outcome.kind) {
          case 'delivered':
            return [{ relation: Relation.SUCCESS, msg: outcome.response === undefined ? msg : withMsg(msg, { data: outcome.response }) }];
          case 'no-session':
            throw new RivuletError(ErrorCode.TIMEOUT, 'No active device session takes RPC requests');
          case 'timeout':
            throw new RivuletError(ErrorCode.TIMEOUT, 'The device did not reply in time');
          case 'error':
            throw new RivuletError(ErrorCode.UNAVAILABLE, outcome.error);
        }
      },
    };
  },
});
