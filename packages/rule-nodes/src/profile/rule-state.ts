import type { KvValue } from '@rivulet/core';
import type { RuleAlarmSeverity } from '@rivulet/rule-engine';
import { slot, type AlarmRule, type ConditionFilter, type DynamicSource, type Predicate, type PredicateValue, type Schedule, type ScheduleWindow } from './alarm-rules';

/**
 * The evaluation half of ThingsBoard's device profile node: a device's latest values (DataSnapshot)
 * and the state of one alarm rule (AlarmRuleState: SIMPLE, DURATION, REPEATING, and the schedule).
 * Pure and synchronous: storage is read before (the device state), alarms are written after.
 */

/** The latest value of every slot the profile's rules read, for one device, and the time of the last change. */
export class DataSnapshot {
  ts = 0;
  private readonly values = new Map<string, KvValue>();

  constructor(private readonly slots: ReadonlySet<string>) {}

  has(s: string): boolean {
    return this.slots.has(s);
  }

  /**
   * Keeps the value when a rule reads its slot; true when that is news for the rules (the value
   * changed, or it came at another time than the snapshot's last change), as ThingsBoard's putValue.
   */
  put(s: string, newTs: number, value: KvValue): boolean {
    if (!this.slots.has(s)) return false;
    const old = this.values.get(s);
    this.values.set(s, value);
    return this.ts !== newTs || old === undefined || !sameValue(old, value);
  }

  get(s: string): KvValue | undefined {
    return this.values.get(s);
  }

  remove(s: string): void {
    this.values.delete(s);
  }
}

function sameValue(a: KvValue, b: KvValue): boolean {
  if (a === b) return true;
  return typeof a === 'object' && typeof b === 'object' && JSON.stringify(a) === JSON.stringify(b);
}

// ThingsBoard's EntityKeyValue conversions (AlarmRuleState.getDblValue / getStrValue / getBoolValue).
export function toNumber(v: KvValue): number | null {
  if (typeof v === 'number') return v;
  if (typeof v === 'boolean') return v ? 1 : 0;
  if (typeof v === 'string') {
    // Double.parseDouble: surrounding blanks allowed, an empty string is not a number.
    const t = v.trim();
    if (t === '') return null;
    const n = Number(t);
    return Number.isNaN(n) && t !== 'NaN' ? null : n;
  }
  return null;
}

export function toText(v: KvValue): string {
  return typeof v === 'string' ? v : typeof v === 'object' ? JSON.stringify(v) : String(v);
}

function toBool(v: KvValue): boolean | null {
  if (typeof v === 'boolean') return v;
  if (typeof v === 'number') return v > 0;
  if (typeof v === 'string') return v.toLowerCase() === 'true';
  return false;
}

/**
 * A dynamic value from its source; with `inherit`, a value missing there is taken from the next
 * level: device -> customer -> tenant (ThingsBoard's fall-through in AlarmRuleState).
 */
function dynamicValue(snapshot: DataSnapshot, d: DynamicSource): KvValue | undefined {
  if (d.source === 'CURRENT_DEVICE') {
    const v = snapshot.get(slot('ATTRIBUTE', d.attribute));
    if (v !== undefined || !d.inherit) return v;
  }
  if (d.source !== 'CURRENT_TENANT') {
    const v = snapshot.get(slot('CUSTOMER', d.attribute));
    if (v !== undefined || !d.inherit) return v;
  }
  return snapshot.get(slot('TENANT', d.attribute));
}

/** The value a predicate compares with: the dynamic source's when it has one that converts, else the default. */
function predicateValue<T>(snapshot: DataSnapshot, pv: PredicateValue<T>, convert: (v: KvValue) => T | null): T | null {
  if (pv.dynamic) {
    const raw = dynamicValue(snapshot, pv.dynamic);
    if (raw !== undefined) {
      const v = convert(raw);
      if (v !== null) return v;
    }
  }
  return pv.defaultValue;
}

function splitList(s: string): string[] {
  // ThingsBoard's IN / NOT_IN: comma-separated, blanks and surrounding quotes dropped.
  return s.split(',').map((x) => x.trim().replace(/^"(.*)"$/, '$1'));
}

