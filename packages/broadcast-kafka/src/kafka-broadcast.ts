import { randomUUID } from 'node:crypto';
import { DeviceChannel, LocalSubscribers, SessionHolds, type Broadcast, type Channel, type UndeliveredEvent } from '@rivulet/broadcast';
import { errorMessage, silentLogger, type Logger } from '@rivulet/core';
import { decodeValue, encodeValue } from '@rivulet/queue';
import { Kafka, logLevel, type Admin, type Consumer, type EachBatchPayload, type KafkaMessage, type LogEntry, type Producer } from 'kafkajs';
import { TopicSender } from './sender';
import { SessionRegistry } from './session-registry';
import { broadcastTopics, checkNodeId, nodeKey, parseRegistryKey, sessionKey, type BroadcastTopics } from './topics';

export interface KafkaBroadcastOptions {
  /** Bootstrap servers: a list or a comma-separated string (KAFKA_BROKERS). */
  brokers: string | ReadonlyArray<string>;
  /** kafkajs client id (shows in broker logs and metrics). */
  clientId: string;
  /**
   * This process's id among all processes on the cluster (RIVULET_NODE_ID): names its directed
   * topic `rivulet.node.<nodeId>` and its session claims. Must differ between live processes.
   */
  nodeId: string;
  /** Put before every topic and group name (RIVULET_QUEUE_PREFIX), so deployments can share a cluster. */
  topicPrefix?: string;
  logger?: Logger;
  /** How often this process writes its heartbeat to the session registry; default 5000 ms. */
  heartbeatMs?: number;
  /** A process whose heartbeat is older than this no longer counts as holding sessions; default 20000 ms. */
  sessionTtlMs?: number;
  /** createKafkaBroadcast rejects when not ready within this; default 30000 ms. */
  startTimeoutMs?: number;
}

export interface KafkaBroadcast extends Broadcast {
  /** Other live processes holding a session of the device, per the registry (diagnosis and tests). */
  holdersOf(deviceId: string): string[];
  /** Events not sent (queue full or Kafka refused), and records that could not be read. */
  stats(): { dropped: number; failedSends: number; badRecords: number };
}

const FROM = 'from';
/** On directed-to-device records: the device, so a process that released it meanwhile can say so. */
const DEVICE = 'device';
const PROBE = '__probe';

/**
 * The Broadcast across processes, on three kinds of Kafka topic:
 * - `rivulet.broadcast` (1 partition, time retention): fan-out. Every process reads it from the
 *   latest offset in a consumer group of its own that never commits. Key: channel name; header
 *   `from`: the sending node (which delivered to its own subscribers already, synchronously).
 * - `rivulet.node.<nodeId>` (1 partition, short retention): directed messages to that process
 *   (RPC to a device it holds, RPC responses to a caller), read from the latest offset too.
 *   Deleted when the process closes.
 * - `rivulet.sessions` (compacted): the session registry. `s/<node>/<device>` = held (claim; null
 *   = released), `n/<node>` = heartbeat (every heartbeatMs). Every process reads it from the
 *   beginning, so it knows at once which process holds a device, and a device nobody holds is
 *   answered "offline" without a round trip. A process that crashes stops heartbeating: its
 *   claims stop counting after sessionTtlMs; after 3x that, any process deletes its keys and topic.
 * Resolves when this process reads all three (its own probe records came back).
 */
