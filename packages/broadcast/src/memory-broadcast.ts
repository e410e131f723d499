import { errorMessage, silentLogger, type Logger } from '@rivulet/core';
import type { Broadcast, Channel } from './channel';

export interface MemoryBroadcastOptions {
  /** Where a throwing subscriber is reported. */
  logger?: Logger;
}

/** One subscribe() call; unsubscribing removes exactly this one even if the handler is registered twice. */
interface Registration {
  readonly handler: (event: unknown) => void;
}

/**
 * Broadcast within one process: publish calls every subscriber of the channel synchronously.
 * Subscriber lists are copy-on-write, so publish (the frequent call) allocates nothing and a
 * subscriber that (un)subscribes while being called does not disturb the current fan-out.
 */
export function createMemoryBroadcast(options: MemoryBroadcastOptions = {}): Broadcast {
  const log = (options.logger ?? silentLogger).child({ component: 'memory-broadcast' });
  const channels = new Map<string, ReadonlyArray<Registration>>();

  return {
    publish<T>({ name: channel }: Channel<T>, event: T) {
      const regs = channels.get(channel);
      if (regs === undefined) return;
      for (const reg of regs) {
        try {
          reg.handler(event);
        } catch (e) {
          // Delivery is best effort (see Broadcast); one faulty subscriber must not starve the others.
          log.warn({ channel, err: errorMessage(e) }, 'broadcast subscriber threw');
        }
      }
    },

    subscribe<T>({ name: channel }: Channel<T>, handler: (event: T) => void) {
      const reg: Registration = { handler: handler as (event: unknown) => void };
      channels.set(channel, [...(channels.get(channel) ?? []), reg]);
      let active = true;
      return () => {
        if (!active) return;
        active = false;
        const rest = (channels.get(channel) ?? []).filter((r) => r !== reg);
        if (rest.length === 0) channels.delete(channel);
        else channels.set(channel, rest);
      };
    },
  };
}