export function evalPredicate(snapshot: DataSnapshot, value: KvValue, p: Predicate): boolean {
  switch (p.type) {
    case 'NUMERIC': {
      const v = toNumber(value);
      const target = predicateValue(snapshot, p.value, toNumber);
      if (v === null || target === null) return false;
      switch (p.operation) {
        case 'EQUAL':
          return v === target;
        case 'NOT_EQUAL':
          return v !== target;
        case 'GREATER':
          return v > target;
        case 'GREATER_OR_EQUAL':
          return v >= target;
        case 'LESS':
          return v < target;
        case 'LESS_OR_EQUAL':
          return v <= target;
      }
      return false;
    }
    case 'STRING': {
      let v = toText(value);
      let target = predicateValue(snapshot, p.value, toText);
      if (target === null) return false;
      if (p.ignoreCase) {
        v = v.toLowerCase();
        target = target.toLowerCase();
      }
      switch (p.operation) {
        case 'EQUAL':
          return v === target;
        case 'NOT_EQUAL':
          return v !== target;
        case 'STARTS_WITH':
          return v.startsWith(target);
        case 'ENDS_WITH':
          return v.endsWith(target);
        case 'CONTAINS':
          return v.includes(target);
        case 'NOT_CONTAINS':
          return !v.includes(target);
        case 'IN':
          return splitList(target).includes(v);
        case 'NOT_IN':
          return !splitList(target).includes(v);
      }
      return false;
    }
    case 'BOOLEAN': {
      const v = toBool(value);
      const target = predicateValue(snapshot, p.value, toBool);
      if (v === null || target === null) return false;
      return p.operation === 'EQUAL' ? v === target : v !== target;
    }
    case 'COMPLEX':
      return p.operation === 'AND' ? p.predicates.every((c) => evalPredicate(snapshot, value, c)) : p.predicates.some((c) => evalPredicate(snapshot, value, c));
  }
}

/** The value a filter looks at: its constant, or the snapshot's (an ATTRIBUTE key is the attribute in any scope). */
function filterValue(snapshot: DataSnapshot, f: ConditionFilter): KvValue | undefined {
  if (f.keyType === 'CONSTANT') return f.constant ?? undefined;
  return snapshot.get(slot(f.keyType, f.key));
}

/** Every filter holds (a missing value: the condition does not hold). */
export function evalCondition(snapshot: DataSnapshot, rule: AlarmRule): boolean {
  for (const f of rule.filters) {
    const v = filterValue(snapshot, f);
    if (v === undefined || !evalPredicate(snapshot, v, f.predicate)) return false;
  }
  return true;
}

const WEEKDAYS: Readonly<Record<string, number>> = { Mon: 1, Tue: 2, Wed: 3, Thu: 4, Fri: 5, Sat: 6, Sun: 7 };
const formatters = new Map<string, Intl.DateTimeFormat>();

/** Day of week (1 = Monday) and milliseconds since midnight of `ts` in a time zone. */
export function zonedTime(ts: number, timeZone: string): { dayOfWeek: number; msOfDay: number } {
  let f = formatters.get(timeZone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', { timeZone, hourCycle: 'h23', weekday: 'short', hour: '2-digit', minute: '2-digit', second: '2-digit' });
    formatters.set(timeZone, f);
  }
  let day = 1;
  let h = 0;
  let m = 0;
  let s = 0;
  for (const part of f.formatToParts(ts)) {
    if (part.type === 'weekday') day = WEEKDAYS[part.value] ?? 1;
    else if (part.type === 'hour') h = Number(part.value);
    else if (part.type === 'minute') m = Number(part.value);
    else if (part.type === 'second') s = Number(part.value);
  }
  const ms = ((ts % 1000) + 1000) % 1000;
  return { dayOfWeek: day, msOfDay: ((h * 60 + m) * 60 + s) * 1000 + ms };
}

function inWindow(msOfDay: number, w: ScheduleWindow): boolean {
  // ThingsBoard's isActive: a window may wrap past midnight (startsOn > endsOn).
  if (w.startsOn <= w.endsOn) return w.startsOn <= msOfDay && w.endsOn > msOfDay;
  return w.startsOn < msOfDay || (msOfDay > 0 && msOfDay < w.endsOn);
}

export function scheduleActive(schedule: Schedule, ts: number): boolean {
  switch (schedule.type) {
    case 'ANY_TIME':
      return true;
    case 'SPECIFIC_TIME': {
      const z = zonedTime(ts, schedule.timezone);
      if (schedule.daysOfWeek.length !== 7 && !schedule.daysOfWeek.includes(z.dayOfWeek)) return false;
      return inWindow(z.msOfDay, schedule.window);
    }
    case 'CUSTOM': {
      const z = zonedTime(ts, schedule.timezone);
      const item = schedule.items.find((i) => i.dayOfWeek === z.dayOfWeek);
      return item !== undefined && item.enabled && inWindow(z.msOfDay, item.window);
    }
  }
}

