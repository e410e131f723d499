import { defineNode, Relation } from '@rivulet/rule-engine';
import { z } from 'zod';
import { ScriptLang } from '../script/tb-script';
import { ALARM_DETAILS_TEMPLATE, alarmMsg } from '../util/alarm';
import { requireCapability } from '../util/data';
import { processPattern } from '../util/patterns';
import { alarmScript, buildDetails } from './create-alarm.node.js';

export const CLEARED = 'Cleared';

/**
 * Clears the originator's active alarm of a type: Cleared with an ALARM message (metadata
 * isClearedAlarm), or False with the message unchanged when there is none.
 */
export const clearAlarmNode = defineNode({
  type: 'rivulet.action.clearAlarm',
  aliases: ['org.thingsboard.rule.engine.action.TbClearAlarmNode'],
  category: 'action',
  name: 'clear alarm',
  description: 'Clears the originator\'s active alarm of a type; Cleared, or False when there was none.',
  configSchema: z.looseObject({
    alarmType: z.string().min(1).default('General Alarm'),
    scriptLang: ScriptLang.default('JS'),
    alarmDetailsBuildJs: z.string().nullish().default(ALARM_DETAILS_TEMPLATE),
    alarmDetailsBuildTbel: z.string().nullish(),
    alarmDetailsBuildMvel: z.string().nullish(),
  }),
  configVersion: 0,
  relations: [CLEARED, Relation.FALSE, Relation.FAILURE],
  requires: ['alarms'],
  create(config, services) {
    const script = alarmScript(config, services);
    return {
      async process(msg) {
        const alarms = requireCapability(services, 'alarms', 'clear alarm');
        const type = processPattern(config.alarmType, msg);
        const active = await alarms.findActive(msg.tenantId, msg.originator.id, type);
        if (!active) return [{ relation: Relation.FALSE, msg }];
        const details = await buildDetails(script, msg, active);
        const cleared = await alarms.clear(msg.tenantId, active.id, services.now(), details);
        // Cleared meanwhile by someone else: nothing left to clear.
        if (!cleared) return [{ relation: Relation.FALSE, msg }];
        return [{ relation: CLEARED, msg: alarmMsg(msg, cleared, 'isClearedAlarm') }];
      },
      destroy: () => script?.destroy(),
    };
  },
});
