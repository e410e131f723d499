import { hostname } from 'node:os';
import { type Broadcast, createMemoryBroadcast } from '@rivulet/broadcast';
import { createKafkaBroadcast } from '@rivulet/broadcast-kafka';
import type { Logger } from '@rivulet/core';
import { createMemoryQueue, type Queue } from '@rivulet/queue';
import { createKafkaQueue } from '@rivulet/queue-kafka';
import { ConfigError, type Config } from './config';

/** The queue between transports and rule engines, and the broadcast between processes' parts. */
export interface Messaging {
  readonly queue: Queue;
  readonly broadcast: Broadcast;
  /** This process's name among the processes sharing the queue (RIVULET_NODE_ID). */
  readonly nodeId: string;
  /** Resolves while the queue can take and hand out messages, rejects otherwise (readiness). */
  ping(): Promise<void>;
  /** Closes the broadcast (the queue is closed by its owner, after the rule engine drained it). */
  close(): Promise<void>;
}

/** How long start waits for the Kafka brokers to answer before it refuses to start. */
const KAFKA_START_TIMEOUT_MS = 30_000;

/** Picks the queue and broadcast implementations from config: memory (one process) or Kafka. */
export async function createMessaging(config: Config, logger: Logger): Promise<Messaging> {
  const nodeId = resolveNodeId(config);
  if (config.RIVULET_QUEUE === 'kafka') {
    const brokers = (config.KAFKA_BROKERS ?? '').split(',').map((b) => b.trim()).filter(Boolean);
    let queue;
    try {
      queue = createKafkaQueue({
        brokers,
        clientId: `rivulet-${nodeId}`,
        topicPrefix: config.RIVULET_QUEUE_PREFIX,
        commitMode: config.RIVULET_QUEUE_COMMIT,
        maxLag: config.RIVULET_QUEUE_MAX_LAG,
        partitions: config.RIVULET_QUEUE_PARTITIONS,
        logger,
      });
    } catch (e) {
      throw new ConfigError(`Invalid configuration:\n  KAFKA_BROKERS: ${e instanceof Error ? e.message : String(e)}`);
    }
    // A broker that does not answer refuses start with a clear message instead of a role that never gets work.
    try {
      await withTimeout(queue.ping(), KAFKA_START_TIMEOUT_MS, `no answer within ${KAFKA_START_TIMEOUT_MS} ms`);
    } catch (e) {
      await queue.close().catch(() => undefined);
      throw new Error(`Kafka at ${brokers.join(',')} did not answer: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
    }
    // Live updates, chain changes, RPC and attribute pushes between this process and the others.
    let broadcast: Broadcast;
    try {
      broadcast = await createKafkaBroadcast({ brokers, clientId: `rivulet-${nodeId}`, nodeId, topicPrefix: config.RIVULET_QUEUE_PREFIX, logger, startTimeoutMs: KAFKA_START_TIMEOUT_MS });
    } catch (e) {
      await queue.close().catch(() => undefined);
      throw new Error(`Kafka broadcast at ${brokers.join(',')} did not start: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
    }
    logger.info({ nodeId, brokers, prefix: config.RIVULET_QUEUE_PREFIX, commit: config.RIVULET_QUEUE_COMMIT }, 'kafka queue connected');
    return { queue, broadcast, nodeId, ping: () => queue.ping(), close: () => broadcast.close() };
  }
  const broadcast = createMemoryBroadcast({ logger, nodeId });
  const queue = createMemoryQueue({
    partitions: config.RIVULET_QUEUE_PARTITIONS,
    capacity: config.RIVULET_QUEUE_CAPACITY,
    logger,
  });
  return { queue, broadcast, nodeId, ping: async () => {}, close: () => broadcast.close() };
}

/** This process's name among the processes sharing a Kafka cluster: RIVULET_NODE_ID, else host name and pid. */
export function resolveNodeId(config: Pick<Config, 'RIVULET_NODE_ID'>): string {
  if (config.RIVULET_NODE_ID) return config.RIVULET_NODE_ID;
  // topic-safe: a host name may hold characters a Kafka topic may not
  return `${hostname().replace(/[^A-Za-z0-9._-]/g, '_').slice(0, 80)}-${process.pid}`;
}

function withTimeout<T>(p: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  return Promise.race([p, new Promise<never>((_, rej) => (timer = setTimeout(() => rej(new Error(message)), ms)))]).finally(() => clearTimeout(timer));
}
