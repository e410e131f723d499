import { BadRequestError, EntityType, ErrorCode, RivuletError } from '@rivulet/core';
import { defineNode, Relation } from '@rivulet/rule-engine';
import { z } from 'zod';

/**
 * Client-side RPC: answers a device's own RPC request (a TO_SERVER_RPC_REQUEST message) with the
 * message data, sent back to the session that asked (ThingsBoard's TbSendRPCReplyNode, same
 * configuration: which metadata keys hold the request id and the session id).
 */
export const rpcCallReplyNode = defineNode({
  type: 'rivulet.action.rpcCallReply',
  aliases: ['org.thingsboard.rule.engine.rpc.TbSendRPCReplyNode'],
  category: 'action',
  name: 'rpc call reply',
  description: "Sends the message data to the device as the reply to its RPC request (metadata requestId, sessionId).",
  configSchema: z.looseObject({
    requestIdMetaDataAttribute: z.string().min(1).default('requestId'),
    sessionIdMetaDataAttribute: z.string().min(1).default('sessionId'),
    serviceIdMetaDataAttribute: z.string().min(1).default('serviceId'),
  }),
  configVersion: 0,
  relations: [Relation.SUCCESS, Relation.FAILURE],
  requires: ['rpc'],
  create(config, services) {
    return {
      process(msg) {
        const rpc = services.rpc;
        if (!rpc) throw new RivuletError(ErrorCode.UNAVAILABLE, "The rpc call reply node needs the 'rpc' service, which this server does not provide");
        if (msg.originator.entityType !== EntityType.DEVICE) throw new BadRequestError('Message originator is not a device entity!');
        const requestId = msg.metadata[config.requestIdMetaDataAttribute];
        if (!requestId) throw new BadRequestError('Request id is not present in the metadata!');
        if (msg.data === null || msg.data === '') throw new BadRequestError('Request body is empty!');
        const sessionId = msg.metadata[config.sessionIdMetaDataAttribute];
        // A tenant-bound service checks the device first (a promise): its refusal fails the message.
        const sent = rpc.replyToDevice({ deviceId: msg.originator.id, requestId, ...(sessionId ? { sessionId } : {}), body: msg.data });
        const routes = [{ relation: Relation.SUCCESS, msg }];
        return sent ? sent.then(() => routes) : routes;
      },
    };
  },
});