export async function createKafkaBroadcast(options: KafkaBroadcastOptions): Promise<KafkaBroadcast> {
  const nodeId = checkNodeId(options.nodeId);
  const log = (options.logger ?? silentLogger).child({ component: 'kafka-broadcast', nodeId });
  const topics: BroadcastTopics = broadcastTopics(options.topicPrefix ?? '');
  const ownTopic = topics.node(nodeId);
  const heartbeatMs = options.heartbeatMs ?? 5000;
  const ttlMs = options.sessionTtlMs ?? 20_000;
  const brokers = typeof options.brokers === 'string' ? options.brokers.split(',').map((b) => b.trim()).filter(Boolean) : [...options.brokers];
  if (brokers.length === 0) throw new Error('createKafkaBroadcast: no Kafka brokers given (KAFKA_BROKERS)');

  const kafka = new Kafka({ clientId: options.clientId, brokers, logLevel: logLevel.WARN, logCreator: () => (e: LogEntry) => kafkaLog(log, e) });
  const admin: Admin = kafka.admin();
  const producer: Producer = kafka.producer({ allowAutoTopicCreation: false, retry: { retries: 3, initialRetryTime: 100 } });
  const consumer: Consumer = kafka.consumer({
    groupId: `${options.topicPrefix ?? ''}rivulet.broadcast.${nodeId}.${randomUUID()}`,
    sessionTimeout: 10_000,
    heartbeatInterval: 1000,
    allowAutoTopicCreation: false,
  });
  const local = new LocalSubscribers(log);
  const registry = new SessionRegistry(ttlMs);
  const sender = new TopicSender(producer, log);
  const cleaned = new Set<string>();
  let badRecords = 0;
  let closed = false;
  const startToken = randomUUID();
  const seen = { fanout: false, node: false, sessions: false };
  let onSeen: () => void = () => {};

  const holds = new SessionHolds((deviceId, held) => {
    if (!closed) sender.enqueue(topics.sessions, { key: sessionKey(nodeId, deviceId), value: held ? encodeValue({ nodeId, deviceId }) : null });
  });
  const sendHeartbeat = (token?: string): void =>
    sender.enqueue(topics.sessions, { key: nodeKey(nodeId), value: encodeValue({ nodeId, at: Date.now(), ...(token ? { token } : {}) }) });

  function bad(topic: string, m: KafkaMessage, e: unknown): void {
    if (badRecords++ % 100 === 0) log.warn({ topic, offset: m.offset, badRecords, err: errorMessage(e) }, 'kafka broadcast record skipped: not readable');
  }

  function onEvent(topic: string, m: KafkaMessage): void {
    const channel = m.key?.toString('utf8') ?? '';
    if (channel === PROBE) {
      if (m.value?.toString('utf8') === startToken) {
        if (topic === ownTopic) seen.node = true;
        else seen.fanout = true;
        onSeen();
      }
      return;
    }
    // ours: delivered synchronously when published
    if (topic === topics.fanout && m.headers?.[FROM]?.toString() === nodeId) return;
    const device = m.headers?.[DEVICE]?.toString();
    const stale = device !== undefined && !holds.holds(device);
    if (!stale && !local.has(channel)) return;
    let event: unknown;
    try {
      event = decodeValue(m.value);
    } catch (e) {
      return bad(topic, m, e);
    }
    if (!stale) return local.deliver(channel, event);
    // the sender's registry was a moment behind: tell it nobody here took the event
    const from = m.headers?.[FROM]?.toString();
    if (from !== undefined && !closed) {
      const undelivered: UndeliveredEvent = { deviceId: device, channel, event, nodeId };
      send(topics.node(from), DeviceChannel.UNDELIVERED.name, undelivered);
    }
  }

  function onRegistry(m: KafkaMessage): void {
    const key = parseRegistryKey(m.key?.toString('utf8') ?? '');
    if (key === undefined) return bad(topics.sessions, m, new Error('unknown registry key'));
    if (key.kind === 'node') {
      if (m.value === null) return registry.forgetNode(key.nodeId);
      try {
        const v = decodeValue(m.value) as { token?: unknown };
        registry.heartbeat(key.nodeId, Number(m.timestamp));
        if (key.nodeId === nodeId && v.token === startToken) {
          seen.sessions = true;
          onSeen();
        }
      } catch (e) {
        bad(topics.sessions, m, e);
      }
      return;
    }
    if (m.value === null) {
      registry.release(key.nodeId, key.deviceId);
      // someone cleaned us up while we still hold the device (we were silent too long): claim it again
      if (key.nodeId === nodeId && !closed && holds.holds(key.deviceId)) {
        sender.enqueue(topics.sessions, { key: sessionKey(nodeId, key.deviceId), value: encodeValue({ nodeId, deviceId: key.deviceId }) });
      }
    } else registry.claim(key.nodeId, key.deviceId);
  }

  async function eachBatch({ batch, resolveOffset, heartbeat, isRunning, isStale }: EachBatchPayload): Promise<void> {
    for (const m of batch.messages) {
      if (!isRunning() || isStale()) break;
      if (batch.topic === topics.sessions) onRegistry(m);
      else onEvent(batch.topic, m);
      resolveOffset(m.offset);
    }
    await heartbeat();
  }

  /** Deletes the keys and topic of processes silent for 3x the ttl: a crash leaves no garbage forever. */
  function cleanUp(): void {
    for (const n of registry.silentNodes(3 * ttlMs)) {
      if (n === nodeId || cleaned.has(n)) continue;
      cleaned.add(n);
      for (const d of registry.devicesOf(n)) sender.enqueue(topics.sessions, { key: sessionKey(n, d), value: null });
      sender.enqueue(topics.sessions, { key: nodeKey(n), value: null });
      registry.dropNode(n);
      admin.deleteTopics({ topics: [topics.node(n)], timeout: 5000 }).catch(() => {});
      log.info({ node: n }, 'kafka broadcast removed a silent node from the session registry');
    }
  }

  function send(topic: string, channel: string, event: unknown, deviceId?: string): void {
    let value: Buffer;
    try {
      value = encodeValue(event);
    } catch (e) {
      log.warn({ channel, err: errorMessage(e) }, 'kafka broadcast event not sent: not JSON');
      return;
    }
    sender.enqueue(topic, { key: channel, value, headers: deviceId === undefined ? { [FROM]: nodeId } : { [FROM]: nodeId, [DEVICE]: deviceId } });
  }

  let timer: NodeJS.Timeout | undefined;
  try {
    await admin.connect();
    await ensureTopics(admin, topics, ownTopic);
    await producer.connect();
    await consumer.connect();
    // Events from before this process existed are of no use (and a restart with the same nodeId
    // must not replay its old directed messages): the event topics from the latest offset, probed
    // below; the registry from the beginning.
    await consumer.subscribe({ topics: [topics.fanout, ownTopic], fromBeginning: false });
    await consumer.subscribe({ topics: [topics.sessions], fromBeginning: true });
    // kafkajs restarts the consumer after retriable errors by itself; anything else is logged loudly
    consumer.on(consumer.events.CRASH, (e) => {
      const { error, restart } = e.payload;
      if (!closed) log.error({ err: errorMessage(error), restart }, 'kafka broadcast consumer crashed');
    });
    await consumer.run({ autoCommit: false, eachBatch });
    await new Promise<void>((resolve, reject) => {
      const deadline = setTimeout(() => {
        clearInterval(retry); // no more probes to a broadcast that failed to start
        reject(new Error(`Kafka broadcast not ready within ${options.startTimeoutMs ?? 30_000} ms (brokers ${brokers.join(',')})`));
      }, options.startTimeoutMs ?? 30_000);
      const probe = (): void => {
        // the event topics are read from "latest": repeat until one probe lands after our position
        if (!seen.fanout) sender.enqueue(topics.fanout, { key: PROBE, value: startToken });
        if (!seen.node) sender.enqueue(ownTopic, { key: PROBE, value: startToken });
        if (!seen.sessions) sendHeartbeat(startToken);
      };
      const retry = setInterval(probe, 500);
      onSeen = () => {
        if (!seen.fanout || !seen.node || !seen.sessions) return;
        clearTimeout(deadline);
        clearInterval(retry);
        resolve();
      };
      probe();
    });
    // claims a previous run under the same nodeId left behind (it crashed): not ours any more
    for (const d of registry.devicesOf(nodeId)) {
      if (!holds.holds(d)) {
        sender.enqueue(topics.sessions, { key: sessionKey(nodeId, d), value: null });
        registry.release(nodeId, d);
      }
    }
    timer = setInterval(() => {
      sendHeartbeat();
      cleanUp();
    }, heartbeatMs);
    timer.unref();
  } catch (e) {
    await Promise.allSettled([consumer.disconnect(), producer.disconnect(), admin.disconnect()]);
    throw e;
  }
  log.info({ topics: [topics.fanout, ownTopic, topics.sessions] }, 'kafka broadcast ready');


  return {
    nodeId,
    publish<T>(channel: Channel<T>, event: T) {
      if (closed) return;
      local.deliver(channel.name, event);
      send(topics.fanout, channel.name, event);
    },
    subscribe<T>(channel: Channel<T>, handler: (event: T) => void) {
      return local.subscribe(channel.name, handler as (event: unknown) => void);
    },
    sendToDevice<T>(channel: Channel<T>, deviceId: string, event: T) {
      if (closed) return 0;
      const remote = registry.holdersOf(deviceId, nodeId);
      const here = holds.holds(deviceId);
      if (here) local.deliver(channel.name, event);
      for (const n of remote) send(topics.node(n), channel.name, event, deviceId);
      return (here ? 1 : 0) + remote.length;
    },
    sendToNode<T>(target: string, channel: Channel<T>, event: T) {
      if (closed) return;
      if (target === nodeId) local.deliver(channel.name, event);
      else send(topics.node(target), channel.name, event);
    },
    holdSession: (deviceId) => holds.hold(deviceId),
    heldSessions: () => holds.size,
    holdersOf: (deviceId) => registry.holdersOf(deviceId, nodeId).concat(holds.holds(deviceId) ? [nodeId] : []),
    stats: () => ({ dropped: sender.dropped, failedSends: sender.failed, badRecords }),
    async close() {
      if (closed) return;
      clearInterval(timer);
      // release our claims and heartbeat, so nobody waits out the ttl for us
      for (const d of holds.devices()) sender.enqueue(topics.sessions, { key: sessionKey(nodeId, d), value: null });
      sender.enqueue(topics.sessions, { key: nodeKey(nodeId), value: null });
      closed = true;
      holds.clear();
      local.clear();
      await sender.flush(5000);
      await Promise.allSettled([consumer.disconnect(), producer.disconnect()]);
      await admin.deleteTopics({ topics: [ownTopic], timeout: 5000 }).catch(() => {});
      await admin.disconnect().catch(() => {});
    },
  };
}

