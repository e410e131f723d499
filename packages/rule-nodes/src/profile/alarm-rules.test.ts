import type { JsonObject, JsonValue } from '@rivulet/core';
import { describe, expect, it } from 'vitest';
import { AlarmRulesError, compileProfile, slot, type AlarmRule } from './alarm-rules';
import { AlarmRuleState, DataSnapshot, evalCondition, scheduleActive, zonedTime } from './rule-state';

const num = (operation: string, defaultValue: JsonValue, dynamicValue: JsonValue = null) => ({ type: 'NUMERIC', operation, value: { defaultValue, userValue: null, dynamicValue } });
const str = (operation: string, defaultValue: string, ignoreCase = false) => ({ type: 'STRING', operation, ignoreCase, value: { defaultValue } });
const bool = (operation: string, defaultValue: boolean) => ({ type: 'BOOLEAN', operation, value: { defaultValue } });
const filter = (key: string, predicate: JsonValue, type = 'TIME_SERIES', valueType = 'NUMERIC', value?: JsonValue) => ({ key: { type, key }, valueType, predicate, ...(value !== undefined ? { value } : {}) });

function profileWith(rule: JsonValue, clearRule: JsonValue = null): { id: string; name: string; profileData: JsonObject } {
  return { id: 'p1', name: 'thermostat', profileData: { alarms: [{ id: 'a1', alarmType: 'High Temperature', createRules: { CRITICAL: rule }, clearRule, propagate: false }] } };
}

function ruleOf(condition: JsonValue[], spec: JsonValue = { type: 'SIMPLE' }, extra: JsonObject = {}): AlarmRule {
  return compileProfile(profileWith({ condition: { condition, spec }, ...extra })).alarms[0]!.createRules[0]!.rule;
}

function snapshotWith(rule: AlarmRule, values: Record<string, JsonValue>, ts = 1000): DataSnapshot {
  const s = new DataSnapshot(new Set([...rule.slots, slot('TIME_SERIES', 'other')]));
  for (const [k, v] of Object.entries(values)) s.put(k.includes('\u0000') ? k : slot('TIME_SERIES', k), ts, v as never);
  s.ts = ts;
  return s;
}

