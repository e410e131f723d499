import { errorMessage, type Logger } from '@rivulet/core';

/** One subscribe() call; unsubscribing removes exactly this one even if the handler is registered twice. */
interface Registration {
  readonly handler: (event: unknown) => void;
}

/**
 * The subscribers of this process, by channel name; every Broadcast implementation delivers
 * through one. Subscriber lists are copy-on-write, so deliver (the frequent call) allocates
 * nothing and a subscriber that (un)subscribes while being called does not disturb the current fan-out.
 */
export class LocalSubscribers {
  private readonly channels = new Map<string, ReadonlyArray<Registration>>();

  constructor(private readonly log: Logger) {}

  has(channel: string): boolean {
    return this.channels.has(channel);
  }

  deliver(channel: string, event: unknown): void {
    const regs = this.channels.get(channel);
    if (regs === undefined) return;
    for (const reg of regs) {
      try {
        reg.handler(event);
      } catch (e) {
        // Delivery is best effort (see Broadcast); one faulty subscriber must not starve the others.
        this.log.warn({ channel, err: errorMessage(e) }, 'broadcast subscriber threw');
      }
    }
  }

  subscribe(channel: string, handler: (event: unknown) => void): () => void {
    const reg: Registration = { handler };
    this.channels.set(channel, [...(this.channels.get(channel) ?? []), reg]);
    let active = true;
    return () => {
      if (!active) return;
      active = false;
      const rest = (this.channels.get(channel) ?? []).filter((r) => r !== reg);
      if (rest.length === 0) this.channels.delete(channel);
      else this.channels.set(channel, rest);
    };
  }

  clear(): void {
    this.channels.clear();
  }
}

/**
 * Open session holds of this process, counted per device. `onChange` hears a device's first
 * hold (true) and its last release (false): where the Kafka registry writes its claims.
 */
export class SessionHolds {
  private readonly counts = new Map<string, number>();

  constructor(private readonly onChange: (deviceId: string, held: boolean) => void = () => {}) {}

  hold(deviceId: string): () => void {
    const n = this.counts.get(deviceId) ?? 0;
    this.counts.set(deviceId, n + 1);
    if (n === 0) this.onChange(deviceId, true);
    let open = true;
    return () => {
      if (!open) return;
      open = false;
      const left = (this.counts.get(deviceId) ?? 1) - 1;
      if (left > 0) this.counts.set(deviceId, left);
      else if (this.counts.delete(deviceId)) this.onChange(deviceId, false);
    };
  }

  holds(deviceId: string): boolean {
    return this.counts.has(deviceId);
  }

  devices(): IterableIterator<string> {
    return this.counts.keys();
  }

  get size(): number {
    return this.counts.size;
  }

  /** Forgets every hold (close); later releases do nothing. */
  clear(): void {
    this.counts.clear();
  }
}
