import { MsgType } from '@rivulet/core';
import { defineNode, Relation } from '@rivulet/rule-engine';
import { z } from 'zod';

/** ThingsBoard's relation names for each message type (TbMsgTypeSwitchNode). */
export const MSG_TYPE_RELATIONS: Readonly<Record<string, string>> = {
  [MsgType.POST_TELEMETRY_REQUEST]: 'Post telemetry',
  [MsgType.POST_ATTRIBUTES_REQUEST]: 'Post attributes',
  [MsgType.TO_SERVER_RPC_REQUEST]: 'RPC Request from Device',
  [MsgType.RPC_CALL_FROM_SERVER_TO_DEVICE]: 'RPC Request to Device',
  [MsgType.ACTIVITY_EVENT]: 'Activity Event',
  [MsgType.INACTIVITY_EVENT]: 'Inactivity Event',
  [MsgType.CONNECT_EVENT]: 'Connect Event',
  [MsgType.DISCONNECT_EVENT]: 'Disconnect Event',
  [MsgType.ENTITY_CREATED]: 'Entity Created',
  [MsgType.ENTITY_UPDATED]: 'Entity Updated',
  [MsgType.ENTITY_DELETED]: 'Entity Deleted',
  [MsgType.ENTITY_ASSIGNED]: 'Entity Assigned',
  [MsgType.ENTITY_UNASSIGNED]: 'Entity Unassigned',
  [MsgType.ATTRIBUTES_UPDATED]: 'Attributes Updated',
  [MsgType.ATTRIBUTES_DELETED]: 'Attributes Deleted',
  [MsgType.TIMESERIES_UPDATED]: 'Timeseries Updated',
  [MsgType.TIMESERIES_DELETED]: 'Timeseries Deleted',
  [MsgType.ALARM]: 'Alarm Created',
  [MsgType.ALARM_ACK]: 'Alarm Acknowledged',
  [MsgType.ALARM_CLEAR]: 'Alarm Cleared',
  [MsgType.ALARM_CLEARED]: 'Alarm Cleared',
  [MsgType.RPC_SENT]: 'RPC Sent',
  [MsgType.RPC_DELIVERED]: 'RPC Delivered',
  [MsgType.RPC_SUCCESSFUL]: 'RPC Successful',
  [MsgType.RPC_TIMEOUT]: 'RPC Timeout',
  [MsgType.RPC_FAILED]: 'RPC Failed',
};

export const msgTypeSwitchNode = defineNode({
  type: 'rivulet.filter.msgTypeSwitch',
  aliases: ['org.thingsboard.rule.engine.filter.TbMsgTypeSwitchNode'],
  category: 'filter',
  name: 'message type switch',
  description: 'Routes each message by its type: "Post telemetry", "Post attributes", ..., or "Other".',
  configSchema: z.looseObject({ version: z.number().optional() }),
  configVersion: 0,
  relations: [...new Set(Object.values(MSG_TYPE_RELATIONS)), Relation.OTHER],
  create() {
    return {
      process(msg) {
        return [{ relation: MSG_TYPE_RELATIONS[msg.type] ?? Relation.OTHER, msg }];
      },
    };
  },
});
