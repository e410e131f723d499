import { ErrorCode, RivuletError, errorMessage, type Logger } from '@rivulet/core';
import type { KafkaProducer, KafkaProducerOptions, KafkaRecord, KafkaService } from '@rivulet/rule-engine';
import { Kafka, logLevel, Partitioners, type IHeaders, type LogEntry, type Producer } from 'kafkajs';
import { checkedKafkaSocketFactory, parseBrokers } from './kafka';
import type { OutboundPolicy } from './policy';

export interface KafkaServiceOptions {
  policy: OutboundPolicy;
  logger: Logger;
  /** Producers open at once, all tenants together (each holds connections to its brokers). Default 16. */
  maxProducers?: number;
  /** Producers of one tenant. Default 4. */
  maxProducersPerTenant?: number;
  /** Topics nodes may not write: the platform's own (its queue and broadcast topics) and Kafka's internal ones. */
  reservedTopicPrefixes?: readonly string[];
  /** Connect plus acknowledgement of one send, ms. Default 10 000. */
  requestTimeoutMs?: number;
}

export const DEFAULT_RESERVED_TOPIC_PREFIXES: readonly string[] = ['rivulet.', '__'];
/** Every platform topic (queue, dead letters, broadcast, per-node, sessions) has this in its name, after any prefix. */
const PLATFORM_TOPIC_MARK = 'rivulet.';
/** Kafka's own rule for topic names. */
const TOPIC_NAME = /^[a-zA-Z0-9._-]{1,249}$/;

interface Entry {
  readonly key: string;
  readonly tenantId: string;
  readonly brokers: string;
  readonly producer: Producer;
  refs: number;
  connecting: Promise<void> | undefined;
  verified: Promise<void> | undefined;
}

/**
 * Kafka producers for the Kafka rule node, on kafkajs. One producer per tenant and settings (brokers,
 * acks, retries), shared by that tenant's nodes and reference-counted (the last node to release it
 * disconnects it); at most `maxProducers` in all and `maxProducersPerTenant` per tenant, so chains
 * cannot open connections without bound. Every broker connection (bootstrap and the brokers the
 * cluster names) goes through the outbound policy, and the brokers are checked before the first
 * record. Topics of the platform itself (`rivulet.*`) and Kafka's internal ones (`__*`) are refused,
 * so a chain pointed at the platform's own cluster cannot write into its queue.
 */
