import type { DeviceInfo } from '@rivulet/core';

/** What an observation delivers: shared attribute updates, or server-side RPC commands. */
export type ObserveKind = 'attributes' | 'rpc';

/**
 * One observation (RFC 7641), identified like the RFC's list of observers by the client endpoint
 * and the request token. `send` writes one notification; `close` ends it: without a word when it is
 * replaced, cancelled or evicted, with a final error notification when the server goes away.
 */
export interface Observation {
  readonly key: string;
  readonly device: DeviceInfo;
  readonly kind: ObserveKind;
  send(payload: string): void;
  close(final?: { code: string; message: string }): void;
}

export interface AddResult {
  /** An older observation this one pushed out (same key re-registered, or the device's oldest). */
  readonly removed: ReadonlyArray<Observation>;
}

/**
 * Observations by key and by device, with limits: per device (a rebooting device that registers
 * again from a new port leaves a stale observation behind; the oldest goes) and in total (refused).
 * Calls `onDeviceChange` when a device gets its first observation or loses its last, which is when
 * the device counts as connected / disconnected.
 */
export class ObserveRegistry {
  private readonly byKey = new Map<string, Observation>();
  private readonly byDevice = new Map<string, Set<Observation>>();

  constructor(
    private readonly limits: { maxTotal: number; maxPerDevice: number },
    private readonly onDeviceChange: (device: DeviceInfo, connected: boolean) => void,
  ) {}

  get size(): number {
    return this.byKey.size;
  }

  get devices(): number {
    return this.byDevice.size;
  }

  /** Whether a new observation (not replacing one of this key) would pass the total limit. */
  hasRoomFor(key: string): boolean {
    return this.byKey.has(key) || this.byKey.size < this.limits.maxTotal;
  }

  get(key: string): Observation | undefined {
    return this.byKey.get(key);
  }

  add(obs: Observation): AddResult {
    const deviceId = obs.device.deviceId;
    const wasConnected = this.byDevice.has(deviceId);
    const removed: Observation[] = [];
    const previous = this.byKey.get(obs.key);
    if (previous !== undefined) {
      this.detach(previous, false);
      removed.push(previous);
    }
    let set = this.byDevice.get(deviceId);
    if (set === undefined) {
      set = new Set();
      this.byDevice.set(deviceId, set);
    }
    while (set.size >= this.limits.maxPerDevice) {
      const oldest = set.values().next().value as Observation;
      this.detach(oldest, false);
      removed.push(oldest);
    }
    set.add(obs);
    this.byKey.set(obs.key, obs);
    // a re-registration keeps the device connected: reported once, on its first observation
    if (!wasConnected) this.onDeviceChange(obs.device, true);
    for (const r of removed) {
      if (r.device.deviceId !== deviceId && !this.byDevice.has(r.device.deviceId)) this.onDeviceChange(r.device, false);
      r.close();
    }
    return { removed };
  }

  /** Removes `obs` if it is still registered; returns whether it was. */
  remove(obs: Observation): boolean {
    if (this.byKey.get(obs.key) !== obs) return false;
    this.detach(obs, true);
    return true;
  }

  forDevice(deviceId: string, kind: ObserveKind): Observation[] {
    const set = this.byDevice.get(deviceId);
    if (set === undefined) return [];
    const out: Observation[] = [];
    for (const o of set) if (o.kind === kind) out.push(o);
    return out;
  }

  /** Every device with an observation (for periodic activity reports). */
  observedDevices(): DeviceInfo[] {
    const out: DeviceInfo[] = [];
    for (const set of this.byDevice.values()) {
      const first = set.values().next().value as Observation | undefined;
      if (first) out.push(first.device);
    }
    return out;
  }

  all(): Observation[] {
    return [...this.byKey.values()];
  }

  private detach(obs: Observation, report: boolean): void {
    this.byKey.delete(obs.key);
    const set = this.byDevice.get(obs.device.deviceId);
    if (set === undefined) return;
    set.delete(obs);
    if (set.size === 0) {
      this.byDevice.delete(obs.device.deviceId);
      if (report) this.onDeviceChange(obs.device, false);
    }
  }
}