async function ensureTopics(admin: Admin, topics: BroadcastTopics, ownTopic: string): Promise<void> {
  const wanted = [
    { topic: topics.fanout, numPartitions: 1, configEntries: [{ name: 'retention.ms', value: '3600000' }] },
    {
      topic: topics.sessions,
      numPartitions: 1,
      configEntries: [
        { name: 'cleanup.policy', value: 'compact' },
        { name: 'segment.ms', value: '600000' },
      ],
    },
    { topic: ownTopic, numPartitions: 1, configEntries: [{ name: 'retention.ms', value: '600000' }] },
  ];
  const existing = new Set(await admin.listTopics());
  const missing = wanted.filter((t) => !existing.has(t.topic));
  if (missing.length > 0) {
    try {
      await admin.createTopics({ topics: missing, waitForLeaders: true });
    } catch (e) {
      // another process created one of them at the same moment: fine
      if (!/already exists/i.test(errorMessage(e))) throw e;
    }
  }
  // Another process may have just created a topic whose leader is not elected yet; subscribing
  // to it then fails fatally ("does not host this topic-partition"): wait for the leaders.
  const names = wanted.map((t) => t.topic);
  for (let attempt = 0; ; attempt++) {
    try {
      const { topics: meta } = await admin.fetchTopicMetadata({ topics: names });
      if (meta.length === names.length && meta.every((t) => t.partitions.length > 0 && t.partitions.every((x) => x.leader >= 0))) return;
    } catch (e) {
      if (attempt >= 50) throw e;
    }
    if (attempt >= 50) throw new Error(`Kafka broadcast topics have no leader: ${names.join(', ')}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

function kafkaLog(log: Logger, e: LogEntry): void {
  const { message, ...rest } = e.log;
  const fields = { namespace: e.namespace, kafka: message, error: (rest as { error?: string }).error };
  if (e.level === logLevel.ERROR) log.warn(fields, 'kafkajs error');
  else log.debug(fields, 'kafkajs');
}
