import { BadRequestError, type JsonObject, type JsonValue, type KvValue } from '@rivulet/core';
import type { RuleAlarmSeverity } from '@rivulet/rule-engine';

/**
 * A device profile's alarm rules (ThingsBoard's profileData.alarms: DeviceProfileAlarm, AlarmRule,
 * AlarmCondition, AlarmConditionFilter, KeyFilterPredicate, AlarmConditionSpec, AlarmSchedule),
 * checked and compiled once per profile version. Anything Rivulet cannot evaluate faithfully is
 * refused here with an error naming the place (never ignored): ENTITY_FIELD keys other than the
 * device's name, type, label and createdTime, schedules taken from an attribute.
 * Dynamic values come from the device's attributes, its customer's or its tenant's server
 * attributes; `inherit` falls through device -> customer -> tenant as ThingsBoard's does.
 */

/** Severities from the most to the least severe (ThingsBoard's AlarmSeverity ordinal order). */
export const SEVERITY_ORDER: readonly RuleAlarmSeverity[] = ['CRITICAL', 'MAJOR', 'MINOR', 'WARNING', 'INDETERMINATE'];

export class AlarmRulesError extends BadRequestError {
  constructor(profileName: string, where: string, problem: string) {
    super(`Device profile "${profileName}": ${where}: ${problem}`, { details: { profile: profileName, field: where } });
    this.name = 'AlarmRulesError';
  }
}

/** Where a key's value comes from. Scoped attribute types are ThingsBoard's older EntityKeyType names. */
export type KeyType = 'TIME_SERIES' | 'ATTRIBUTE' | 'CLIENT_ATTRIBUTE' | 'SHARED_ATTRIBUTE' | 'SERVER_ATTRIBUTE' | 'ENTITY_FIELD' | 'CONSTANT';

/** The device fields an ENTITY_FIELD key may name (ThingsBoard's device profile node reads these). */
export const ENTITY_FIELDS = ['name', 'type', 'label', 'createdTime'] as const;
export type EntityField = (typeof ENTITY_FIELDS)[number];
/** Snapshot slots: the key types above but CONSTANT, TENANT and CUSTOMER (dynamic values of their server attributes). */
export type SlotType = Exclude<KeyType, 'CONSTANT'> | 'TENANT' | 'CUSTOMER';

/** The snapshot's name for a value: its type and key. */
export function slot(type: SlotType, key: string): string {
  return `${type}\u0000${key}`;
}

export interface DynamicSource {
  readonly source: 'CURRENT_DEVICE' | 'CURRENT_CUSTOMER' | 'CURRENT_TENANT';
  readonly attribute: string;
  /** Missing at the source: the customer's value, then the tenant's (from CURRENT_DEVICE), or the tenant's (from CURRENT_CUSTOMER). */
  readonly inherit: boolean;
}

export interface PredicateValue<T> {
  readonly defaultValue: T | null;
  readonly dynamic: DynamicSource | null;
}

export type NumericOperation = 'EQUAL' | 'NOT_EQUAL' | 'GREATER' | 'LESS' | 'GREATER_OR_EQUAL' | 'LESS_OR_EQUAL';
export type StringOperation = 'EQUAL' | 'NOT_EQUAL' | 'STARTS_WITH' | 'ENDS_WITH' | 'CONTAINS' | 'NOT_CONTAINS' | 'IN' | 'NOT_IN';

export type Predicate =
  | { readonly type: 'NUMERIC'; readonly operation: NumericOperation; readonly value: PredicateValue<number> }
  | { readonly type: 'STRING'; readonly operation: StringOperation; readonly value: PredicateValue<string>; readonly ignoreCase: boolean }
  | { readonly type: 'BOOLEAN'; readonly operation: 'EQUAL' | 'NOT_EQUAL'; readonly value: PredicateValue<boolean> }
  | { readonly type: 'COMPLEX'; readonly operation: 'AND' | 'OR'; readonly predicates: readonly Predicate[] };

export type ValueType = 'NUMERIC' | 'STRING' | 'BOOLEAN' | 'DATE_TIME';

export interface ConditionFilter {
  readonly keyType: KeyType;
  readonly key: string;
  readonly valueType: ValueType;
  /** CONSTANT keys: the filter's own value, typed by valueType (null when it does not parse). */
  readonly constant: KvValue | null;
  readonly predicate: Predicate;
}