describe('compileProfile', () => {
  it("reads ThingsBoard's profileData.alarms: rules most severe first, the clear rule, the keys to fetch", () => {
    const p = compileProfile({
      id: 'p1',
      name: 'thermostat',
      profileData: {
        configuration: { type: 'DEFAULT' },
        alarms: [
          {
            id: 'a1',
            alarmType: 'Temp',
            createRules: {
              WARNING: { condition: { condition: [filter('temperature', num('GREATER', 30))], spec: { type: 'SIMPLE' } } },
              CRITICAL: { condition: { condition: [filter('temperature', num('GREATER', 50)), filter('mode', str('EQUAL', 'on'), 'SERVER_ATTRIBUTE', 'STRING')] } },
            },
            clearRule: { condition: { condition: [filter('temperature', num('LESS_OR_EQUAL', 30))] } },
          },
        ],
      },
    });
    expect(p.alarms[0]!.createRules.map((r) => r.severity)).toEqual(['CRITICAL', 'WARNING']);
    expect(p.alarms[0]!.clearRule).not.toBeNull();
    expect(p.fetch.timeseries).toEqual(['temperature']);
    expect(p.fetch.server).toEqual(['mode']);
    expect(p.fetch.client).toEqual([]);
  });

  it('dynamic values: what each source (and inherit through customer and tenant) fetches', () => {
    const rule = (dynamicValue: JsonValue) => ({ id: 'a', alarmType: 'A', createRules: { CRITICAL: { condition: { condition: [filter('t', num('GREATER', 0, dynamicValue))] } } } });
    const fetchOf = (dynamicValue: JsonValue) => compileProfile({ id: 'p', name: 'p', profileData: { alarms: [rule(dynamicValue)] } }).fetch;
    expect(fetchOf({ sourceType: 'CURRENT_DEVICE', sourceAttribute: 'limit' })).toMatchObject({ server: ['limit'], customer: [], tenant: [] });
    expect(fetchOf({ sourceType: 'CURRENT_DEVICE', sourceAttribute: 'limit', inherit: true })).toMatchObject({ server: ['limit'], customer: ['limit'], tenant: ['limit'] });
    expect(fetchOf({ sourceType: 'CURRENT_CUSTOMER', sourceAttribute: 'limit' })).toMatchObject({ server: [], customer: ['limit'], tenant: [] });
    expect(fetchOf({ sourceType: 'CURRENT_CUSTOMER', sourceAttribute: 'limit', inherit: true })).toMatchObject({ server: [], customer: ['limit'], tenant: ['limit'] });
    expect(fetchOf({ sourceType: 'CURRENT_TENANT', sourceAttribute: 'limit', inherit: true })).toMatchObject({ server: [], customer: [], tenant: ['limit'] });
  });

  it('a profile without alarms compiles to none', () => {
    expect(compileProfile({ id: 'p', name: 'default', profileData: { configuration: { type: 'DEFAULT' } } }).alarms).toEqual([]);
    expect(compileProfile({ id: 'p', name: 'default', profileData: { alarms: null } }).alarms).toEqual([]);
  });

  it('refuses what it cannot evaluate, naming the profile and the field (never ignored)', () => {
    const cases: Array<[JsonValue, RegExp]> = [
      [{ condition: { condition: [filter('t', num('GREATER', 0, { sourceType: 'CURRENT_USER', sourceAttribute: 'limit' }))] } }, /createRules\.CRITICAL\.condition\.condition\[0\]\.predicate\.value\.dynamicValue\.sourceType: must be CURRENT_DEVICE, CURRENT_CUSTOMER or CURRENT_TENANT/],
      [{ condition: { condition: [filter('t', num('GREATER', 0, { sourceType: 'CURRENT_DEVICE', sourceAttribute: 'limit', inherit: 'yes' }))] } }, /dynamicValue\.inherit: must be true or false/],
      [{ condition: { condition: [filter('firmware', str('EQUAL', 'x'), 'ENTITY_FIELD', 'STRING')] } }, /key\.key: the device field "firmware" is not supported by Rivulet \(one of name, type, label, createdTime\)/],
      [{ condition: { condition: [filter('t', num('BETWEEN', 1))] } }, /operation: must be one of EQUAL/],
      [{ condition: { condition: [filter('t', num('GREATER', 'warm'))] } }, /defaultValue: must be a number/],
      [{ condition: { condition: [filter('t', num('GREATER', null))] } }, /defaultValue: must be a number \(there is no dynamic value\)/],
      [{ condition: { condition: [] } }, /condition\.condition: must be a non-empty array/],
      [{ condition: { condition: [filter('t', num('GREATER', 1))], spec: { type: 'DURATION', unit: 'FORTNIGHTS', predicate: { defaultValue: 1 } } } }, /spec\.unit: must be one of/],
      [{ condition: { condition: [filter('t', num('GREATER', 1))], spec: { type: 'DURATION', unit: 'SECONDS' } } }, /spec\.predicate: must be an object \{defaultValue\}/],
      [{ condition: { condition: [filter('t', num('GREATER', 1))] }, schedule: { type: 'SPECIFIC_TIME', timezone: 'Mars/Olympus', daysOfWeek: [1], startsOn: 0, endsOn: 1 } }, /schedule\.timezone: unknown time zone/],
      [{ condition: { condition: [filter('t', num('GREATER', 1))] }, schedule: { type: 'ANY_TIME', dynamicValue: { sourceAttribute: 'sched' } } }, /schedule taken from an attribute is not supported/],
      [{ condition: { condition: [filter('k', num('EQUAL', 1), 'CONSTANT')] } }, /a CONSTANT key needs a value/],
    ];
    for (const [rule, message] of cases) {
      const error = (() => {
        try {
          compileProfile(profileWith(rule));
        } catch (e) {
          return e;
        }
        return undefined;
      })();
      expect(error, JSON.stringify(rule)).toBeInstanceOf(AlarmRulesError);
      expect((error as Error).message).toMatch(/^Device profile "thermostat": profileData\.alarms\[0\]/);
      expect((error as Error).message).toMatch(message);
    }
    expect(() => compileProfile({ id: 'p', name: 'x', profileData: { alarms: { a: 1 } } })).toThrow(/profileData\.alarms: must be an array/);
    expect(() => compileProfile({ id: 'p', name: 'x', profileData: { alarms: [{ id: 'a', alarmType: 'T', createRules: { SEVERE: {} } }] } })).toThrow(/unknown severity/);
    // No create rule yet (a profile being written): accepted, it raises nothing.
    expect(compileProfile({ id: 'p', name: 'x', profileData: { alarms: [{ id: 'a', alarmType: 'T', createRules: {} }] } }).alarms[0]!.createRules).toEqual([]);
    const twice = { id: 'a', alarmType: 'T', createRules: { MAJOR: { condition: { condition: [filter('t', num('GREATER', 1))] } } } };
    expect(() => compileProfile({ id: 'p', name: 'x', profileData: { alarms: [twice, twice] } })).toThrow(/"a" is used by another alarm/);
  });

  it('accepts the older spec shapes (DURATION value, REPEATING count)', () => {
    const d = ruleOf([filter('t', num('GREATER', 1))], { type: 'DURATION', unit: 'MINUTES', value: 2 });
    expect(d.spec).toEqual({ type: 'DURATION', unitMs: 60_000, value: { defaultValue: 2, dynamic: null } });
    const r = ruleOf([filter('t', num('GREATER', 1))], { type: 'REPEATING', count: 3 });
    expect(r.spec).toEqual({ type: 'REPEATING', value: { defaultValue: 3, dynamic: null } });
  });
});

