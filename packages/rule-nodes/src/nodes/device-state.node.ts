import { MsgType } from '@rivulet/core';
import { defineNode, Relation } from '@rivulet/rule-engine';
import { z } from 'zod';

/**
 * ThingsBoard's device state node reports connect / activity / disconnect / inactivity to its device
 * state service. Rivulet's transports track device activity themselves, so this node accepts the
 * configuration and passes the message on by Success.
 */
export const deviceStateNode = defineNode({
  type: 'rivulet.action.deviceState',
  aliases: ['org.thingsboard.rule.engine.action.TbDeviceStateNode'],
  category: 'action',
  name: 'device state',
  description: 'Marks device activity events (passes messages on by Success; activity is tracked by the transports).',
  configSchema: z.looseObject({
    event: z.enum([MsgType.CONNECT_EVENT, MsgType.ACTIVITY_EVENT, MsgType.DISCONNECT_EVENT, MsgType.INACTIVITY_EVENT]).default(MsgType.ACTIVITY_EVENT),
  }),
  configVersion: 0,
  relations: [Relation.SUCCESS, Relation.FAILURE],
  create() {
    return { process: (msg) => [{ relation: Relation.SUCCESS, msg }] };
  },
});