export type ConditionSpec =
  | { readonly type: 'SIMPLE' }
  | { readonly type: 'DURATION'; readonly unitMs: number; readonly value: PredicateValue<number> }
  | { readonly type: 'REPEATING'; readonly value: PredicateValue<number> };

export interface ScheduleWindow {
  readonly startsOn: number;
  readonly endsOn: number;
}

export type Schedule =
  | { readonly type: 'ANY_TIME' }
  | { readonly type: 'SPECIFIC_TIME'; readonly timezone: string; readonly daysOfWeek: readonly number[]; readonly window: ScheduleWindow }
  | {
      readonly type: 'CUSTOM';
      readonly timezone: string;
      readonly items: ReadonlyArray<{ readonly dayOfWeek: number; readonly enabled: boolean; readonly window: ScheduleWindow }>;
    };

export interface AlarmRule {
  readonly filters: readonly ConditionFilter[];
  readonly spec: ConditionSpec;
  readonly schedule: Schedule;
  readonly alarmDetails: string | null;
  readonly dashboardId: string | null;
  /** Snapshot slots the rule reads (its filters' keys and the attributes its dynamic values name). */
  readonly slots: ReadonlySet<string>;
  /** Some filter reads a time series: an attribute change alone does not evaluate the rule (ThingsBoard's validateAttrUpdate). */
  readonly readsTimeseries: boolean;
}

export interface ProfileAlarm {
  readonly id: string;
  readonly alarmType: string;
  /** Most severe first: the first rule that holds decides the severity. */
  readonly createRules: ReadonlyArray<{ readonly severity: RuleAlarmSeverity; readonly rule: AlarmRule }>;
  readonly clearRule: AlarmRule | null;
}

export interface CompiledProfile {
  readonly id: string;
  readonly name: string;
  readonly alarms: readonly ProfileAlarm[];
  /** Every slot any rule reads: what a device's snapshot keeps. */
  readonly slots: ReadonlySet<string>;
  /** What to fetch from storage when a device's state starts. */
  readonly fetch: {
    readonly timeseries: readonly string[];
    readonly client: readonly string[];
    readonly shared: readonly string[];
    readonly server: readonly string[];
    /** Keys read in every scope (ATTRIBUTE, and dynamic values of the device). */
    readonly anyScope: ReadonlySet<string>;
    /** The tenant's server attributes dynamic values name. */
    readonly tenant: readonly string[];
    /** The server attributes of the device's customer dynamic values name (none read for a device without a customer). */
    readonly customer: readonly string[];
    /** Device fields ENTITY_FIELD keys name (read once, with the device). */
    readonly entityFields: readonly EntityField[];
  };
}

const TIME_UNITS_MS: Readonly<Record<string, number>> = {
  NANOSECONDS: 1e-6,
  MICROSECONDS: 1e-3,
  MILLISECONDS: 1,
  SECONDS: 1000,
  MINUTES: 60_000,
  HOURS: 3_600_000,
  DAYS: 86_400_000,
};

const NUMERIC_OPS: readonly NumericOperation[] = ['EQUAL', 'NOT_EQUAL', 'GREATER', 'LESS', 'GREATER_OR_EQUAL', 'LESS_OR_EQUAL'];
const STRING_OPS: readonly StringOperation[] = ['EQUAL', 'NOT_EQUAL', 'STARTS_WITH', 'ENDS_WITH', 'CONTAINS', 'NOT_CONTAINS', 'IN', 'NOT_IN'];
const KEY_TYPES: readonly KeyType[] = ['TIME_SERIES', 'ATTRIBUTE', 'CLIENT_ATTRIBUTE', 'SHARED_ATTRIBUTE', 'SERVER_ATTRIBUTE', 'ENTITY_FIELD', 'CONSTANT'];
const VALUE_TYPES: readonly ValueType[] = ['NUMERIC', 'STRING', 'BOOLEAN', 'DATE_TIME'];

