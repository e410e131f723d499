import { BadRequestError, createMsg, ErrorCode, isAttributeScope, RivuletError, toKvObject, type AttributeScope, type JsonObject, type KvValue, type Msg } from '@rivulet/core';
import type { AlarmService, DeviceLookup, RuleAlarm, RuleDeviceProfile, RuleNodeServices, Route } from '@rivulet/rule-engine';
import { pointsOf } from '../nodes/save-timeseries.node.js';
import { alarmJson } from '../util/alarm';
import { SEVERITY_ORDER, slot, type AlarmRule, type CompiledProfile, type ProfileAlarm, type SlotType } from './alarm-rules';
import { AlarmRuleState, DataSnapshot, toText, type EvalResult } from './rule-state';

/** The device profile node's relations (ThingsBoard's TbDeviceProfileNode). */
export const ProfileRelation = {
  ALARM_CREATED: 'Alarm Created',
  ALARM_UPDATED: 'Alarm Updated',
  ALARM_SEVERITY_UPDATED: 'Alarm Severity Updated',
  ALARM_CLEARED: 'Alarm Cleared',
} as const;

export interface DeviceStateServices {
  readonly alarms: AlarmService;
  /** For ENTITY_FIELD keys (the device's name, type, label, createdTime); absent: such a profile fails its messages. */
  readonly devices?: DeviceLookup | undefined;
  readonly timeseries: RuleNodeServices['timeseries'];
  readonly attributes: RuleNodeServices['attributes'];
  now(): number;
}

type Update = { kind: 'timeseries' | 'attributes'; slots: Set<string> } | null;

const SCOPE_SLOT: Readonly<Record<AttributeScope, SlotType>> = {
  CLIENT_SCOPE: 'CLIENT_ATTRIBUTE',
  SHARED_SCOPE: 'SHARED_ATTRIBUTE',
  SERVER_SCOPE: 'SERVER_ATTRIBUTE',
};

/**
 * One device's alarm state under its profile (ThingsBoard's DeviceState): the latest values its
 * rules read (fetched from storage once, then kept from the messages) and the progress of each
 * rule. `process` and `harvest` resolve with the ALARM messages to send on; the caller runs one
 * call at a time per device.
 */
export class DeviceAlarmState {
  private snapshot: DataSnapshot | null = null;
  /** The device's customer when the snapshot was fetched (its attributes are the CUSTOMER values). */
  private customerId: string | null = null;
  private readonly alarmStates: ProfileAlarmState[];
  private lastMetadata: Readonly<Record<string, string>> = {};
  /** The progress as last saved or restored (persistAlarmRulesState): a message that leaves it so saves nothing. */
  savedProgress: string | undefined;
  /** The profile the state was last used with (what a harvest's save names). */
  profileRef: RuleDeviceProfile | undefined;

  constructor(
    readonly profile: CompiledProfile,
    /** The profile's data as it was compiled: a different object is compared to tell a changed profile. */
    public profileSource: JsonObject,
    readonly tenantId: string,
    readonly deviceId: string,
    private readonly services: DeviceStateServices,
  ) {
    this.alarmStates = profile.alarms.map((a) => new ProfileAlarmState(a, tenantId, deviceId, services));
  }

  /** The ALARM messages a device message leads to (telemetry, attributes, alarm notifications). */
  async process(msg: Msg): Promise<Route[]> {
    if (this.alarmStates.length === 0) return [];
    switch (msg.type) {
      case 'POST_TELEMETRY_REQUEST':
        return this.telemetry(msg);
      case 'POST_ATTRIBUTES_REQUEST':
        return this.attributesUpdated(msg, 'CLIENT_SCOPE');
      case 'ATTRIBUTES_UPDATED':
        return this.attributesUpdated(msg, scopeOf(msg));
      case 'ATTRIBUTES_DELETED':
        return this.attributesDeleted(msg, scopeOf(msg));
      case 'ALARM_CLEAR':
      case 'ALARM_DELETE': {
        // A user cleared (or deleted) the alarm: the next time a rule holds, a new alarm is created.
        const id = alarmIdOf(msg.data);
        if (id) for (const a of this.alarmStates) a.alarmGone(id);
        return [];
      }
      default:
        return [];
    }
  }

