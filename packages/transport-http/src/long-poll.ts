import type { ServerResponse } from 'node:http';
import type { DeviceInfo } from '@rivulet/core';

/**
 * Requests of ThingsBoard's HTTP long polls (`GET /rpc?timeout=`, `GET /attributes/updates?timeout=`)
 * waiting for something to answer them with, by device. A waiter is answered once: by an event, by
 * its timeout (408), by the client going away, or by stop().
 */
export interface Waiter {
  readonly deviceId: string;
  /** The device that polls (for the messages made when something answers it). */
  readonly device: DeviceInfo | undefined;
  readonly res: ServerResponse;
  /** Answers and forgets this waiter (idempotent). */
  settle(answer: (res: ServerResponse) => void): void;
}

export class Waiters {
  private readonly byDevice = new Map<string, Set<Waiter>>();
  private count = 0;

  /**
   * maxPerDevice: long polls one device may hold open (0: no limit). A new one past it replaces the
   * device's oldest, which is answered with `replaced` (a device's newest poll is the one it waits
   * on; an older one is usually from a connection the device has already given up on).
   */
  constructor(
    private readonly maxPerDevice = 0,
    /** Announces a waiting poll's device as held by this process (Broadcast.holdSession) until it is answered or gone. */
    private readonly hold: (deviceId: string) => () => void = () => () => {},
  ) {}

  get size(): number {
    return this.count;
  }

  /**
   * Registers a request until `timeoutMs`, when `onTimeout` answers it. The client closing the
   * connection first removes it without an answer.
   */
  add(
    deviceId: string,
    res: ServerResponse,
    timeoutMs: number,
    onTimeout: (res: ServerResponse) => void,
    replaced: (res: ServerResponse) => void = onTimeout,
    device?: DeviceInfo,
  ): Waiter {
    const existing = this.byDevice.get(deviceId);
    if (this.maxPerDevice > 0 && existing !== undefined) {
      while (existing.size >= this.maxPerDevice) {
        const oldest = existing.values().next().value as Waiter;
        oldest.settle(replaced);
      }
    }
    let done = false;
    const release = this.hold(deviceId);
    const remove = (): void => {
      if (done) return;
      done = true;
      release();
      clearTimeout(timer);
      res.off('close', remove);
      const set = this.byDevice.get(deviceId);
      if (set === undefined) return;
      set.delete(waiter);
      this.count--;
      if (set.size === 0) this.byDevice.delete(deviceId);
    };
    const waiter: Waiter = {
      deviceId,
      device,
      res,
      settle(answer) {
        if (done) return;
        remove();
        answer(res);
      },
    };
    const timer = setTimeout(() => waiter.settle(onTimeout), timeoutMs);
    res.on('close', remove);
    let set = this.byDevice.get(deviceId);
    if (set === undefined) {
      set = new Set();
      this.byDevice.set(deviceId, set);
    }
    set.add(waiter);
    this.count++;
    return waiter;
  }

  /** The device's waiters, oldest first. */
  of(deviceId: string): Waiter[] {
    return [...(this.byDevice.get(deviceId) ?? [])];
  }

  all(): Waiter[] {
    const out: Waiter[] = [];
    for (const set of this.byDevice.values()) out.push(...set);
    return out;
  }
}

/**
 * Server-side RPC ids as devices see them (ThingsBoard's small per-device integers), mapped back to
 * the call's requestId until it expires; at most `maxPerDevice` calls per device.
 */
/** A server-side call waiting for the device's reply; replyTo: the caller's node (ToDeviceRpcRequest.replyTo). */
export interface PendingCall {
  readonly requestId: string;
  readonly oneway: boolean;
  readonly expiresAt: number;
  readonly replyTo?: string | undefined;
  /** The device it was sent to (for RPC_TIMEOUT when it expires unanswered). */
  readonly device?: DeviceInfo | undefined;
}

export class RpcIds {
  private readonly devices = new Map<string, { nextId: number; pending: Map<number, PendingCall> }>();

  /** onExpired: told of each two-way call found expired without its reply (here or in prune). */
  constructor(
    private readonly maxPerDevice = 64,
    private readonly onExpired: (call: PendingCall) => void = () => {},
  ) {}

  private expire(d: { pending: Map<number, PendingCall> }, id: number, c: PendingCall): void {
    d.pending.delete(id);
    if (!c.oneway) this.onExpired(c);
  }

  assign(deviceId: string, call: PendingCall, now: number): number {
    let d = this.devices.get(deviceId);
    if (d === undefined) {
      d = { nextId: 1, pending: new Map() };
      this.devices.set(deviceId, d);
    }
    for (const [id, c] of d.pending) if (c.expiresAt <= now) this.expire(d, id, c);
    while (d.pending.size >= this.maxPerDevice) d.pending.delete(d.pending.keys().next().value as number);
    const id = d.nextId;
    d.nextId = id >= 0x7fffffff ? 1 : id + 1;
    d.pending.set(id, call);
    return id;
  }

  take(deviceId: string, id: number, now: number): PendingCall | undefined {
    const d = this.devices.get(deviceId);
    const call = d?.pending.get(id);
    if (d === undefined || call === undefined) return undefined;
    d.pending.delete(id);
    if (d.pending.size === 0) this.devices.delete(deviceId);
    if (call.expiresAt > now) return call;
    if (!call.oneway) this.onExpired(call);
    return undefined;
  }

  prune(now: number): void {
    for (const [deviceId, d] of this.devices) {
      for (const [id, c] of d.pending) if (c.expiresAt <= now) this.expire(d, id, c);
      if (d.pending.size === 0) this.devices.delete(deviceId);
    }
  }
}
