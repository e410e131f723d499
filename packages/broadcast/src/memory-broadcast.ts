import { silentLogger, type Logger } from '@rivulet/core';
import type { Broadcast, Channel } from './channel';
import { LocalSubscribers, SessionHolds } from './local-hub';

export interface MemoryBroadcastOptions {
  /** Where a throwing subscriber is reported. */
  logger?: Logger;
  /** This process's id; default 'local'. */
  nodeId?: string;
}

/**
 * Broadcast within one process: publish calls every subscriber of the channel synchronously;
 * sendToDevice does the same when a transport of this process holds the device's session and
 * answers false at once when none does; sendToNode reaches this process only.
 */
export function createMemoryBroadcast(options: MemoryBroadcastOptions = {}): Broadcast {
  const log = (options.logger ?? silentLogger).child({ component: 'memory-broadcast' });
  const nodeId = options.nodeId ?? 'local';
  const local = new LocalSubscribers(log);
  const sessions = new SessionHolds();
  let closed = false;

  return {
    nodeId,
    publish<T>(channel: Channel<T>, event: T) {
      if (!closed) local.deliver(channel.name, event);
    },
    subscribe<T>(channel: Channel<T>, handler: (event: T) => void) {
      return local.subscribe(channel.name, handler as (event: unknown) => void);
    },
    sendToDevice<T>(channel: Channel<T>, deviceId: string, event: T) {
      if (closed || !sessions.holds(deviceId)) return 0;
      local.deliver(channel.name, event);
      return 1;
    },
    sendToNode<T>(target: string, channel: Channel<T>, event: T) {
      if (closed) return;
      if (target === nodeId) local.deliver(channel.name, event);
      else log.warn({ channel: channel.name, target }, 'memory broadcast cannot reach another node; event dropped');
    },
    holdSession: (deviceId) => sessions.hold(deviceId),
    heldSessions: () => sessions.size,
    async close() {
      closed = true;
      sessions.clear();
      local.clear();
    },
  };
}