  /**
   * The rules' progress as ThingsBoard's PersistedDeviceState.alarmStates: per alarm id, its create
   * rules' progress by severity and its clear rule's (lastEventTs, duration, eventCount).
   */
  persisted(): JsonObject {
    const out: JsonObject = {};
    for (const a of this.alarmStates) out[a.id] = a.persisted();
    return out;
  }

  /** Whether any rule's progress changed since the last call (a cheap check before persisted()). */
  takeChanged(): boolean {
    let changed = false;
    for (const a of this.alarmStates) if (a.takeChanged()) changed = true;
    return changed;
  }

  /** Takes saved progress (persisted()'s shape) of the alarms and rules the profile still has; the rest is ignored. */
  restore(alarmStates: unknown): void {
    if (typeof alarmStates !== 'object' || alarmStates === null || Array.isArray(alarmStates)) return;
    const saved = alarmStates as Record<string, unknown>;
    for (const a of this.alarmStates) if (Object.hasOwn(saved, a.id)) a.restore(saved[a.id]);
  }

  /** The periodic re-evaluation without new data: a DURATION condition that held long enough raises its alarm. */
  async harvest(ts: number): Promise<Route[]> {
    const snapshot = this.snapshot;
    if (!snapshot) return [];
    const out: Route[] = [];
    for (const a of this.alarmStates) out.push(...(await a.evaluate(snapshot, null, (s) => s.evalAt(ts, snapshot), this.lastMetadata)));
    return out;
  }

  /** A tenant attribute a dynamic value reads changed (or was deleted: undefined). */
  setTenantValue(key: string, value: KvValue | undefined, ts: number): void {
    this.setValue('TENANT', key, value, ts);
  }

  /** A customer's server attribute changed (or was deleted: undefined): kept if it is this device's customer. */
  setCustomerValue(customerId: string, key: string, value: KvValue | undefined, ts: number): void {
    if (customerId === this.customerId) this.setValue('CUSTOMER', key, value, ts);
  }

  /** The device was assigned to another customer (or unassigned): the values are read again with its next message. */
  customerChanged(): void {
    if (this.profile.fetch.customer.length > 0) this.snapshot = null;
  }

  private setValue(type: 'TENANT' | 'CUSTOMER', key: string, value: KvValue | undefined, ts: number): void {
    if (!this.snapshot) return;
    if (value === undefined) this.snapshot.remove(slot(type, key));
    else this.snapshot.put(slot(type, key), ts, value);
  }

