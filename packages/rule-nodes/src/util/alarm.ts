import { withMsg, type JsonObject, type Msg } from '@rivulet/core';
import type { RuleAlarm, RuleAlarmSeverity } from '@rivulet/rule-engine';
import { z } from 'zod';

export const AlarmSeverity = z.enum(['CRITICAL', 'MAJOR', 'MINOR', 'WARNING', 'INDETERMINATE']);

export function isSeverity(s: unknown): s is RuleAlarmSeverity {
  return AlarmSeverity.safeParse(s).success;
}

/** ThingsBoard's default "alarm details" script: keep the previous details. */
export const ALARM_DETAILS_TEMPLATE = `var details = {};
if (metadata.prevAlarmDetails) {
    details = JSON.parse(metadata.prevAlarmDetails);
    // remove prevAlarmDetails from metadata
    delete metadata.prevAlarmDetails;
    // now metadata is the same as it comes IN this rule node
}
return details;`;

/** An alarm as ThingsBoard puts it in the data of its ALARM messages (so scripts read the same fields). */
export function alarmJson(a: RuleAlarm): JsonObject {
  const status = `${a.cleared ? 'CLEARED' : 'ACTIVE'}_${a.acknowledged ? 'ACK' : 'UNACK'}`;
  return {
    id: { entityType: 'ALARM', id: a.id },
    createdTime: a.createdTime,
    tenantId: { entityType: 'TENANT', id: a.tenantId },
    type: a.type,
    name: a.type,
    originator: { entityType: a.originatorType, id: a.originatorId },
    severity: a.severity,
    acknowledged: a.acknowledged,
    cleared: a.cleared,
    status,
    startTs: a.startTs,
    endTs: a.endTs,
    ackTs: a.ackTs,
    clearTs: a.clearTs,
    details: a.details,
  };
}

/** The message an alarm node sends on: type ALARM, the alarm as data, a flag in the metadata. */
export function alarmMsg(msg: Msg, alarm: RuleAlarm, flag: 'isNewAlarm' | 'isExistingAlarm' | 'isClearedAlarm'): Msg {
  return withMsg(msg, { type: 'ALARM', data: alarmJson(alarm), metadata: { ...msg.metadata, [flag]: 'true' } });
}
