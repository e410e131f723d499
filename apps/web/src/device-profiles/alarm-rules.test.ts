import { describe, expect, it } from 'vitest';
import { AlarmFormError, alarmsJson, describeCondition, editorAlarmsOf, fromEditorAlarm, newSimpleAlarm, toEditorAlarm, type JsonObject, type SimpleAlarm } from './alarm-rules';

const value = (n: number) => ({ defaultValue: n, userValue: null, dynamicValue: null });
function rule(key: string, operation: string, n: number, spec: JsonObject = { type: 'SIMPLE' }): JsonObject {
  return {
    condition: { condition: [{ key: { type: 'TIME_SERIES', key }, valueType: 'NUMERIC', value: null, predicate: { type: 'NUMERIC', operation, value: value(n) } }], spec },
    schedule: null,
    alarmDetails: 'Too hot: ${temperature}',
    dashboardId: null,
  };
}
const HIGH_TEMP: JsonObject = {
  id: 'a6c1c0c2-1111-4222-8333-444455556666',
  alarmType: 'High temperature',
  createRules: { MAJOR: rule('temperature', 'GREATER', 30, { type: 'DURATION', unit: 'SECONDS', predicate: value(10) }) },
  clearRule: rule('temperature', 'LESS_OR_EQUAL', 25),
  propagate: true,
  propagateToOwner: false,
  propagateToTenant: false,
  propagateRelationTypes: ['Contains'],
};

