import { createHash } from 'node:crypto';
import { errorMessage, type JsonObject, type Logger } from '@rivulet/core';
import type { RuleDeviceProfile, RuleNodeStateService, RuleNodeStateWrite } from '@rivulet/rule-engine';
import type { DeviceAlarmState } from './device-state';

/**
 * What one device profile node saves of a device (ThingsBoard's PersistedDeviceState, plus the
 * profile it was made under): `alarmStates` is ThingsBoard's shape, { [alarm id]: { createRuleStates:
 * { [severity]: { lastEventTs, duration, eventCount } }, clearRuleState } }. `profileId` and
 * `rulesHash` (of profileData.alarms) tell a state made under other rules: it is discarded.
 */
export interface PersistedDeviceState {
  profileId: string;
  rulesHash: string;
  alarmStates: JsonObject;
}

type Pending = { tenantId: string; nodeId: string; state: JsonObject | null };

/**
 * The device profile node's persistAlarmRulesState: restores a device's rule progress when its
 * state starts, and saves it after a message changed it. Saves are not awaited by the message:
 * every device's latest change waits in `pending` (one entry per device, the newest wins) and one
 * flush at a time writes them all in one batch, so concurrent messages share a statement and a
 * device's writes land in order. A crash loses at most the changes of the last flush's moment.
 */
export class AlarmStateStore {
  private readonly pending = new Map<string, Pending>();
  private flushing: Promise<void> | undefined;
  private readonly hashes = new WeakMap<JsonObject, string>();

  constructor(
    private readonly service: RuleNodeStateService,
    private readonly logger: Logger,
  ) {}

  /** The profile's alarm rules as a short hash, once per profile data object. */
  rulesHash(profileData: JsonObject): string {
    let h = this.hashes.get(profileData);
    if (h === undefined) {
      h = createHash('sha256')
        .update(JSON.stringify(profileData.alarms ?? null))
        .digest('base64url')
        .slice(0, 22);
      this.hashes.set(profileData, h);
    }
    return h;
  }

  /**
   * Gives a device's new state the progress saved for it, when it was saved under the same profile
   * and rules (else the saved state is deleted). A read that fails starts the device from no
   * progress (logged): the message is still evaluated.
   */
  async restore(tenantId: string, nodeId: string, state: DeviceAlarmState, profile: RuleDeviceProfile): Promise<void> {
    const deviceId = state.deviceId;
    let saved: JsonObject | null = null;
    const p = this.pending.get(deviceId);
    if (p && p.nodeId === nodeId) {
      saved = p.state;
    } else {
      try {
        saved = await this.service.get(tenantId, nodeId, deviceId);
      } catch (e) {
        this.logger.warn({ tenantId, deviceId, nodeId, err: errorMessage(e) }, 'device profile node: saved alarm rule state not read, starting from none');
      }
    }
    if (saved) {
      if (saved.profileId === profile.id && saved.rulesHash === this.rulesHash(profile.profileData)) state.restore(saved.alarmStates);
      else this.discard(tenantId, nodeId, deviceId);
    }
    state.savedProgress = JSON.stringify(state.persisted());
    state.takeChanged();
  }

  /** After a message or a harvest: the device's progress is saved if it changed since the last save. */
  changed(tenantId: string, nodeId: string, state: DeviceAlarmState, profile: RuleDeviceProfile): void {
    // Most messages change no progress (the condition does not hold and nothing ran): no JSON made.
    if (!state.takeChanged()) return;
    const alarmStates = state.persisted();
    const json = JSON.stringify(alarmStates);
    if (json === state.savedProgress) return;
    state.savedProgress = json;
    const saved: PersistedDeviceState = { profileId: profile.id, rulesHash: this.rulesHash(profile.profileData), alarmStates };
    this.enqueue(state.deviceId, { tenantId, nodeId, state: saved as unknown as JsonObject });
  }

  /** The device's saved state no longer applies (its profile's rules changed): deleted. */
  discard(tenantId: string, nodeId: string, deviceId: string): void {
    this.enqueue(deviceId, { tenantId, nodeId, state: null });
  }

  /** The device was deleted (storage removed its states): nothing of it is written any more. */
  forget(deviceId: string): void {
    this.pending.delete(deviceId);
  }

  /** Resolves when every change made so far is written (the node's chain is stopped or replaced). */
  async flush(): Promise<void> {
    while (this.flushing) await this.flushing;
  }

  private enqueue(deviceId: string, p: Pending): void {
    // Re-inserted: the map keeps devices in the order of their newest change.
    this.pending.delete(deviceId);
    this.pending.set(deviceId, p);
    this.flushing ??= this.run().finally(() => {
      this.flushing = undefined;
    });
  }

  private async run(): Promise<void> {
    while (this.pending.size > 0) {
      // One tick for the messages being processed alongside to add their changes to this batch.
      await new Promise<void>((resolve) => setImmediate(resolve));
      const batch = [...this.pending.entries()];
      this.pending.clear();
      const saves: RuleNodeStateWrite[] = [];
      for (const [deviceId, p] of batch) {
        if (p.state) saves.push({ tenantId: p.tenantId, ruleNodeId: p.nodeId, entityId: deviceId, state: p.state });
        else await this.settle(this.service.delete(p.tenantId, p.nodeId, deviceId), [deviceId]);
      }
      if (saves.length === 0) continue;
      const ok = await this.settle(this.service.save(saves), saves.length === 1 ? saves.map((s) => s.entityId) : undefined);
      // One refused device (deleted meanwhile) must not cost the others their save: each on its own.
      if (!ok && saves.length > 1) for (const s of saves) await this.settle(this.service.save([s]), [s.entityId]);
    }
  }

  private async settle(p: Promise<unknown>, deviceIds: string[] | undefined): Promise<boolean> {
    try {
      await p;
      return true;
    } catch (e) {
      if (deviceIds) this.logger.warn({ deviceIds, err: errorMessage(e) }, 'device profile node: alarm rule state not saved');
      return false;
    }
  }
}