function isObj(v: unknown): v is JsonObject {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Compiles a profile's alarm rules, or throws an AlarmRulesError naming the profile and the field. */
export function compileProfile(profile: { id: string; name: string; profileData: JsonObject }): CompiledProfile {
  const c: Compiler = new Compiler(profile.name);
  const raw = profile.profileData.alarms;
  const alarms: ProfileAlarm[] = [];
  if (raw !== undefined && raw !== null) {
    if (!Array.isArray(raw)) c.fail('profileData.alarms', 'must be an array of alarm rules');
    const ids = new Set<string>();
    raw.forEach((a, i) => {
      const alarm = c.alarm(a, `profileData.alarms[${i}]`);
      if (ids.has(alarm.id)) c.fail(`profileData.alarms[${i}].id`, `"${alarm.id}" is used by another alarm of the profile`);
      ids.add(alarm.id);
      alarms.push(alarm);
    });
  }
  return { id: profile.id, name: profile.name, alarms, slots: c.allSlots, fetch: c.fetchPlan() };
}

class Compiler {
  readonly allSlots = new Set<string>();
  private readonly ts = new Set<string>();
  private readonly scoped = { CLIENT_ATTRIBUTE: new Set<string>(), SHARED_ATTRIBUTE: new Set<string>(), SERVER_ATTRIBUTE: new Set<string>() };
  private readonly anyScope = new Set<string>();
  private readonly tenant = new Set<string>();
  private readonly customer = new Set<string>();
  private readonly entityFields = new Set<EntityField>();

  constructor(private readonly profileName: string) {}

  fail(where: string, problem: string): never {
    throw new AlarmRulesError(this.profileName, where, problem);
  }

  fetchPlan(): CompiledProfile['fetch'] {
    const withAny = (s: Set<string>) => [...new Set([...s, ...this.anyScope])];
    return {
      timeseries: [...this.ts],
      client: withAny(this.scoped.CLIENT_ATTRIBUTE),
      shared: withAny(this.scoped.SHARED_ATTRIBUTE),
      server: withAny(this.scoped.SERVER_ATTRIBUTE),
      anyScope: new Set(this.anyScope),
      tenant: [...this.tenant],
      customer: [...this.customer],
      entityFields: [...this.entityFields],
    };
  }

  alarm(a: JsonValue, where: string): ProfileAlarm {
    if (!isObj(a)) this.fail(where, 'must be an object');
    const id = typeof a.id === 'string' && a.id !== '' ? a.id : this.fail(`${where}.id`, 'must be a non-empty string');
    const alarmType = typeof a.alarmType === 'string' && a.alarmType.trim() !== '' ? a.alarmType : this.fail(`${where}.alarmType`, 'must be a non-empty string');
    const createRules: Array<{ severity: RuleAlarmSeverity; rule: AlarmRule }> = [];
    const rawCreate = a.createRules ?? {};
    if (!isObj(rawCreate)) this.fail(`${where}.createRules`, 'must be an object of severity: rule');
    for (const [severity, rule] of Object.entries(rawCreate)) {
      if (!SEVERITY_ORDER.includes(severity as RuleAlarmSeverity)) this.fail(`${where}.createRules.${severity}`, `unknown severity (one of ${SEVERITY_ORDER.join(', ')})`);
      if (rule === null) continue;
      createRules.push({ severity: severity as RuleAlarmSeverity, rule: this.rule(rule, `${where}.createRules.${severity}`) });
    }
    createRules.sort((x, y) => SEVERITY_ORDER.indexOf(x.severity) - SEVERITY_ORDER.indexOf(y.severity));
    const clearRule = a.clearRule === undefined || a.clearRule === null ? null : this.rule(a.clearRule, `${where}.clearRule`);
    return { id, alarmType, createRules, clearRule };
  }

  rule(r: JsonValue, where: string): AlarmRule {
    if (!isObj(r)) this.fail(where, 'must be an object');
    const cond = r.condition;
    if (!isObj(cond)) this.fail(`${where}.condition`, 'must be an object {condition: [filters], spec}');
    const rawFilters = cond.condition;
    if (!Array.isArray(rawFilters) || rawFilters.length === 0) this.fail(`${where}.condition.condition`, 'must be a non-empty array of key filters');
    const slots = new Set<string>();
    const filters = rawFilters.map((f, i) => this.filter(f, `${where}.condition.condition[${i}]`, slots));
    const spec = this.spec(cond.spec, `${where}.condition.spec`, slots);
    const schedule = this.schedule(r.schedule, `${where}.schedule`);
    const alarmDetails = typeof r.alarmDetails === 'string' && r.alarmDetails !== '' ? r.alarmDetails : null;
    const dash = r.dashboardId;
    const dashboardId = typeof dash === 'string' ? dash : isObj(dash) && typeof dash.id === 'string' ? dash.id : null;
    for (const s of slots) this.allSlots.add(s);
    return { filters, spec, schedule, alarmDetails, dashboardId, slots, readsTimeseries: filters.some((f) => f.keyType === 'TIME_SERIES') };
  }

  filter(f: JsonValue, where: string, slots: Set<string>): ConditionFilter {
    if (!isObj(f)) this.fail(where, 'must be an object {key, valueType, predicate}');
    const k = f.key;
    if (!isObj(k)) this.fail(`${where}.key`, 'must be an object {type, key}');
    const keyType = KEY_TYPES.includes(k.type as KeyType) ? (k.type as KeyType) : this.fail(`${where}.key.type`, `must be one of ${KEY_TYPES.join(', ')}`);
    const key = typeof k.key === 'string' && k.key !== '' ? k.key : this.fail(`${where}.key.key`, 'must be a non-empty string');
    if (keyType === 'ENTITY_FIELD' && !(ENTITY_FIELDS as readonly string[]).includes(key)) {
      this.fail(`${where}.key.key`, `the device field "${key}" is not supported by Rivulet (one of ${ENTITY_FIELDS.join(', ')})`);
    }
    const valueType = VALUE_TYPES.includes(f.valueType as ValueType) ? (f.valueType as ValueType) : this.fail(`${where}.valueType`, `must be one of ${VALUE_TYPES.join(', ')}`);
    let constant: KvValue | null = null;
    if (keyType === 'CONSTANT') {
      if (f.value === undefined || f.value === null) this.fail(`${where}.value`, 'a CONSTANT key needs a value');
      constant = constantValue(f.value, valueType);
    } else {
      this.addKey(keyType, key, slots);
    }
    const predicate = this.predicate(f.predicate, `${where}.predicate`, slots);
    return { keyType, key, valueType, constant, predicate };
  }

  private addKey(keyType: Exclude<KeyType, 'CONSTANT'>, key: string, slots: Set<string>): void {
    slots.add(slot(keyType, key));
    if (keyType === 'TIME_SERIES') this.ts.add(key);
    else if (keyType === 'ENTITY_FIELD') this.entityFields.add(key as EntityField);
    else if (keyType === 'ATTRIBUTE') this.anyScope.add(key);
    else this.scoped[keyType].add(key);
  }

  predicate(p: JsonValue | undefined, where: string, slots: Set<string>): Predicate {
    if (!isObj(p)) this.fail(where, 'must be an object {type, operation, value}');
    switch (p.type) {
      case 'NUMERIC': {
        const operation = NUMERIC_OPS.includes(p.operation as NumericOperation) ? (p.operation as NumericOperation) : this.fail(`${where}.operation`, `must be one of ${NUMERIC_OPS.join(', ')}`);
        return { type: 'NUMERIC', operation, value: this.value(p.value, `${where}.value`, slots, numberOf, 'a number') };
      }
      case 'STRING': {
        const operation = STRING_OPS.includes(p.operation as StringOperation) ? (p.operation as StringOperation) : this.fail(`${where}.operation`, `must be one of ${STRING_OPS.join(', ')}`);
        const value = this.value(p.value, `${where}.value`, slots, (v) => (typeof v === 'string' ? v : typeof v === 'number' || typeof v === 'boolean' ? String(v) : undefined), 'a string');
        return { type: 'STRING', operation, value, ignoreCase: p.ignoreCase === true };
      }
      case 'BOOLEAN': {
        const operation = p.operation === 'EQUAL' || p.operation === 'NOT_EQUAL' ? p.operation : this.fail(`${where}.operation`, 'must be EQUAL or NOT_EQUAL');
        const value = this.value(p.value, `${where}.value`, slots, (v) => (typeof v === 'boolean' ? v : v === 'true' ? true : v === 'false' ? false : undefined), 'true or false');
        return { type: 'BOOLEAN', operation, value };
      }
      case 'COMPLEX': {
        const operation = p.operation === 'AND' || p.operation === 'OR' ? p.operation : this.fail(`${where}.operation`, 'must be AND or OR');
        if (!Array.isArray(p.predicates)) this.fail(`${where}.predicates`, 'must be an array of predicates');
        return { type: 'COMPLEX', operation, predicates: p.predicates.map((c, i) => this.predicate(c, `${where}.predicates[${i}]`, slots)) };
      }
      default:
        return this.fail(`${where}.type`, 'must be NUMERIC, STRING, BOOLEAN or COMPLEX');
    }
  }

  /** ThingsBoard's FilterPredicateValue {defaultValue, userValue, dynamicValue}; userValue only matters to the UI's filters. */
  value<T>(v: JsonValue | undefined, where: string, slots: Set<string>, parse: (v: JsonValue) => T | undefined, what: string): PredicateValue<T> {
    if (!isObj(v)) this.fail(where, 'must be an object {defaultValue, dynamicValue}');
    const dynamic = this.dynamic(v.dynamicValue, `${where}.dynamicValue`, slots);
    let defaultValue: T | null = null;
    if (v.defaultValue !== undefined && v.defaultValue !== null) {
      const parsed = parse(v.defaultValue);
      if (parsed === undefined) this.fail(`${where}.defaultValue`, `must be ${what}`);
      defaultValue = parsed;
    } else if (!dynamic) this.fail(`${where}.defaultValue`, `must be ${what} (there is no dynamic value)`);
    return { defaultValue, dynamic };
  }

  dynamic(d: JsonValue | undefined, where: string, slots: Set<string>): DynamicSource | null {
    if (d === undefined || d === null) return null;
    if (!isObj(d)) this.fail(where, 'must be an object {sourceType, sourceAttribute}');
    if (d.sourceAttribute === undefined || d.sourceAttribute === null || d.sourceAttribute === '') return null;
    const attribute = typeof d.sourceAttribute === 'string' ? d.sourceAttribute : this.fail(`${where}.sourceAttribute`, 'must be a string');
    if (d.inherit !== undefined && d.inherit !== null && typeof d.inherit !== 'boolean') this.fail(`${where}.inherit`, 'must be true or false');
    const inherit = d.inherit === true;
    // Each level the value may come from (inherit: the levels after the source too) is fetched and kept.
    const fromTenant = () => {
      slots.add(slot('TENANT', attribute));
      this.tenant.add(attribute);
    };
    const fromCustomer = () => {
      slots.add(slot('CUSTOMER', attribute));
      this.customer.add(attribute);
      if (inherit) fromTenant();
    };
    switch (d.sourceType) {
      case 'CURRENT_DEVICE':
        slots.add(slot('ATTRIBUTE', attribute));
        this.anyScope.add(attribute);
        if (inherit) fromCustomer();
        return { source: 'CURRENT_DEVICE', attribute, inherit };
      case 'CURRENT_CUSTOMER':
        fromCustomer();
        return { source: 'CURRENT_CUSTOMER', attribute, inherit };
      case 'CURRENT_TENANT':
        fromTenant();
        return { source: 'CURRENT_TENANT', attribute, inherit: false };
      default:
        return this.fail(`${where}.sourceType`, 'must be CURRENT_DEVICE, CURRENT_CUSTOMER or CURRENT_TENANT');
    }
  }

  spec(s: JsonValue | undefined, where: string, slots: Set<string>): ConditionSpec {
    if (s === undefined || s === null) return { type: 'SIMPLE' };
    if (!isObj(s)) this.fail(where, 'must be an object {type}');
    switch (s.type) {
      case 'SIMPLE':
        return { type: 'SIMPLE' };
      case 'DURATION': {
        const unit = typeof s.unit === 'string' ? s.unit : '';
        const unitMs = TIME_UNITS_MS[unit] ?? this.fail(`${where}.unit`, `must be one of ${Object.keys(TIME_UNITS_MS).join(', ')}`);
        return { type: 'DURATION', unitMs, value: this.count(s, 'value', where, slots) };
      }
      case 'REPEATING':
        return { type: 'REPEATING', value: this.count(s, 'count', where, slots) };
      default:
        return this.fail(`${where}.type`, 'must be SIMPLE, DURATION or REPEATING');
    }
  }

  /** The spec's number: `predicate` {defaultValue, dynamicValue} (ThingsBoard 3.2+), or the older plain `value` / `count`. */
  private count(s: JsonObject, older: string, where: string, slots: Set<string>): PredicateValue<number> {
    const positive = (v: JsonValue) => {
      const n = numberOf(v);
      return n !== undefined && n >= 0 ? n : undefined;
    };
    if (s.predicate !== undefined && s.predicate !== null) return this.value(s.predicate, `${where}.predicate`, slots, positive, 'a number >= 0');
    const n = s[older] === undefined ? undefined : positive(s[older]);
    if (n === undefined) this.fail(`${where}.predicate`, 'must be an object {defaultValue} with a number >= 0');
    return { defaultValue: n, dynamic: null };
  }

  schedule(s: JsonValue | undefined, where: string): Schedule {
    if (s === undefined || s === null) return { type: 'ANY_TIME' };
    if (!isObj(s)) this.fail(where, 'must be an object {type}');
    if (isObj(s.dynamicValue) && typeof s.dynamicValue.sourceAttribute === 'string' && s.dynamicValue.sourceAttribute !== '') {
      this.fail(`${where}.dynamicValue`, 'a schedule taken from an attribute is not supported by Rivulet');
    }
    switch (s.type) {
      case 'ANY_TIME':
        return { type: 'ANY_TIME' };
      case 'SPECIFIC_TIME': {
        const days = Array.isArray(s.daysOfWeek) ? s.daysOfWeek : this.fail(`${where}.daysOfWeek`, 'must be an array of days (1 = Monday ... 7 = Sunday)');
        const daysOfWeek = days.map((d, i) => (typeof d === 'number' && Number.isInteger(d) && d >= 1 && d <= 7 ? d : this.fail(`${where}.daysOfWeek[${i}]`, 'must be 1..7')));
        return { type: 'SPECIFIC_TIME', timezone: this.timezone(s.timezone, `${where}.timezone`), daysOfWeek, window: this.window(s, where) };
      }
      case 'CUSTOM': {
        const rawItems = Array.isArray(s.items) ? s.items : this.fail(`${where}.items`, 'must be an array of {dayOfWeek, enabled, startsOn, endsOn}');
        const items = rawItems.map((it, i) => {
          const w = `${where}.items[${i}]`;
          if (!isObj(it)) this.fail(w, 'must be an object');
          const dayOfWeek = typeof it.dayOfWeek === 'number' && it.dayOfWeek >= 1 && it.dayOfWeek <= 7 ? it.dayOfWeek : this.fail(`${w}.dayOfWeek`, 'must be 1..7');
          return { dayOfWeek, enabled: it.enabled === true, window: this.window(it, w) };
        });
        return { type: 'CUSTOM', timezone: this.timezone(s.timezone, `${where}.timezone`), items };
      }
      default:
        return this.fail(`${where}.type`, 'must be ANY_TIME, SPECIFIC_TIME or CUSTOM');
    }
  }

  private window(o: JsonObject, where: string): ScheduleWindow {
    const ms = (v: JsonValue | undefined, field: string) => (typeof v === 'number' && v >= 0 && v <= 86_400_000 ? v : this.fail(`${where}.${field}`, 'must be milliseconds since the start of the day'));
    return { startsOn: ms(o.startsOn ?? 0, 'startsOn'), endsOn: ms(o.endsOn ?? 0, 'endsOn') };
  }

  private timezone(tz: JsonValue | undefined, where: string): string {
    const name = typeof tz === 'string' && tz !== '' ? tz : 'UTC';
    try {
      new Intl.DateTimeFormat('en-US', { timeZone: name });
    } catch {
      this.fail(where, `unknown time zone "${name}"`);
    }
    return name;
  }
}

function numberOf(v: JsonValue): number | undefined {
  if (typeof v === 'number') return Number.isFinite(v) ? v : undefined;
  if (typeof v === 'string' && v.trim() !== '') {
    const n = Number(v);
    return Number.isFinite(n) ? n : undefined;
  }
  return undefined;
}

/** A CONSTANT filter's value as ThingsBoard's getConstantValue reads it (toString, then parsed by the value type). */
function constantValue(v: JsonValue, valueType: ValueType): KvValue | null {
  const s = typeof v === 'string' ? v : JSON.stringify(v);
  switch (valueType) {
    case 'STRING':
      return s;
    case 'BOOLEAN':
      return s.toLowerCase() === 'true';
    case 'NUMERIC':
    case 'DATE_TIME':
      return numberOf(s) ?? null;
  }
}