describe('predicates', () => {
  it('NUMERIC compares as numbers (numeric strings and booleans converted, as ThingsBoard\'s getDblValue)', () => {
    const rule = ruleOf([filter('t', num('GREATER', 30))]);
    expect(evalCondition(snapshotWith(rule, { t: 35 }), rule)).toBe(true);
    expect(evalCondition(snapshotWith(rule, { t: 30 }), rule)).toBe(false);
    expect(evalCondition(snapshotWith(rule, { t: '31.5' }), rule)).toBe(true);
    expect(evalCondition(snapshotWith(rule, { t: 'hot' }), rule)).toBe(false);
    expect(evalCondition(snapshotWith(rule, { other: 99 }), rule)).toBe(false);
    const eq = ruleOf([filter('t', num('EQUAL', 1))]);
    expect(evalCondition(snapshotWith(eq, { t: true }), eq)).toBe(true);
    for (const [op, v, expected] of [['NOT_EQUAL', 2, true], ['LESS', 0, true], ['LESS_OR_EQUAL', 1, true], ['GREATER_OR_EQUAL', 1, true], ['LESS', 1, false]] as const) {
      const r = ruleOf([filter('t', num(op, 1))]);
      expect(evalCondition(snapshotWith(r, { t: v }), r), `${v} ${op} 1`).toBe(expected);
    }
  });

  it('STRING operations, with ignoreCase, IN / NOT_IN lists', () => {
    const check = (operation: string, target: string, value: JsonValue, ignoreCase = false) => {
      const r = ruleOf([filter('s', str(operation, target, ignoreCase), 'TIME_SERIES', 'STRING')]);
      return evalCondition(snapshotWith(r, { s: value }), r);
    };
    expect(check('EQUAL', 'on', 'on')).toBe(true);
    expect(check('EQUAL', 'on', 'ON')).toBe(false);
    expect(check('EQUAL', 'on', 'ON', true)).toBe(true);
    expect(check('NOT_EQUAL', 'on', 'off')).toBe(true);
    expect(check('STARTS_WITH', 'err', 'error 5')).toBe(true);
    expect(check('ENDS_WITH', '5', 'error 5')).toBe(true);
    expect(check('CONTAINS', 'or 5', 'error 5')).toBe(true);
    expect(check('NOT_CONTAINS', 'x', 'error 5')).toBe(true);
    expect(check('IN', 'a, "b", c', 'b')).toBe(true);
    expect(check('NOT_IN', 'a,b', 'b')).toBe(false);
    // A number compared as text, as ThingsBoard's getStrValue does.
    expect(check('EQUAL', '42', 42)).toBe(true);
  });

  it('BOOLEAN and COMPLEX (AND / OR, nested)', () => {
    const b = ruleOf([filter('door', bool('EQUAL', true), 'TIME_SERIES', 'BOOLEAN')]);
    expect(evalCondition(snapshotWith(b, { door: true }), b)).toBe(true);
    expect(evalCondition(snapshotWith(b, { door: 'true' }), b)).toBe(true);
    expect(evalCondition(snapshotWith(b, { door: false }), b)).toBe(false);
    const range = {
      type: 'COMPLEX',
      operation: 'OR',
      predicates: [num('LESS', 0), { type: 'COMPLEX', operation: 'AND', predicates: [num('GREATER', 30), num('LESS', 100)] }],
    };
    const c = ruleOf([filter('t', range)]);
    expect([-5, 10, 50, 150].map((t) => evalCondition(snapshotWith(c, { t }), c))).toEqual([true, false, true, false]);
  });

  it('every filter must hold; CONSTANT keys compare the filter\'s own value', () => {
    const r = ruleOf([filter('t', num('GREATER', 30)), filter('h', num('LESS', 20))]);
    expect(evalCondition(snapshotWith(r, { t: 35, h: 10 }), r)).toBe(true);
    expect(evalCondition(snapshotWith(r, { t: 35, h: 25 }), r)).toBe(false);
    const k = ruleOf([filter('flag', bool('EQUAL', true), 'CONSTANT', 'BOOLEAN', true), filter('t', num('GREATER', 0))]);
    expect(evalCondition(snapshotWith(k, { t: 1 }), k)).toBe(true);
  });

  it('a dynamic value reads the device\'s (or tenant\'s) attribute, and the default when it has none', () => {
    const r = ruleOf([filter('t', num('GREATER', 30, { sourceType: 'CURRENT_DEVICE', sourceAttribute: 'limit' }))]);
    expect(evalCondition(snapshotWith(r, { t: 35 }), r)).toBe(true);
    expect(evalCondition(snapshotWith(r, { t: 35, [slot('ATTRIBUTE', 'limit')]: 40 }), r)).toBe(false);
    const t = ruleOf([filter('t', num('GREATER', 30, { sourceType: 'CURRENT_TENANT', sourceAttribute: 'limit' }))]);
    expect(evalCondition(snapshotWith(t, { t: 35, [slot('TENANT', 'limit')]: 40 }), t)).toBe(false);
  });
});