  private async ensureSnapshot(): Promise<DataSnapshot> {
    if (this.snapshot) return this.snapshot;
    const snapshot = new DataSnapshot(this.profile.slots);
    const f = this.profile.fetch;
    const [ts, client, shared, server, tenant] = await Promise.all([
      f.timeseries.length > 0 ? this.services.timeseries.findLatest(this.deviceId, f.timeseries) : [],
      f.client.length > 0 ? this.services.attributes.find(this.deviceId, 'CLIENT_SCOPE', f.client) : [],
      f.shared.length > 0 ? this.services.attributes.find(this.deviceId, 'SHARED_SCOPE', f.shared) : [],
      f.server.length > 0 ? this.services.attributes.find(this.deviceId, 'SERVER_SCOPE', f.server) : [],
      f.tenant.length > 0 ? this.services.attributes.find(this.tenantId, 'SERVER_SCOPE', f.tenant) : [],
    ]);
    for (const kv of ts) snapshot.put(slot('TIME_SERIES', kv.key), kv.ts, kv.value);
    // Client, then shared, then server: an ATTRIBUTE key present in several scopes reads the server's (ThingsBoard's order).
    for (const [scope, list] of [['CLIENT_SCOPE', client], ['SHARED_SCOPE', shared], ['SERVER_SCOPE', server]] as const) {
      for (const a of list) {
        snapshot.put(slot(SCOPE_SLOT[scope], a.key), a.lastUpdateTs, a.value);
        if (f.anyScope.has(a.key)) snapshot.put(slot('ATTRIBUTE', a.key), a.lastUpdateTs, a.value);
      }
    }
    for (const a of tenant) snapshot.put(slot('TENANT', a.key), a.lastUpdateTs, a.value);
    if (f.entityFields.length > 0 || f.customer.length > 0) {
      if (!this.services.devices) {
        throw new RivuletError(ErrorCode.UNAVAILABLE, `Device profile "${this.profile.name}" reads device fields (ENTITY_FIELD) or its customer's attributes, and this server provides no device lookups to the device profile node`);
      }
      const device = await this.services.devices.get(this.tenantId, this.deviceId);
      if (device) {
        for (const field of f.entityFields) {
          const value = device[field];
          if (value !== null) snapshot.put(slot('ENTITY_FIELD', field), device.createdTime, value);
        }
      }
      this.customerId = device?.customerId ?? null;
      if (f.customer.length > 0 && this.customerId !== null) {
        for (const a of await this.services.attributes.find(this.customerId, 'SERVER_SCOPE', f.customer)) snapshot.put(slot('CUSTOMER', a.key), a.lastUpdateTs, a.value);
      }
    }
    this.snapshot = snapshot;
    return snapshot;
  }

  private async evaluateAll(snapshot: DataSnapshot, update: Update): Promise<Route[]> {
    const out: Route[] = [];
    for (const a of this.alarmStates) out.push(...(await a.evaluate(snapshot, update, (s) => s.eval(snapshot), this.lastMetadata)));
    return out;
  }

  private async telemetry(msg: Msg): Promise<Route[]> {
    const points = pointsOf(msg, this.services.now());
    const snapshot = await this.ensureSnapshot();
    this.lastMetadata = msg.metadata;
    // One evaluation per timestamp, oldest first (ThingsBoard's convertToSortedTelemetry).
    const byTs = new Map<number, Array<{ key: string; value: KvValue }>>();
    for (const p of points) {
      let list = byTs.get(p.ts);
      if (!list) byTs.set(p.ts, (list = []));
      list.push(p);
    }
    const out: Route[] = [];
    for (const ts of [...byTs.keys()].sort((a, b) => a - b)) {
      const changed = new Set<string>();
      for (const p of byTs.get(ts)!) {
        const s = slot('TIME_SERIES', p.key);
        if (snapshot.put(s, ts, p.value)) changed.add(s);
      }
      snapshot.ts = ts;
      if (changed.size > 0) out.push(...(await this.evaluateAll(snapshot, { kind: 'timeseries', slots: changed })));
    }
    return out;
  }

  private async attributesUpdated(msg: Msg, scope: AttributeScope): Promise<Route[]> {
    if (typeof msg.data !== 'object' || msg.data === null || Array.isArray(msg.data)) {
      throw new BadRequestError(`${msg.type} message data must be a JSON object of attributes`);
    }
    const values = toKvObject(msg.data, false);
    const keys = Object.keys(values);
    if (keys.length === 0) return [];
    const snapshot = await this.ensureSnapshot();
    this.lastMetadata = msg.metadata;
    // ThingsBoard stamps attributes from a message with the time they are processed.
    const ts = this.services.now();
    const changed = new Set<string>();
    for (const key of keys) {
      const value = values[key]!;
      for (const s of [slot(SCOPE_SLOT[scope], key), slot('ATTRIBUTE', key)]) if (snapshot.put(s, ts, value)) changed.add(s);
    }
    snapshot.ts = ts;
    return this.evaluateAll(snapshot, { kind: 'attributes', slots: changed });
  }

