import { type Broadcast, createMemoryBroadcast } from '@rivulet/broadcast';
import type { Logger } from '@rivulet/core';
import { createMemoryQueue, type Queue } from '@rivulet/queue';
import { hostname } from 'node:os';
import type { Config } from './config';

/** The queue between transports and rule engines, and the broadcast between processes' parts. */
export interface Messaging {
  readonly queue: Queue;
  readonly broadcast: Broadcast;
  /** True while the queue can take and hand out messages (readiness). */
  connected(): boolean;
  /** Closes the broadcast (the queue is closed by its owner, after the rule engine drained it). */
  close(): Promise<void>;
}

/** Picks the queue and broadcast implementations from config: memory (one process) or Kafka. */
export async function createMessaging(config: Config, logger: Logger): Promise<Messaging> {
  if (config.RIVULET_QUEUE === 'kafka') {
    throw new Error('RIVULET_QUEUE=kafka is not available in this build yet: use memory (the default)');
  }
  const broadcast = createMemoryBroadcast();
  const queue = createMemoryQueue({
    partitions: config.RIVULET_QUEUE_PARTITIONS,
    capacity: config.RIVULET_QUEUE_CAPACITY,
    logger,
  });
  return {
    queue,
    broadcast,
    connected: () => true,
    close: () => broadcast.close(),
  };
}

/** This process's name among the processes sharing a Kafka cluster: RIVULET_NODE_ID, else host name and pid. */
export function resolveNodeId(config: Pick<Config, 'RIVULET_NODE_ID'>): string {
  if (config.RIVULET_NODE_ID) return config.RIVULET_NODE_ID;
  // topic-safe: a host name may hold characters a Kafka topic may not
  return `${hostname().replace(/[^A-Za-z0-9._-]/g, '_').slice(0, 80)}-${process.pid}`;
}
