import { BadRequestError } from '@rivulet/core';
import { defineNode, Relation } from '@rivulet/rule-engine';
import { z } from 'zod';

/** ThingsBoard's relation names per originator entity type (EntityType.getNormalName()). */
export const ORIGINATOR_TYPE_RELATIONS: Readonly<Record<string, string>> = {
  DEVICE: 'Device',
  ASSET: 'Asset',
  ENTITY_VIEW: 'Entity View',
  TENANT: 'Tenant',
  CUSTOMER: 'Customer',
  USER: 'User',
  DASHBOARD: 'Dashboard',
  RULE_CHAIN: 'Rule chain',
  RULE_NODE: 'Rule node',
  ALARM: 'Alarm',
  EDGE: 'Edge',
};

export const originatorTypeSwitchNode = defineNode({
  type: 'rivulet.filter.originatorTypeSwitch',
  aliases: ['org.thingsboard.rule.engine.filter.TbOriginatorTypeSwitchNode'],
  category: 'filter',
  name: 'originator type switch',
  description: 'Routes by the originator\'s entity type: "Device", "Tenant", "Alarm", ...',
  configSchema: z.looseObject({ version: z.number().optional() }),
  configVersion: 0,
  relations: [...Object.values(ORIGINATOR_TYPE_RELATIONS), Relation.FAILURE],
  create() {
    return {
      process(msg) {
        const relation = ORIGINATOR_TYPE_RELATIONS[msg.originator.entityType];
        if (!relation) throw new BadRequestError(`Unsupported originator type ${msg.originator.entityType}`);
        return [{ relation, msg }];
      },
    };
  },
});