export function createKafkaService(options: KafkaServiceOptions): KafkaService & { close(): Promise<void>; stats(): { producers: number } } {
  const maxProducers = options.maxProducers ?? 16;
  const maxPerTenant = options.maxProducersPerTenant ?? 4;
  const reserved = options.reservedTopicPrefixes ?? DEFAULT_RESERVED_TOPIC_PREFIXES;
  const requestTimeoutMs = options.requestTimeoutMs ?? 10_000;
  const logger = options.logger.child({ component: 'kafka-node-producer' });
  const entries = new Map<string, Entry>();

  // kafkajs's own log lines (connection errors and retries) at warn, constant text, details in fields.
  const logCreator = () => (e: LogEntry) => {
    if (e.level <= logLevel.WARN) logger.warn({ kafkaNamespace: e.namespace, kafkaMessage: e.log.message, broker: (e.log as { broker?: string }).broker }, 'kafka producer');
  };

  function checkTopic(topic: string): void {
    if (!TOPIC_NAME.test(topic) || topic === '.' || topic === '..') {
      throw new RivuletError(ErrorCode.BAD_REQUEST, `Kafka topic "${topic.slice(0, 300)}" is not a valid topic name (1 to 249 of a-z A-Z 0-9 . _ -)`);
    }
    const prefix = reserved.find((p) => topic.startsWith(p));
    if (prefix !== undefined) {
      throw new RivuletError(ErrorCode.FORBIDDEN, `Kafka topic "${topic}" is reserved for the platform (topics starting with ${reserved.join(' or ')} are refused)`);
    }
    // Another Rivulet deployment sharing the cluster names its topics <its RIVULET_QUEUE_PREFIX>rivulet.…,
    // and that prefix can be anything: no topic naming a platform topic anywhere in it is writable.
    if (topic.includes(PLATFORM_TOPIC_MARK)) {
      throw new RivuletError(ErrorCode.FORBIDDEN, `Kafka topic "${topic}" is reserved for the platform (topics containing "${PLATFORM_TOPIC_MARK}" are Rivulet's own queue and broadcast topics, of this or another deployment on the cluster)`);
    }
  }

  function open(o: KafkaProducerOptions, tenantId: string, key: string): Entry {
    const brokers = parseBrokers(o.bootstrapServers);
    if (brokers.length === 0) throw new RivuletError(ErrorCode.BAD_REQUEST, 'bootstrapServers names no broker');
    if (entries.size >= maxProducers) {
      throw new RivuletError(ErrorCode.TOO_MANY_REQUESTS, `This deployment's limit of ${maxProducers} Kafka producers is reached (each tenant's distinct bootstrapServers and settings open one)`);
    }
    let ofTenant = 0;
    for (const e of entries.values()) if (e.tenantId === tenantId) ofTenant++;
    if (ofTenant >= maxPerTenant) {
      throw new RivuletError(ErrorCode.TOO_MANY_REQUESTS, `This tenant's limit of ${maxPerTenant} Kafka producers is reached (each distinct bootstrapServers and settings of its Kafka nodes opens one)`);
    }
    const kafka = new Kafka({
      clientId: `rivulet-${tenantId.slice(0, 36) || 'system'}`,
      brokers: brokers.map((b) => `${b.host.includes(':') ? `[${b.host}]` : b.host}:${b.port}`),
      socketFactory: checkedKafkaSocketFactory(options.policy),
      connectionTimeout: Math.min(requestTimeoutMs, 5000),
      requestTimeout: requestTimeoutMs,
      retry: { retries: o.retries, initialRetryTime: 100, maxRetryTime: 2000 },
      logLevel: logLevel.WARN,
      logCreator,
    });
    // The Java client's partitioner (murmur2 of the key), as ThingsBoard's node uses: a key lands
    // where any Java producer would put it.
    const producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner, allowAutoTopicCreation: true });
    const entry: Entry = { key, tenantId, brokers: o.bootstrapServers, producer, refs: 0, connecting: undefined, verified: undefined };
    entries.set(key, entry);
    logger.info({ tenantId, brokers: o.bootstrapServers, producers: entries.size }, 'kafka producer opened');
    return entry;
  }

  function verify(entry: Entry): Promise<void> {
    entry.verified ??= Promise.all(parseBrokers(entry.brokers).map((b) => options.policy.resolve(b.host))).then(
      () => undefined,
      (e: unknown) => {
        entry.verified = undefined;
        throw e;
      },
    );
    return entry.verified;
  }

  function connect(entry: Entry): Promise<void> {
    entry.connecting ??= entry.producer.connect().catch((e: unknown) => {
      entry.connecting = undefined;
      throw new RivuletError(ErrorCode.UNAVAILABLE, `Kafka brokers ${entry.brokers} not reachable: ${errorMessage(e)}`);
    });
    return entry.connecting;
  }

  async function close(entry: Entry): Promise<void> {
    if (entries.get(entry.key) === entry) entries.delete(entry.key);
    await entry.producer.disconnect().catch(() => {});
    logger.info({ tenantId: entry.tenantId, brokers: entry.brokers, producers: entries.size }, 'kafka producer closed');
  }

  return {
    producer(o): KafkaProducer {
      const tenantId = o.tenantId ?? '';
      const key = `${tenantId}|${o.bootstrapServers.replace(/\s+/g, '')}|${o.acks}|${o.retries}`;
      const entry = entries.get(key) ?? open(o, tenantId, key);
      entry.refs++;
      let released = false;
      return {
        verify: () => verify(entry),
        async send(record: KafkaRecord) {
          if (released) throw new RivuletError(ErrorCode.UNAVAILABLE, 'Kafka producer was released');
          checkTopic(record.topic);
          await verify(entry);
          await connect(entry);
          const headers: IHeaders | undefined = record.headers && Object.fromEntries(Object.entries(record.headers).map(([k, v]) => [k, typeof v === 'string' ? v : Buffer.from(v.buffer, v.byteOffset, v.byteLength)]));
          const [meta] = await entry.producer.send({
            topic: record.topic,
            acks: o.acks,
            timeout: requestTimeoutMs,
            messages: [{ key: record.key, value: record.value, ...(headers ? { headers } : {}) }],
          });
          return meta ? { partition: meta.partition, ...(meta.baseOffset !== undefined ? { offset: meta.baseOffset } : {}) } : undefined;
        },
        async release() {
          if (released) return;
          released = true;
          if (--entry.refs === 0) await close(entry);
        },
      };
    },
    async close() {
      const all = [...entries.values()];
      entries.clear();
      await Promise.all(all.map((e) => e.producer.disconnect().catch(() => {})));
    },
    stats: () => ({ producers: entries.size }),
  };
}
