import { errorMessage, toKvObject, type JsonObject, type KvValue, type Msg } from '@rivulet/core';
import { defineNode, Relation, type NodeContext, type Route, type RuleDeviceProfile } from '@rivulet/rule-engine';
import { z } from 'zod';
import { compileProfile, type CompiledProfile } from '../profile/alarm-rules';
import { DeviceAlarmState, ProfileRelation } from '../profile/device-state';
import { AlarmStateStore } from '../profile/state-store';
import { requireCapability, tbBool } from '../util/data';

/** The device messages the alarm rules look at (ThingsBoard's DeviceState.process); others pass by Success untouched. */
const EVALUATED = new Set(['POST_TELEMETRY_REQUEST', 'POST_ATTRIBUTES_REQUEST', 'ATTRIBUTES_UPDATED', 'ATTRIBUTES_DELETED', 'ALARM_CLEAR', 'ALARM_DELETE']);

/** How often device states are evaluated without new data (ThingsBoard's alarm harvesting: once a minute). */
export const HARVEST_PERIOD_MS = 60_000;
/** Devices whose state one node keeps; past it the least recently used device's state is dropped. */
export const MAX_DEVICE_STATES = 20_000;

/**
 * ThingsBoard's device profile node: evaluates the alarm rules of the originator device's profile
 * (profileData.alarms) on its telemetry and attributes, and creates, updates (severity) or clears
 * the alarm of each rule through the alarm service. Every message goes on by Success; each alarm
 * change also sends an ALARM message by "Alarm Created", "Alarm Updated", "Alarm Severity Updated"
 * or "Alarm Cleared". Conditions: SIMPLE, DURATION (also completed by a harvest once a minute when
 * no message comes), REPEATING; NUMERIC, STRING, BOOLEAN and COMPLEX predicates with static values
 * or dynamic ones from the device's or the tenant's attributes; schedules.
 *
 * State per device (the latest values the rules read, fetched from storage once, and the rules'
 * progress) lives in memory, bounded by MAX_DEVICE_STATES. Without persistAlarmRulesState a restart,
 * a chain reload or an eviction starts a DURATION or REPEATING count again. With it (ThingsBoard's
 * RuleNodeState), the rules' progress is saved when a message changed it, keyed by this node's id
 * and the device, and read back when the device's state starts (its next message). A state saved
 * under other rules (the profile changed) is discarded. fetchAlarmRulesStateOnStart reads the
 * same state lazily, on the device's first message, instead of all at start: the state only ever
 * counts on a message (a harvest needs the values a message fetches first), so reading it then
 * gives the same alarms without loading every device's state into memory.
 */
