import { newId } from '@rivulet/core';
import type { RuleAlarm, RuleAlarmInput } from './types';

/** A new active alarm as storage would create it (for the in-memory stand-ins: test runs, tests). */
export function newRuleAlarm(input: RuleAlarmInput, createdTime: number): RuleAlarm {
  return {
    id: newId(),
    tenantId: input.tenantId,
    type: input.type,
    originatorType: input.originatorType,
    originatorId: input.originatorId,
    severity: input.severity,
    acknowledged: false,
    cleared: false,
    startTs: input.ts,
    endTs: input.ts,
    ackTs: 0,
    clearTs: 0,
    details: input.details ?? null,
    createdTime,
  };
}