  private async attributesDeleted(msg: Msg, scope: AttributeScope): Promise<Route[]> {
    const data = msg.data;
    const keys = typeof data === 'object' && data !== null && !Array.isArray(data) && Array.isArray(data.attributes) ? data.attributes.filter((k): k is string => typeof k === 'string') : [];
    if (keys.length === 0) return [];
    const snapshot = await this.ensureSnapshot();
    this.lastMetadata = msg.metadata;
    for (const key of keys) {
      snapshot.remove(slot(SCOPE_SLOT[scope], key));
      snapshot.remove(slot('ATTRIBUTE', key));
    }
    return this.evaluateAll(snapshot, null);
  }
}

function scopeOf(msg: Msg): AttributeScope {
  const s = msg.metadata.scope;
  return isAttributeScope(s) ? s : 'CLIENT_SCOPE';
}

function alarmIdOf(data: unknown): string | undefined {
  if (typeof data !== 'object' || data === null) return undefined;
  const id = (data as { id?: unknown }).id;
  if (typeof id === 'string') return id;
  if (typeof id === 'object' && id !== null && typeof (id as { id?: unknown }).id === 'string') return (id as { id: string }).id;
  return undefined;
}

/** One alarm of the profile for one device (ThingsBoard's AlarmState): its rules' progress and the alarm it raised. */
class ProfileAlarmState {
  private readonly createStates: AlarmRuleState[];
  private readonly clearState: AlarmRuleState | null;
  private currentAlarm: RuleAlarm | null = null;
  private fetched = false;

  constructor(
    private readonly alarm: ProfileAlarm,
    private readonly tenantId: string,
    private readonly deviceId: string,
    private readonly services: DeviceStateServices,
  ) {
    const now = () => services.now();
    this.createStates = alarm.createRules.map((r) => new AlarmRuleState(r.severity, r.rule, now));
    this.clearState = alarm.clearRule ? new AlarmRuleState(null, alarm.clearRule, now) : null;
  }

  get id(): string {
    return this.alarm.id;
  }

  persisted(): JsonObject {
    const create: JsonObject = {};
    for (const s of this.createStates) create[s.severity!] = s.toJson();
    return { createRuleStates: create, clearRuleState: this.clearState ? this.clearState.toJson() : null };
  }

  takeChanged(): boolean {
    let changed = false;
    for (const s of this.createStates) {
      if (s.changed) changed = true;
      s.changed = false;
    }
    if (this.clearState?.changed) changed = true;
    if (this.clearState) this.clearState.changed = false;
    return changed;
  }

  restore(saved: unknown): void {
    if (typeof saved !== 'object' || saved === null) return;
    const { createRuleStates, clearRuleState } = saved as { createRuleStates?: unknown; clearRuleState?: unknown };
    if (typeof createRuleStates === 'object' && createRuleStates !== null) {
      const bySeverity = createRuleStates as Record<string, unknown>;
      for (const s of this.createStates) if (Object.hasOwn(bySeverity, s.severity!)) s.restore(bySeverity[s.severity!]);
    }
    if (this.clearState) this.clearState.restore(clearRuleState);
  }

  alarmGone(id: string): void {
    if (this.currentAlarm?.id !== id) return;
    this.currentAlarm = null;
    for (const s of this.createStates) s.reset();
  }

