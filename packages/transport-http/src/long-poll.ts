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