describe('AlarmRuleState', () => {
  const now = () => 0;
  it('DURATION holds once the condition held for longer than the duration, counted on the data\'s time', () => {
    const rule = ruleOf([filter('t', num('GREATER', 30))], { type: 'DURATION', unit: 'SECONDS', predicate: { defaultValue: 10 } });
    const state = new AlarmRuleState('CRITICAL', rule, now);
    const at = (ts: number, t: number) => state.eval(snapshotWith(rule, { t }, ts));
    expect(at(1_000, 35)).toBe('NOT_YET_TRUE');
    expect(at(6_000, 35)).toBe('NOT_YET_TRUE');
    expect(at(11_000, 36)).toBe('NOT_YET_TRUE'); // exactly 10 s: not longer
    expect(at(11_001, 36)).toBe('TRUE');
    expect(state.duration).toBe(10_001);
    expect(at(12_000, 20)).toBe('FALSE');
    state.reset();
    expect(at(13_000, 35)).toBe('NOT_YET_TRUE');
    // Without new data, the harvest completes it.
    expect(state.evalAt(20_000, snapshotWith(rule, { t: 35 }, 13_000))).toBe('NOT_YET_TRUE');
    expect(state.evalAt(23_001, snapshotWith(rule, { t: 35 }, 13_000))).toBe('TRUE');
  });

  it('REPEATING holds at the n-th time in a row', () => {
    const rule = ruleOf([filter('t', num('GREATER', 30))], { type: 'REPEATING', predicate: { defaultValue: 3 } });
    const state = new AlarmRuleState('MAJOR', rule, now);
    const results = [35, 36, 37].map((t, i) => state.eval(snapshotWith(rule, { t }, i + 1)));
    expect(results).toEqual(['NOT_YET_TRUE', 'NOT_YET_TRUE', 'TRUE']);
    expect(state.evalAt(99, snapshotWith(rule, {}))).toBe('NOT_YET_TRUE');
  });

  it('a schedule limits when a rule may hold (SPECIFIC_TIME, CUSTOM, in the schedule\'s time zone)', () => {
    // 2026-12-07 is a Monday; 09:30 UTC is 10:30 in Europe/Berlin.
    const monday0930 = Date.UTC(2026, 11, 7, 9, 30);
    expect(zonedTime(monday0930, 'Europe/Berlin')).toEqual({ dayOfWeek: 1, msOfDay: (10 * 60 + 30) * 60_000 });
    const hours = (h: number) => h * 3_600_000;
    const specific = { type: 'SPECIFIC_TIME' as const, timezone: 'Europe/Berlin', daysOfWeek: [1, 2], window: { startsOn: hours(10), endsOn: hours(11) } };
    expect(scheduleActive(specific, monday0930)).toBe(true);
    expect(scheduleActive({ ...specific, daysOfWeek: [3] }, monday0930)).toBe(false);
    expect(scheduleActive({ ...specific, timezone: 'UTC' }, monday0930)).toBe(false);
    // A window over midnight.
    expect(scheduleActive({ ...specific, window: { startsOn: hours(22), endsOn: hours(11) } }, monday0930)).toBe(true);
    const custom = { type: 'CUSTOM' as const, timezone: 'UTC', items: [{ dayOfWeek: 1, enabled: true, window: { startsOn: hours(9), endsOn: hours(10) } }] };
    expect(scheduleActive(custom, monday0930)).toBe(true);
    expect(scheduleActive({ ...custom, items: [{ ...custom.items[0]!, enabled: false }] }, monday0930)).toBe(false);
    const rule = ruleOf([filter('t', num('GREATER', 30))], { type: 'SIMPLE' }, { schedule: { type: 'SPECIFIC_TIME', timezone: 'UTC', daysOfWeek: [2], startsOn: 0, endsOn: 0 } });
    expect(new AlarmRuleState('MAJOR', rule, now).eval(snapshotWith(rule, { t: 35 }, monday0930))).toBe('FALSE');
  });
});
