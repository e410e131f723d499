import { BadRequestError, newId } from '@rivulet/core';
import { defineNode, Relation, type OutboundMqttClient, type OutboundMqttOptions } from '@rivulet/rule-engine';
import { z } from 'zod';
import { requireCapability, tbBool } from '../util/data';
import { processPattern } from '../util/patterns';

const Credentials = z.looseObject({
  type: z.string().default('anonymous'),
  username: z.string().nullish(),
  password: z.string().nullish(),
  caCert: z.string().nullish(),
  cert: z.string().nullish(),
  privateKey: z.string().nullish(),
  privateKeyPassword: z.string().nullish(),
});

/**
 * Publishes the message data to a topic of an external MQTT broker (ThingsBoard's TbMqttNode), QoS 1,
 * and passes the message on by Success once the broker acknowledged it. One connection per node,
 * opened on the first message and kept (mqtt.js reconnects); while it is down a message waits up to
 * connectTimeoutSec, then goes to Failure. destroy() closes the connection.
 *
 * The connection is made by the `outbound` capability: the broker's host is checked against the
 * deployment's outbound policy before connecting and on every (re)connect, and a denied broker fails
 * the message with the policy's error. In a test run nothing is published: topic and payload are
 * recorded and the message goes on by Success.
 */
export const mqttPublishNode = defineNode({
  type: 'rivulet.external.mqttPublish',
  aliases: ['org.thingsboard.rule.engine.mqtt.TbMqttNode'],
  category: 'external',
  name: 'MQTT publish',
  description: 'Publishes the message to a topic of an external MQTT broker (QoS 1).',
  configSchema: z.looseObject({
    topicPattern: z.string().min(1).default('my-topic'),
    host: z.string().min(1).default('localhost'),
    port: z.number().int().min(1).max(65535).default(1883),
    connectTimeoutSec: z.number().positive().max(200).default(10),
    clientId: z.string().nullish(),
    appendClientIdSuffix: tbBool().default(false),
    cleanSession: tbBool().default(true),
    retainedMessage: tbBool().default(false),
    ssl: tbBool().default(false),
    parseToPlainText: tbBool().default(false),
    protocolVersion: z.union([z.literal(3), z.literal(4), z.literal(5), z.string()]).nullish(),
    credentials: Credentials.nullish(),
  }),
  configVersion: 0,
  relations: [Relation.SUCCESS, Relation.FAILURE],
  requires: ['outbound'],
  create(config, services) {
    const cred = config.credentials;
    if (cred && !['anonymous', 'basic', 'cert.PEM'].includes(cred.type)) throw new BadRequestError(`credentials.type ${cred.type} is not supported`);
    const version = config.protocolVersion === 5 || config.protocolVersion === 'MQTT_5' ? 5 : config.protocolVersion === 3 ? 3 : 4;
    const options: OutboundMqttOptions = {
      host: config.host,
      port: config.port,
      ssl: config.ssl,
      protocolVersion: version,
      clientId: config.clientId ? (config.appendClientIdSuffix ? `${config.clientId}_${newId().slice(0, 8)}` : config.clientId) : `rivulet_${newId().slice(0, 12)}`,
      clean: config.cleanSession,
      connectTimeoutMs: config.connectTimeoutSec * 1000,
      reconnectPeriodMs: 5000,
      ...(cred?.type === 'basic' ? { username: cred.username ?? '', password: cred.password ?? '' } : {}),
      ...(cred?.type === 'cert.PEM'
        ? {
            ...(cred.caCert ? { ca: cred.caCert } : {}),
            ...(cred.cert ? { cert: cred.cert } : {}),
            ...(cred.privateKey ? { key: cred.privateKey } : {}),
            ...(cred.privateKeyPassword ? { passphrase: cred.privateKeyPassword } : {}),
          }
        : {}),
    };
    // Made on the first message (a chain without the capability still loads; its messages fail).
    let client: OutboundMqttClient | undefined;

    return {
      async process(msg) {
        client ??= requireCapability(services, 'outbound', 'MQTT publish').mqtt(options);
        const topic = processPattern(config.topicPattern, msg);
        const payload = typeof msg.data === 'string' && config.parseToPlainText ? msg.data : JSON.stringify(msg.data);
        await client.publish(topic, payload, { qos: 1, retain: config.retainedMessage });
        return [{ relation: Relation.SUCCESS, msg }];
      },
      async destroy() {
        const c = client;
        client = undefined;
        await c?.close();
      },
    };
  },
});
