import { defineNode, Relation } from '@rivulet/rule-engine';
import { z } from 'zod';

/**
 * ThingsBoard's device profile node evaluates the alarm rules of a device's profile. Rivulet has no
 * device profiles yet, so there are no profile rules to evaluate: the node accepts ThingsBoard's
 * configuration and passes every message on by Success, which lets ThingsBoard's default root chain
 * import and run. Alarm rules are built with the create/clear alarm nodes instead.
 */
export const deviceProfileNode = defineNode({
  type: 'rivulet.action.deviceProfile',
  aliases: ['org.thingsboard.rule.engine.profile.TbDeviceProfileNode'],
  category: 'action',
  name: 'device profile',
  description: 'Passes messages on by Success (device profiles and their alarm rules are not implemented yet; use the alarm nodes).',
  configSchema: z.looseObject({
    persistAlarmRulesState: z.unknown().optional(),
    fetchAlarmRulesStateOnStart: z.unknown().optional(),
  }),
  configVersion: 0,
  relations: [Relation.SUCCESS, Relation.FAILURE],
  create() {
    return { process: (msg) => [{ relation: Relation.SUCCESS, msg }] };
  },
});