  /** ThingsBoard's createOrClearAlarms: the most severe create rule that holds raises or updates the alarm; else the clear rule may clear it. */
  async evaluate(snapshot: DataSnapshot, update: Update, evalFn: (s: AlarmRuleState) => EvalResult, metadata: Readonly<Record<string, string>>): Promise<Route[]> {
    if (!this.fetched) {
      // The alarm an earlier run (or another node) left active is this state's current alarm.
      this.currentAlarm = await this.services.alarms.findActive(this.tenantId, this.deviceId, this.alarm.alarmType);
      this.fetched = true;
    }
    let raised: AlarmRuleState | null = null;
    for (const state of this.createStates) {
      if (!state.concerns(update)) continue;
      const r = evalFn(state);
      if (r === 'TRUE') {
        raised = state;
        break;
      }
      if (r === 'FALSE') state.reset();
    }
    if (raised) {
      const route = await this.raise(raised, snapshot, metadata);
      this.clearState?.reset();
      return route ? [route] : [];
    }
    if (!this.currentAlarm || !this.clearState || !this.clearState.concerns(update)) return [];
    const r = evalFn(this.clearState);
    if (r === 'FALSE') this.clearState.reset();
    if (r !== 'TRUE') return [];
    const clearState = this.clearState;
    const details = this.details(clearState.rule, snapshot);
    clearState.reset();
    for (const s of this.createStates) s.reset();
    const previous = this.currentAlarm;
    this.currentAlarm = null;
    // The active alarm of this type now (a user may have cleared ours and another been raised since).
    const active = await this.services.alarms.findActive(this.tenantId, this.deviceId, this.alarm.alarmType);
    if (!active) return [];
    const cleared = await this.services.alarms.clear(this.tenantId, active.id, this.services.now(), details ?? previous.details);
    if (!cleared) return [];
    return [this.route(ProfileRelation.ALARM_CLEARED, cleared, clearState, metadata, { isClearedAlarm: 'true' })];
  }

  /** ThingsBoard's calculateAlarmResult: create, or update the current alarm unless the severity would drop. */
  private async raise(state: AlarmRuleState, snapshot: DataSnapshot, metadata: Readonly<Record<string, string>>): Promise<Route | null> {
    const severity = state.severity!;
    const now = this.services.now();
    const current = this.currentAlarm;
    if (current && SEVERITY_ORDER.indexOf(severity) > SEVERITY_ORDER.indexOf(current.severity)) return null;
    const details = this.details(state.rule, snapshot) ?? current?.details ?? {};
    // A new alarm starts at the time of the data that raised it (not later than now).
    const ts = current ? now : snapshot.ts === 0 || snapshot.ts > now ? now : snapshot.ts;
    const { alarm, created } = await this.services.alarms.createOrUpdate({
      tenantId: this.tenantId,
      type: this.alarm.alarmType,
      originatorType: 'DEVICE',
      originatorId: this.deviceId,
      severity,
      details,
      ts,
    });
    this.currentAlarm = alarm;
    if (created) return this.route(ProfileRelation.ALARM_CREATED, alarm, state, metadata, { isNewAlarm: 'true' });
    if (current && current.severity !== severity) {
      return this.route(ProfileRelation.ALARM_SEVERITY_UPDATED, alarm, state, metadata, { isExistingAlarm: 'true', isSeverityUpdated: 'true' });
    }
    return this.route(ProfileRelation.ALARM_UPDATED, alarm, state, metadata, { isExistingAlarm: 'true' });
  }

  /** ThingsBoard's createDetails: the rule's alarmDetails with ${key} replaced by the values its filters read, and its dashboard. */
  private details(rule: AlarmRule, snapshot: DataSnapshot): JsonObject | null {
    if (!rule.alarmDetails && !rule.dashboardId) return null;
    const out: JsonObject = {};
    if (rule.alarmDetails) {
      let text = rule.alarmDetails;
      for (const f of rule.filters) {
        const v = f.keyType === 'CONSTANT' ? f.constant : snapshot.get(slot(f.keyType, f.key));
        if (v !== undefined && v !== null) text = text.split('${' + f.key + '}').join(toText(v));
      }
      out.data = text;
    }
    if (rule.dashboardId) out.dashboardId = rule.dashboardId;
    return out;
  }

  private route(relation: string, alarm: RuleAlarm, state: AlarmRuleState, metadata: Readonly<Record<string, string>>, flags: Record<string, string>): Route {
    const meta: Record<string, string> = { ...metadata, ...flags };
    if (state.rule.spec.type === 'REPEATING') meta.alarmConditionRepeats = String(state.eventCount);
    if (state.rule.spec.type === 'DURATION') meta.alarmConditionDuration = String(state.duration);
    const msg = createMsg({ type: 'ALARM', originator: { entityType: 'DEVICE', id: this.deviceId }, tenantId: this.tenantId, metadata: meta, data: alarmJson(alarm) });
    return { relation, msg };
  }
}
