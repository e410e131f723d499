import type { Json } from '@rivulet/api-types';

export type JsonObject = { [key: string]: Json };

/**
 * The alarm rules editor's model of ThingsBoard's profileData.alarms (DeviceProfileAlarm). The form
 * edits the common shape: one create rule (a severity, "time-series key <op> number", an optional
 * duration in seconds) and an optional clear rule of the same form. Any other alarm (several
 * create rules, attributes, string predicates, schedules, dynamic values...) is kept as JSON and
 * edited as JSON, never dropped or rewritten. An alarm the person did not change is saved exactly
 * as it was read.
 */

export const SEVERITIES = ['CRITICAL', 'MAJOR', 'MINOR', 'WARNING', 'INDETERMINATE'] as const;
export type Severity = (typeof SEVERITIES)[number];

export const OPERATIONS = ['GREATER', 'GREATER_OR_EQUAL', 'LESS', 'LESS_OR_EQUAL', 'EQUAL', 'NOT_EQUAL'] as const;
export type Operation = (typeof OPERATIONS)[number];
export const OPERATION_SIGNS: Readonly<Record<Operation, string>> = {
  GREATER: '>',
  GREATER_OR_EQUAL: '≥',
  LESS: '<',
  LESS_OR_EQUAL: '≤',
  EQUAL: '=',
  NOT_EQUAL: '≠',
};

/** "key <operation> value", held for (durationSec) seconds when given. Numbers as typed (strings) until saved. */
export interface SimpleCondition {
  key: string;
  operation: Operation;
  value: string;
  /** Empty: the condition holds at once (SIMPLE); otherwise seconds (DURATION). */
  durationSec: string;
}

export interface SimpleAlarm {
  kind: 'simple';
  /** The alarm as read (null for a new one): everything the form does not show comes from here. */
  original: JsonObject | null;
  alarmType: string;
  severity: Severity;
  create: SimpleCondition;
  clear: SimpleCondition | null;
}

export interface AdvancedAlarm {
  kind: 'advanced';
  original: JsonObject | null;
  /** The alarm as JSON text, edited as is. */
  json: string;
}

export type EditorAlarm = SimpleAlarm | AdvancedAlarm;

