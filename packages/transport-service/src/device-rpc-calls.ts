import type { DeviceInfo } from '@rivulet/core';
import type { PendingRpcCall, TransportService } from './transport-service';

/** A server-side call written to a device and not answered yet. */
export interface DeviceRpcCall extends PendingRpcCall {
  readonly oneway: boolean;
  /** The request's expirationTime (wall-clock ms): a two-way call times out then. */
  readonly expiresAt: number;
  /** The device it was sent to (for RPC_TIMEOUT / RPC_FAILED). */
  readonly device: DeviceInfo;
}

interface Entry {
  readonly call: DeviceRpcCall;
  timer: ReturnType<typeof setTimeout> | undefined;
}

interface DeviceCalls {
  nextId: number;
  readonly pending: Map<number, Entry>;
}

/**
 * Server-side calls of transports without a session of their own (HTTP long polls, CoAP
 * observations): a command reaches the device as `{"id":N,...}` with a small integer N of its own
 * (ThingsBoard's per-device request ids; positive, as firmware often parses them into an int), and
 * the device answers on `/rpc/N`. This maps N back to the call until it is answered or expires. A
 * two-way call times out at its own expiry through the service (scheduleRpcTimeout: RPC_TIMEOUT at
 * that moment, the entry gone). Bounded: beyond `maxPerDevice` a device's oldest call is forgotten
 * (no event; its caller times out on its own), and devices with nothing pending are forgotten.
 */
export class DeviceRpcCalls {
  private readonly devices = new Map<string, DeviceCalls>();
  private count = 0;

  constructor(
    private readonly service: Pick<TransportService, 'scheduleRpcTimeout'>,
    private readonly maxPerDevice = 64,
  ) {}

  /** The id the device sees for this call. */
  assign(deviceId: string, call: DeviceRpcCall, now: number): number {
    let d = this.devices.get(deviceId);
    if (d === undefined) {
      d = { nextId: 1, pending: new Map() };
      this.devices.set(deviceId, d);
    }
    this.dropExpiredOneway(d, now);
    while (d.pending.size >= this.maxPerDevice) {
      const [oldest, e] = d.pending.entries().next().value as [number, Entry];
      this.remove(deviceId, d, oldest, e, true);
    }
    const id = d.nextId;
    d.nextId = id >= 0x7fffffff ? 1 : id + 1;
    const entry: Entry = { call, timer: undefined };
    d.pending.set(id, entry);
    this.count++;
    if (!call.oneway) {
      const calls = d;
      entry.timer = this.service.scheduleRpcTimeout(call.device, call, call.expiresAt, () => {
        if (calls.pending.get(id) !== entry) return false;
        entry.timer = undefined;
        this.remove(deviceId, calls, id, entry);
        return true;
      });
    }
    return id;
  }

  /**
   * The call a device's reply `/rpc/{id}` answers, removed; undefined when unknown or expired. An
   * expired two-way call is left to its timer, which is due: RPC_TIMEOUT comes from there only.
   */
  take(deviceId: string, id: number, now: number): DeviceRpcCall | undefined {
    const d = this.devices.get(deviceId);
    const e = d?.pending.get(id);
    if (d === undefined || e === undefined) return undefined;
    if (e.call.expiresAt <= now && e.timer !== undefined) return undefined;
    this.remove(deviceId, d, id, e);
    return e.call.expiresAt > now ? e.call : undefined;
  }

  /** Every call of a device, removed with their timers (its RPC subscription is gone). */
  drop(deviceId: string): DeviceRpcCall[] {
    const d = this.devices.get(deviceId);
    if (d === undefined) return [];
    const calls: DeviceRpcCall[] = [];
    for (const [id, e] of [...d.pending]) {
      calls.push(e.call);
      this.remove(deviceId, d, id, e);
    }
    return calls;
  }

  /** Drops expired one-way calls everywhere (periodically); two-way calls go with their timers. */
  prune(now: number): void {
    for (const d of this.devices.values()) this.dropExpiredOneway(d, now);
    for (const [deviceId, d] of this.devices) if (d.pending.size === 0) this.devices.delete(deviceId);
  }

  /** Forgets everything, timers included (the transport stops). */
  clear(): void {
    for (const d of this.devices.values()) for (const e of d.pending.values()) clearTimeout(e.timer);
    this.devices.clear();
    this.count = 0;
  }

  /** Calls waiting now (one-way ones until they expire). */
  get size(): number {
    return this.count;
  }

  private dropExpiredOneway(d: DeviceCalls, now: number): void {
    for (const [id, e] of d.pending) {
      if (e.call.oneway && e.call.expiresAt <= now) {
        d.pending.delete(id);
        this.count--;
      }
    }
  }

  /** keepDevice: the device's entry stays though empty (a call is about to be added to it). */
  private remove(deviceId: string, d: DeviceCalls, id: number, e: Entry, keepDevice = false): void {
    if (d.pending.get(id) !== e) return;
    clearTimeout(e.timer);
    d.pending.delete(id);
    this.count--;
    // keep the counter of a device that still has calls; a fresh start at 1 is fine otherwise
    if (!keepDevice && d.pending.size === 0 && this.devices.get(deviceId) === d) this.devices.delete(deviceId);
  }
}
