import { BadRequestError, NotFoundError } from '@rivulet/core';
import { defineNode, Relation } from '@rivulet/rule-engine';
import { z } from 'zod';
import { requireCapability } from '../util/data';

export const deviceTypeSwitchNode = defineNode({
  type: 'rivulet.filter.deviceTypeSwitch',
  aliases: ['org.thingsboard.rule.engine.filter.TbDeviceTypeSwitchNode'],
  category: 'filter',
  name: 'device type switch',
  description: 'Routes a device\'s message by the device type (its profile name in ThingsBoard): the relation is the type.',
  configSchema: z.looseObject({ version: z.number().optional() }),
  configVersion: 0,
  relations: [Relation.FAILURE],
  relationsDynamic: true,
  requires: ['devices'],
  create(_config, services) {
    return {
      async process(msg) {
        if (msg.originator.entityType !== 'DEVICE') {
          throw new BadRequestError(`Unsupported originator type ${msg.originator.entityType}: the device type switch takes device messages`);
        }
        const devices = requireCapability(services, 'devices', 'device type switch');
        const device = await devices.get(msg.tenantId, msg.originator.id);
        if (!device) throw new NotFoundError(`Device ${msg.originator.id} not found`);
        return [{ relation: device.type, msg }];
      },
    };
  },
});
