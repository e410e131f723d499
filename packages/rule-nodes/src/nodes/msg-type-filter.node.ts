import { MsgType } from '@rivulet/core';
import { defineNode, Relation } from '@rivulet/rule-engine';
import { z } from 'zod';

export const msgTypeFilterNode = defineNode({
  type: 'rivulet.filter.msgTypeFilter',
  aliases: ['org.thingsboard.rule.engine.filter.TbMsgTypeFilterNode'],
  category: 'filter',
  name: 'message type filter',
  description: 'True when the message type is one of the configured types, else False.',
  configSchema: z.looseObject({
    messageTypes: z.array(z.string().min(1)).min(1).default([MsgType.POST_TELEMETRY_REQUEST, MsgType.POST_ATTRIBUTES_REQUEST, MsgType.TO_SERVER_RPC_REQUEST]),
  }),
  configVersion: 0,
  relations: [Relation.TRUE, Relation.FALSE],
  create(config) {
    const types = new Set(config.messageTypes);
    return {
      process(msg) {
        return [{ relation: types.has(msg.type) ? Relation.TRUE : Relation.FALSE, msg }];
      },
    };
  },
});