export const deviceProfileNode = defineNode({
  type: 'rivulet.action.deviceProfile',
  aliases: ['org.thingsboard.rule.engine.profile.TbDeviceProfileNode'],
  category: 'action',
  name: 'device profile',
  description: "Creates and clears alarms by the alarm rules of the device's profile; the message goes on by Success.",
  configSchema: z.looseObject({
    persistAlarmRulesState: tbBool().default(false),
    fetchAlarmRulesStateOnStart: tbBool().default(false),
  }),
  configVersion: 0,
  relations: [ProfileRelation.ALARM_CREATED, ProfileRelation.ALARM_UPDATED, ProfileRelation.ALARM_SEVERITY_UPDATED, ProfileRelation.ALARM_CLEARED, Relation.SUCCESS, Relation.FAILURE],
  requires: ['alarms', 'deviceProfiles'],
  create(config, services) {
    const store = config.persistAlarmRulesState && services.ruleNodeStates ? new AlarmStateStore(services.ruleNodeStates, services.logger) : undefined;
    if (config.persistAlarmRulesState && !store) {
      services.logger.warn({}, 'device profile node: persistAlarmRulesState is on but this server keeps no rule node state: alarm rule state is kept in memory only');
    }
    const states = new Map<string, DeviceAlarmState>();
    const queues = new Map<string, Promise<unknown>>();
    // Compiled once per profile data object (the lookup hands back the same object while the profile is unchanged).
    const compiled = new WeakMap<JsonObject, CompiledProfile | Error>();
    let timer: ReturnType<typeof setInterval> | undefined;
    let harvesting = false;

    /** Runs one device's work in order: its messages and harvests never interleave. */
    function serial<T>(deviceId: string, work: () => Promise<T>): Promise<T> {
      const run = (queues.get(deviceId) ?? Promise.resolve()).then(work);
      const tail = run.then(
        () => undefined,
        () => undefined,
      );
      queues.set(deviceId, tail);
      void tail.then(() => {
        if (queues.get(deviceId) === tail) queues.delete(deviceId);
      });
      return run;
    }

    function compile(profile: RuleDeviceProfile): CompiledProfile {
      let c = compiled.get(profile.profileData);
      if (!c) {
        try {
          c = compileProfile(profile);
        } catch (e) {
          c = e instanceof Error ? e : new Error(String(e));
        }
        compiled.set(profile.profileData, c);
      }
      if (c instanceof Error) throw c;
      return c;
    }

    /** The device's state under this profile: kept while the profile is unchanged, else started again (`fresh`). */
    function stateFor(tenantId: string, deviceId: string, profile: RuleDeviceProfile, compiledProfile: CompiledProfile): { state: DeviceAlarmState; fresh: boolean } {
      let state = states.get(deviceId);
      if (state && state.profileSource !== profile.profileData) {
        // Another profile, or this one changed: the rules' progress starts again under the new rules.
        if (state.profile.id !== profile.id || JSON.stringify(state.profileSource) !== JSON.stringify(profile.profileData)) state = undefined;
        else state.profileSource = profile.profileData;
      }
      const fresh = !state;
      if (state) {
        states.delete(deviceId);
      } else {
        const alarms = requireCapability(services, 'alarms', 'device profile');
        state = new DeviceAlarmState(compiledProfile, profile.profileData, tenantId, deviceId, { alarms, devices: services.devices, timeseries: services.timeseries, attributes: services.attributes, now: () => services.now() });
      }
      states.set(deviceId, state);
      if (states.size > MAX_DEVICE_STATES) {
        const oldest = states.keys().next();
        if (!oldest.done) states.delete(oldest.value);
      }
      return { state, fresh };
    }

    /** A tenant's or a customer's server attribute changed: dynamic values reading it see the new value. */
    function ownerAttributes(msg: Msg): void {
      if (msg.metadata.scope !== 'SERVER_SCOPE' || typeof msg.data !== 'object' || msg.data === null || Array.isArray(msg.data)) return;
      const customerId = msg.originator.entityType === 'CUSTOMER' ? msg.originator.id : null;
      const set = (s: DeviceAlarmState, k: string, v: KvValue | undefined, ts: number) => (customerId === null ? s.setTenantValue(k, v, ts) : s.setCustomerValue(customerId, k, v, ts));
      if (msg.type === 'ATTRIBUTES_UPDATED') {
        const values = toKvObject(msg.data, false);
        for (const s of states.values()) for (const [k, v] of Object.entries(values)) set(s, k, v, services.now());
      } else if (Array.isArray(msg.data.attributes)) {
        for (const s of states.values()) for (const k of msg.data.attributes) if (typeof k === 'string') set(s, k, undefined, 0);
      }
    }

    async function harvest(ctx: NodeContext): Promise<void> {
      if (harvesting) return;
      harvesting = true;
      try {
        const ts = services.now();
        for (const state of [...states.values()]) {
          let routes: Route[];
          try {
            routes = await serial(state.deviceId, async () => {
              const r = await state.harvest(ts);
              if (store && state.profileRef) store.changed(state.tenantId, ctx.nodeId, state, state.profileRef);
              return r;
            });
          } catch (e) {
            ctx.logger.warn({ deviceId: state.deviceId, err: errorMessage(e) }, 'device profile alarm harvest failed');
            continue;
          }
          if (routes.length > 0) await ctx.emit(routes);
        }
      } finally {
        harvesting = false;
      }
    }

    const profiles = requireCapability(services, 'deviceProfiles', 'device profile');

    function evaluate(msg: Msg, ctx: NodeContext, profile: RuleDeviceProfile | null, success: Route): Route[] | Promise<Route[]> {
      const deviceId = msg.originator.id;
      if (!profile) {
        // ThingsBoard acknowledges the message of a device that no longer exists.
        states.delete(deviceId);
        return [];
      }
      const compiledProfile = compile(profile);
      if (compiledProfile.alarms.length === 0) {
        // No alarm rules (the default profile): nothing to keep for the device.
        if (states.delete(deviceId)) store?.discard(msg.tenantId, ctx.nodeId, deviceId);
        return [success];
      }
      if (!store) return serial(deviceId, async () => [...(await stateFor(msg.tenantId, deviceId, profile, compiledProfile).state.process(msg)), success]);
      return serial(deviceId, async () => {
        const had = states.get(deviceId);
        const { state, fresh } = stateFor(msg.tenantId, deviceId, profile, compiledProfile);
        state.profileRef = profile;
        if (fresh) {
          // Started again under changed rules: the old progress is gone; else the saved one comes back.
          if (had) store.discard(msg.tenantId, ctx.nodeId, deviceId);
          else await store.restore(msg.tenantId, ctx.nodeId, state, profile);
          state.savedProgress ??= JSON.stringify(state.persisted());
        }
        const routes = await state.process(msg);
        store.changed(msg.tenantId, ctx.nodeId, state, profile);
        return [...routes, success];
      });
    }

    return {
      start(ctx) {
        timer = setInterval(() => void harvest(ctx), HARVEST_PERIOD_MS);
        timer.unref?.();
      },
      process(msg, ctx) {
        const success: Route = { relation: Relation.SUCCESS, msg };
        const deviceId = msg.originator.id;
        if (msg.originator.entityType === 'TENANT' || msg.originator.entityType === 'CUSTOMER') {
          if (msg.type === 'ATTRIBUTES_UPDATED' || msg.type === 'ATTRIBUTES_DELETED') ownerAttributes(msg);
          return [success];
        }
        if (msg.originator.entityType !== 'DEVICE') return [success];
        if (msg.type === 'ENTITY_DELETED') {
          // Storage removed the device's saved states with it.
          states.delete(deviceId);
          store?.forget(deviceId);
        }
        // Another customer's dynamic values apply from the device's next message.
        if (msg.type === 'ENTITY_ASSIGNED' || msg.type === 'ENTITY_UNASSIGNED') states.get(deviceId)?.customerChanged();
        // Connect, activity, RPC, entity events...: nothing for the rules, no lookup.
        if (!EVALUATED.has(msg.type)) return [success];
        // A cached profile comes back without a promise: a device whose profile has no rules costs no promise at all.
        const profile = profiles.getForDevice(msg.tenantId, deviceId);
        return profile instanceof Promise ? profile.then((p) => evaluate(msg, ctx, p, success)) : evaluate(msg, ctx, profile, success);
      },
      async destroy() {
        if (timer) clearInterval(timer);
        timer = undefined;
        states.clear();
        // The last changes are written before the chain's replacement reads them.
        await store?.flush();
      },
    };
  },
});
