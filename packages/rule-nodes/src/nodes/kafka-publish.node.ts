import { ErrorCode, RivuletError, errorMessage, withMsg } from '@rivulet/core';
import { defineNode, Relation } from '@rivulet/rule-engine';
import { z } from 'zod';
import { tbBool } from '../util/data';
import { processPattern } from '../util/patterns';

/**
 * Publishes the message data to a Kafka topic (ThingsBoard's TbKafkaNode) through the server's Kafka
 * producer (the `kafkaProducer` service; the node's bootstrapServers and producer settings are kept
 * for import but the server's connection is used). Success carries offset, partition and topic in the
 * metadata. A server without Kafka sends every message to Failure with "Kafka is not configured".
 *
 * A producer that can check its brokers against the outbound policy (`verify`, see
 * guardKafkaProducer) is checked when the chain loads: a denied broker is logged then, and every
 * message fails with the policy's error without reaching the producer.
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
    bootstrapServers: z.string().default('localhost:9092'),
    retries: z.number().int().nonnegative().default(0),
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
  create(config, services) {
    // Started at load; a failure is kept for the messages (and checked again after one fails).
    const check = () => {
      const p = services.kafkaProducer?.verify?.();
      p?.catch(() => {}); // handled here; each message awaits it
      return p;
    };
    let verified = check();
    verified?.catch((e: unknown) => services.logger.warn({ err: errorMessage(e) }, 'Kafka brokers denied by the outbound policy'));
    return {
      async process(msg) {
        const producer = services.kafkaProducer;
        if (!producer) throw new RivuletError(ErrorCode.UNAVAILABLE, 'Kafka is not configured on this server: the Kafka publish node cannot send');
        try {
          await verified;
        } catch (e) {
          verified = check();
          throw e;
        }
        const topic = processPattern(config.topicPattern, msg);
        const key = config.keyPattern ? processPattern(config.keyPattern, msg) : null;
        const value = typeof msg.data === 'string' ? msg.data : JSON.stringify(msg.data);
        const res = await producer.send({ topic, key, value, ...(config.addMetadataKeyValuesAsKafkaHeaders ? { headers: { ...msg.metadata } } : {}) });
        const metadata: Record<string, string> = { ...msg.metadata, topic };
        if (res && res.partition !== undefined) metadata.partition = String(res.partition);
        if (res && res.offset !== undefined) metadata.offset = res.offset;
        return [{ relation: Relation.SUCCESS, msg: withMsg(msg, { metadata }) }];
      },
    };
  },
});