function isObj(v: Json | undefined): v is JsonObject {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
const isNil = (v: Json | undefined): boolean => v === undefined || v === null;

/** A FilterPredicateValue holding a plain number (no dynamic value). */
function plainNumber(v: Json | undefined): number | undefined {
  if (!isObj(v)) return undefined;
  if (!isNil(v.dynamicValue)) return undefined;
  return typeof v.defaultValue === 'number' && Number.isFinite(v.defaultValue) ? v.defaultValue : undefined;
}

/** The rule's condition as the form shows it, or undefined when the form cannot show it faithfully. */
function simpleCondition(rule: Json | undefined): SimpleCondition | undefined {
  if (!isObj(rule) || !isObj(rule.condition)) return undefined;
  // A schedule other than "any time" is not shown by the form.
  if (!isNil(rule.schedule) && !(isObj(rule.schedule) && rule.schedule.type === 'ANY_TIME' && isNil(rule.schedule.dynamicValue))) return undefined;
  const filters = rule.condition.condition;
  if (!Array.isArray(filters) || filters.length !== 1) return undefined;
  const f = filters[0];
  if (!isObj(f) || !isObj(f.key) || f.key.type !== 'TIME_SERIES' || typeof f.key.key !== 'string' || f.valueType !== 'NUMERIC') return undefined;
  const p = f.predicate;
  if (!isObj(p) || p.type !== 'NUMERIC' || !(OPERATIONS as readonly Json[]).includes(p.operation ?? null)) return undefined;
  const value = plainNumber(p.value);
  if (value === undefined) return undefined;
  const spec = rule.condition.spec;
  let durationSec = '';
  if (isNil(spec) || (isObj(spec) && spec.type === 'SIMPLE')) durationSec = '';
  else if (isObj(spec) && spec.type === 'DURATION' && spec.unit === 'SECONDS') {
    const n = isNil(spec.predicate) ? (typeof spec.value === 'number' ? spec.value : undefined) : plainNumber(spec.predicate);
    if (n === undefined) return undefined;
    durationSec = String(n);
  } else return undefined;
  return { key: f.key.key, operation: p.operation as Operation, value: String(value), durationSec };
}

/** How the editor shows one alarm of profileData.alarms. */
export function toEditorAlarm(alarm: Json): EditorAlarm {
  const advanced = (): AdvancedAlarm => ({ kind: 'advanced', original: isObj(alarm) ? alarm : null, json: JSON.stringify(alarm, null, 2) });
  if (!isObj(alarm) || typeof alarm.alarmType !== 'string' || !isObj(alarm.createRules)) return advanced();
  const severities = Object.keys(alarm.createRules);
  if (severities.length !== 1 || !(SEVERITIES as readonly string[]).includes(severities[0]!)) return advanced();
  const severity = severities[0] as Severity;
  const create = simpleCondition(alarm.createRules[severity]);
  if (!create) return advanced();
  let clear: SimpleCondition | null = null;
  if (!isNil(alarm.clearRule)) {
    const c = simpleCondition(alarm.clearRule);
    if (!c) return advanced();
    clear = c;
  }
  return { kind: 'simple', original: alarm, alarmType: alarm.alarmType, severity, create, clear };
}

export function newSimpleAlarm(): SimpleAlarm {
  return { kind: 'simple', original: null, alarmType: '', severity: 'CRITICAL', create: { key: '', operation: 'GREATER', value: '', durationSec: '' }, clear: null };
}

export function newCondition(): SimpleCondition {
  return { key: '', operation: 'LESS_OR_EQUAL', value: '', durationSec: '' };
}

/** A version 4 UUID from the CSPRNG (crypto.randomUUID is missing outside secure contexts). */
export function uuid(): string {
  const b = crypto.getRandomValues(new Uint8Array(16));
  b[6] = (b[6]! & 0x0f) | 0x40;
  b[8] = (b[8]! & 0x3f) | 0x80;
  const h = [...b].map((x) => x.toString(16).padStart(2, '0')).join('');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

export class AlarmFormError extends Error {
  constructor(
    readonly index: number,
    readonly field: string,
    message: string,
  ) {
    super(message);
    this.name = 'AlarmFormError';
  }
}

function numberOf(text: string, index: number, field: string, what: string): number {
  const t = text.trim();
  const n = t === '' ? NaN : Number(t);
  if (!Number.isFinite(n)) throw new AlarmFormError(index, field, `${what} must be a number`);
  return n;
}

function conditionJson(c: SimpleCondition, index: number, where: 'create' | 'clear'): JsonObject {
  const key = c.key.trim();
  if (!key) throw new AlarmFormError(index, `${where}.key`, 'Time-series key should be specified');
  const value = numberOf(c.value, index, `${where}.value`, 'The value');
  const filter: JsonObject = {
    key: { type: 'TIME_SERIES', key },
    valueType: 'NUMERIC',
    value: null,
    predicate: { type: 'NUMERIC', operation: c.operation, value: { defaultValue: value, userValue: null, dynamicValue: null } },
  };
  let spec: JsonObject = { type: 'SIMPLE' };
  if (c.durationSec.trim() !== '') {
    const d = numberOf(c.durationSec, index, `${where}.duration`, 'The duration');
    if (d <= 0 || !Number.isInteger(d)) throw new AlarmFormError(index, `${where}.duration`, 'The duration must be a whole number of seconds above 0');
    spec = { type: 'DURATION', unit: 'SECONDS', predicate: { defaultValue: d, userValue: null, dynamicValue: null } };
  }
  return { condition: [filter], spec };
}

/** The rule with the form's condition; its other fields (schedule, alarmDetails, dashboardId) kept. */
function ruleJson(c: SimpleCondition, original: Json | undefined, index: number, where: 'create' | 'clear'): JsonObject {
  const base: JsonObject = isObj(original) ? original : { schedule: null, alarmDetails: null, dashboardId: null };
  return { ...base, condition: conditionJson(c, index, where) };
}

function sameCondition(a: SimpleCondition | null, b: SimpleCondition | null): boolean {
  if (a === null || b === null) return a === b;
  return a.key === b.key && a.operation === b.operation && a.value === b.value && a.durationSec === b.durationSec;
}

/**
 * The alarm to save, in ThingsBoard's shape; throws an AlarmFormError naming the field when the
 * form is incomplete or the JSON does not parse.
 */
export function fromEditorAlarm(a: EditorAlarm, index: number): JsonObject {
  if (a.kind === 'advanced') {
    let parsed: unknown;
    try {
      parsed = JSON.parse(a.json);
    } catch (e) {
      throw new AlarmFormError(index, 'json', `Not valid JSON: ${e instanceof Error ? e.message : String(e)}`);
    }
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new AlarmFormError(index, 'json', 'The alarm must be a JSON object');
    return parsed as JsonObject;
  }
  const alarmType = a.alarmType.trim();
  if (!alarmType) throw new AlarmFormError(index, 'alarmType', 'Alarm type should be specified');
  const o = a.original;
  // Untouched: saved exactly as read.
  if (o) {
    const before = toEditorAlarm(o);
    if (before.kind === 'simple' && before.alarmType === a.alarmType && before.severity === a.severity && sameCondition(before.create, a.create) && sameCondition(before.clear, a.clear)) return o;
  }
  const oldCreate = o && isObj(o.createRules) ? Object.values(o.createRules)[0] : undefined;
  const createRules: JsonObject = { [a.severity]: ruleJson(a.create, oldCreate, index, 'create') };
  const clearRule = a.clear ? ruleJson(a.clear, o?.clearRule ?? undefined, index, 'clear') : null;
  const defaults: JsonObject = { id: uuid(), propagate: false, propagateToOwner: false, propagateToTenant: false, propagateRelationTypes: null };
  return { ...defaults, ...(o ?? {}), alarmType, createRules, clearRule };
}

/** Every alarm of profileData.alarms as the editor shows it (null / missing: none). */
export function editorAlarmsOf(alarms: Json | undefined): EditorAlarm[] {
  return Array.isArray(alarms) ? alarms.map(toEditorAlarm) : [];
}

/** The editor's alarms as profileData.alarms (null when there are none, as ThingsBoard saves it). */
export function alarmsJson(alarms: readonly EditorAlarm[]): JsonObject[] | null {
  return alarms.length === 0 ? null : alarms.map((a, i) => fromEditorAlarm(a, i));
}

/** "temperature > 30 for 10 s": a one-line summary of a condition. */
export function describeCondition(c: SimpleCondition): string {
  const s = `${c.key || '?'} ${OPERATION_SIGNS[c.operation]} ${c.value || '?'}`;
  return c.durationSec.trim() ? `${s} for ${c.durationSec.trim()} s` : s;
}