describe('alarm rules editor model', () => {
  it('shows the common shape in the form: type, severity, key, operation, value, duration, clear rule', () => {
    const a = toEditorAlarm(HIGH_TEMP);
    expect(a).toMatchObject({
      kind: 'simple',
      alarmType: 'High temperature',
      severity: 'MAJOR',
      create: { key: 'temperature', operation: 'GREATER', value: '30', durationSec: '10' },
      clear: { key: 'temperature', operation: 'LESS_OR_EQUAL', value: '25', durationSec: '' },
    });
    expect(describeCondition((a as SimpleAlarm).create)).toBe('temperature > 30 for 10 s');
  });

  it('saves an untouched alarm exactly as it was read', () => {
    expect(fromEditorAlarm(toEditorAlarm(HIGH_TEMP), 0)).toBe(HIGH_TEMP);
  });

  it('an edited alarm keeps its id, propagation, details and schedule, and takes the new condition', () => {
    const a = toEditorAlarm(HIGH_TEMP) as SimpleAlarm;
    const edited: SimpleAlarm = { ...a, severity: 'CRITICAL', create: { ...a.create, value: '35.5', durationSec: '' }, clear: null };
    const out = fromEditorAlarm(edited, 0);
    expect(out).toMatchObject({ id: HIGH_TEMP.id, propagate: true, propagateRelationTypes: ['Contains'], alarmType: 'High temperature', clearRule: null });
    expect(Object.keys(out.createRules as JsonObject)).toEqual(['CRITICAL']);
    expect((out.createRules as JsonObject).CRITICAL).toEqual(rule('temperature', 'GREATER', 35.5));
  });

  it('a new alarm gets a uuid and ThingsBoard\'s defaults; the duration becomes a DURATION spec in seconds', () => {
    const out = fromEditorAlarm({ ...newSimpleAlarm(), alarmType: ' Overheat ', create: { key: 'temp', operation: 'GREATER_OR_EQUAL', value: '40', durationSec: '5' } }, 0);
    expect(out.id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(out).toMatchObject({ alarmType: 'Overheat', propagate: false, clearRule: null });
    expect((out.createRules as JsonObject).CRITICAL).toEqual({
      schedule: null,
      alarmDetails: null,
      dashboardId: null,
      condition: {
        condition: [{ key: { type: 'TIME_SERIES', key: 'temp' }, valueType: 'NUMERIC', value: null, predicate: { type: 'NUMERIC', operation: 'GREATER_OR_EQUAL', value: value(40) } }],
        spec: { type: 'DURATION', unit: 'SECONDS', predicate: value(5) },
      },
    });
  });

  it('keeps what the form cannot show as JSON, unchanged: several create rules, attributes, string predicates, minutes, schedules, dynamic values', () => {
    const twoSeverities = { ...HIGH_TEMP, createRules: { CRITICAL: rule('t', 'GREATER', 50), MAJOR: rule('t', 'GREATER', 30) } };
    const attribute = { ...HIGH_TEMP, createRules: { MAJOR: { ...rule('t', 'GREATER', 1), condition: { condition: [{ key: { type: 'ATTRIBUTE', key: 't' }, valueType: 'NUMERIC', predicate: { type: 'NUMERIC', operation: 'GREATER', value: value(1) } }], spec: { type: 'SIMPLE' } } } } };
    const minutes = { ...HIGH_TEMP, createRules: { MAJOR: rule('t', 'GREATER', 1, { type: 'DURATION', unit: 'MINUTES', predicate: value(2) }) } };
    const repeating = { ...HIGH_TEMP, createRules: { MAJOR: rule('t', 'GREATER', 1, { type: 'REPEATING', predicate: value(3) }) } };
    const scheduled = { ...HIGH_TEMP, createRules: { MAJOR: { ...rule('t', 'GREATER', 1), schedule: { type: 'SPECIFIC_TIME', timezone: 'UTC', daysOfWeek: [1], startsOn: 0, endsOn: 1 } } } };
    const dynamic = { ...HIGH_TEMP, clearRule: { ...rule('t', 'LESS', 1), condition: { condition: [{ key: { type: 'TIME_SERIES', key: 't' }, valueType: 'NUMERIC', predicate: { type: 'NUMERIC', operation: 'LESS', value: { defaultValue: 1, dynamicValue: { sourceType: 'CURRENT_DEVICE', sourceAttribute: 'min' } } } }], spec: { type: 'SIMPLE' } } } };
    const notAnObject = 'not an alarm';
    for (const alarm of [twoSeverities, attribute, minutes, repeating, scheduled, dynamic, notAnObject]) {
      const a = toEditorAlarm(alarm);
      expect(a.kind).toBe('advanced');
      if (typeof alarm === 'object') expect(fromEditorAlarm(a, 0)).toEqual(alarm);
    }
  });

  it('refuses an incomplete form or broken JSON naming the alarm and the field', () => {
    const bad = (a: Parameters<typeof fromEditorAlarm>[0]) => {
      try {
        fromEditorAlarm(a, 2);
      } catch (e) {
        expect(e).toBeInstanceOf(AlarmFormError);
        return { index: (e as AlarmFormError).index, field: (e as AlarmFormError).field, message: (e as Error).message };
      }
      throw new Error('accepted');
    };
    const ok = { ...newSimpleAlarm(), alarmType: 'x', create: { key: 'k', operation: 'GREATER' as const, value: '1', durationSec: '' } };
    expect(bad({ ...ok, alarmType: ' ' })).toEqual({ index: 2, field: 'alarmType', message: 'Alarm type should be specified' });
    expect(bad({ ...ok, create: { ...ok.create, key: '' } })).toMatchObject({ field: 'create.key' });
    expect(bad({ ...ok, create: { ...ok.create, value: 'abc' } })).toMatchObject({ field: 'create.value', message: 'The value must be a number' });
    expect(bad({ ...ok, create: { ...ok.create, durationSec: '-3' } })).toMatchObject({ field: 'create.duration' });
    expect(bad({ ...ok, clear: { key: 'k', operation: 'LESS', value: '', durationSec: '' } })).toMatchObject({ field: 'clear.value' });
    expect(bad({ kind: 'advanced', original: null, json: '{"alarmType": ' })).toMatchObject({ field: 'json' });
    expect(bad({ kind: 'advanced', original: null, json: '[1]' })).toMatchObject({ field: 'json', message: 'The alarm must be a JSON object' });
  });

  it('profileData.alarms null or missing: no alarms; none saved back as null', () => {
    expect(editorAlarmsOf(null)).toEqual([]);
    expect(editorAlarmsOf(undefined)).toEqual([]);
    expect(alarmsJson([])).toBeNull();
    expect(alarmsJson(editorAlarmsOf([HIGH_TEMP]))).toEqual([HIGH_TEMP]);
  });
});