export type EvalResult = 'TRUE' | 'FALSE' | 'NOT_YET_TRUE';

/** One alarm rule's progress for one device (ThingsBoard's AlarmRuleState and PersistedAlarmRuleState). */
export class AlarmRuleState {
  eventCount = 0;
  lastEventTs = 0;
  duration = 0;
  /** Set whenever the progress changes (persistAlarmRulesState saves only then); cleared by the reader. */
  changed = false;

  constructor(
    /** null for the clear rule. */
    readonly severity: RuleAlarmSeverity | null,
    readonly rule: AlarmRule,
    private readonly now: () => number,
  ) {}

  /** Whether any slot of `changed` is one this rule reads (ThingsBoard's validateTsUpdate / validateAttrUpdate). */
  concerns(update: { kind: 'timeseries' | 'attributes'; slots: ReadonlySet<string> } | null): boolean {
    if (!update) return true;
    // An attribute change alone does not evaluate a rule that reads time series: it waits for the next telemetry.
    if (update.kind === 'attributes' && this.rule.readsTimeseries) return false;
    for (const s of update.slots) if (this.rule.slots.has(s)) return true;
    return false;
  }

  private active(ts: number): boolean {
    return scheduleActive(this.rule.schedule, ts === 0 ? this.now() : ts);
  }

  /** Evaluates on new data (a message). */
  eval(snapshot: DataSnapshot): EvalResult {
    const holds = this.active(snapshot.ts) && evalCondition(snapshot, this.rule);
    const spec = this.rule.spec;
    switch (spec.type) {
      case 'SIMPLE':
        return holds ? 'TRUE' : 'FALSE';
      case 'REPEATING':
        if (!holds) return 'FALSE';
        this.eventCount++;
        this.changed = true;
        return this.eventCount >= this.required(snapshot) ? 'TRUE' : 'NOT_YET_TRUE';
      case 'DURATION':
        if (!holds) return 'FALSE';
        if (this.lastEventTs > 0) {
          if (snapshot.ts > this.lastEventTs) {
            this.duration += snapshot.ts - this.lastEventTs;
            this.lastEventTs = snapshot.ts;
            this.changed = true;
          }
        } else {
          this.lastEventTs = snapshot.ts;
          this.duration = 0;
          this.changed = true;
        }
        return this.duration > this.required(snapshot) ? 'TRUE' : 'NOT_YET_TRUE';
    }
  }

  /** Evaluates at `ts` without new data (the periodic harvest): only a running duration can come true. */
  evalAt(ts: number, snapshot: DataSnapshot): EvalResult {
    if (this.rule.spec.type !== 'DURATION') return 'NOT_YET_TRUE';
    const required = this.required(snapshot);
    if (required > 0 && this.lastEventTs > 0 && ts > this.lastEventTs) {
      if (!this.active(ts)) return 'FALSE';
      return this.duration + (ts - this.lastEventTs) > required ? 'TRUE' : 'NOT_YET_TRUE';
    }
    return 'FALSE';
  }

  /** The count (REPEATING) or milliseconds (DURATION) the rule needs, its dynamic value first. */
  private required(snapshot: DataSnapshot): number {
    const spec = this.rule.spec;
    if (spec.type === 'SIMPLE') return 0;
    const n = predicateValue(snapshot, spec.value, toNumber) ?? 0;
    return spec.type === 'DURATION' ? Math.trunc(n) * spec.unitMs : Math.trunc(n);
  }

  /** ThingsBoard's PersistedAlarmRuleState. */
  toJson(): { lastEventTs: number; duration: number; eventCount: number } {
    return { lastEventTs: this.lastEventTs, duration: this.duration, eventCount: this.eventCount };
  }

  /** Takes the progress a PersistedAlarmRuleState saved; a field that is not a number >= 0 counts as 0. */
  restore(saved: unknown): void {
    if (typeof saved !== 'object' || saved === null) return;
    const s = saved as Record<string, unknown>;
    const n = (v: unknown) => (typeof v === 'number' && Number.isFinite(v) && v >= 0 ? v : 0);
    this.lastEventTs = n(s.lastEventTs);
    this.duration = n(s.duration);
    this.eventCount = n(s.eventCount);
  }

  /** Back to no progress (the condition stopped holding, or the alarm was raised or cleared). */
  reset(): void {
    if (this.eventCount === 0 && this.lastEventTs === 0 && this.duration === 0) return;
    this.eventCount = 0;
    this.lastEventTs = 0;
    this.duration = 0;
    this.changed = true;
  }
}
