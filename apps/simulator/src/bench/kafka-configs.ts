/**
 * The Kafka configurations of `npm run bench`: Rivulet with RIVULET_QUEUE=kafka on a real broker
 * (startKafka: Apache Kafka from Maven Central, one KRaft node on loopback), beside the memory queue
 * in the same run, on the same database and devices.
 *
 * - kafka1: one process running every role (transport, one rule-engine worker, API) on Kafka.
 * - kafka2: the same plus a second process running only the rule-engine role: two workers of the
 *   group `rule-engine` sharing the topic's partitions.
 *
 * Each configuration has its own topic prefix (RIVULET_QUEUE_PREFIX), so their topics, consumer groups
 * and broadcasts do not meet; they are measured one after another, never at the same time.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { Child } from './children';

export type KafkaConfig = 'kafka1' | 'kafka2';
export const KAFKA_CONFIGS: readonly KafkaConfig[] = ['kafka1', 'kafka2'];
/** Rule-engine workers of each configuration. */
export const KAFKA_WORKERS: Record<KafkaConfig, number> = { kafka1: 1, kafka2: 2 };

/** The environment of one Rivulet process of a Kafka configuration. */
export function kafkaEnv(o: { config: KafkaConfig; brokers: string; roles?: string; nodeId: string }): Record<string, string> {
  return {
    RIVULET_QUEUE: 'kafka',
    KAFKA_BROKERS: o.brokers,
    RIVULET_QUEUE_PREFIX: `bench-${o.config}.`,
    RIVULET_NODE_ID: o.nodeId,
    ...(o.roles ? { RIVULET_ROLES: o.roles } : {}),
  };
}

/**
 * Resolves once the process answers 200 on /api/ready (every role serves it), rejects when it exits
 * first or after `timeoutMs`.
 */
export async function waitReady(child: Child, baseUrl: string, timeoutMs = 120_000): Promise<void> {
  let exited = false;
  void child.exited.then(() => (exited = true));
  const until = Date.now() + timeoutMs;
  let last = '';
  while (Date.now() < until) {
    if (exited) throw new Error(`${child.name} exited before it was ready. Output:\n${child.tail()}`);
    try {
      const r = await fetch(`${baseUrl}/api/ready`, { signal: AbortSignal.timeout(2_000) });
      if (r.status === 200) return;
      last = `${r.status} ${(await r.text()).slice(0, 200)}`;
    } catch (e) {
      last = e instanceof Error ? e.message : String(e);
    }
    await sleep(250);
  }
  throw new Error(`${child.name}: ${baseUrl}/api/ready not 200 within ${timeoutMs} ms (last: ${last}). Output:\n${child.tail()}`);
}
