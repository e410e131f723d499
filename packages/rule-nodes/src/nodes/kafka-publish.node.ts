import { BadRequestError, errorMessage, withMsg } from '@rivulet/core';
import { defineNode, Relation, type KafkaProducer } from '@rivulet/rule-engine';
import { z } from 'zod';
import { requireCapability, tbBool } from '../util/data';
import { processPattern } from '../util/patterns';

/** ThingsBoard's prefix of metadata headers (TbKafkaNode.TB_MSG_MD_PREFIX). */
export const KAFKA_METADATA_HEADER_PREFIX = 'tb_msg_md_';

/** Java charset names ThingsBoard offers for headers, as Node encodings. */
const CHARSETS: Record<string, BufferEncoding> = { 'UTF-8': 'utf8', 'US-ASCII': 'ascii', 'ISO-8859-1': 'latin1', 'UTF-16LE': 'utf16le' };

function parseAcks(acks: string): -1 | 0 | 1 {
  const a = acks.trim().toLowerCase();
  if (a === '-1' || a === 'all') return -1;
  if (a === '0') return 0;
  if (a === '1') return 1;
  throw new BadRequestError(`acks must be -1 (all), 0 or 1, not "${acks}"`);
}

/**
 * Publishes the message data to a Kafka topic (ThingsBoard's TbKafkaNode): topic and key from
 * patterns, the data as the value, and with addMetadataKeyValuesAsKafkaHeaders each metadata entry
 * as a header `tb_msg_md_<key>` in kafkaHeadersCharset. Success carries offset, partition and topic
 * in the metadata; a failed send goes to Failure with the error.
 *
 * The producer comes from the `kafka` capability (@rivulet/outbound's createKafkaService): one per
 * tenant and bootstrapServers/acks/retries, shared with the tenant's other Kafka nodes, its brokers
 * checked against the outbound policy (checked when the chain loads; a denied broker is logged then
 * and fails each message without a record sent). Topics `rivulet.*` and `__*` are refused. A
 * deployment without Kafka producers refuses a chain with this node when it is saved or loaded.
 * batchSize, linger, bufferMemory, serializers and otherProperties are kept for import, not used.
 */
export const kafkaPublishNode = defineNode({
  type: 'rivulet.external.kafkaPublish',
  aliases: ['org.thingsboard.rule.engine.kafka.TbKafkaNode'],
  category: 'external',
  name: 'Kafka publish',
  description: 'Publishes the message to a Kafka topic (for downstream Spark/Flink jobs).',
  configSchema: z.looseObject({
    topicPattern: z.string().min(1).default('my-topic'),
    keyPattern: z.string().nullish(),
    bootstrapServers: z.string().min(1).default('localhost:9092'),
    retries: z.number().int().nonnegative().max(10).default(0),
    batchSize: z.number().int().nonnegative().default(16384),
    linger: z.number().int().nonnegative().default(0),
    bufferMemory: z.number().int().nonnegative().default(33554432),
    acks: z.string().default('-1'),
    keySerializer: z.string().nullish(),
    valueSerializer: z.string().nullish(),
    otherProperties: z.record(z.string(), z.string()).nullish(),
    addMetadataKeyValuesAsKafkaHeaders: tbBool().default(false),
    kafkaHeadersCharset: z.string().default('UTF-8'),
  }),
  configVersion: 0,
  relations: [Relation.SUCCESS, Relation.FAILURE],
  requires: ['kafka'],
  create(config, services) {
    const acks = parseAcks(config.acks);
    const encoding = CHARSETS[config.kafkaHeadersCharset.toUpperCase()];
    if (!encoding) throw new BadRequestError(`kafkaHeadersCharset ${config.kafkaHeadersCharset} is not supported (${Object.keys(CHARSETS).join(', ')})`);
    const producer: KafkaProducer = requireCapability(services, 'kafka', 'Kafka publish').producer({ bootstrapServers: config.bootstrapServers, acks, retries: config.retries });
    // Checked at load; a failure is kept for the messages (and checked again after one fails).
    const check = () => {
      const p = producer.verify?.();
      p?.catch(() => {}); // handled here; each message awaits it
      return p;
    };
    let verified = check();
    verified?.catch((e: unknown) => services.logger.warn({ err: errorMessage(e), brokers: config.bootstrapServers }, 'Kafka brokers denied by the outbound policy'));
    return {
      async process(msg) {
        try {
          await verified;
        } catch (e) {
          verified = check();
          throw e;
        }
        const topic = processPattern(config.topicPattern, msg);
        const key = config.keyPattern ? processPattern(config.keyPattern, msg) || null : null;
        const value = typeof msg.data === 'string' ? msg.data : JSON.stringify(msg.data);
        let headers: Record<string, Uint8Array> | undefined;
        if (config.addMetadataKeyValuesAsKafkaHeaders) {
          headers = {};
          for (const [k, v] of Object.entries(msg.metadata)) headers[KAFKA_METADATA_HEADER_PREFIX + k] = Buffer.from(v, encoding);
        }
        const res = await producer.send({ topic, key, value, ...(headers ? { headers } : {}) });
        const metadata: Record<string, string> = { ...msg.metadata, topic };
        if (res && res.partition !== undefined) metadata.partition = String(res.partition);
        if (res && res.offset !== undefined) metadata.offset = res.offset;
        return [{ relation: Relation.SUCCESS, msg: withMsg(msg, { metadata }) }];
      },
      async destroy() {
        await producer.release?.();
      },
    };
  },
});
