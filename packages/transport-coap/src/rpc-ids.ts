/**
 * Server-side RPC over CoAP: a command reaches the device as `{"id":N,...}` with a small integer
 * N of its own (ThingsBoard's per-device request ids), and the device answers on /rpc/N. This maps
 * N back to the call's requestId until the call expires. Bounded: the oldest calls of a device go
 * beyond `maxPerDevice`, and devices with nothing pending are forgotten.
 */
import type { DeviceInfo } from '@rivulet/core';

interface Pending {
  readonly requestId: string;
  /** The device it was sent to (for RPC_TIMEOUT / RPC_FAILED). */
  readonly device?: DeviceInfo | undefined;
  readonly oneway: boolean;
  readonly expiresAt: number;
  /** The caller's node (ToDeviceRpcRequest.replyTo): where the reply goes. */
  readonly replyTo?: string | undefined;
}

interface DeviceCalls {
  nextId: number;
  readonly pending: Map<number, Pending>;
}

export class ToDeviceRpcIds {
  private readonly devices = new Map<string, DeviceCalls>();

  /** onExpired: told of each two-way call found expired without its reply. */
  constructor(
    private readonly maxPerDevice = 64,
    private readonly onExpired: (call: Pending) => void = () => {},
  ) {}

  /** The id the device sees for this call. */
  assign(deviceId: string, call: Pending, now: number): number {
    let d = this.devices.get(deviceId);
    if (d === undefined) {
      d = { nextId: 1, pending: new Map() };
      this.devices.set(deviceId, d);
    }
    this.expire(d, now);
    while (d.pending.size >= this.maxPerDevice) d.pending.delete(d.pending.keys().next().value as number);
    const id = d.nextId;
    // ids stay small and positive (firmware often parses them into an int)
    d.nextId = id >= 0x7fffffff ? 1 : id + 1;
    d.pending.set(id, call);
    return id;
  }

  /** The call a device's reply `/rpc/{id}` answers, removed; undefined when unknown or expired. */
  take(deviceId: string, id: number, now: number): Pending | undefined {
    const d = this.devices.get(deviceId);
    if (d === undefined) return undefined;
    const call = d.pending.get(id);
    d.pending.delete(id);
    this.expire(d, now);
    if (d.pending.size === 0) this.devices.delete(deviceId);
    if (call === undefined) return undefined;
    if (call.expiresAt > now) return call;
    if (!call.oneway) this.onExpired(call);
    return undefined;
  }

  /** Every call of a device, removed (its RPC subscription is gone). */
  drop(deviceId: string): Pending[] {
    const d = this.devices.get(deviceId);
    if (d === undefined) return [];
    this.devices.delete(deviceId);
    return [...d.pending.values()];
  }

  /** Drops expired calls everywhere (periodically). */
  prune(now: number): void {
    for (const [deviceId, d] of this.devices) {
      this.expire(d, now);
      // keep the counter of a device that still has calls; a fresh start at 1 is fine otherwise
      if (d.pending.size === 0) this.devices.delete(deviceId);
    }
  }

  get size(): number {
    let n = 0;
    for (const d of this.devices.values()) n += d.pending.size;
    return n;
  }

  private expire(d: DeviceCalls, now: number): void {
    for (const [id, call] of d.pending) {
      if (call.expiresAt > now) continue;
      d.pending.delete(id);
      if (!call.oneway) this.onExpired(call);
    }
  }
}
